"""The web studio in a real headless browser (Debian's Chromium driven by Playwright) against a real
server process: sign in, make an instrumental, hear it, download it, upload MIDI, delete.

Every test leaves a screenshot in test-artifacts/studio/ and fails if the page reached for any
origin other than the server's or logged a JavaScript error. Browsers are never downloaded here:
Chromium comes from apt and Playwright only drives it (`make setup` installs both).
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mido
import numpy as np
import pytest
from e2e_helpers import make_account

from conftest import ServerProcess

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "studio"
DOCS_SCREENSHOT = ROOT / "docs" / "studio.png"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
SETUP_HINT = (
    "`make setup` installs them (Debian package `chromium`, pip package `playwright==1.65.2`; "
    "never `playwright install`)"
)
GENERATION_TIMEOUT_MS = 120_000
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1200, "height": 860}}
SIZES = [pytest.param(False, id="desktop"), pytest.param(True, id="phone")]  # for a `phone` parameter
TRACKS = "#track-list > li.track"


def _require_browser() -> Any:
    """The Playwright entry point; fails (not skips) when the browser stack is missing."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
        missing.append("Playwright for Python")
    if missing:
        pytest.fail(f"The studio browser tests need {' and '.join(missing)}: {SETUP_HINT}.", pytrace=False)
    return sync_playwright


# ----------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_playwright = _require_browser()
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


class Studio:
    """A browser tab on the studio plus the same user's API client, for checking what the page did."""

    def __init__(self, page: Any, server: ServerProcess, token: str) -> None:
        self.page = page
        self.server = server
        self.token = token
        self.api = server.client(token)

    def open(self) -> None:
        self.page.goto(self.server.base_url + "/studio")
        self.page.wait_for_selector("html[data-ready=true]")

    def sign_in(self, token: str | None = None) -> None:
        self.page.get_by_label("API token").fill(token or self.token)
        self.page.get_by_role("button", name="Sign in").click()

    def sign_in_with_account(self) -> str:
        self.open()
        self.sign_in()
        self.page.get_by_role("button", name="Create an account").click()
        self.page.wait_for_selector("#create:not([hidden])")
        return self.page.locator("#account-select").input_value()

    def tab(self, name: str) -> None:
        self.page.get_by_role("navigation", name="Studio sections").get_by_role("link", name=name).click()

    def library(self, kind: str = "instrumental", count: int = 2, rows: str = TRACKS) -> Any:
        """Signs in and opens the Library on `kind`'s tracks, once the first `count` of `rows` are
        there; the rows."""
        self.open()
        self.sign_in()
        self.page.wait_for_selector("#create:not([hidden])")
        self.tab("Library")
        self.page.get_by_label("Songs" if kind == "song" else "Instrumentals").check()
        found = self.page.locator(rows)
        found.nth(count - 1).wait_for()
        return found


def size_name(phone: bool) -> str:
    return "phone" if phone else "desktop"


def no_sideways_scroll(page: Any) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


def click_centered(locator: Any) -> None:
    """Clicks after bringing the element to the middle of the screen: on a phone the player is
    fixed over the bottom of the page, and Playwright's own scrolling may leave a row beneath it."""
    locator.evaluate("e => e.scrollIntoView({block: 'center'})")
    locator.click()


@contextlib.contextmanager
def account_api(server: ServerProcess, name: str, user_id: str) -> Iterator[tuple[str, httpx.Client]]:
    """A new tenant `name` with the account `user_id`: its token and API client (closed on the way
    out), for the tracks a module makes once through the API."""
    token, _secret, _tenant = server.create_token(name)
    api = server.client(token)
    with contextlib.closing(api):
        make_account(api, user_id)
        yield token, api


