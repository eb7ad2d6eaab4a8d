"""Issue 20's "Broken" list, item by item, in a real browser against a real server: what a user sees
at desktop and phone size, with a screenshot of each in test-artifacts/studio/.

Tracks that must be finished come from one module-wide pair made through the API (generation is
the slow part); tracks that only need to exist are queued on a server without workers.
"""

# ruff: noqa: F811 - `browser` is a fixture imported from test_studio and named by each test
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from e2e_helpers import wait_final
from test_studio import (  # noqa: F401 (browser: a fixture)
    ARTIFACTS,
    SIZES,
    _wav_bytes,
    account_api,
    browser,
    studio_session,
    wait_js,
)

from conftest import ServerProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def finished(shared_server: ServerProcess) -> Iterator[dict[str, Any]]:
    """One account with a finished pair of instrumental variations (made once for the module)."""
    with account_api(shared_server, "fixes-finished", "fixes") as (token, api):
        r = api.post("/music/instrumental", json={"prompt": "short calm piano", "model_instrumental": "i3"})
        assert r.status_code == 200, r.text
        jobs = r.json()["jobs"]
        records = [wait_final(api, job, timeout=180) for job in jobs]
        assert all(rec["status_name"] == "COMPLETED" for rec in records), records
        listed = api.get("/music/", params={"type": "instrumental"}).json()["records"]
        yield {
            "token": token,
            "records": {r["job_id"]: r for r in records},
            "order": [r["job_id"] for r in listed],
        }


def _signed_in(studio: Any) -> None:
    studio.open()
    studio.sign_in()
    studio.page.wait_for_selector("#create:not([hidden])")


def _phone_name(name: str, phone: bool) -> str:
    return f"{name}[{'phone' if phone else 'desktop'}]"


# ------------------------------------------------------------------------------ 1. downloads


def test_downloads_are_named_by_title_and_variation(
    browser: Any,
    shared_server: ServerProcess,
    finished: dict[str, Any],
    tmp_path: Path,
) -> None:
    name = "test_downloads_are_named_by_title_and_variation"
    with studio_session(browser, shared_server, name, token=finished["token"]) as studio:
        page = studio.page
        _signed_in(studio)
        studio.tab("Library")
        page.get_by_label("Instrumentals").check()
        rows = page.locator("#track-list > li.track[data-status=COMPLETED]")
        rows.nth(1).wait_for()
        titles = [finished["records"][j]["titleEn"] for j in finished["order"]]
        expected = [f"{titles[0]}.mp3", f"{titles[1]}{' (2)' if titles[1] == titles[0] else ''}.mp3"]
        got = []
        for i in range(2):
            rows.nth(i).get_by_role("button", name=re.compile("^Play")).click()
            with page.expect_download() as info:
                page.get_by_role("button", name="Download MP3").click()
            got.append(info.value.suggested_filename)
            path = tmp_path / info.value.suggested_filename
            info.value.save_as(path)
            assert path.stat().st_size > 1000
        assert got == expected
        with page.expect_download() as info:
            page.get_by_role("button", name="Download stems (zip)").click()
        assert info.value.suggested_filename == expected[1].removesuffix(".mp3") + ".zip"

        # The header carries the exact name (UTF-8, percent-encoded) and an ASCII fallback.
        link = studio.api.get(f"/music/download/{finished['order'][0]}", params={"file_format": "wav"}).json()
        served = httpx.get(link["url"])
        disposition = served.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="')
        encoded = re.search(r"filename\*=UTF-8''(\S+)", disposition)
        assert encoded and unquote(encoded.group(1)) == f"{titles[0]}.wav"
        # The name rides in the link unsigned, so it is cleaned again when served.
        evil = httpx.get(link["url"].split("&name=")[0] + "&name=..%2F..%2Fx%0D%0ASet-Cookie%3A%20a%3Db.wav")
        assert evil.status_code == 200 and "set-cookie" not in evil.headers
        assert "/" not in unquote(evil.headers["content-disposition"].split("''")[1])


