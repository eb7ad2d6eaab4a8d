"""Which engine continues a work, and where lyrics are written, when the TemPolor upstream is in play.

A work the upstream made is extended by the upstream (whatever the account's engine: a source
routed there by model included); on an upstream account a work of ours is extended by the engine
that made it, not sent to the upstream as a new work. Lyrics on an upstream account are queued for
the upstream instead of written while the request is answered. The real app in-process on a real
SQLite file (no workers: the engine a job got is read from its row).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from inprocess_app import InProcessApp, open_app
from songforge.core.states import JobState
from songforge.store.models import ApiKey, Job


def _source(env: InProcessApp, user_id: str, engine: str) -> str:
    """A completed 30 s instrumental of `user_id` that `engine` made; its /v1/tempolor job id."""
    c, h = env.client, env.bearer
    r = c.post(
        "/v1/tempolor/music/instrumental",
        json={"user_id": user_id, "prompt": "piano", "model_instrumental": "i3", "bpm": 90},
        headers=h,
    )
    assert r.status_code == 200, r.text
    job_id, item_id = r.json()["jobs"][0], r.json()["itemIds"][0]
    with env.app.state.db.session() as s:
        s.execute(
            update(Job)
            .where(Job.batch_id == select(Job.batch_id).where(Job.item_id == item_id).scalar_subquery())
            .values(state=JobState.COMPLETED, engine=engine, material={"dur": 30})
        )
    return str(job_id)


def _engine_of(env: InProcessApp, item_id: str) -> str:
    with env.app.state.db.session() as s:
        return str(s.scalar(select(Job.engine).where(Job.item_id == item_id)))


def _jobs(env: InProcessApp) -> int:
    with env.app.state.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Job)) or 0)


def test_an_extension_goes_to_the_engine_that_can_continue_its_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SONGFORGE_UPSTREAM_MODELS", raising=False)
    with open_app(tmp_path) as env:
        c, h = env.client, env.bearer
        for user_id, engine in (("up", "tempolor"), ("emb", "embedded")):
            body = {"requestParams": {"user_id": user_id, "engine": engine}, "maxJobs": 50}
            assert c.post("/v1/tempolor/accounts", json=body, headers=h).status_code == 200
        cases = [  # (account, source's engine) -> the extension's engine
            ("up", "tempolor", "tempolor"),
            ("up", "embedded", "embedded"),  # the upstream cannot continue our work
            ("emb", "tempolor", "tempolor"),  # nor we the upstream's (it holds that work)
            ("emb", "embedded", "embedded"),
        ]
        for user_id, made_by, expected in cases:
            source = _source(env, user_id, made_by)
            r = c.post("/v1/tempolor/music/extend", json={"job_id": source, "start_time": 12.3}, headers=h)
            assert r.status_code == 200, r.text
            assert _engine_of(env, r.json()["itemIds"][0]) == expected, (user_id, made_by)

        # The platform extends from 10 to 600 s: refused at the door, nothing queued.
        source = _source(env, "up", "tempolor")
        before = _jobs(env)
        r = c.post("/v1/tempolor/music/extend", json={"job_id": source, "start_time": 5}, headers=h)
        assert r.status_code == 400, r.text
        assert "tempolor engine" in r.json()["error"] and "10 to 600" in r.json()["error"], r.text
        assert _jobs(env) == before


def test_lyrics_on_an_upstream_account_are_queued_for_the_upstream(tmp_path: Path) -> None:
    with open_app(tmp_path) as env:
        c, h = env.client, env.bearer
        for user_id, engine in (("up", "tempolor"), ("emb", "embedded")):
            body = {"requestParams": {"user_id": user_id, "engine": engine}, "maxJobs": 1}
            assert c.post("/v1/tempolor/accounts", json=body, headers=h).status_code == 200

        def lyrics(user_id: str) -> dict:  # type: ignore[type-arg]
            with env.app.state.db.session() as s:  # the key acts for this account
                s.execute(update(ApiKey).values(user_id=user_id))
            body = {
                "prompt": "the sea at night",
                "song_model": "TemPolor v3",
                "callback_url": "http://127.0.0.1:9/x",
            }
            return dict(c.post("/open-apis/v1/lyrics/generate", json=body, headers=env.key).json())

        env_up = lyrics("up")
        assert env_up["status"] == 200000, env_up
        item = env_up["data"]["item_ids"][0]
        got = c.post("/open-apis/v1/lyrics/query", json={"item_ids": [item]}, headers=env.key).json()
        assert got["data"]["lyrics"][0]["status"] == "waiting", got
        assert _engine_of(env, item) == "tempolor"
        # It holds the account's slot while it waits (maxJobs 1): the next one is refused.
        assert lyrics("up")["status"] == 400007

        env_emb = lyrics("emb")
        item = env_emb["data"]["item_ids"][0]
        got = c.post("/open-apis/v1/lyrics/query", json={"item_ids": [item]}, headers=env.key).json()
        assert got["data"]["lyrics"][0]["status"] == "succeeded", got  # written while answering
        assert _engine_of(env, item) == "lyrics"
