"""Voices on the `tempolor` engine for real: two Songforge servers, one the other's TemPolor Open API
upstream (the fixtures and helpers of test_upstream_e2e.py), real HTTP both ways through the fault
proxy, which records what was sent.

An artist voice of ours is sent as the platform voice id SONGFORGE_UPSTREAM_VOICES maps it to; the
upstream (our own Open API, whose `voice_id`s number our catalogue) sings it with the voice that id
stands for there, and the downstream's record says which voice sang. A platform id given as the
voice is passed on as it is. An unmapped voice, or a platform id on an account of our own engines,
is a 400 before anything is queued or sent.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest
from e2e_helpers import wait_final
from test_openapi_support import Receiver, ok, open_client, wait_item
from test_upstream_e2e import (
    FAST,
    FaultProxy,
    _account,
    _add_key,
    _item_id,
    _job_count,
    _open_api_key,
    _tasks,
)

pytestmark = pytest.mark.slow

VOICES = {"SONGFORGE_UPSTREAM_VOICES": "voice_velvet=SV000002, Atlas=SV000006"}


def _upstream_job(upstream: Any, task_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The upstream's own job for a task: (its stored request, its material)."""
    with sqlite3.connect(upstream.data_dir / "songforge.db") as conn:
        row = conn.execute("SELECT request, material FROM jobs WHERE item_id = ?", (task_id,)).fetchone()
    assert row is not None, task_id
    return json.loads(row[0]), json.loads(row[1])


def _sent_voices(proxy: FaultProxy) -> list[str | None]:
    return [body.get("voice_id") for path, _, body in proxy.seen if path.endswith("/song/generate")]


def test_mapped_voices_are_sent_as_the_platforms_ids_and_sung(make_server) -> None:  # type: ignore[no-untyped-def]
    upstream = make_server(workers=2, max_seconds=4.0)
    downstream = make_server(workers=2, env={**FAST, **VOICES})
    proxy = FaultProxy(upstream.base_url)
    receiver = Receiver()
    try:
        _add_key(downstream, proxy.url, _open_api_key(upstream), max_jobs=2)
        with downstream.client() as c:
            _account(c)
            lyrics = "[Verse]\nCity lights are calling me home tonight"

            # A voice with no platform id: a 400 naming it and the setting; nothing queued or sent.
            r = c.post(
                "/music/song",
                json={
                    "prompt": "a ballad",
                    "lyrics": lyrics,
                    "user_id": "up",
                    "artistVoiceItemId": "voice_luna",
                },
            )
            assert r.status_code == 400, r.text
            error = r.json()["error"]
            assert "'voice_luna'" in error and "SONGFORGE_UPSTREAM_VOICES" in error, error
            assert "tempolor engine cannot make this song" in error, error
            assert _job_count(downstream) == 0 and proxy.calls("/song/generate") == 0

            # A mapped voice: both variations are sent with its platform id and sung by it.
            r = c.post(
                "/music/song",
                json={
                    "prompt": "a soul song",
                    "lyrics": lyrics,
                    "user_id": "up",
                    "artistVoiceItemId": "voice_velvet",
                },
            )
            assert r.status_code == 200, r.text
            songs = [str(j) for j in r.json()["jobs"]]
            for job in songs:
                record = wait_final(c, job, timeout=300)
                assert record["status_name"] == "COMPLETED", (record, downstream.log())
                assert record["musicMaterial"]["voice"] == {
                    "itemId": "voice_velvet",
                    "name": "Velvet",
                    "kind": "artist",
                    "chosen": False,
                    "upstreamVoiceId": "SV000002",
                }, record["musicMaterial"]
                task_id = str(_tasks(downstream)[_item_id(job)][0])
                # The upstream took SV000002 as the voice it numbers (voice_velvet) and sang with it.
                request, material = _upstream_job(upstream, task_id)
                assert request["artistVoiceItemId"] == "voice_velvet", request
                assert material["voice"]["itemId"] == "voice_velvet" and material["voice"]["chosen"] is False
            assert _sent_voices(proxy) == ["SV000002", "SV000002"], proxy.seen

            # A platform voice id given as the voice (the Open API's voice_id, on the tenant's only
            # account, the upstream one) is passed on as it is.
            with open_client(downstream, _open_api_key(downstream)) as oa:
                item = ok(
                    oa,
                    "/song/generate",
                    {
                        "prompt": "a rock song",
                        "lyrics": lyrics,
                        "model": "TemPolor v4.5",
                        "voice_id": "SV000006",
                        "callback_url": receiver.url + "/x",
                    },
                )["item_ids"][0]
                done = wait_item(oa, "song", item, timeout=300)
                assert done["status"] == "succeeded", (done, downstream.log())
            assert _sent_voices(proxy)[-1] == "SV000006", proxy.seen
            oa_job = songs[0].rsplit("job:", 1)[0] + "job:" + item  # its /v1/tempolor job id
            voice = wait_final(c, oa_job, timeout=60)["musicMaterial"]["voice"]
            assert voice["itemId"] == "SV000006" and voice["kind"] == "upstream", voice
            request, material = _upstream_job(upstream, str(_tasks(downstream)[item][0]))
            assert material["voice"]["itemId"] == "voice_atlas", material  # SV000006 there

            # A platform voice id on an account of our own engines: a 400, nothing queued.
            r = c.post("/accounts", json={"requestParams": {"user_id": "emb"}, "maxJobs": 5})
            assert r.status_code == 200, r.text
            before = _job_count(downstream)
            r = c.post(
                "/music/song",
                json={"prompt": "pop", "lyrics": lyrics, "user_id": "emb", "artistVoiceItemId": "SV000002"},
            )
            assert r.status_code == 400 and "SV000002" in r.json()["error"], r.text
            assert _job_count(downstream) == before
        assert proxy.calls("/song/generate") == 3
    finally:
        proxy.close()
        receiver.close()
