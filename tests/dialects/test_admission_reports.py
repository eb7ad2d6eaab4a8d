"""Admission counts the engines live workers report ready, as the studio's model picker does (issue 16).

A split deployment: the API process has no ACE-Step weights, a GPU worker elsewhere has them. That
worker is a `songforge worker` (it needs Redis), so its report is written into the app's database
through the store call every worker uses (`songforge.store.worker_engines.record`), live and then too
old to count. The real app in-process on a real SQLite file; the engine a job got is read from its row
and from its record, and the picker (`GET /v1/tempolor/models`) must agree with what was admitted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from inprocess_app import InProcessApp, open_app
from songforge.clock import now_ms
from songforge.store import worker_engines
from songforge.store.models import Job


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcessApp]:
    monkeypatch.delenv("SONGFORGE_UPSTREAM_MODELS", raising=False)
    monkeypatch.setenv("SONGFORGE_ACESTEP_WEIGHTS", str(tmp_path / "no-weights-on-this-box"))
    monkeypatch.setenv("SONGFORGE_MODEL_ENGINES", "v4.8=acestep|embedded, v4.5=acestep|embedded, i4=acestep")
    with open_app(tmp_path / "app") as app:
        for account in ({"user_id": "u"}, {"user_id": "gpu", "engine": "acestep"}):
            r = app.client.post(
                "/v1/tempolor/accounts", json={"requestParams": account, "maxJobs": 50}, headers=app.bearer
            )
            assert r.status_code == 200, r.text
        yield app


def _song(app: InProcessApp, user_id: str = "u", model: str = "v4.8") -> Any:
    body = {"user_id": user_id, "prompt": "pop", "model_song": model, "lyrics": "[Verse]\nla la"}
    return app.client.post("/v1/tempolor/music/song", json=body, headers=app.bearer)


def _engines(app: InProcessApp, item_ids: list[str]) -> set[str]:
    with app.app.state.db.session() as s:
        return set(s.scalars(select(Job.engine).where(Job.item_id.in_(item_ids))))


def _jobs(app: InProcessApp) -> int:
    with app.app.state.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Job)) or 0)


def _picker(app: InProcessApp, model: str) -> str | None:
    r = app.client.get("/v1/tempolor/models", params={"user_id": "u"}, headers=app.bearer)
    assert r.status_code == 200, r.text
    return next(m["engine"] for m in r.json()["models"] if m["model"] == model)


def _report(app: InProcessApp, *, now: int | None = None) -> None:
    worker_engines.record(app.app.state.db, "gpu-1", "distributed", {"acestep": None}, now=now)


def test_a_worker_report_admits_acestep_on_an_api_box_without_weights(env: InProcessApp) -> None:
    # Nobody has acestep: the chain falls back, an account bound to it gets the clear 400.
    r = _song(env)
    assert r.status_code == 200, r.text
    assert _engines(env, r.json()["itemIds"]) == {"embedded"} and _picker(env, "v4.8") == "embedded"
    r = _song(env, "gpu", "v3")
    assert r.status_code == 400, r.text
    assert "acestep engine cannot make this song" in r.json()["error"], r.text
    assert "no running worker reports it ready" in r.json()["error"], r.text

    _report(env)  # the GPU worker's beat
    assert _picker(env, "v4.8") == "acestep"
    r = _song(env)
    assert r.status_code == 200, r.text
    item_ids, jobs = r.json()["itemIds"], r.json()["jobs"]
    assert _engines(env, item_ids) == {"acestep"}
    record = env.client.get(f"/v1/tempolor/music/{jobs[0]}", headers=env.bearer)
    assert record.status_code == 200, record.text
    assert str(record.json()["ltmMaterialExtendDto"]["model"]).startswith("acestep:"), record.json()
    r = _song(env, "gpu", "v3")
    assert r.status_code == 200, r.text
    assert _engines(env, r.json()["itemIds"]) == {"acestep"}
    r = env.client.post(
        "/v1/tempolor/music/instrumental",
        headers=env.bearer,
        json={"user_id": "u", "prompt": "piano", "model_instrumental": "i4"},
    )
    assert r.status_code == 200, r.text
    assert _engines(env, r.json()["itemIds"]) == {"acestep"}
    # The Open API dialect admits by the same rule (its TemPolor v4.6 is our v4.5).
    r = env.client.post(
        "/open-apis/v1/song/generate",
        json={"prompt": "pop", "model": "TemPolor v4.6", "callback_url": "http://127.0.0.1:9/cb"},
        headers=env.key,
    )
    assert r.json()["status"] == 200000, r.text
    assert _engines(env, r.json()["data"]["item_ids"]) == {"acestep"}

    # The worker stopped beating: its report is too old, and admission falls back with the picker.
    _report(env, now=now_ms() - int(2 * worker_engines.LIVE_SECONDS * 1000))
    assert _picker(env, "v4.8") == "embedded"
    r = _song(env)
    assert r.status_code == 200, r.text
    assert _engines(env, r.json()["itemIds"]) == {"embedded"}
    before = _jobs(env)
    assert _song(env, "gpu", "v3").status_code == 400
    assert (
        env.client.post(
            "/v1/tempolor/music/instrumental",
            headers=env.bearer,
            json={"user_id": "u", "prompt": "piano", "model_instrumental": "i4"},
        ).status_code
        == 400
    )
    assert _jobs(env) == before


def test_admission_reads_the_reports_at_most_once_and_only_when_it_must(env: InProcessApp) -> None:
    """Issue 17 measures admission latency: the reports cost one query, for a route whose first
    engine this process lacks, and none for a request no route sends to another engine."""
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "worker_engines" in statement:
            statements.append(statement)

    engine = env.app.state.db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        _report(env)
        statements.clear()
        assert _song(env).status_code == 200
        assert len(statements) == 1, statements
        statements.clear()
        assert _song(env, model="v3").status_code == 200  # no route: the account's embedded engine
        assert statements == []
    finally:
        event.remove(engine, "before_cursor_execute", seen)