# ------------------------------------------------------------------------- 2. phone layout


def test_phone_accounts_and_queue_do_not_scroll_sideways(browser: Any, shared_server: ServerProcess) -> None:
    with studio_session(browser, shared_server, "test_phone_accounts_and_queue", phone=True) as studio:
        page = studio.page
        studio.sign_in_with_account()
        studio.tab("Accounts & queue")
        form = page.locator("#account-form")
        form.get_by_label("Account id").fill("a-rather-long-account-name-for-a-phone")
        form.get_by_role("button", name="Create account").click()
        page.locator("#accounts-table tbody tr").nth(1).wait_for()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"Accounts & queue scrolls sideways on a phone by {overflow}px"
        # Every account's Delete button can be seen without scrolling anything sideways.
        for button in page.locator("#accounts-table button").all():
            box = button.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box


@pytest.mark.parametrize("phone", SIZES)
def test_the_player_leaves_the_library_in_sight(
    browser: Any,
    shared_server: ServerProcess,
    finished: dict[str, Any],
    phone: bool,
) -> None:
    name = _phone_name("test_the_player_leaves_the_library_in_sight", phone)
    with studio_session(browser, shared_server, name, token=finished["token"], phone=phone) as studio:
        page = studio.page
        _signed_in(studio)
        studio.tab("Library")
        page.get_by_label("Instrumentals").check()
        rows = page.locator("#track-list > li.track[data-status=COMPLETED]")
        rows.nth(1).wait_for()
        rows.first.get_by_role("button", name=re.compile("^Play")).click()
        page.wait_for_selector("#waveform[data-state=ready]", timeout=30_000)
        height = page.evaluate("document.getElementById('player').getBoundingClientRect().height")
        screen = page.evaluate("window.innerHeight")
        if phone:
            assert height <= 0.31 * screen, f"the player covers {height / screen:.0%} of a phone screen"
        page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        time.sleep(0.3)
        last = rows.last.bounding_box()
        top = page.evaluate("document.getElementById('player').getBoundingClientRect().top")
        assert last and last["y"] + last["height"] <= top + 1, "the player hides the last library row"
        assert page.get_by_role("button", name="Download MP3").is_visible()


# ------------------------------------------------------------------------------- 3. /docs


def test_api_docs_work_offline(browser: Any, shared_server: ServerProcess) -> None:
    with studio_session(browser, shared_server, "test_api_docs_work_offline") as studio:
        page = studio.page
        page.goto(shared_server.base_url + "/docs")
        page.locator(".swagger-ui .info .title", has_text="Songforge").wait_for(timeout=20_000)
        page.locator(".opblock-summary-path", has_text="/v1/tempolor/music/song").first.wait_for()
        page.screenshot(path=str(ARTIFACTS / "test_api_docs_work_offline_swagger.png"))
        page.goto(shared_server.base_url + "/redoc")
        page.locator("h1", has_text="Songforge").wait_for(timeout=20_000)
    docs = httpx.get(shared_server.base_url + "/docs")
    assert "https://" not in re.sub(r'"https://[^"]*"\s*:', "", docs.text.split("<body>")[0])
    assert "connect-src 'self'" in docs.headers["content-security-policy"]
    studio_csp = httpx.get(shared_server.base_url + "/studio").headers["content-security-policy"]
    assert "script-src 'self';" in studio_csp  # the studio's own policy stays as strict


# ------------------------------------------------------------------ 4. where the user was