@contextlib.contextmanager
def watched_page(
    browser: Any, server: ServerProcess, phone: bool = False, who: str = "the page"
) -> Iterator[tuple[Any, list[str]]]:
    """A page in a fresh browser context (`phone`: a 390 x 844 touch screen instead of a 1200 x 860
    desktop window). Yields it and the server's paths it requested; on the way out it closes the
    context and fails the test if the page (`who`) reached for another origin or logged a
    JavaScript error."""
    context = browser.new_context(**(PHONE if phone else DESKTOP), accept_downloads=True)
    page = context.new_page()
    origin = server.base_url
    requested: list[str] = []
    foreign: list[str] = []
    js_errors: list[str] = []

    def on_request(req: Any) -> None:
        if req.url.startswith(origin):
            requested.append(req.url[len(origin) :])
        elif not req.url.startswith(("blob:", "data:")):
            foreign.append(req.url)

    def on_console(msg: Any) -> None:
        # 4xx answers are expected (bad tokens, validation); the page shows them itself.
        if msg.type == "error" and "status of 4" not in msg.text:
            js_errors.append(msg.text)

    page.on("request", on_request)
    page.on("console", on_console)
    page.on("pageerror", lambda e: js_errors.append(str(e)))
    try:
        yield page, requested
    finally:
        context.close()
    assert not foreign, f"{who} made requests outside the server: {foreign}"
    assert not js_errors, f"JavaScript errors: {js_errors}\n{server.log()}"


@contextlib.contextmanager
def studio_session(
    browser: Any, server: ServerProcess, name: str, token: str | None = None, phone: bool = False
) -> Iterator[Studio]:
    """A fresh browser context signed in as nobody yet, with the given (default: a new) tenant token;
    `phone`: a 390 x 844 touch screen instead of a 1200 x 860 desktop window.

    On the way out it saves a screenshot and fails the test if the page reached for another origin
    or logged a JavaScript error."""
    if token is None:
        token, _secret, _tenant = server.create_token(name[:60])
    with watched_page(browser, server, phone, "the studio") as (page, _requested):
        s = Studio(page, server, token)
        try:
            yield s
        finally:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shot = ARTIFACTS / (re.sub(r"[^\w.-]+", "_", name) + ".png")
            try:
                page.screenshot(path=str(shot), full_page=True)
            finally:
                s.api.close()


@pytest.fixture
def studio(browser: Any, shared_server: ServerProcess, request: pytest.FixtureRequest) -> Iterator[Studio]:
    """The studio on the module's shared server (one worker), as a new tenant."""
    with studio_session(browser, shared_server, request.node.name) as s:
        yield s


def wait_js(page: Any, expression: str, timeout: float = 10_000) -> Any:
    """Polls a JavaScript expression until it is truthy. Playwright's wait_for_function evaluates
    strings with eval(), which the studio's Content-Security-Policy rightly forbids; evaluate()
    goes through the DevTools protocol instead."""
    deadline = time.monotonic() + timeout / 1000
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout / 1000:g}s: {expression}")
        time.sleep(0.1)


def _midi_bytes() -> bytes:
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=500_000))
    for note in (60, 64, 67, 72):
        track.append(mido.Message("note_on", note=note, velocity=90, time=0))
        track.append(mido.Message("note_off", note=note, velocity=0, time=480))
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def _wav_bytes(seconds: float = 6.0, sr: int = 44100) -> bytes:
    t = np.arange(int(seconds * sr)) / sr
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 2 * t))
    kick = 0.6 * np.sin(2 * np.pi * 55 * t) * np.exp(-8 * (t % 0.5))
    data = (np.clip(tone + kick, -1, 1) * 32000).astype("<i2")
    stereo = np.repeat(data[:, None], 2, axis=1)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(stereo.tobytes())
    return buf.getvalue()


# -------------------------------------------------------------------------------------- tests


def test_a_missing_browser_fails_and_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", Path("/nonexistent/chromium"))
    with pytest.raises(pytest.fail.Exception, match="make setup"):
        _require_browser()


