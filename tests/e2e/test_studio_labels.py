"""Issue 20's library tools that need server state, in a real browser against a real server, at
desktop and phone size: rename in place, favourites and their filter (both still there after a
reload), and the voice filter (screenshots in test-artifacts/studio/).

Rename and favourites work on tracks queued on a server without workers (a queued row re-renders
on every poll, which an edit in progress must survive); the voice filter needs songs that were
sung, so those come from one module-wide set made through the API on a server with a worker.
"""

# ruff: noqa: F811 - `browser` is a fixture imported from test_studio and named by each test
from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_helpers import wait_final
from playwright.sync_api import expect
from test_studio import (  # noqa: F401 (browser: a fixture)
    ARTIFACTS,
    SIZES,
    account_api,
    browser,
    no_sideways_scroll,
    size_name,
    studio_session,
    wait_js,
)

from conftest import ServerProcess

pytestmark = pytest.mark.slow

SHOWN = "#track-list > li.track:not([hidden])"
LYRICS = "[Verse]\nhello there my friend\n[Chorus]\nla la la we sing"


def _row(page: Any, job_id: str) -> Any:
    return page.locator(f"#track-list > li.track[data-job-id='{job_id}']")


def _shown_ids(page: Any) -> list[str]:
    return list(page.locator(SHOWN).evaluate_all("els => els.map(e => e.dataset.jobId)"))


def _focused_class(page: Any) -> str:
    return str(page.evaluate("document.activeElement.className"))


# ----------------------------------------------------------------------- rename, favourites


@pytest.mark.parametrize("phone", SIZES)
def test_rename_in_place_and_favourites_survive_a_reload(
    browser: Any, idle_server: ServerProcess, phone: bool
) -> None:
    api = idle_server.client()
    with contextlib.closing(api):
        assert api.post("/accounts", json={"requestParams": {"user_id": "labels"}}).status_code == 200
        for prompt in ("rainy jazz piano", "desert rock guitar"):
            r = api.post("/music/instrumental", json={"prompt": prompt, "model_instrumental": "i3"})
            assert r.status_code == 200, r.text
        listed = [r["job_id"] for r in api.get("/music/", params={"type": "instrumental"}).json()["records"]]
    first, second, third = listed[0], listed[1], listed[2]
    name = f"test_rename_and_favourites[{size_name(phone)}]"
    with studio_session(browser, idle_server, name, token=idle_server.token, phone=phone) as studio:
        page = studio.page
        studio.library("instrumental", count=4)
        assert page.locator("#library-voice-field").is_hidden()  # instrumentals were sung by nobody
        row = _row(page, first)
        title = row.locator(".title-text")
        assert title.inner_text() == "Generating…"

        # By keyboard: Rename opens a field, Escape leaves the title as it was.
        row.get_by_role("button", name="Rename").focus()
        page.keyboard.press("Enter")
        field = row.get_by_role("textbox")
        expect(field).to_be_focused()
        page.keyboard.type("Never mind")
        page.keyboard.press("Escape")
        expect(field).to_have_count(0)
        assert title.inner_text() == "Generating…" and title.is_visible()
        assert "rename" in _focused_class(page)

        # An empty title is refused on the spot, in words, on the field.
        page.keyboard.press("Enter")
        expect(field).to_be_focused()
        page.keyboard.press("Enter")
        error = row.get_by_role("alert")
        expect(error).to_contain_text("Type a title")
        expect(field).to_have_attribute("aria-invalid", "true")

        # Enter saves; the row polls (it is queued) while the user types, and the edit survives it.
        page.keyboard.type("Midnight ")
        page.wait_for_timeout(2000)  # more than one poll: the row is re-rendered meanwhile
        expect(field).to_be_focused()
        page.keyboard.type("Rain")
        page.keyboard.press("Enter")
        expect(title).to_have_text("Midnight Rain")
        expect(field).to_have_count(0)
        assert "rename" in _focused_class(page)
        expect(row).to_have_accessible_name("Midnight Rain")
        assert studio.api.get(f"/music/{first}").json()["titleEn"] == "Midnight Rain"

        # The star marks a favourite (a toggle button: aria-pressed).
        star = _row(page, second).get_by_role("button", name="Favourite")
        expect(star).to_have_attribute("aria-pressed", "false")
        star.evaluate("e => e.scrollIntoView({block: 'center'})")
        star.click()
        expect(star).to_have_attribute("aria-pressed", "true")
        expect(star).to_have_text("\u2605")
        assert studio.api.get(f"/music/{second}").json()["favorite"] is True

        # What the server refuses, the row says in the server's words (a pasted tab, here).
        other = _row(page, third)
        other.get_by_role("button", name="Rename").evaluate("e => e.scrollIntoView({block: 'center'})")
        other.get_by_role("button", name="Rename").click()
        other.get_by_role("textbox").fill("Tab\there")
        other.get_by_role("button", name="Save").click()
        expect(other.get_by_role("alert")).to_contain_text("must be one line of text")
        expect(other.get_by_role("textbox")).to_be_focused()
        no_sideways_scroll(page)
        page.screenshot(path=str(ARTIFACTS / f"test_rename_error_{size_name(phone)}.png"))
        other.get_by_role("button", name="Cancel").click()
        expect(other.get_by_role("textbox")).to_have_count(0)
        assert studio.api.get(f"/music/{third}").json()["titleEn"] == ""

        # After a reload: the title and the star are the server's, and the filter shows favourites.
        page.reload()
        page.wait_for_selector("#library:not([hidden])")
        page.locator("#track-list > li.track").nth(3).wait_for()
        expect(_row(page, first).locator(".title-text")).to_have_text("Midnight Rain")
        star = _row(page, second).get_by_role("button", name="Favourite")
        expect(star).to_have_attribute("aria-pressed", "true")
        expect(_row(page, first).get_by_role("button", name="Favourite")).to_have_attribute(
            "aria-pressed", "false"
        )
        page.get_by_label("Favourites only").check()
        wait_js(page, f"document.querySelectorAll('{SHOWN}').length === 1")
        assert _shown_ids(page) == [second]
        assert page.locator("#library-tools-note").inner_text() == "1 of the 4 loaded tracks matches."
        no_sideways_scroll(page)
        page.screenshot(path=str(ARTIFACTS / f"test_favourites_filter_{size_name(phone)}.png"))

        # Unmarked under the filter, the row leaves the list and focus stays with the filter.
        star.click()
        page.get_by_text("No loaded track matches").wait_for()
        expect(page.get_by_label("Favourites only")).to_be_focused()
        page.get_by_label("Favourites only").uncheck()
        wait_js(page, f"document.querySelectorAll('{SHOWN}').length === 4")
        assert studio.api.get(f"/music/{second}").json()["favorite"] is False

        # Search finds the new title.
        page.get_by_label("Search titles, prompts and styles").fill("midnight")
        wait_js(page, f"document.querySelectorAll('{SHOWN}').length === 1")
        assert _shown_ids(page) == [first]