@pytest.mark.parametrize("phone", SIZES)
def test_the_library_opens_where_the_user_was(browser: Any, idle_server: ServerProcess, phone: bool) -> None:
    name = _phone_name("test_the_library_opens_where_the_user_was", phone)
    with studio_session(browser, idle_server, name, token=idle_server.token, phone=phone) as studio:
        page = studio.page
        first = studio.sign_in_with_account()
        page.locator("#i-prompt").fill("a tiny loop")
        page.get_by_role("button", name="Generate instrumental").click()
        page.wait_for_selector("#library:not([hidden])")
        rows = page.locator("#track-list > li.track")
        rows.nth(1).wait_for()
        before = rows.evaluate_all("els => els.map(e => e.dataset.jobId)")

        # Only instrumentals: the library opens on them, even when Songs was the last choice.
        page.evaluate("localStorage.setItem('songforge.library-type', 'song')")
        page.reload()
        rows.nth(1).wait_for()
        assert page.get_by_label("Instrumentals").is_checked()
        assert page.locator("#library-empty").is_hidden()
        assert rows.evaluate_all("els => els.map(e => e.dataset.jobId)") == before  # the pair kept its order

        # With both kinds, the one the user chose last.
        assert (
            studio.api.post("/music/song", json={"prompt": "one song", "user_id": first}).status_code == 200
        )
        page.get_by_label("Songs").check()
        rows.nth(1).wait_for()
        songs = rows.evaluate_all("els => els.map(e => e.dataset.jobId)")
        assert not set(songs) & set(before)
        page.reload()
        page.wait_for_selector("#library:not([hidden])")
        rows.nth(1).wait_for()
        assert page.get_by_label("Songs").is_checked()
        assert rows.evaluate_all("els => els.map(e => e.dataset.jobId)") == songs

        # A newly created account is the one selected.
        studio.tab("Accounts & queue")
        form = page.locator("#account-form")
        form.get_by_label("Account id").fill(f"second-{'phone' if phone else 'desk'}")
        form.get_by_role("button", name="Create account").click()
        wait_js(
            page,
            f"document.getElementById('account-select').value === 'second-{'phone' if phone else 'desk'}'",
        )
        assert first != page.locator("#account-select").input_value()


# ------------------------------------------------------------------- 5. set-up screen tabs


@pytest.mark.parametrize("phone", SIZES)
def test_the_setup_screen_shows_no_section_tabs(
    browser: Any, shared_server: ServerProcess, phone: bool
) -> None:
    with studio_session(
        browser, shared_server, _phone_name("test_setup_screen", phone), phone=phone
    ) as studio:
        page = studio.page
        studio.open()
        studio.sign_in()
        page.get_by_role("heading", name="Set up an account").wait_for()
        assert page.get_by_role("navigation", name="Studio sections").count() == 0
        assert page.get_by_role("link", name="Library").count() == 0
        size = "phone" if phone else "desktop"
        page.screenshot(path=str(ARTIFACTS / f"test_setup_screen_before_{size}.png"))
        page.get_by_role("button", name="Create an account").click()
        page.get_by_role("navigation", name="Studio sections").wait_for()
        studio.tab("Library")
        page.get_by_role("heading", name="Library").wait_for()


# --------------------------------------------------------------------- 6. deleting accounts


def test_deleting_an_account_says_what_becomes_of_its_tracks(
    browser: Any, idle_server: ServerProcess
) -> None:
    with studio_session(browser, idle_server, "test_deleting_an_account", token=idle_server.token) as studio:
        page = studio.page
        first = studio.sign_in_with_account()
        api = studio.api
        assert api.post("/accounts", json={"requestParams": {"user_id": "doomed"}}).status_code == 200
        jobs = api.post("/music/instrumental", json={"prompt": "x", "user_id": "doomed"}).json()["jobs"]
        page.reload()  # the studio reads the accounts at sign-in
        page.wait_for_selector("#create:not([hidden])")
        studio.tab("Accounts & queue")
        row = page.locator("#accounts-table tbody tr[data-user-id=doomed]")
        row.wait_for()
        row.get_by_role("button", name=re.compile("^Delete")).click()
        dialog = page.get_by_role("dialog")
        text = dialog.inner_text()
        assert "not deleted" in text and "job id" in text and "“doomed” again" in text
        dialog.get_by_role("button", name="Delete").click()
        row.wait_for(state="detached")
        # What the dialog said, checked against the API.
        assert all(api.get(f"/music/{job}").status_code == 200 for job in jobs)
        assert api.get("/music/", params={"user_id": "doomed", "type": "instrumental"}).status_code == 404
        assert api.post("/accounts", json={"requestParams": {"user_id": "doomed"}}).status_code == 200
        listed = api.get("/music/", params={"user_id": "doomed", "type": "instrumental"}).json()["records"]
        assert sorted(r["job_id"] for r in listed) == sorted(jobs)
        assert page.locator("#account-select").input_value() == first


