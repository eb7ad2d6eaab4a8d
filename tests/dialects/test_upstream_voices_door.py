"""Voices at the door of an upstream account (both dialects): a mapped artist voice and a platform
voice id are queued for the `tempolor` engine; an unmapped voice, a cloned voice, and a platform id
on an account of our own engines are refused naming why, before anything is queued. On the Open
API, `voice_id` means the platform's voice on the upstream engine and ours elsewhere.

The real app in-process on a real SQLite file (no workers); what a job asks is read from its row.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from inprocess_app import open_app
from songforge.clock import now_ms
from songforge.core.states import VoiceStatus
from songforge.store.models import Job, Voice


def _jobs(env) -> int:  # type: ignore[no-untyped-def]
    with env.app.state.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Job)) or 0)


def _rows(env, item_ids: list[str]) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    """(engine, artistVoiceItemId) of each job."""
    with env.app.state.db.session() as s:
        jobs = s.scalars(select(Job).where(Job.item_id.in_(item_ids)))
        return sorted((j.engine, (j.request or {}).get("artistVoiceItemId")) for j in jobs)


def test_voices_on_an_upstream_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SONGFORGE_UPSTREAM_MODELS", raising=False)
    monkeypatch.setenv("SONGFORGE_UPSTREAM_VOICES", "voice_velvet=SV000002,Atlas=SV000013")
    with open_app(tmp_path) as env:
        c, h = env.client, env.bearer
        for user, engine in (("up", "tempolor"), ("emb", "embedded")):
            body = {"requestParams": {"user_id": user, "engine": engine}, "maxJobs": 20}
            assert c.post("/v1/tempolor/accounts", json=body, headers=h).status_code == 200

        def song(user: str, **fields: str):  # type: ignore[no-untyped-def]
            body = {"user_id": user, "prompt": "pop", "model_song": "v4.5", **fields}
            return c.post("/v1/tempolor/music/song", json=body, headers=h)

        # Mapped (by item id, and by name), and a platform id given as the voice: queued for the
        # upstream with the voice as asked (the engine sends its platform id).
        for voice in ("voice_velvet", "voice_atlas", "SV000077"):
            r = song("up", artistVoiceItemId=voice)
            assert r.status_code == 200, r.text
            assert _rows(env, r.json()["itemIds"]) == [("tempolor", voice)] * 2

        before = _jobs(env)
        r = song("up", artistVoiceItemId="voice_luna")  # not mapped
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error.startswith("The tempolor engine cannot make this song with model v4.5: "), error
        assert "'voice_luna'" in error and "SONGFORGE_UPSTREAM_VOICES" in error, error
        assert song("up", artistVoiceItemId="voice_nobody").status_code == 404  # no voice of ours at all

        with env.app.state.db.session() as s:
            s.add(
                Voice(
                    item_id="clone1",
                    tenant_id=env.tenant_id,
                    user_id="up",
                    status=VoiceStatus.READY,
                    blob_key="voices/clone1/sample.wav",
                    created_ms=now_ms(),
                    updated_ms=now_ms(),
                )
            )
        r = song("up", clonedVoiceItemId="clone1")
        assert r.status_code == 400 and "no voice cloning" in r.json()["error"], r.text
        r = song("emb", artistVoiceItemId="SV000002")  # our engines sing only our voices
        assert r.status_code == 400 and "SV000002 is a TemPolor platform voice id" in r.json()["error"], (
            r.text
        )
        assert _jobs(env) == before
        r = song("emb", artistVoiceItemId="voice_luna")
        assert r.status_code == 200 and _rows(env, r.json()["itemIds"]) == [("embedded", "voice_luna")] * 2


def test_the_open_apis_voice_id_depends_on_the_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SONGFORGE_UPSTREAM_MODELS", "v4.5")
    monkeypatch.delenv("SONGFORGE_UPSTREAM_VOICES", raising=False)
    with open_app(tmp_path, allow_private_callbacks=True) as env:

        def generate(model: str, voice_id: str) -> dict[str, object]:
            body = {
                "prompt": "pop",
                "model": model,
                "voice_id": voice_id,
                "callback_url": "http://127.0.0.1:9/cb",
            }
            return dict(env.client.post("/open-apis/v1/song/generate", json=body, headers=env.key).json())

        # On the upstream (v4.5 is routed there) the platform's own id, passed on as given, even
        # one past our catalogue; on our engine, the voice of ours it numbers.
        up = generate("TemPolor v4.5", "SV000013")
        assert up["status"] == 200000, up
        ours = generate("TemPolor v3.5", "SV000002")
        assert ours["status"] == 200000, ours
        items = [str(e["data"]["item_ids"][0]) for e in (up, ours)]  # type: ignore[index]
        assert _rows(env, items) == [("embedded", "voice_velvet"), ("tempolor", "SV000013")]
        before = _jobs(env)
        e = generate("TemPolor v3.5", "SV000013")
        assert e["status"] == 400003 and "SV000013" in str(e["message"]), e
        e = generate("TemPolor v4.5", "XX000001")
        assert e["status"] == 400003 and "voice_id" in str(e["message"]), e
        assert _jobs(env) == before
