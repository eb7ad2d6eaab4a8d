"""Issue 20's "Missing" list, in a real browser against a real server, at desktop and phone size:
what the user sees of each (a screenshot of each in test-artifacts/studio/).

1. now playing on the row, the mini player across sections, Space, previous / next;
2. more like this: the settings shown, loaded back into the form, sent again; variations titled apart;
3. lyrics: timed with their section tags, a click seeks, the voice sung with is named;
4. plain words: details, models, queue entries by title, the page title and a notification;
5. library tools: search, sort, filter by model (over the loaded pages);
6. per-stem players (one timeline, mute and solo) and a download from the row.

Finished tracks come from one module-wide set made through the API (generation is the slow part);
tracks that only need to exist are queued on a server without workers. Tracks are 6 s long here,
so tests that need one to keep playing put it back to its start first (`_rewind`).
"""

# ruff: noqa: F811 - `browser` is a fixture imported from test_studio and named by each test
from __future__ import annotations

import contextlib
import io
import os
import re
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from e2e_helpers import wait_final
from playwright.sync_api import expect
from test_studio import (  # noqa: F401 (browser: a fixture)
    ARTIFACTS,
    DOCS_SCREENSHOT,
    SIZES,
    account_api,
    browser,
    click_centered,
    no_sideways_scroll,
    size_name,
    studio_session,
    wait_js,
)

from conftest import ServerProcess

pytestmark = pytest.mark.slow

INSTRUMENTAL = {
    "prompt": "short calm lofi piano",
    "model_instrumental": "i3",
    "tonality": "A:minor",
    "bpm": 90,
    "chords": "Am F C G",
}
SONG_LYRICS = "[Verse]\nhello there my friend\n[Chorus]\nla la la we sing"


@pytest.fixture(scope="module")
def made(shared_server: ServerProcess) -> Iterator[dict[str, Any]]:
    """One account with two finished pairs of instrumentals (the newest asked with every control)
    and a finished pair of songs sung by an artist voice (made once for the module)."""
    with account_api(shared_server, "missing-made", "maker") as (token, api):
        voice = api.get("/music/artist-voices/").json()["records"][0]
        # An older pair first, so the library has a few tracks (and two models) to show.
        r = api.post(
            "/music/instrumental", json={"prompt": "dreamy synthwave night drive", "model_instrumental": "i4"}
        )
        assert r.status_code == 200, r.text
        older = r.json()["jobs"]
        time.sleep(0.01)
        r = api.post("/music/instrumental", json=INSTRUMENTAL)
        assert r.status_code == 200, r.text
        inst_jobs = r.json()["jobs"]
        song = {"prompt": "short bright pop", "lyrics": SONG_LYRICS, "model_song": "v3"}
        r = api.post("/music/song", json={**song, "artistVoiceItemId": voice["itemId"]})
        assert r.status_code == 200, r.text
        song_jobs = r.json()["jobs"]
        records = {job: wait_final(api, job, timeout=300) for job in older + inst_jobs + song_jobs}
        assert all(rec["status_name"] == "COMPLETED" for rec in records.values()), records
        order = {
            kind: [x["job_id"] for x in api.get("/music/", params={"type": kind}).json()["records"]]
            for kind in ("instrumental", "song")
        }
        yield {"token": token, "records": records, "order": order, "voice": voice, "song": song}


def _rewind(page: Any) -> None:
    page.evaluate("document.getElementById('player-audio').currentTime = 0")


def _playing(page: Any) -> bool:
    return bool(
        page.evaluate(
            "(() => { const a = document.getElementById('player-audio'); return !a.paused && !a.ended; })()"
        )
    )