# --------------------------------------------------------------------------------- voices


@pytest.fixture(scope="module")
def sung(shared_server: ServerProcess) -> Iterator[dict[str, Any]]:
    """One account with two finished pairs of songs, each pair sung by another artist voice."""
    with account_api(shared_server, "labels-sung", "singer") as (token, api):
        voices = api.get("/music/artist-voices/").json()["records"][:2]
        assert len({v["name"] for v in voices}) == 2
        by_voice: dict[str, list[str]] = {}
        for voice in voices:
            body = {"prompt": "short bright pop", "lyrics": LYRICS, "model_song": "v3"}
            r = api.post("/music/song", json={**body, "artistVoiceItemId": voice["itemId"]})
            assert r.status_code == 200, r.text
            by_voice[voice["itemId"]] = r.json()["jobs"]
            time.sleep(0.01)
        for jobs in by_voice.values():
            for job in jobs:
                rec = wait_final(api, job, timeout=300)
                assert rec["status_name"] == "COMPLETED", rec
        yield {"token": token, "voices": voices, "by_voice": by_voice}


@pytest.mark.parametrize("phone", SIZES)
def test_voice_filter_narrows_the_list(
    browser: Any, shared_server: ServerProcess, sung: dict[str, Any], phone: bool
) -> None:
    name = f"test_voice_filter[{size_name(phone)}]"
    with studio_session(browser, shared_server, name, token=sung["token"], phone=phone) as studio:
        page = studio.page
        studio.library("song", count=4)
        select = page.locator("#library-voice")
        expect(select).to_be_visible()
        a, b = sung["voices"]
        labels = sorted([f"{a['name']} (artist voice)", f"{b['name']} (artist voice)"])
        assert page.locator("#library-voice option").all_inner_texts() == ["All voices", *labels]
        for voice in (a, b):
            select.select_option(label=f"{voice['name']} (artist voice)")
            wait_js(page, f"document.querySelectorAll('{SHOWN}').length === 2")
            assert sorted(_shown_ids(page)) == sorted(sung["by_voice"][voice["itemId"]])
            for text in page.locator(f"{SHOWN} .more-facts").all_inner_texts():
                assert f"Sung by {voice['name']}" in text, text
            assert page.locator("#library-tools-note").inner_text() == "2 of the 4 loaded tracks match."
        no_sideways_scroll(page)
        page.screenshot(path=str(ARTIFACTS / f"test_voice_filter_{size_name(phone)}.png"))

        # A finished row (cover, waveform) renames in place too, and stays under its voice.
        row = page.locator(SHOWN).first
        job_id = row.get_attribute("data-job-id")
        row.get_by_role("button", name="Rename").click()
        field = row.get_by_role("textbox")
        expect(field).to_be_focused()
        new_title = f"Sung on a {size_name(phone)}"
        field.fill(new_title)
        no_sideways_scroll(page)
        page.screenshot(path=str(ARTIFACTS / f"test_rename_finished_{size_name(phone)}.png"))
        field.press("Enter")
        expect(_row(page, str(job_id)).locator(".title-text")).to_have_text(new_title)
        assert len(_shown_ids(page)) == 2 and job_id in _shown_ids(page)
        assert studio.api.get(f"/music/{job_id}").json()["titleEn"] == new_title
        select.select_option("")
        wait_js(page, f"document.querySelectorAll('{SHOWN}').length === 4")
