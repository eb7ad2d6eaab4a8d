"""Issue 20's last "Missing" items, in a real browser against a real server, at desktop and phone
size, as a user sees them (screenshots in test-artifacts/studio/):

1. a share link: a row's Share makes a signed link (copied, or selected to copy by hand where the
   browser will not copy) to a read-only page with the title, the waveform player, the timed
   lyrics and a download, opened without any token; a tampered link is a 404 page, an expired one
   a 410 page, and the page names nothing of the account;
2. written lyrics before the song: "Write lyrics" puts lyrics written from the prompt in the box,
   to edit, and the song is asked to sing exactly what the box says;
3. autoplay: when a track ends the next one in the library's order plays (on by default); off,
   the player stays on the track that ended; the setting survives a reload.

The finished songs come from one module-wide pair made through the API (generation is the slow
part); the lyrics test needs no worker and runs on a server without one.
"""

# ruff: noqa: F811 - `browser` is a fixture imported from test_studio and named by each test
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from e2e_helpers import wait_final
from playwright.sync_api import expect
from test_studio import (  # noqa: F401 (browser: a fixture)
    ARTIFACTS,
    SIZES,
    account_api,
    browser,
    click_centered,
    no_sideways_scroll,
    size_name,
    studio_session,
    wait_js,
    watched_page,
)

from conftest import ServerProcess
from songforge.http import signing

pytestmark = pytest.mark.slow

ACCOUNT = "sharer-account"
SONG_LYRICS = "[Verse]\nhello there my friend\n[Chorus]\nla la la we sing"
# A browser where the page may not copy (no Clipboard API, as on an insecure origin).
NO_CLIPBOARD = "Object.defineProperty(Navigator.prototype, 'clipboard', { get: () => undefined });"


@pytest.fixture(scope="module")
def songs(shared_server: ServerProcess) -> Iterator[dict[str, Any]]:
    """A finished pair of songs with timed lyrics, in the library's order (made once)."""
    with account_api(shared_server, "share-songs", ACCOUNT) as (token, api):
        body = {"prompt": "short bright pop", "lyrics": SONG_LYRICS, "model_song": "v3"}
        r = api.post("/music/song", json=body)
        assert r.status_code == 200, r.text
        records = {job: wait_final(api, job, timeout=300) for job in r.json()["jobs"]}
        assert all(rec["status_name"] == "COMPLETED" for rec in records.values()), records
        order = [x["job_id"] for x in api.get("/music/", params={"type": "song"}).json()["records"]]
        yield {"token": token, "records": records, "order": order}


def _songs_library(studio: Any) -> Any:
    return studio.library("song", count=2, rows="#track-list > li.track[data-status=COMPLETED]")


def _playing_from(page: Any, row: Any) -> None:
    """Waits until `row`'s track is the one playing: its row says so (the player's events set it)
    and the audio element has that track's length (a previous track may still be loading out)."""
    expect(row.locator(".now")).to_have_text(re.compile(r"^now playing$", re.I), timeout=20_000)
    wait_js(
        page,
        "(a => Number.isFinite(a.duration) && a.duration > 0 && !a.paused && a.currentTime > 0.2)"
        "(document.getElementById('player-audio'))",
        timeout=20_000,
    )


def _to_the_end(page: Any) -> None:
    page.evaluate("(a => { a.currentTime = a.duration - 0.4; })(document.getElementById('player-audio'))")


# ------------------------------------------------------------------------------ 1. share link