def _titles(made: dict[str, Any], kind: str) -> list[str]:
    """What the library should call the rows: "Title", then "Title (2)" where a pair shares one."""
    recs = [made["records"][j] for j in made["order"][kind]]
    out = []
    for i, r in enumerate(recs):
        before = [
            x
            for x in recs[:i]
            if (x["titleEn"], x["musicMaterial"]["batchId"]) == (r["titleEn"], r["musicMaterial"]["batchId"])
        ]
        out.append(f"{r['titleEn']} ({len(before) + 1})" if before else r["titleEn"])
    return out


# --------------------------------------------------------------- 1. now playing, mini player


@pytest.mark.parametrize("phone", SIZES)
def test_now_playing_mini_player_space_and_next(
    browser: Any, shared_server: ServerProcess, made: dict[str, Any], phone: bool
) -> None:
    name = f"test_now_playing_mini_player[{size_name(phone)}]"
    with studio_session(browser, shared_server, name, token=made["token"], phone=phone) as studio:
        page = studio.page
        rows = studio.library()
        titles = _titles(made, "instrumental")
        first, second = rows.nth(0), rows.nth(1)
        first.get_by_role("button", name=f"Play {titles[0]}").click()
        wait_js(page, "document.getElementById('player-audio').currentTime > 0.1", timeout=30_000)
        # The row says what plays, and its button now pauses it.
        # The page updates on the audio element's events: wait for them (up to 5 s), as a user would see.
        expect(first.locator(".now")).to_have_text(re.compile(r"^now playing$", re.I))
        expect(first.get_by_role("button", name=f"Pause {titles[0]}")).to_have_text("Pause")
        expect(second.locator(".now")).to_be_hidden()
        assert page.get_by_role("button", name="Previous track").is_disabled()
        page.screenshot(path=str(ARTIFACTS / f"test_now_playing_row_{size_name(phone)}.png"))

        # Next plays the next row; the end of the list has no Next.
        page.get_by_role("button", name="Next track").click()
        page.get_by_role("heading", name=titles[1]).wait_for()
        wait_js(page, "document.getElementById('player-audio').currentTime > 0.1", timeout=30_000)
        expect(second.locator(".now")).to_have_text(re.compile(r"^now playing$", re.I))
        expect(first.locator(".now")).to_be_hidden()
        page.get_by_role("button", name="Previous track").click()
        page.get_by_role("heading", name=titles[0]).wait_for()
        wait_js(page, "document.getElementById('player-audio').currentTime > 0.1", timeout=30_000)

        # Space pauses and plays when focus is on the page, not in a field.
        _rewind(page)
        page.evaluate("document.activeElement.blur()")
        page.keyboard.press("Space")
        wait_js(page, "document.getElementById('player-audio').paused")
        expect(first.locator(".now")).to_have_text(re.compile(r"^paused$", re.I))
        expect(page.locator("#player-toggle")).to_have_text("Play")
        page.keyboard.press("Space")
        wait_js(page, "!document.getElementById('player-audio').paused")
        expect(page.locator("#player-toggle")).to_have_text("Pause")

        # Another section: the player folds into the mini player and keeps playing.
        _rewind(page)
        studio.tab("Create")
        page.wait_for_selector("#create:not([hidden])")
        player = page.locator("#player")
        wait_js(page, "document.getElementById('player').classList.contains('mini')")
        assert (
            page.locator("#waveform").is_hidden() and page.locator("#player-title").inner_text() == titles[0]
        )
        height = player.bounding_box()["height"]
        assert height <= (110 if phone else 90), f"the mini player is {height}px tall"
        assert page.get_by_role("button", name="Pause", exact=True).is_visible()
        at = page.evaluate("document.getElementById('player-audio').currentTime")
        time.sleep(0.6)
        assert _playing(page) and page.evaluate("document.getElementById('player-audio').currentTime") > at
        # Typing a space in a field types it.
        page.locator("#i-prompt").click()
        page.keyboard.type("a b")
        assert page.locator("#i-prompt").input_value() == "a b" and _playing(page)
        no_sideways_scroll(page)
        page.screenshot(path=str(ARTIFACTS / f"test_mini_player_{size_name(phone)}.png"))
        page.get_by_role("button", name="Expand the player").click()
        assert page.locator("#waveform").is_visible()
        page.get_by_role("button", name="Minimize the player").click()
        assert page.locator("#waveform").is_hidden()
        studio.tab("Library")
        wait_js(page, "!document.getElementById('player').classList.contains('mini')")
        page.locator("#player-toggle").click()
        wait_js(page, "document.getElementById('player-audio').paused")