# -------------------------------------------------------------------------- 7. stem splits


def test_stem_splits_are_listed_after_a_reload(
    browser: Any,
    shared_server: ServerProcess,
    tmp_path: Path,
) -> None:
    with studio_session(browser, shared_server, "test_stem_splits_are_listed") as studio:
        page = studio.page
        studio.sign_in_with_account()
        track = tmp_path / "groove.wav"
        track.write_bytes(_wav_bytes())
        studio.tab("Uploads")
        form = page.locator("#stems-form")
        form.get_by_label("Track").set_input_files(str(track))
        form.get_by_role("button", name="Split into stems").click()
        wait_js(page, "document.querySelectorAll('#stems-list audio').length >= 2", timeout=180_000)
        page.reload()
        page.wait_for_selector("#uploads:not([hidden])")
        item = page.locator("#stems-list > li", has_text="groove.wav")
        item.wait_for()
        wait_js(page, "/Done/.test(document.querySelector('#stems-list > li').innerText)", timeout=30_000)
        item.get_by_role("button", name="Show the stems of groove.wav").click()
        wait_js(page, "document.querySelectorAll('#stems-list audio').length >= 2", timeout=30_000)
        listed = studio.api.get("/music/stems-splitter/").json()["records"]
        assert [r["title"] for r in listed] == ["groove.wav"] and listed[0]["state"] == 2


# -------------------------------------------------------------- 8. errors, words, alignment


@pytest.mark.parametrize("phone", SIZES)
def test_errors_once_plain_words_and_aligned_rows(
    browser: Any, shared_server: ServerProcess, phone: bool
) -> None:
    name = _phone_name("test_errors_once_plain_words_and_aligned_rows", phone)
    with studio_session(browser, shared_server, name, phone=phone) as studio:
        page = studio.page
        studio.sign_in_with_account()
        form = page.locator("#instrumental-form")
        page.locator("#i-prompt").fill("calm piano")
        page.locator("#i-chords").fill("C G Cxyz9")
        form.get_by_role("button", name="Generate instrumental").click()
        page.locator("#i-chords-error").wait_for()
        message = studio.api.post("/music/instrumental", json={"prompt": "x", "chords": "C G Cxyz9"}).json()[
            "error"
        ]
        assert form.inner_text().count(message) == 1, form.inner_text()

        studio.tab("Accounts & queue")
        accounts = page.locator("#account-form")
        accounts.get_by_label("Account id").fill("one-slot")
        accounts.get_by_label("maxJobs").fill("0")
        accounts.get_by_role("button", name="Create account").click()
        error = accounts.locator(".error")
        error.wait_for()
        err_box, form_box = error.bounding_box(), accounts.bounding_box()
        assert err_box and form_box and err_box["width"] >= 0.9 * form_box["width"], (err_box, form_box)
        assert error.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
        accounts.get_by_label("maxJobs").fill("1")
        accounts.get_by_role("button", name="Create account").click()
        wait_js(page, "document.getElementById('account-select').value === 'one-slot'")
        options = page.locator("#account-select option").all_inner_texts()
        assert "one-slot · max 1 job" in options and not any("1 jobs" in o for o in options)

        row = page.locator("#accounts-table tbody tr[data-user-id=one-slot]")
        row.get_by_role("button", name=re.compile("^Delete")).wait_for()
        # measured in one step, so the three boxes come from one rendering of the table
        button, cell, table = page.evaluate(
            """(() => {
              const row = document.querySelector('#accounts-table tbody tr[data-user-id="one-slot"]');
              const box = (e) => { const r = e.getBoundingClientRect();
                return { x: r.x, y: r.y, width: r.width, height: r.height }; };
              return [box(row.querySelector('button')), box(row.querySelector('th')),
                      box(document.getElementById('accounts-table'))];
            })()"""
        )
        middle = lambda b: b["y"] + b["height"] / 2  # noqa: E731
        assert abs(middle(button) - middle(cell)) <= 2, (button, cell)
        if not phone:
            assert table["x"] + table["width"] - (button["x"] + button["width"]) <= 12, (button, table)
            # the queue refreshes every 2 s; a keyboard user on Delete stays there through refreshes
            row.get_by_role("button", name=re.compile("^Delete")).focus()
            page.wait_for_timeout(4500)
            focused = page.evaluate("document.activeElement.getAttribute('aria-label')")
            assert focused == "Delete account one-slot", focused


