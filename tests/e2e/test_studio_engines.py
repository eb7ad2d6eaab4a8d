"""The studio's model pickers offer only the models the server can make now (issue 16), in a real
browser against a real server, at desktop and phone size.

The server has no local workers (its workers would run elsewhere) and routes v3 and every instrumental
model to the acestep engine, which no worker has: v3 is not offered, the instrumental form says in words
that nothing can be made and why, and the models whose engine is the embedded one stay. Then a GPU
worker reports acestep ready (written through the store call a `songforge worker` makes, into the
server's database; a real one needs Redis and weights) and, shown again, the form offers them.
"""

# ruff: noqa: F811 - `browser` is a fixture imported from test_studio and named by each test
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from test_studio import ARTIFACTS, browser, studio_session, wait_js  # noqa: F401 (fixture)

from conftest import ServerProcess
from songforge.store import worker_engines
from songforge.store.db import Database

pytestmark = pytest.mark.slow

SIZES = [pytest.param(False, id="desktop"), pytest.param(True, id="phone")]
ROUTES = "v3=acestep,v4.5=acestep|embedded,i4=acestep,i3.5 beta=acestep,i3=acestep"
GPU = "gpu-studio-1"


@pytest.fixture(scope="module")
def routed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        "SONGFORGE_MODEL_ENGINES": ROUTES,
        "SONGFORGE_ACESTEP_WEIGHTS": "",
        "SONGFORGE_UPSTREAM_MODELS": "",
    }
    server = ServerProcess(tmp_path_factory.mktemp("studio-engines"), workers=0, env=env)
    server.start()
    yield server
    server.stop()


def _options(page: Any, select: str) -> list[str]:
    return list(page.evaluate(f"[...document.querySelector('{select}').options].map((o) => o.value)"))


def _served(page: Any) -> None:
    """Waits until both pickers have been filled from GET /models."""
    wait_js(page, "document.querySelector('#s-model').dataset.models === 'served'")
    wait_js(page, "document.querySelector('#i-model').dataset.models === 'served'")


@pytest.mark.parametrize("phone", SIZES)
def test_a_model_whose_engine_no_worker_has_ready_is_not_offered(
    browser: Any, routed_server: ServerProcess, phone: bool
) -> None:
    size = "phone" if phone else "desktop"
    name = f"test_models_not_offered[{size}]"
    db = Database(f"sqlite:///{(routed_server.data_dir / 'songforge.db').resolve()}")
    try:
        with studio_session(browser, routed_server, name, phone=phone) as studio:
            page = studio.page
            studio.sign_in_with_account()
            _served(page)

            # Instrumentals (the form shown first): every model is routed to acestep alone.
            inst = page.locator("#i-model")
            assert _options(page, "#i-model") == [""]
            assert inst.locator("option").inner_text() == "None available now"
            assert inst.is_disabled()
            assert page.get_by_role("button", name="Generate instrumental").is_disabled()
            note = page.locator("#i-model-note")
            assert note.is_visible()
            said = note.inner_text()
            assert said.startswith("No instrumental model can be made right now"), said
            assert "i4, i3.5 beta and i3 are made by the acestep engine" in said, said
            assert "no running worker has ready" in said, said
            page.screenshot(path=str(ARTIFACTS / f"test_models_none_{size}.png"), full_page=True)

            # Songs: v3 (acestep alone) is left out; v4.5 falls back to the embedded engine.
            page.get_by_label("Song with vocals").check()
            assert _options(page, "#s-model") == ["", "v4.8", "v4.5", "v3.5"]
            assert page.locator("#s-model").input_value() == ""  # the server default, still valid
            song_note = page.locator("#s-model-note").inner_text()
            assert (
                song_note
                == "Not offered now: v3 is made by the acestep engine, which no running worker has ready."
            )
            page.locator("#s-model").select_option("v4.5")

            # A GPU worker comes up: shown again, the form offers what it can now make.
            worker_engines.record(db, GPU, "distributed", {"acestep": None})
            studio.tab("Library")
            studio.tab("Create")
            wait_js(page, "document.querySelector('#s-model').options.length === 5")
            assert _options(page, "#s-model") == ["", "v4.8", "v4.5", "v3.5", "v3"]
            assert page.locator("#s-model").input_value() == "v4.5"  # the choice kept
            assert page.locator("#s-model-note").is_hidden()
            page.get_by_label("Instrumental", exact=True).check()
            assert _options(page, "#i-model") == ["", "i4", "i3.5 beta", "i3"]
            assert not inst.is_disabled()
            assert not page.get_by_role("button", name="Generate instrumental").is_disabled()
            assert page.locator("#i-model-note").is_hidden()
            page.screenshot(path=str(ARTIFACTS / f"test_models_offered_{size}.png"), full_page=True)
    finally:
        worker_engines.forget(db, [GPU])
        db.dispose()