# ----------------------------------------------------------------------- 2. more like this


@pytest.mark.parametrize("phone", SIZES)
def test_more_like_this(
    browser: Any, shared_server: ServerProcess, made: dict[str, Any], phone: bool
) -> None:
    name = f"test_more_like_this[{size_name(phone)}]"
    with studio_session(browser, shared_server, name, token=made["token"], phone=phone) as studio:
        page = studio.page
        rows = studio.library(count=4)
        titles = _titles(made, "instrumental")
        # Variations titled apart, as their downloads are named.
        assert [rows.nth(i).locator(".title-text").inner_text() for i in range(4)] == titles
        first = rows.first
        first.locator("details.settings summary").click()
        settings = first.locator("details.settings dl").inner_text()
        for shown in (
            "short calm lofi piano",
            "i3 (oldest instrumental model, up to 2 min)",
            "A minor",
            "90 BPM",
            "Am F C G",
        ):
            assert shown in settings, (shown, settings)
        no_sideways_scroll(page)
        page.screenshot(path=str(ARTIFACTS / f"test_more_like_this_settings_{size_name(phone)}.png"))
        click_centered(first.get_by_role("button", name=f"Use the settings of {titles[0]}"))
        page.wait_for_selector("#create:not([hidden])")
        assert page.get_by_label("Instrumental", exact=True).is_checked()
        assert page.locator("#i-prompt").input_value() == INSTRUMENTAL["prompt"]
        assert page.locator("#i-model").input_value() == "i3"
        assert page.locator("#i-key").input_value() == "A:minor"
        assert page.locator("#i-bpm").input_value() == "90"
        assert page.locator("#i-chords").input_value() == "Am F C G"
        wait_js(page, "document.activeElement && document.activeElement.id === 'i-prompt'")
        wait_js(page, "document.getElementById('status').textContent.startsWith('The settings of')")
        assert titles[0] in page.locator("#status").inner_text()

        # A song: its lyrics and its artist voice come back too.
        studio.tab("Library")
        page.get_by_label("Songs").check()
        song_title = _titles(made, "song")[0]
        song_row = page.locator(f"#track-list > li.track[data-job-id='{made['order']['song'][0]}']")
        click_centered(song_row.locator("details.settings summary"))
        assert made["voice"]["name"] in song_row.locator("details.settings dl").inner_text()
        click_centered(song_row.get_by_role("button", name=f"Use the settings of {song_title}"))
        page.wait_for_selector("#create:not([hidden])")
        assert page.get_by_label("Song with vocals").is_checked()
        assert page.locator("#s-lyrics").input_value() == SONG_LYRICS
        assert page.locator("#s-model").input_value() == "v3"
        assert page.get_by_role("radio", name="Artist voice").is_checked()
        wait_js(page, f"document.getElementById('s-artist').value === '{made['voice']['itemId']}'")
        page.screenshot(path=str(ARTIFACTS / f"test_more_like_this_form_{size_name(phone)}.png"))

        if phone:
            return  # Regenerate makes two more tracks; once is enough for this module's one worker
        studio.tab("Library")
        page.get_by_label("Instrumentals").check()
        rows.nth(1).wait_for()
        rows.first.locator("details.settings summary").click()
        rows.first.get_by_role("button", name=f"Regenerate {titles[0]}").click()
        wait_js(page, "document.querySelectorAll('#track-list > li.track').length === 6")
        fresh = [rows.nth(i).get_attribute("data-job-id") for i in range(2)]
        assert not set(fresh) & set(made["order"]["instrumental"])
        asked = made["records"][made["order"]["instrumental"][0]]["settings"]
        for job in fresh:
            assert studio.api.get(f"/music/{job}").json()["settings"] == asked
            studio.api.delete(f"/music/{job}")  # the worker has better things to do