def test_static_files_stay_inside_the_studio_folder(shared_server: ServerProcess) -> None:
    base = shared_server.base_url
    page = httpx.get(base + "/studio")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert 'href="/docs"' in page.text and "songforge token create" in page.text
    js = httpx.get(base + "/studio/static/js/main.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    vendor = httpx.get(base + "/studio/static/vendor/wavesurfer.esm.js")
    assert vendor.status_code == 200 and "export" in vendor.text
    for probe in ("..%2fstudio.py", "..%2f..%2fconfig.py", "%2e%2e/studio.py", "nope.js", "js"):
        r = httpx.get(f"{base}/studio/static/{probe}")
        assert r.status_code == 404, (probe, r.status_code)
        assert r.json() == {"error": "Not Found", "code": 404}
    # Every asset the page names is served.
    for ref in re.findall(r'(?:src|href)="(/studio/static/[^"]+)"', page.text):
        assert httpx.get(base + ref).status_code == 200, ref


def test_sign_in_bad_token_then_remember_and_sign_out(studio: Studio) -> None:
    page = studio.page
    studio.open()
    studio.sign_in("sf_not-a-real-token")
    alert = page.locator("#signin-error")
    alert.wait_for()
    assert "refused this token" in alert.inner_text()
    assert "401" in alert.inner_text()
    assert page.locator("#tabs").is_hidden()

    studio.sign_in()
    page.get_by_role("heading", name="Set up an account").wait_for()
    page.get_by_role("button", name="Create an account").click()
    page.wait_for_selector("#create:not([hidden])")
    user_id = page.locator("#account-select").input_value()
    assert user_id in studio.api.get("/accounts").json()
    assert page.evaluate("localStorage.getItem('songforge.token')") == studio.token

    page.reload()
    page.wait_for_selector("#create:not([hidden])")  # signed in again from local storage
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    assert page.evaluate("localStorage.getItem('songforge.token')") is None
    page.reload()
    page.get_by_role("heading", name="Sign in").wait_for()
    assert page.locator("#create").is_hidden()


def test_forms_validate_like_the_api_and_show_its_errors(studio: Studio) -> None:
    page = studio.page
    studio.sign_in_with_account()
    form = page.locator("#instrumental-form")
    form.get_by_role("button", name="Generate instrumental").click()
    assert page.locator("#i-prompt-error").inner_text() == "Parameter prompt is required"
    assert page.locator("#i-prompt").get_attribute("aria-invalid") == "true"

    page.locator("#i-prompt").fill("calm piano")
    page.locator("#i-bpm").fill("300")
    form.get_by_role("button", name="Generate instrumental").click()
    assert page.locator("#i-bpm-error").inner_text() == "Parameter bpm must be an integer between 50 and 190"

    # A symbol shaped like a chord but unknown to the server: the API's own words come back.
    page.locator("#i-bpm").fill("")
    page.locator("#i-chords").fill("C G Cxyz9")
    form.get_by_role("button", name="Generate instrumental").click()
    form_error = form.locator(".form-error")
    form_error.wait_for()
    expected = studio.api.post("/music/instrumental", json={"prompt": "x", "chords": "C G Cxyz9"}).json()
    assert expected["code"] == 400
    # Issue 20: the API's words once, next to the field; the note above the button points there.
    assert form_error.inner_text() == "Please fix the marked fields."
    assert page.locator("#i-chords-error").inner_text() == expected["error"]
    assert studio.api.get("/music/", params={"type": "instrumental"}).json()["records"] == []

    # Song form: lyrics editor with section tags, and the one-voice-or-MIDI rule.
    page.get_by_label("Song with vocals").check()
    tags = page.get_by_role("toolbar", name="Insert a section tag")
    tags.get_by_role("button", name="Verse").click()
    page.keyboard.type("Hello line")
    tags.get_by_role("button", name="Chorus", exact=True).click()
    assert page.locator("#s-lyrics").input_value() == "[Verse]\nHello line\n[Chorus]\n"
    page.get_by_role("radio", name="Artist voice").check()
    page.locator("#s-prompt").fill("a pop song")
    page.locator("#song-form").get_by_role("button", name="Generate song").click()
    assert "Choose one" in page.locator("#s-base-error").inner_text()


def test_create_instrumental_wait_play_download_delete(studio: Studio, tmp_path: Path) -> None:
    page = studio.page
    studio.sign_in_with_account()
    page.locator("#i-prompt").fill("short calm lofi piano")
    page.locator("#i-model").select_option("i3")
    page.locator("#i-key").select_option("A:minor")
    page.locator("#i-bpm").fill("90")
    page.locator("#i-chords").fill("Am F C G")
    page.get_by_role("button", name="Generate instrumental").click()

    page.wait_for_selector("#library:not([hidden])")
    rows = page.locator("#track-list > li.track")
    rows.nth(1).wait_for()
    assert rows.count() == 2
    # Live progress while generating, then both finish without a reload.
    wait_js(
        page,
        "document.querySelectorAll('#track-list > li[data-status=COMPLETED]').length === 2",
        timeout=GENERATION_TIMEOUT_MS,
    )
    first = rows.first
    job_id = first.get_attribute("data-job-id")
    record = studio.api.get(f"/music/{job_id}").json()
    facts = first.locator(".facts").inner_text()
    assert "A minor" in facts and "90 BPM" in facts  # issue 20: plain words
    assert record["titleEn"] and first.locator(".title").inner_text() == record["titleEn"]
    # Issue 19: the work's cover beside it and a thumbnail drawn from its peaks, not its audio.
    wait_js(
        page,
        "(() => { const i = document.querySelector('#track-list > li .cover');"
        " return i && i.complete && i.naturalWidth > 0; })()",
        timeout=20_000,
    )
    first.locator("canvas.thumb[data-state=drawn]").wait_for(timeout=20_000)

    first.get_by_role("button", name=re.compile("^Play")).click()
    page.get_by_role("heading", name=record["titleEn"]).wait_for()
    wait_js(page, "document.getElementById('player-cover').naturalWidth > 0", timeout=20_000)
    wait_js(page, "document.getElementById('player-audio').duration > 0", timeout=30_000)
    duration = page.evaluate("document.getElementById('player-audio').duration")
    assert abs(duration - record["musicMaterial"]["dur"]) < 1.5
    page.wait_for_selector("#waveform[data-state=ready]", timeout=30_000)
    # Play on a row plays (issue 20); the player's own button pauses.
    wait_js(page, "document.getElementById('player-audio').currentTime > 0.2", timeout=20_000)
    assert page.locator("#player-toggle").inner_text() == "Pause"
    page.locator("#player-toggle").click()
    if not DOCS_SCREENSHOT.exists():  # test_studio_missing.test_readme_screenshot refreshes it
        DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_SCREENSHOT))

    for fmt, magic in (("mp3", (b"ID3", b"\xff\xfb", b"\xff\xf3")), ("wav", (b"RIFF",)), ("stems", (b"PK",))):
        with page.expect_download() as info:
            page.locator(f"#player [data-format={fmt}]").click()
        path = tmp_path / info.value.suggested_filename
        info.value.save_as(path)
        assert path.suffix == (".zip" if fmt == "stems" else f".{fmt}")
        assert path.read_bytes().startswith(magic), fmt

    other = rows.nth(1).get_attribute("data-job-id")
    rows.first.get_by_role("button", name=re.compile("^Delete")).click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    wait_js(page, f"!document.querySelector('[data-job-id=\"{job_id}\"]')")
    assert page.locator("#player").is_hidden()  # the deleted track's player closed
    assert studio.api.get(f"/music/{job_id}").status_code == 404
    assert studio.api.get(f"/music/{other}").status_code == 200
    assert rows.count() == 1


