"""The studio's item view says what the record says about the prompt: a language asked for but not
sung, and what the rendered track measured as beside what was asked."""

from __future__ import annotations

from typing import Any

from test_studio import GENERATION_TIMEOUT_MS, browser, studio_session, wait_js  # noqa: F401 (fixture)

from conftest import ServerProcess


def test_language_notice_and_asked_vs_measured(browser: Any, shared_server: ServerProcess) -> None:  # noqa: F811
    with studio_session(browser, shared_server, "test_language_notice_and_asked_vs_measured") as studio:
        page = studio.page
        studio.sign_in_with_account()
        page.locator("#i-prompt").fill("calm lofi piano with French lyrics")
        page.locator("#i-model").select_option("i3")
        page.locator("#i-key").select_option("D:minor")
        page.locator("#i-bpm").fill("84")
        page.get_by_role("button", name="Generate instrumental").click()
        page.wait_for_selector("#library:not([hidden])")
        wait_js(
            page,
            "document.querySelectorAll('#track-list > li[data-status=COMPLETED]').length >= 1",
            timeout=GENERATION_TIMEOUT_MS,
        )
        row = page.locator("#track-list > li.track[data-status=COMPLETED]").first
        record = studio.api.get(f"/music/{row.get_attribute('data-job-id')}").json()
        material = record["musicMaterial"]
        assert material["languageRequested"] == "fr"
        assert "French" in row.get_by_role("note").inner_text()

        row.locator("details.measured summary").click()
        table = row.locator("details.measured table")
        assert table.is_visible()
        key_row = table.locator("tbody tr").first.inner_text()
        assert "D:minor" in key_row and material["measured"]["key"] in key_row
        assert "LUFS" in table.inner_text() and "Asked" in table.inner_text()