# ---------------------------------------------------------------------------------- 3. lyrics


@pytest.mark.parametrize("phone", SIZES)
def test_timed_lyrics_seek_and_the_voice_is_named(
    browser: Any, shared_server: ServerProcess, made: dict[str, Any], phone: bool
) -> None:
    name = f"test_timed_lyrics_seek_and_voice[{size_name(phone)}]"
    with studio_session(browser, shared_server, name, token=made["token"], phone=phone) as studio:
        page = studio.page
        rows = studio.library(kind="song")
        job = made["order"]["song"][0]
        record = made["records"][job]
        voice = made["voice"]
        assert record["musicMaterial"]["voice"]["itemId"] == voice["itemId"]
        row = page.locator(f"#track-list > li.track[data-job-id='{job}']")
        assert f"Sung by {voice['name']} (artist voice)" in row.locator(".more-facts").inner_text()
        row.get_by_role("button", name=re.compile("^Play")).click()
        wait_js(page, "document.getElementById('player-audio').duration > 0", timeout=30_000)
        assert page.locator("#player-voice").inner_text() == f"Sung by {voice['name']} (artist voice)"

        lyrics = page.get_by_role("list", name="Lyrics")
        lines = lyrics.locator("li")
        texts = [t.strip() for t in lines.all_inner_texts()]
        # The section tags stay, in their place: each before the lines it heads.
        sections = [
            t
            for t, c in zip(texts, lines.evaluate_all("els => els.map(e => e.className)"), strict=True)
            if "section" in c
        ]
        assert sections and all(re.fullmatch(r"\[[^\]]+\]", t) for t in sections), texts
        assert texts[0] in sections
        sung = [t for t in texts if t not in sections]
        assert "hello there my friend" in sung
        # Clicking a line plays from there.
        if _playing(page):
            page.locator("#player-toggle").click()
        target = lines.nth(len(texts) - 1)
        when = float(target.get_attribute("data-time"))
        click_centered(target.get_by_role("button"))
        wait_js(page, f"Math.abs(document.getElementById('player-audio').currentTime - {when}) < 0.6")
        assert _playing(page)
        wait_js(page, f"document.querySelector('#lyrics li.active')?.dataset.index === '{len(texts) - 1}'")
        page.screenshot(path=str(ARTIFACTS / f"test_timed_lyrics_{size_name(phone)}.png"))
        assert rows.count() == 2


# ----------------------------------------------------------------------------- 4. plain words


def _mmss(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 60}:{s % 60:02d}"