def test_song_with_artist_voice_preview_and_lyrics(studio: Studio) -> None:
    page = studio.page
    studio.sign_in_with_account()
    page.get_by_label("Song with vocals").check()
    page.locator("#s-prompt").fill("short bright pop")
    lyrics = page.locator("#s-lyrics")
    lyrics.fill("")
    tags = page.get_by_role("toolbar", name="Insert a section tag")
    tags.get_by_role("button", name="Verse").click()
    page.keyboard.type("hello there\n")
    tags.get_by_role("button", name="Chorus", exact=True).click()
    page.keyboard.type("la la la")
    assert page.locator("#s-lyrics-count").inner_text() == f"{len(lyrics.input_value())} / 3000"
    page.locator("#s-model").select_option("v3")
    page.get_by_role("radio", name="Artist voice").check()
    voices = studio.api.get("/music/artist-voices/").json()["records"]
    wait_js(page, f"document.querySelectorAll('#s-artist option').length === {len(voices) + 1}")
    page.locator("#s-artist").select_option(voices[0]["itemId"])
    page.get_by_role("button", name="Preview").click()
    wait_js(page, "document.getElementById('s-artist-audio').currentTime > 0.1", timeout=60_000)
    assert page.locator("#s-artist-preview").get_attribute("aria-pressed") == "true"
    page.locator("#s-artist-preview").click()  # stop
    page.get_by_role("button", name="Generate song").click()

    page.wait_for_selector("#library:not([hidden])")
    assert page.get_by_label("Songs").is_checked()
    wait_js(
        page,
        "document.querySelectorAll('#track-list > li[data-status=COMPLETED]').length === 2",
        timeout=GENERATION_TIMEOUT_MS,
    )
    row = page.locator("#track-list > li.track").first
    record = studio.api.get(f"/music/{row.get_attribute('data-job-id')}").json()
    sung = record["ltmMaterialExtendDto"]["lyricsPrompt"]  # what the engine fitted into the track
    assert sung.startswith("[Verse]\nhello there")
    row.get_by_role("button", name=re.compile("^Play")).click()
    wait_js(page, "document.getElementById('player-audio').duration > 0", timeout=30_000)
    shown = page.get_by_role("list", name="Lyrics").locator("li").all_text_contents()
    lrc = record["ltmMaterialExtendDto"].get("lrcTimestamp") or ""
    assert lrc, "a sung song carries its LRC timings"
    # With timings, the player lists the sung lines (no section tags) and highlights the current one.
    timed = [re.sub(r"^\[\d+:\d+(?:\.\d+)?\]", "", line) for line in lrc.splitlines() if line.strip()]
    assert shown == timed and "hello there" in timed
    page.locator("#lyrics li.active").wait_for(timeout=20_000)  # Play on the row plays