@pytest.mark.parametrize("phone", SIZES)
def test_share_link_opens_a_read_only_page_with_the_player(
    browser: Any, shared_server: ServerProcess, songs: dict[str, Any], phone: bool
) -> None:
    name = f"test_share_link[{size_name(phone)}]"
    job = songs["order"][0]
    with studio_session(browser, shared_server, name, token=songs["token"], phone=phone) as studio:
        page = studio.page
        if phone:
            page.add_init_script(NO_CLIPBOARD)
        else:
            page.context.grant_permissions(
                ["clipboard-read", "clipboard-write"], origin=shared_server.base_url
            )
        rows = _songs_library(studio)
        row = rows.first
        assert row.get_attribute("data-job-id") == job
        title = row.locator(".title-text").inner_text()
        click_centered(row.get_by_role("button", name=f"Share {title}"))
        dialog = page.get_by_role("dialog", name=f"Share “{title}”")
        expect(dialog).to_be_visible()
        field = dialog.get_by_label("Link to the page")
        url = field.input_value()
        assert re.fullmatch(re.escape(shared_server.base_url) + r"/share/[0-9a-f]+\.\d+\.[\w-]+", url), url
        text = dialog.locator("#share-dialog-text").inner_text()
        assert f"Anyone with this link can listen to “{title}”" in text and "until" in text
        assert "nothing else of your account" in text
        copy = dialog.get_by_role("button", name="Copy link")
        expect(copy).to_be_focused()
        copy.click()
        note = dialog.locator("#share-copy-note")
        if phone:  # no Clipboard API: the link is selected in its field, and the note says what to do
            expect(note).to_contain_text("press Ctrl+C")
            expect(field).to_be_focused()
            assert field.evaluate("f => [f.selectionStart, f.selectionEnd]") == [0, len(url)]
        else:
            expect(note).to_have_text("Link copied.")
            assert page.evaluate("navigator.clipboard.readText()") == url
        no_sideways_scroll(page)
        page.screenshot(path=str(ARTIFACTS / f"test_share_dialog_{size_name(phone)}.png"))
        dialog.get_by_role("button", name="Close").click()
        expect(dialog).to_be_hidden()
        expect(row.get_by_role("button", name=f"Share {title}")).to_be_focused()

    record = songs["records"][job]
    # Someone the link was sent to: a fresh browser that has never signed in.
    with watched_page(browser, shared_server, phone, "the share page") as (visitor, requested):
        answer = visitor.goto(url)
        assert answer is not None and answer.status == 200
        visitor.wait_for_selector("html[data-ready=true]", timeout=30_000)
        expect(visitor.get_by_role("heading", level=1)).to_have_text(title)
        assert visitor.title() == f"{title} · Songforge"
        assert "BPM" in visitor.locator("#share-meta").inner_text()
        visitor.wait_for_selector("#waveform[data-state=ready]", timeout=30_000)
        lyrics = visitor.get_by_role("list", name="Lyrics").locator("li")
        texts = [t.strip() for t in lyrics.all_text_contents()]
        assert "hello there my friend" in texts, texts
        # The section tags stay, in their place, set apart from the sung lines.
        tags = [t.strip().lower() for t in visitor.locator("#lyrics li.section").all_text_contents()]
        assert tags and tags[0] == "[verse]" and texts[0].lower() == "[verse]", texts
        visitor.get_by_role("button", name="Play", exact=True).click()
        wait_js(visitor, "document.getElementById('share-audio').currentTime > 0.3", timeout=20_000)
        visitor.locator("#lyrics li.active").wait_for(timeout=20_000)
        expect(visitor.locator("#share-toggle")).to_have_text("Pause")
        expect(visitor.locator("#share-expires")).to_contain_text("This link works until")
        with visitor.expect_download() as info:
            visitor.get_by_role("link", name="Download MP3").click()
        assert info.value.suggested_filename == f"{title}.mp3"
        # Read-only and private: no API call, and nothing of the account on the page.
        assert not [p for p in requested if p.startswith("/v1/tempolor")], requested
        html = visitor.content()
        for secret in (ACCOUNT, job, record["settings"]["prompt"], "Delete", "Sign in"):
            assert secret not in html, secret
        no_sideways_scroll(visitor)
        visitor.screenshot(path=str(ARTIFACTS / f"test_share_page_{size_name(phone)}.png"), full_page=True)

        # A link changed by hand, and one past its time (made with the server's own secret).
        token = url.rsplit("/share/", 1)[1]
        item_id, expires, mac = token.split(".")
        tampered = f"{shared_server.base_url}/share/{item_id}.{expires}.{mac[:-3]}xyz"
        answer = visitor.goto(tampered)
        assert answer is not None and answer.status == 404
        expect(visitor.get_by_role("heading", level=1)).to_have_text("Link not valid")
        expect(visitor.locator("main")).to_contain_text("This share link is not valid")
        visitor.screenshot(path=str(ARTIFACTS / f"test_share_tampered_{size_name(phone)}.png"))
        secret = signing.server_secret(shared_server.data_dir)
        stale, _ = signing.share_token(secret, item_id, 60, now=time.time() - 3600)
        answer = visitor.goto(f"{shared_server.base_url}/share/{stale}")
        assert answer is not None and answer.status == 410
        expect(visitor.get_by_role("heading", level=1)).to_have_text("Link expired")
        expect(visitor.locator("main")).to_contain_text("This share link has expired")
        visitor.screenshot(path=str(ARTIFACTS / f"test_share_expired_{size_name(phone)}.png"))
    # The page's data needs no token either, and is refused like the page.
    assert httpx.get(f"{url}/track").status_code == 200
    assert httpx.get(f"{tampered}/track").status_code == 404


# ----------------------------------------------------------------- 2. written lyrics, editable