@pytest.mark.parametrize("phone", SIZES)
def test_plain_words_in_details_models_and_queue(
    browser: Any, shared_server: ServerProcess, made: dict[str, Any], idle_server: ServerProcess, phone: bool
) -> None:
    name = f"test_plain_words[{size_name(phone)}]"
    with studio_session(browser, shared_server, name, token=made["token"], phone=phone) as studio:
        page = studio.page
        rows = studio.library()
        record = made["records"][made["order"]["instrumental"][0]]
        m = record["musicMaterial"]
        expected = " · ".join(x for x in (m["style"], "90 BPM", "A minor", _mmss(m["dur"])) if x)
        assert rows.first.locator(".facts").inner_text() == expected
        assert (
            "Model i3 (oldest instrumental model, up to 2 min)"
            in rows.first.locator(".more-facts").inner_text()
        )
        studio.tab("Create")
        options = page.locator("#i-model option").all_inner_texts()
        assert "i3 · oldest instrumental model, up to 2 min" in options
        assert "Server default (i4, the newest)" in options
        assert "A minor" in page.locator("#i-key option").all_inner_texts()
        page.screenshot(path=str(ARTIFACTS / f"test_plain_words_{size_name(phone)}.png"))

    # Queue entries by title (the prompt, quoted, until the work has a title).
    with studio_session(
        browser, idle_server, name + "_queue", token=idle_server.token, phone=phone
    ) as studio:
        page = studio.page
        studio.sign_in_with_account()
        prompt = f"a tiny loop for the {size_name(phone)} queue"
        page.locator("#i-prompt").fill(prompt)
        page.get_by_role("button", name="Generate instrumental").click()
        page.locator("#track-list > li.track").nth(1).wait_for()
        studio.tab("Accounts & queue")
        entry = page.locator("#sched-waiting li[data-job-id]").filter(has_text=prompt).first
        entry.wait_for()
        assert f"“{prompt}”" in entry.inner_text() and "instrumental" in entry.inner_text()
        assert "-job:" not in entry.inner_text()
        no_sideways_scroll(page)
        entry.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"test_queue_by_title_{size_name(phone)}.png"))


NOTIFICATION_SPY = """
(() => {
  const Real = window.Notification;
  window.__notes = [];
  class Spy {
    constructor(title, options) { window.__notes.push({ title, body: (options || {}).body || "" }); }
    static get permission() { return Real.permission; }
    static requestPermission() { return Real.requestPermission(); }
    close() {}
  }
  window.Notification = Spy;
})();
"""


@pytest.mark.parametrize("phone", SIZES)
def test_page_title_and_notification_when_a_track_finishes(
    browser: Any, shared_server: ServerProcess, phone: bool
) -> None:
    name = f"test_finished_notification[{size_name(phone)}]"
    with studio_session(browser, shared_server, name, phone=phone) as studio:
        page = studio.page
        page.context.grant_permissions(["notifications"], origin=shared_server.base_url)
        # Records what the page asks the browser to show (headless Chromium shows nothing).
        page.add_init_script(NOTIFICATION_SPY)
        studio.sign_in_with_account()
        studio.tab("Library")
        page.get_by_label("Notify me when a track is ready").check()
        wait_js(page, "localStorage.getItem('songforge.notify') === '1'")
        studio.tab("Create")
        page.locator("#i-prompt").fill("short calm piano")
        page.locator("#i-model").select_option("i3")
        page.get_by_role("button", name="Generate instrumental").click()
        page.wait_for_selector("#library:not([hidden])")
        assert page.title() == "Songforge Studio"
        studio.tab("Uploads")  # away from the library while it generates
        wait_js(page, "/is ready|tracks finished/.test(document.title)", timeout=180_000)
        notes = page.evaluate("window.__notes")
        record = studio.api.get("/music/", params={"type": "instrumental"}).json()["records"]
        titles = {r["titleEn"] for r in record}
        assert notes and all(re.fullmatch(r"“.+” is ready", n["title"]) for n in notes), notes
        named = [re.fullmatch(r"“(.+)” is ready", n["title"]).group(1).removesuffix(" (2)") for n in notes]
        assert set(named) <= titles, (notes, titles)
        assert "BPM" in notes[0]["body"]
        page.screenshot(path=str(ARTIFACTS / f"test_finished_notification_{size_name(phone)}.png"))
        wait_js(page, "document.title.includes('tracks finished')", timeout=180_000)
        studio.tab("Library")
        wait_js(page, "document.title === 'Songforge Studio'")


# --------------------------------------------------------------------------- 5. library tools


