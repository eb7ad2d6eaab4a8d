"""/metrics lists each live worker's engines and whether each is ready, and per engine how many live
workers have it ready; GET /v1/tempolor/models answers from the same reports (issue 16).

A real server process with two local workers, whose own reports are what is read. A worker on another
machine is a `songforge worker`, which needs Redis: its reports are written here through the same store
call (`songforge.store.worker_engines.record`) into the server's database, one of them too old to count.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from inprocess_app import open_app
from songforge.clock import now_ms
from songforge.core.availability import ModelServed
from songforge.store import worker_engines
from songforge.store.db import Database
from songforge_server import ServerProcess

ENV = {
    "SONGFORGE_ACESTEP_WEIGHTS": "",  # acestep is not ready on the local workers
    "SONGFORGE_UPSTREAM_MODELS": "v3.5",
    "SONGFORGE_MODEL_ENGINES": "v4.5=acestep|embedded,i3=acestep|tempolor",
}
READY = re.compile(r'^songforge_engine_ready\{engine="([^"]+)",worker="([^"]+)"\} (\S+)$', re.M)
WORKERS = re.compile(r'^songforge_engine_workers\{engine="([^"]+)"\} (\S+)$', re.M)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    s = ServerProcess(tmp_path_factory.mktemp("engine-metrics"), workers=2, env=ENV)
    s.start()
    s.token, s.signing_secret, s.tenant_id = s.create_token("engines")
    yield s
    s.stop()


def _scrape(server: ServerProcess) -> tuple[dict[tuple[str, str], float], dict[str, float]]:
    text = httpx.get(server.base_url + "/metrics", timeout=10).text
    ready = {(engine, worker): float(v) for engine, worker, v in READY.findall(text)}
    workers = {engine: float(v) for engine, v in WORKERS.findall(text)}
    assert "# TYPE songforge_engine_ready gauge" in text and "# TYPE songforge_engine_workers gauge" in text
    return ready, workers


def _local_reports(server: ServerProcess) -> tuple[dict[tuple[str, str], float], dict[str, float]]:
    """The scrape once both local workers have reported (they start in a few seconds)."""
    deadline = time.monotonic() + 60
    while True:
        ready, workers = _scrape(server)
        if workers.get("embedded") == 2.0 or time.monotonic() > deadline:
            return ready, workers
        time.sleep(0.2)


def _served(server: ServerProcess) -> dict[str, dict[str, object]]:
    with server.client() as c:
        r = c.get("/models", params={"user_id": "u1"})
        assert r.status_code == 200, r.text
        return {m["model"]: m for m in r.json()["models"]}


def test_metrics_list_each_workers_engines_from_their_reports(server: ServerProcess) -> None:
    ready, workers = _local_reports(server)
    local = sorted({worker for _, worker in ready})
    assert len(local) == 2 and all(w.startswith("w") for w in local), (ready, server.log())
    for worker in local:
        assert ready[("embedded", worker)] == 1.0
        assert ready[("tempolor", worker)] == 1.0
        assert ready[("acestep", worker)] == 0.0  # it has the engine, without weights
    assert workers == {"acestep": 0.0, "embedded": 2.0, "tempolor": 2.0}

    db = Database(f"sqlite:///{(server.data_dir / 'songforge.db').resolve()}")
    try:
        # A GPU worker elsewhere, and one that stopped beating a minute ago: only the live one counts.
        worker_engines.record(db, "gpu-1", "distributed", {"acestep": None})
        stale = now_ms() - int(2 * worker_engines.LIVE_SECONDS * 1000)
        worker_engines.record(db, "gone-1", "distributed", {"acestep": None, "embedded": None}, now=stale)
        ready, workers = _scrape(server)
        assert ready[("acestep", "gpu-1")] == 1.0
        assert not [key for key in ready if key[1] == "gone-1"], ready
        assert workers == {"acestep": 1.0, "embedded": 2.0, "tempolor": 2.0}

        # It reports its engine is no longer ready (weights removed): 0, and no worker has acestep.
        worker_engines.record(db, "gpu-1", "distributed", {"acestep": "SONGFORGE_ACESTEP_WEIGHTS is not set"})
        ready, workers = _scrape(server)
        assert ready[("acestep", "gpu-1")] == 0.0 and workers["acestep"] == 0.0
    finally:
        worker_engines.forget(db, ["gpu-1", "gone-1"])
        db.dispose()
    ready, _ = _scrape(server)
    assert not [key for key in ready if key[1] == "gpu-1"]


def test_models_say_which_engine_makes_each_now(server: ServerProcess) -> None:
    _local_reports(server)
    with server.client() as c:
        assert c.post("/accounts", json={"requestParams": {"user_id": "u1"}}).status_code == 200
        assert c.get("/models/").status_code == 200  # both slash forms, as every route
        assert httpx.get(server.api + "/models").status_code == 401
        assert c.get("/models", params={"user_id": "nobody"}).status_code == 404
    served = _served(server)
    assert list(served) == ["v3", "v3.5", "v4.5", "v4.8", "i3", "i3.5 beta", "i4"]
    assert served["v4.8"] == {
        "model": "v4.8",
        "kind": "song",
        "available": True,
        "engine": "embedded",
        "engines": ["embedded"],
        "default": True,
        "reason": None,
    }
    assert served["v3.5"]["engine"] == "tempolor"  # SONGFORGE_UPSTREAM_MODELS; the local workers have it
    assert served["v4.5"]["engines"] == ["acestep", "embedded"] and served["v4.5"]["engine"] == "embedded"
    assert served["i3"]["engine"] == "tempolor"

    db = Database(f"sqlite:///{(server.data_dir / 'songforge.db').resolve()}")
    try:
        worker_engines.record(db, "gpu-2", "distributed", {"acestep": None})
        served = _served(server)
        assert served["v4.5"]["engine"] == "acestep" and served["i3"]["engine"] == "acestep"
    finally:
        worker_engines.forget(db, ["gpu-2"])
        db.dispose()
    assert _served(server)["v4.5"]["engine"] == "embedded"


def test_a_model_whose_engine_no_worker_has_is_not_available(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SONGFORGE_MODEL_ENGINES", "v3=acestep,i4=acestep|tempolor")
    monkeypatch.setenv("SONGFORGE_UPSTREAM_MODELS", "")
    monkeypatch.delenv("SONGFORGE_ACESTEP_WEIGHTS", raising=False)
    # No workers at all: what this process has ready counts, as it does at admission (the embedded
    # engine, and the upstream one, whose keys are checked when it runs); acestep has no weights here.
    with open_app(tmp_path) as app:
        c = app.client
        assert (
            c.post("/v1/tempolor/accounts", json={"requestParams": {}}, headers=app.bearer).status_code == 200
        )
        r = c.get("/v1/tempolor/models", headers=app.bearer)  # one account: user_id may be left out
        assert r.status_code == 200, r.text
        body = r.json()
        served = {m["model"]: m for m in body["models"]}
        assert body["engine"] == "embedded" and body["user_id"]
        assert served["v3"]["available"] is False and served["v3"]["engine"] is None
        assert served["v3"]["reason"] == "v3 is made by the acestep engine, which no running worker has ready"
        assert served["i4"]["engine"] == "tempolor"  # the second of its chain
        assert [m for m, s in served.items() if not s["available"]] == ["v3"]

        db = app.app.state.db
        worker_engines.record(db, "cpu-1", "distributed", {"tempolor": None, "acestep": "no weights"})
        served = {m["model"]: m for m in c.get("/v1/tempolor/models", headers=app.bearer).json()["models"]}
        assert served["i4"]["engine"] == "tempolor" and served["v3"]["available"] is False
        worker_engines.record(db, "gpu-1", "distributed", {"acestep": None})
        served = {m["model"]: m for m in c.get("/v1/tempolor/models", headers=app.bearer).json()["models"]}
        assert served["v3"]["engine"] == "acestep" and served["i4"]["engine"] == "acestep"
    none = ModelServed("i4", "instrumental", ("acestep", "tempolor"), None, False)
    assert (
        none.reason()
        == "i4 is made by the acestep or tempolor engine, none of which a running worker has ready"
    )