@pytest.mark.parametrize("phone", SIZES)
def test_write_lyrics_to_edit_before_the_song(browser: Any, idle_server: ServerProcess, phone: bool) -> None:
    name = f"test_write_lyrics[{size_name(phone)}]"
    with studio_session(browser, idle_server, name, token=idle_server.token, phone=phone) as studio:
        page = studio.page
        studio.sign_in_with_account()
        page.get_by_label("Song with vocals").check()
        box = page.locator("#s-lyrics")
        write = page.get_by_role("button", name="Write lyrics")
        expect(write).to_be_visible()  # the box is empty
        write.click()
        expect(page.locator("#s-prompt-error")).to_have_text(
            "Write a prompt first: the lyrics are written from it."
        )
        assert box.input_value() == ""

        page.locator("#s-prompt").fill("a song about a train leaving town at dawn")
        # Only section tags are no words to sing: writing is still offered, and replaces them.
        page.get_by_role("toolbar", name="Insert a section tag").get_by_role("button", name="Verse").click()
        expect(page.locator("#s-lyrics-note")).to_be_visible()
        expect(write).to_be_visible()
        write.click()
        wait_js(page, "document.getElementById('s-lyrics').value.split('\\n').length > 6", timeout=20_000)
        written = box.input_value()
        lines = [line for line in written.splitlines() if line.strip()]
        assert "[Verse]" in lines and "[Chorus]" in lines, written
        assert sum(1 for line in lines if not line.startswith("[")) >= 6, written
        note = page.locator("#s-lyrics-written")
        expect(note).to_be_visible()
        expect(note).to_contain_text("the song will be sung with the words in the box")
        expect(page.locator("#s-lyrics-note")).to_be_hidden()  # no longer tags only
        expect(write).to_be_hidden()
        expect(page.locator("#s-prompt-error")).to_be_hidden()  # the prompt it asked for was given
        expect(box).to_be_focused()
        assert page.locator("#s-lyrics-count").inner_text() == f"{len(written)} / 3000"
        no_sideways_scroll(page)
        box.evaluate("e => e.scrollIntoView({block: 'center'})")
        page.screenshot(path=str(ARTIFACTS / f"test_write_lyrics_{size_name(phone)}.png"))

        # Edited, then sent: the song is asked to sing the box's words, edit included.
        box.press("Control+End")
        page.keyboard.type("\nand this line is mine")
        edited = box.input_value()
        assert edited.endswith("and this line is mine")
        page.get_by_role("button", name="Generate song").click()
        rows = page.locator("#track-list > li.track")
        rows.nth(1).wait_for()
        for i in range(2):
            record = studio.api.get(f"/music/{rows.nth(i).get_attribute('data-job-id')}").json()
            assert record["settings"]["lyrics"] == edited

        # Emptied again, the box offers writing again and the note goes.
        studio.tab("Create")
        box.fill("")
        expect(write).to_be_visible()
        expect(note).to_be_hidden()


# --------------------------------------------------------------------------------- 3. autoplay


@pytest.mark.parametrize("phone", SIZES)
def test_autoplay_plays_the_next_track_when_one_ends(
    browser: Any, shared_server: ServerProcess, songs: dict[str, Any], phone: bool
) -> None:
    name = f"test_autoplay_next[{size_name(phone)}]"
    with studio_session(browser, shared_server, name, token=songs["token"], phone=phone) as studio:
        page = studio.page
        rows = _songs_library(studio)
        first, second = rows.nth(0), rows.nth(1)
        titles = [first.locator(".title-text").inner_text(), second.locator(".title-text").inner_text()]
        click_centered(first.get_by_role("button", name=f"Play {titles[0]}"))
        _playing_from(page, first)
        autoplay = page.get_by_label("Autoplay next")
        expect(autoplay).to_be_checked()  # on by default
        assert page.evaluate("localStorage.getItem('songforge.autoplay')") is None

        # The first ends: the second, next in the library's order, plays.
        _to_the_end(page)
        expect(page.locator("#player-title")).to_have_text(titles[1], timeout=15_000)
        _playing_from(page, second)
        expect(first.locator(".now")).to_be_hidden()
        page.screenshot(path=str(ARTIFACTS / f"test_autoplay_next_{size_name(phone)}.png"))

        # Off: the track that ends stays, paused at its end.
        click_centered(autoplay)
        expect(autoplay).not_to_be_checked()
        assert page.evaluate("localStorage.getItem('songforge.autoplay')") == "0"
        click_centered(first.get_by_role("button", name=f"Play {titles[0]}"))
        expect(page.locator("#player-title")).to_have_text(titles[0])
        _playing_from(page, first)
        _to_the_end(page)
        wait_js(page, "document.getElementById('player-audio').ended", timeout=15_000)
        time.sleep(0.5)
        expect(page.locator("#player-title")).to_have_text(titles[0])
        expect(first.locator(".now")).to_have_text(re.compile(r"^paused$", re.I))
        expect(page.locator("#player-toggle")).to_have_text("Play")

        # The setting is kept: after a reload it is still off.
        page.reload()
        page.wait_for_selector("html[data-ready=true]")
        studio.tab("Library")
        rows.nth(1).wait_for()
        click_centered(rows.first.get_by_role("button", name=f"Play {titles[0]}"))
        expect(page.get_by_label("Autoplay next")).to_be_visible()
        expect(page.get_by_label("Autoplay next")).not_to_be_checked()
        no_sideways_scroll(page)