@pytest.mark.parametrize("phone", SIZES)
def test_library_search_sort_and_model_filter(browser: Any, idle_server: ServerProcess, phone: bool) -> None:
    api = idle_server.client()
    with contextlib.closing(api):
        assert api.post("/accounts", json={"requestParams": {"user_id": "tools"}}).status_code == 200
        for prompt, model in (
            ("rainy jazz piano", "i3"),
            ("desert rock guitar", "i4"),
            ("rainy synthwave", "i3"),
        ):
            body = {"prompt": prompt, "model_instrumental": model}
            assert api.post("/music/instrumental", json=body).status_code == 200
        listed = [r["job_id"] for r in api.get("/music/", params={"type": "instrumental"}).json()["records"]]
    name = f"test_library_tools[{size_name(phone)}]"
    with studio_session(browser, idle_server, name, token=idle_server.token, phone=phone) as studio:
        page = studio.page
        rows = studio.library(count=6)
        shown = page.locator("#track-list > li.track:not([hidden])")
        note = page.locator("#library-tools-note")
        assert "6 tracks loaded so far" in note.inner_text()
        page.get_by_label("Search titles, prompts and styles").fill("rainy")
        wait_js(page, "document.querySelectorAll('#track-list > li.track:not([hidden])').length === 4")
        assert note.inner_text() == "4 of the 6 loaded tracks match."
        page.get_by_label("Search titles, prompts and styles").fill("RAINY synth")
        wait_js(page, "document.querySelectorAll('#track-list > li.track:not([hidden])').length === 2")
        page.get_by_label("Search titles, prompts and styles").fill("")
        page.locator("#library-model").select_option("i4")
        wait_js(page, "document.querySelectorAll('#track-list > li.track:not([hidden])').length === 2")
        assert page.locator("#library-model option").all_inner_texts() == ["All models", "i3", "i4"]
        page.get_by_label("Search titles, prompts and styles").fill("rainy")
        page.get_by_text("No loaded track matches").wait_for()
        no_sideways_scroll(page)
        page.screenshot(path=str(ARTIFACTS / f"test_library_tools_nomatch_{size_name(phone)}.png"))
        page.get_by_label("Search titles, prompts and styles").fill("")
        page.locator("#library-model").select_option("")
        page.get_by_label("Sort").select_option("oldest")
        wait_js(page, f"document.querySelector('#track-list > li.track').dataset.jobId === '{listed[-1]}'")
        assert shown.evaluate_all("els => els.map(e => e.dataset.jobId)") == listed[::-1]
        page.get_by_label("Sort").select_option("newest")
        wait_js(page, f"document.querySelector('#track-list > li.track').dataset.jobId === '{listed[0]}'")
        assert rows.count() == 6


# ----------------------------------------------------------------------------- 6. stems, row


