"""Which engine makes a request: SONGFORGE_MODEL_ENGINES routes a model to the first ready engine of
its chain (`acestep|embedded`: ACE-Step while its weights are there, else the embedded engine), an
account may choose `acestep` itself, and an engine that is not ready is refused at the door naming the
setting, before anything is queued.

The real app in-process on a real SQLite file; the engine a job got is read from its row. Readiness is
a file check, so a directory laid out like a checkpoint (empty weight files) is enough here; loading
and generating are tests/engines/test_acestep.py's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from inprocess_app import open_app
from songforge.config import Settings, deployment_problem, model_engines
from songforge.engines.acestep.weights import REQUIRED
from songforge.store.models import Job

pytest.importorskip("diffusers")


def _fake_checkpoint(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "model_index.json").write_text(json.dumps({"_class_name": "AceStepPipeline"}))
    for name, (needed, weights) in REQUIRED.items():
        (root / name).mkdir()
        (root / name / needed[0]).write_text("{}")
        if weights is not None:
            (root / name / "model.safetensors").write_bytes(b"")
    return root


def _engines(env, item_ids: list[str]) -> set[str]:  # type: ignore[no-untyped-def]
    with env.app.state.db.session() as s:
        return set(s.scalars(select(Job.engine).where(Job.item_id.in_(item_ids))))


def _jobs(env) -> int:  # type: ignore[no-untyped-def]
    with env.app.state.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Job)) or 0)


def test_a_route_takes_the_first_ready_engine_of_its_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SONGFORGE_UPSTREAM_MODELS", raising=False)
    monkeypatch.delenv("SONGFORGE_ACESTEP_WEIGHTS", raising=False)
    monkeypatch.setenv("SONGFORGE_MODEL_ENGINES", "v4.8=acestep|embedded, v4.5+=acestep|embedded, i4=acestep")
    chain = ("acestep", "embedded")
    assert model_engines() == {"v4.8": chain, "v4.5": chain, "i4": ("acestep",)}
    with open_app(tmp_path / "app", allow_private_callbacks=True) as env:
        c, h = env.client, env.bearer
        r = c.post(
            "/v1/tempolor/accounts", json={"requestParams": {"user_id": "u"}, "maxJobs": 50}, headers=h
        )
        assert r.status_code == 200, r.text

        def post(kind: str, body: dict[str, object]):  # type: ignore[no-untyped-def]
            return c.post(f"/v1/tempolor/music/{kind}", json={"user_id": "u", **body}, headers=h)

        # No weights: the chain falls back to the embedded engine; a model routed to acestep alone is
        # refused, naming the setting.
        r = post("song", {"prompt": "pop", "model_song": "v4.8", "lyrics": "[Verse]\nla la"})
        assert r.status_code == 200, r.text
        assert _engines(env, r.json()["itemIds"]) == {"embedded"}
        before = _jobs(env)
        r = post("instrumental", {"prompt": "piano", "model_instrumental": "i4"})
        assert r.status_code == 400, r.text
        assert "acestep engine" in r.json()["error"] and "SONGFORGE_ACESTEP_WEIGHTS" in r.json()["error"]
        assert _jobs(env) == before

        # Weights there: both go to acestep; other models stay on the account's engine.
        monkeypatch.setenv("SONGFORGE_ACESTEP_WEIGHTS", str(_fake_checkpoint(tmp_path / "ckpt")))
        r = post("song", {"prompt": "pop", "model_song": "v4.8", "chords": "C G Am F"})
        assert r.status_code == 200, r.text
        assert _engines(env, r.json()["itemIds"]) == {"acestep"}
        r = post("instrumental", {"prompt": "piano", "model_instrumental": "i4"})
        assert _engines(env, r.json()["itemIds"]) == {"acestep"}
        r = post("song", {"prompt": "pop", "model_song": "v3"})
        assert _engines(env, r.json()["itemIds"]) == {"embedded"}

        # The Open API dialect routes by the same setting (its TemPolor v4.6 is our v4.5).
        r = c.post(
            "/open-apis/v1/song/generate",
            json={"prompt": "pop", "model": "TemPolor v4.6", "callback_url": "http://127.0.0.1:9/cb"},
            headers=env.key,
        )
        assert r.json()["status"] == 200000, r.text
        assert _engines(env, r.json()["data"]["item_ids"]) == {"acestep"}


def test_an_account_may_choose_acestep_and_is_refused_while_it_is_not_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SONGFORGE_UPSTREAM_MODELS", raising=False)
    monkeypatch.delenv("SONGFORGE_MODEL_ENGINES", raising=False)
    monkeypatch.setenv("SONGFORGE_ACESTEP_WEIGHTS", str(tmp_path / "nowhere"))
    with open_app(tmp_path / "app") as env:
        c, h = env.client, env.bearer
        body = {"requestParams": {"user_id": "gpu", "engine": "acestep"}, "maxJobs": 5}
        assert c.post("/v1/tempolor/accounts", json=body, headers=h).status_code == 200
        song = {"user_id": "gpu", "prompt": "pop", "model_song": "v4.8"}
        r = c.post("/v1/tempolor/music/song", json=song, headers=h)
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert "acestep engine cannot make this song" in error and "nowhere is not" in error, error
        assert _jobs(env) == 0
        monkeypatch.setenv("SONGFORGE_ACESTEP_WEIGHTS", str(_fake_checkpoint(tmp_path / "ckpt")))
        r = c.post("/v1/tempolor/music/song", json=song, headers=h)
        assert r.status_code == 200, r.text
        assert _engines(env, r.json()["itemIds"]) == {"acestep"}


@pytest.mark.parametrize(
    ("routes", "upstream", "words"),
    [
        ("v9=acestep", "", ["'v9=acestep'", "SONGFORGE_MODEL_ENGINES"]),
        ("v4.8=gpu", "", ["unknown", "acestep"]),
        ("v4.8", "", ["model=engine"]),
        ("v4.5=acestep", "v4.5+", ["'v4.5'", "SONGFORGE_UPSTREAM_MODELS and here"]),
    ],
)
def test_a_route_that_cannot_work_stops_the_server(
    routes: str, upstream: str, words: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SONGFORGE_MODEL_ENGINES", routes)
    monkeypatch.setenv("SONGFORGE_UPSTREAM_MODELS", upstream)
    problem = deployment_problem(Settings(data_dir=tmp_path))
    assert problem is not None and all(word in problem for word in words), problem


def test_upstream_models_are_tempolor_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SONGFORGE_UPSTREAM_MODELS", "v4.5+")
    monkeypatch.setenv("SONGFORGE_MODEL_ENGINES", "v4.8=acestep|embedded")
    assert model_engines() == {"v4.5": ("tempolor",), "v4.8": ("acestep", "embedded")}