# ------------------------------------------------------------------------------ 9. keyboard


def _focused(page: Any) -> str:
    return page.evaluate(
        "(() => { const e = document.activeElement;"
        " return e === document.body ? 'body' : (e.id || e.textContent.trim().slice(0, 40)); })()"
    )


@pytest.mark.parametrize("phone", SIZES)
def test_keyboard_focus_moves_sensibly(browser: Any, idle_server: ServerProcess, phone: bool) -> None:
    name = _phone_name("test_keyboard_focus_moves_sensibly", phone)
    with studio_session(browser, idle_server, name, phone=phone) as studio:
        page = studio.page
        studio.open()
        page.get_by_label("API token").fill(studio.token)
        page.keyboard.press("Enter")
        page.get_by_role("button", name="Create an account").wait_for()
        assert _focused(page) == "create-first-account"
        page.keyboard.press("Enter")
        wait_js(page, "document.activeElement && document.activeElement.id === 'create-title'")

        # Sign out and in again: focus lands in the section, not on the body.
        page.get_by_role("button", name="Sign out").click()
        page.get_by_label("API token").fill(studio.token)
        page.keyboard.press("Enter")
        wait_js(page, "document.activeElement && document.activeElement.id === 'create-title'")

        studio.tab("Uploads")
        wait_js(page, "document.activeElement && document.activeElement.id === 'uploads-title'")
        studio.tab("Create")
        wait_js(page, "document.activeElement && document.activeElement.id === 'create-title'")

        # The tag toolbar is one Tab stop; arrows, Home and End move inside it.
        page.get_by_label("Song with vocals").check()
        page.locator("#s-prompt").focus()
        page.keyboard.press("Tab")
        assert _focused(page) == "Intro"
        page.keyboard.press("ArrowRight")
        assert _focused(page) == "Verse"
        page.keyboard.press("End")
        assert _focused(page) == "Outro"
        page.keyboard.press("ArrowRight")
        assert _focused(page) == "Intro"
        page.keyboard.press("ArrowLeft")
        page.keyboard.press("Enter")
        assert page.locator("#s-lyrics").input_value() == "[Outro]\n"
        page.locator("#s-prompt").focus()
        page.keyboard.press("Tab")
        assert _focused(page) == "Outro"  # the toolbar remembers where the user was
        page.keyboard.press("Tab")
        assert _focused(page) == "s-lyrics"

        # Submitting moves focus to the library, where the new tracks are.
        page.locator("#s-lyrics").fill("")
        page.locator("#s-prompt").fill("a pop song")
        page.locator("#s-prompt").focus()
        page.get_by_role("button", name="Generate song").press("Enter")
        wait_js(page, "document.activeElement && document.activeElement.id === 'library-title'")