def test_library_scrolls_through_the_cursor_and_filters(browser: Any, idle_server: ServerProcess) -> None:
    """More tracks than one API page (20), on a server without workers so they stay queued: the
    list shows the first page, fetches the next one when scrolled to the end, and shows waiting."""
    api = idle_server.client()
    with contextlib.closing(api):
        assert (
            api.post("/accounts", json={"requestParams": {"user_id": "pager"}, "maxJobs": 30}).status_code
            == 200
        )
        for i in range(11):
            body = {"prompt": f"tiny loop {i}", "model_instrumental": "i3"}
            assert api.post("/music/instrumental", json=body).status_code == 200
        assert api.post("/music/song", json={"prompt": "one song"}).status_code == 200
        listed: list[str] = []
        cursor = ""
        while True:
            page_body = api.get("/music/", params={"type": "instrumental", "cursor": cursor}).json()
            listed += [r["job_id"] for r in page_body["records"]]
            if not page_body["hasNext"]:
                break
            cursor = page_body["cursor"]
    assert len(listed) == 22

    with studio_session(browser, idle_server, "test_library_scroll", token=idle_server.token) as studio:
        page = studio.page
        studio.open()
        studio.sign_in()
        studio.tab("Library")
        page.get_by_label("Instrumentals").check()
        rows = page.locator("#track-list > li.track")
        wait_js(page, "document.querySelectorAll('#track-list > li.track').length === 20")
        time.sleep(0.5)
        assert rows.count() == 20  # one page until the end of the list comes into view
        assert "Waiting in the queue 0%" in rows.first.inner_text()
        page.locator("#library-sentinel").scroll_into_view_if_needed()
        wait_js(page, "document.querySelectorAll('#track-list > li.track').length === 22")
        shown = rows.evaluate_all("els => els.map(e => e.dataset.jobId)")
        assert shown == listed  # newest first, exactly the API's order, no duplicates
        assert page.locator("#load-more").is_hidden()
        page.get_by_label("Songs").check()
        wait_js(page, "document.querySelectorAll('#track-list > li.track').length === 2")


