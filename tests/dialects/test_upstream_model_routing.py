"""SONGFORGE_UPSTREAM_MODELS routes requests for those models to the `tempolor` engine, and what
that engine cannot make is refused at the door (400 on /v1/tempolor, 400010 on /open-apis/v1),
naming the engine, the model and why, before anything is queued.

The real app in-process on a real SQLite file; the engine a job got is read from its row.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from inprocess_app import open_app
from songforge.config import Settings, deployment_problem, upstream_models
from songforge.engines.singing.voices import CATALOGUE
from songforge.store.models import Job


def _engines(env, item_ids: list[str]) -> set[str]:  # type: ignore[no-untyped-def]
    with env.app.state.db.session() as s:
        return set(s.scalars(select(Job.engine).where(Job.item_id.in_(item_ids))))


def _jobs(env) -> int:  # type: ignore[no-untyped-def]
    with env.app.state.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Job)) or 0)


def test_models_in_the_setting_go_to_the_upstream_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SONGFORGE_UPSTREAM_MODELS", "v4.5+, i3")  # an alias, spaces
    assert upstream_models() == {"v4.5", "i3"}
    voice = CATALOGUE[0].item_id
    with open_app(tmp_path, allow_private_callbacks=True) as env:
        c, h = env.client, env.bearer
        r = c.post(
            "/v1/tempolor/accounts", json={"requestParams": {"user_id": "emb"}, "maxJobs": 50}, headers=h
        )
        assert r.status_code == 200, r.text

        def post(kind: str, body: dict[str, object]):  # type: ignore[no-untyped-def]
            return c.post(f"/v1/tempolor/music/{kind}", json={"user_id": "emb", **body}, headers=h)

        r = post("song", {"prompt": "pop", "model_song": "v4.5", "lyrics": "[Verse]\nla la"})
        assert r.status_code == 200, r.text
        assert _engines(env, r.json()["itemIds"]) == {"tempolor"}
        r = post("instrumental", {"prompt": "piano", "model_instrumental": "i3", "bpm": 90})
        assert r.status_code == 200, r.text
        assert _engines(env, r.json()["itemIds"]) == {"tempolor"}
        # Models not in the setting stay on the account's engine.
        r = post("song", {"prompt": "pop", "model_song": "v4.8"})
        assert r.status_code == 200, r.text
        assert _engines(env, r.json()["itemIds"]) == {"embedded"}
        r = post("song", {"prompt": "pop", "model_song": "v4.8", "artistVoiceItemId": voice})
        assert r.status_code == 200, r.text  # the embedded engine sings with catalogue voices

        # What the upstream cannot carry: a 400 naming engine, kind, model and why; nothing queued.
        before = _jobs(env)
        r = post("song", {"prompt": "pop", "model_song": "v4.5", "artistVoiceItemId": voice})
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert "tempolor engine" in error and "song with model v4.5" in error and "voices" in error, error
        assert _jobs(env) == before

        # The Open API dialect routes by the same setting. Its voice_id is the platform's own voice
        # id, which the upstream is sent as given (tests/dialects/test_upstream_voices_door.py).
        r = c.post(
            "/open-apis/v1/song/generate",
            json={"prompt": "pop", "model": "TemPolor v4.5", "callback_url": "http://127.0.0.1:9/cb"},
            headers=env.key,
        )
        assert r.json()["status"] == 200000, r.text
        assert _engines(env, r.json()["data"]["item_ids"]) == {"tempolor"}
        before = _jobs(env)
        r = c.post(
            "/open-apis/v1/song/generate",
            json={
                "prompt": "pop",
                "model": "TemPolor v4.5",
                "voice_id": "SV000001",
                "callback_url": "http://127.0.0.1:9/cb",
            },
            headers=env.key,
        )
        body = r.json()
        assert body["status"] == 200000, body
        assert _engines(env, body["data"]["item_ids"]) == {"tempolor"}
        assert _jobs(env) == before + 1


def test_an_upstream_account_is_refused_at_the_door_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SONGFORGE_UPSTREAM_MODELS", raising=False)
    with open_app(tmp_path) as env:
        c, h = env.client, env.bearer
        body = {"requestParams": {"user_id": "up", "engine": "tempolor"}, "maxJobs": 5}
        assert c.post("/v1/tempolor/accounts", json=body, headers=h).status_code == 200
        r = c.post(
            "/v1/tempolor/music/song",
            json={
                "user_id": "up",
                "prompt": "pop",
                "model_song": "v4.8",
                "artistVoiceItemId": CATALOGUE[0].item_id,
            },
            headers=h,
        )
        assert r.status_code == 400, r.text
        assert "tempolor engine cannot make this song with model v4.8" in r.json()["error"], r.text
        assert _jobs(env) == 0


def test_a_setting_naming_no_model_stops_the_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SONGFORGE_UPSTREAM_MODELS", "v4.5,v9")
    problem = deployment_problem(Settings(data_dir=tmp_path))
    assert problem is not None and "'v9'" in problem and "SONGFORGE_UPSTREAM_MODELS" in problem