@pytest.mark.parametrize("phone", SIZES)
def test_the_player_is_one_key_from_its_row(
    browser: Any,
    shared_server: ServerProcess,
    finished: dict[str, Any],
    phone: bool,
) -> None:
    name = _phone_name("test_the_player_is_one_key_from_its_row", phone)
    with studio_session(browser, shared_server, name, token=finished["token"], phone=phone) as studio:
        page = studio.page
        _signed_in(studio)
        studio.tab("Library")
        page.get_by_label("Instrumentals").check()
        rows = page.locator("#track-list > li.track[data-status=COMPLETED]")
        rows.nth(1).wait_for()
        play = rows.nth(1).get_by_role("button", name=re.compile("^Play"))
        play.focus()
        page.keyboard.press("Enter")
        wait_js(page, "document.activeElement && document.activeElement.id === 'player-toggle'")
        page.keyboard.press("Escape")
        assert page.locator("#player").is_hidden()
        wait_js(
            page,
            f"document.activeElement === document.querySelector("
            f"'[data-job-id=\"{finished['order'][1]}\"] button.play')",
        )
        page.keyboard.press("Enter")
        wait_js(page, "document.activeElement && document.activeElement.id === 'player-toggle'")
        page.get_by_role("button", name="Close the player").click()
        wait_js(
            page,
            f"document.activeElement === document.querySelector("
            f"'[data-job-id=\"{finished['order'][1]}\"] button.play')",
        )


# -------------------------------------------------------------------- 10. tags-only lyrics


@pytest.mark.parametrize("phone", SIZES)
def test_tags_only_lyrics_say_they_will_be_written(
    browser: Any, idle_server: ServerProcess, phone: bool
) -> None:
    name = _phone_name("test_tags_only_lyrics_say_they_will_be_written", phone)
    with studio_session(browser, idle_server, name, phone=phone) as studio:
        page = studio.page
        studio.sign_in_with_account()
        page.get_by_label("Song with vocals").check()
        lyrics = page.locator("#s-lyrics")
        tags = page.get_by_role("toolbar", name="Insert a section tag")
        tags.get_by_role("button", name="Verse").click()
        tags.get_by_role("button", name="Chorus", exact=True).click()
        note = page.get_by_role("status").filter(has_text="only section tags")
        note.wait_for()
        assert "written from the prompt" in note.inner_text()
        page.screenshot(path=str(ARTIFACTS / f"test_tags_only_note_{'phone' if phone else 'desktop'}.png"))
        lyrics.press("End")
        page.keyboard.type("my own words")
        note.wait_for(state="hidden")
        lyrics.fill("  \n")
        assert page.locator("#s-lyrics-note").is_hidden()  # empty lyrics are explained by the help text


# ------------------------------------------------------------------------------ Extend


def test_extend_from_the_player_adds_a_linked_track(browser: Any, shared_server: ServerProcess) -> None:
    with account_api(shared_server, "fixes-extend", "ext") as (token, api):
        r = api.post("/music/instrumental", json={"prompt": "short calm piano", "model_instrumental": "i3"})
        assert r.status_code == 200, r.text
        sources = [wait_final(api, job, timeout=180) for job in r.json()["jobs"]]
        assert all(rec["status_name"] == "COMPLETED" for rec in sources), sources
    titles = {rec["job_id"]: rec["titleEn"] for rec in sources}
    with studio_session(browser, shared_server, "test_extend_from_the_player", token=token) as studio:
        page = studio.page
        _signed_in(studio)
        studio.tab("Library")
        page.get_by_label("Instrumentals").check()
        rows = page.locator("#track-list > li.track[data-status=COMPLETED]")
        rows.nth(1).wait_for()
        source_job = rows.first.get_attribute("data-job-id")
        rows.first.get_by_role("button", name=re.compile("^Play")).click()
        page.wait_for_selector("#waveform[data-state=ready]", timeout=30_000)
        page.evaluate("document.getElementById('player-audio').currentTime = 3.04")
        page.get_by_role("button", name="Extend").click()
        link = page.locator("#track-list > li.track .extended-from")
        link.first.wait_for(timeout=15_000)
        assert link.first.inner_text() == f"Extended from {titles[source_job]} at 0:03"
        assert page.locator("#track-list > li.track").count() == 3
        assert page.locator("#player-error").inner_text() == ""