def test_timed_lyrics_follow_the_playback_clock(studio: Studio) -> None:
    """The lyric parser and the line picked at a given time, run in the page's own module."""
    studio.open()
    result = studio.page.evaluate(
        """async () => {
            const m = await import('/studio/static/js/lyrics.js');
            const lrc = m.parseTimedLyrics(
                '[00:01.00][Verse]\\n[00:02.50]first line\\n[00:04.00]second line');
            const json = m.parseTimedLyrics(JSON.stringify([
                {start: 3.0, end: 4.0, text: 'b'}, {start: 0.5, end: 2.0, text: 'a'}]));
            return {
                lrc: lrc.map(l => [l.time, l.text, l.section]),
                json: json.map(l => [l.time, l.text]),
                at: [0.2, 1.2, 2.6, 9].map(t => m.activeLine(lrc, t)),
            };
        }"""
    )
    assert result["lrc"] == [[1, "[Verse]", True], [2.5, "first line", False], [4, "second line", False]]
    assert result["json"] == [[0.5, "a"], [3, "b"]]
    assert result["at"] == [-1, 0, 1, 2]


def test_voice_sample_upload_shows_its_analysis(studio: Studio, tmp_path: Path) -> None:
    page = studio.page
    studio.sign_in_with_account()
    sample = tmp_path / "me.wav"
    sample.write_bytes(_wav_bytes(seconds=6.0))
    studio.tab("Uploads")
    form = page.locator("#voice-form")
    form.get_by_label("Name").fill("My voice")
    form.get_by_label("Voice recording").set_input_files(str(sample))
    form.get_by_role("button", name="Upload voice").click()
    item = page.locator("#voice-list li", has_text="My voice")
    item.wait_for()
    wait_js(
        page,
        'document.querySelector(\'#voice-list li[data-status="30"], #voice-list li[data-status="10"]\')',
        timeout=120_000,
    )
    record = studio.api.get("/music/cloned-voices/").json()["records"][0]
    assert record["status"] == 30, record
    assert "Ready" in item.inner_text()
    for label in record["labels"]:
        assert label in item.locator("dl").inner_text()
    studio.tab("Create")
    page.get_by_label("Song with vocals").check()
    page.get_by_role("radio", name="My cloned voice").check()
    assert "My voice" in page.locator("#s-cloned option").all_inner_texts()


def test_upload_midi_and_pick_it_as_a_song_base(studio: Studio, tmp_path: Path) -> None:
    page = studio.page
    studio.sign_in_with_account()
    midi = tmp_path / "arp.mid"
    midi.write_bytes(_midi_bytes())
    studio.tab("Uploads")
    card = page.locator("#midi-form")
    card.get_by_role("button", name="Upload MIDI").click()
    assert "name is required" in card.locator(".error").inner_text()
    card.get_by_label("Name").fill("Arpeggio")
    card.get_by_label("MIDI file").set_input_files(str(midi))
    card.get_by_role("button", name="Upload MIDI").click()
    page.locator("#midi-list li", has_text="Arpeggio").wait_for()
    listed = studio.api.get("/music/midi/").json()["records"]
    assert [r["name"] for r in listed] == ["Arpeggio"]

    bad = tmp_path / "broken.mid"
    bad.write_bytes(b"MThd definitely not midi")
    card.get_by_label("Name").fill("Broken")
    card.get_by_label("MIDI file").set_input_files(str(bad))
    card.get_by_role("button", name="Upload MIDI").click()
    card.locator(".error").wait_for()
    api_error = studio.api.post(
        "/music/midi/", params={"name": "x"}, content=bad.read_bytes(), headers={"Content-Type": "audio/midi"}
    ).json()["error"]
    assert card.locator(".error").inner_text() == api_error
    assert len(studio.api.get("/music/midi/").json()["records"]) == 1

    studio.tab("Create")
    page.get_by_label("Song with vocals").check()
    page.get_by_role("radio", name="MIDI base").check()
    options = page.locator("#s-midi option").all_inner_texts()
    assert "Arpeggio" in options

    studio.tab("Uploads")
    page.locator("#midi-list li", has_text="Arpeggio").get_by_role(
        "button", name=re.compile("^Delete")
    ).click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    page.get_by_text("No MIDI files yet.").wait_for()
    assert studio.api.get("/music/midi/").json()["records"] == []