@pytest.mark.parametrize("phone", SIZES)
def test_stem_players_mute_solo_and_row_download(
    browser: Any, shared_server: ServerProcess, made: dict[str, Any], phone: bool
) -> None:
    name = f"test_stem_players[{size_name(phone)}]"
    job = made["order"]["song"][0]
    link = httpx.get(
        f"{shared_server.base_url}/v1/tempolor/music/download/{job}",
        params={"file_format": "stems"},
        headers={"Authorization": f"Bearer {made['token']}"},
    ).json()["url"]
    with zipfile.ZipFile(io.BytesIO(httpx.get(link).content)) as z:
        stem_names = sorted(n.rsplit(".", 1)[0] for n in z.namelist() if n.endswith(".wav"))
    assert "vocals" in stem_names and len(stem_names) >= 3
    with studio_session(browser, shared_server, name, token=made["token"], phone=phone) as studio:
        page = studio.page
        studio.library(kind="song")
        title = _titles(made, "song")[0]
        row = page.locator(f"#track-list > li.track[data-job-id='{job}']")

        # The row's own download, named by title.
        with page.expect_download() as info:
            row.get_by_role("button", name=f"Download {title} (MP3)").click()
        assert info.value.suggested_filename == f"{title}.mp3"

        # The main player plays; the stems' Play takes over from it.
        row.get_by_role("button", name=f"Play {title}").click()
        wait_js(page, "document.getElementById('player-audio').currentTime > 0.1", timeout=30_000)
        click_centered(row.locator("details.stems summary"))
        mixer = row.get_by_role("group", name=f"Stems of {title}")
        stems = mixer.locator("li[data-stem]")
        stems.nth(len(stem_names) - 1).wait_for(timeout=30_000)
        assert sorted(stems.evaluate_all("els => els.map(e => e.dataset.stem)")) == stem_names
        assert stems.first.get_attribute("data-stem") == "vocals"
        click_centered(mixer.get_by_role("button", name=f"Play all stems of {title}"))
        wait_js(
            page,
            "[...document.querySelectorAll('.mixer audio')].every(a => !a.paused && a.currentTime > 0.3)",
            timeout=20_000,
        )
        assert page.evaluate("document.getElementById('player-audio').paused")
        times = page.evaluate("[...document.querySelectorAll('.mixer audio')].map(a => a.currentTime)")
        assert max(times) - min(times) < 0.15, times  # one timeline

        # Solo the vocals: every other stem is silent, and says so.
        click_centered(mixer.get_by_role("button", name="Solo vocals"))
        assert mixer.get_by_role("button", name="Solo vocals").get_attribute("aria-pressed") == "true"
        muted = stems.evaluate_all("els => els.map(e => [e.dataset.stem, e.querySelector('audio').muted])")
        assert all(m == (s != "vocals") for s, m in muted), muted
        other = stem_names[0] if stem_names[0] != "vocals" else stem_names[1]
        assert "silent" in mixer.locator(f"li[data-stem='{other}']").inner_text()
        # Unsolo, mute one: that one alone is muted.
        click_centered(mixer.get_by_role("button", name="Solo vocals"))
        click_centered(mixer.get_by_role("button", name=f"Mute {other}"))
        muted = dict(
            stems.evaluate_all("els => els.map(e => [e.dataset.stem, e.querySelector('audio').muted])")
        )
        assert muted.pop(other) is True and not any(muted.values()), muted
        assert "muted" in mixer.locator(f"li[data-stem='{other}']").inner_text()
        no_sideways_scroll(page)
        page.screenshot(path=str(ARTIFACTS / f"test_stem_players_{size_name(phone)}.png"))
        with page.expect_download() as info:
            click_centered(mixer.get_by_role("link", name="Download the vocals stem"))
        assert info.value.suggested_filename == f"{title} - vocals.wav"
        click_centered(mixer.get_by_role("button", name=f"Pause the stems of {title}"))
        wait_js(page, "[...document.querySelectorAll('.mixer audio')].every(a => a.paused)")


# ------------------------------------------------------------------------- README screenshot


def test_readme_screenshot(browser: Any, shared_server: ServerProcess, made: dict[str, Any]) -> None:
    """The README's picture (docs/studio.png): a library with a few tracks, one of them playing.
    Written to test-artifacts/ always, and to docs/ with SONGFORGE_UPDATE_DOCS_SCREENSHOT=1."""
    with studio_session(browser, shared_server, "test_readme_screenshot", token=made["token"]) as studio:
        page = studio.page
        rows = studio.library(count=4)
        for i in range(4):
            wait_js(
                page, f"document.querySelectorAll('#track-list canvas.thumb[data-state=drawn]').length > {i}"
            )
        page.set_viewport_size({"width": 1200, "height": 1180})  # the four rows above the player
        page.evaluate("window.scrollTo(0, 0)")
        rows.first.get_by_role("button", name=re.compile("^Play")).click()
        page.wait_for_selector("#waveform[data-state=ready]", timeout=30_000)
        wait_js(page, "document.getElementById('player-audio').currentTime > 1.2", timeout=20_000)
        page.evaluate("document.activeElement.blur(); window.scrollTo(0, 0)")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "readme_studio.png"))
        if os.environ.get("SONGFORGE_UPDATE_DOCS_SCREENSHOT"):
            page.screenshot(path=str(DOCS_SCREENSHOT))