def test_split_a_track_into_playable_stems(studio: Studio, tmp_path: Path) -> None:
    page = studio.page
    studio.sign_in_with_account()
    track = tmp_path / "groove.wav"
    track.write_bytes(_wav_bytes())
    studio.tab("Uploads")
    form = page.locator("#stems-form")
    form.get_by_label("Track").set_input_files(str(track))
    form.get_by_role("button", name="Split into stems").click()
    stems = page.locator("#stems-list audio")
    wait_js(page, "document.querySelectorAll('#stems-list audio').length >= 2", timeout=180_000)
    assert page.locator("#stems-list .error").count() == 0
    wait_js(
        page, "[...document.querySelectorAll('#stems-list audio')].every(a => a.duration > 0)", timeout=30_000
    )
    durations = stems.evaluate_all("els => els.map(a => a.duration)")
    assert all(abs(d - 6.0) < 0.5 for d in durations), durations


def test_accounts_and_queue(studio: Studio) -> None:
    page = studio.page
    first = studio.sign_in_with_account()
    studio.tab("Accounts & queue")
    form = page.locator("#account-form")
    form.get_by_label("Account id").fill("studio-second")
    form.get_by_label("maxJobs").fill("0")
    form.get_by_role("button", name="Create account").click()
    assert "maxJobs" in form.locator(".error").inner_text()
    form.get_by_label("maxJobs").fill("3")
    form.get_by_role("button", name="Create account").click()
    row = page.locator("#accounts-table tbody tr[data-user-id=studio-second]")
    row.wait_for()
    assert row.locator("td").first.inner_text() == "3"
    assert studio.api.get("/accounts/studio-second").json()["maxJobs"] == 3

    # Queue view: submit more than one worker can run at once and watch running vs waiting.
    for i in range(3):
        r = studio.api.post(
            "/music/instrumental", json={"prompt": f"q {i}", "model_instrumental": "i3", "user_id": first}
        )
        assert r.status_code == 200, r.text
    wait_js(page, "document.querySelectorAll('#sched-running li[data-job-id]').length >= 1")
    wait_js(page, "document.querySelectorAll('#sched-waiting li[data-job-id]').length >= 1")
    # The page polls, so its running entry can name a job that finished since its last poll (4-second
    # tracks finish fast): the page and the server must agree on a running job within a few polls.
    shown, executing_ids = None, set()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        shown = page.locator("#sched-running li[data-job-id]").first.get_attribute("data-job-id")
        executing_ids = {j["job_id"] for j in studio.api.get("/scheduler/").json()}
        if shown in executing_ids:
            break
        time.sleep(0.3)
    assert shown in executing_ids, (shown, executing_ids)

    row.get_by_role("button", name=re.compile("^Delete")).click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    row.wait_for(state="detached")
    assert studio.api.get("/accounts/studio-second").status_code == 404
    deadline = time.monotonic() + 180
    while studio.api.get("/scheduler/").json() and time.monotonic() < deadline:
        time.sleep(0.5)


def test_phone_screen_and_keyboard(browser: Any, shared_server: ServerProcess) -> None:
    token, _s, _t = shared_server.create_token("phone")
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(shared_server.base_url + "/studio")
        page.wait_for_selector("html[data-ready=true]")
        # Keyboard only: Tab from the top reaches the skip link, then the token field.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip-link"
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "token-input"
        page.keyboard.type(token)
        page.keyboard.press("Enter")
        page.get_by_role("button", name="Create an account").wait_for()
        page.keyboard.press("Enter")  # focus moved to the button
        page.wait_for_selector("#create:not([hidden])")
        for section in ("Create", "Library", "Uploads", "Accounts & queue"):
            page.get_by_role("link", name=section).click()
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{section} scrolls sideways on a phone by {overflow}px"
            unlabeled = page.evaluate(
                """() => [...document.querySelectorAll('input, select, textarea, button')]
                    .filter(e => e.offsetParent !== null)
                    .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                                 && !(e.textContent || '').trim())
                    .map(e => e.outerHTML.slice(0, 80))"""
            )
            assert unlabeled == [], unlabeled
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.get_by_role("link", name="Create").click()
        page.screenshot(path=str(ARTIFACTS / "test_phone_screen_and_keyboard.png"), full_page=True)
    finally:
        context.close()
