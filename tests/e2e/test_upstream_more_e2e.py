"""The `tempolor` engine's extensions and lyrics for real: two Songforge servers, one the other's
TemPolor Open API upstream (the fixtures and helpers of test_upstream_e2e.py), real HTTP both ways
through the fault proxy, which records what was sent.

An extension of a work the upstream made goes to the upstream's own `<kind>/extend` with the
upstream's item id of the source (stored with the source's upstream task) and `start_time`, and
its audio is brought home like a generation's; lyrics on an upstream account go to the upstream's
`lyrics/generate` and come back through our lyrics/query and the platform's callback; an upload
to split goes to the upstream's `POST /stems` as a short-lived signed link of ours.
"""

from __future__ import annotations

import io
import time
import zipfile
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import pytest
import soundfile as sf
from e2e_helpers import wait_final, wait_until
from test_openapi_support import Receiver, ok, open_client, wait_item
from test_upstream_e2e import (
    FAST,
    Fault,
    FaultProxy,
    _account,
    _add_key,
    _item_id,
    _open_api_key,
    _tasks,
    _upstream_wav,
    _wav,
)

pytestmark = pytest.mark.slow


def _upstream_item(upstream: Any, key: str, kind: str, task_id: str) -> dict[str, Any]:
    env = httpx.post(
        f"{upstream.base_url}/open-apis/v1/{kind}/query",
        json={"item_ids": [task_id]},
        headers={"Authorization": key},
        timeout=30,
    ).json()
    field = {"song": "songs", "instrumental": "instrumentals", "lyrics": "lyrics", "stems": "stems"}[kind]
    return dict(env["data"][field][0])


def test_extensions_go_to_the_upstreams_extend_endpoint(make_server) -> None:  # type: ignore[no-untyped-def]
    # The platform extends from 10 s on: the upstream's works are made longer than that.
    upstream = make_server(workers=2, max_seconds=14.0)
    downstream = make_server(workers=2, env=FAST)
    proxy = FaultProxy(upstream.base_url)
    receiver = Receiver()
    try:
        open_api_key = _open_api_key(upstream)
        key_id = _add_key(downstream, proxy.url, open_api_key, max_jobs=2)
        with downstream.client() as c:
            _account(c)
            r = c.post(
                "/music/instrumental",
                json={"prompt": "warm lofi piano", "user_id": "up", "model_instrumental": "i3", "bpm": 90},
            )
            assert r.status_code == 200, r.text
            sources = [str(j) for j in r.json()["jobs"]]
            for job in sources:
                record = wait_final(c, job, timeout=300)
                assert record["status_name"] == "COMPLETED", (record, downstream.log())
            source_tasks = [_tasks(downstream)[_item_id(j)][0] for j in sources]

            # Refused at the door, nothing queued: the platform extends from 10 to 600 s.
            r = c.post("/music/extend", json={"job_id": sources[0], "start_time": 5})
            assert r.status_code == 400 and "10 to 600" in r.text, r.text

            # /v1/tempolor's extend (start_time in tenths: whole seconds are sent) ...
            r = c.post("/music/extend", json={"job_id": sources[0], "start_time": 10.4})
            assert r.status_code == 200, r.text
            ext_v1 = str(r.json()["jobs"][0])
            # ... and the Open API's, on the same account (the tenant's only one).
            with open_client(downstream, _open_api_key(downstream)) as oa:
                ext_oa = ok(
                    oa,
                    "/instrumental/extend",
                    {"item_id": _item_id(sources[1]), "start_time": 11, "callback_url": receiver.url + "/x"},
                )["item_ids"][0]
                done = wait_item(oa, "instrumental", ext_oa, timeout=300)
                assert done["status"] == "succeeded", (done, downstream.log())
                assert done["extended_from"]["item_id"] == _item_id(sources[1])
                assert done["extended_from"]["start_time"] == 11
            record_v1 = wait_final(c, ext_v1, timeout=300)
            assert record_v1["status_name"] == "COMPLETED", (record_v1, downstream.log())
            assert record_v1["extendedFrom"]["itemId"] == _item_id(sources[0])
            assert record_v1["extendedFrom"]["spliceAt"] is not None  # where the upstream spliced

            # What was sent: the upstream's own extend endpoint, naming the upstream's item of each
            # source; no new generation made from the source's material.
            sent = [body for path, _, body in proxy.seen if path.endswith("/instrumental/extend")]
            asked = sorted((b["item_id"], b["start_time"]) for b in sent)
            assert asked == sorted([(source_tasks[0], 10), (source_tasks[1], 11)]), sent
            assert all(
                b["callback_url"].startswith(f"{downstream.base_url}/upstream/callbacks/") for b in sent
            )
            assert proxy.calls("/instrumental/generate") == 2  # the two sources only

            # Each extension is the upstream's work, brought home sample for sample.
            tasks = _tasks(downstream)
            ext_oa_job = ext_v1.rsplit("job:", 1)[0] + "job:" + ext_oa  # its /v1/tempolor job id
            for job, source_task in ((ext_v1, source_tasks[0]), (ext_oa_job, source_tasks[1])):
                task_id, state, used_key = tasks[_item_id(job)]
                assert state == "done" and used_key == key_id and task_id not in source_tasks
                theirs_item = _upstream_item(upstream, open_api_key, "instrumental", str(task_id))
                assert theirs_item["extended_from"]["item_id"] == source_task
                ours = _wav(c, job)
                theirs = _upstream_wav(upstream, open_api_key, "instrumental", str(task_id))
                n = min(len(ours), len(theirs))
                assert abs(len(ours) - len(theirs)) <= 2048 and n > 10 * 44100
                assert np.max(np.abs(ours[:n] - theirs[:n])) < 1e-3
        # The Open API extension's own callbacks reached its caller.
        events = [x["json"]["instrumentals"][0] for x in receiver.wait_calls("/x", 2)]
        assert [e["event"] for e in events] == ["audio_complete", "wav_complete"]
        assert events[-1]["item_id"] == ext_oa and events[-1]["status"] == "succeeded"
    finally:
        proxy.close()
        receiver.close()


def test_lyrics_through_the_upstreams_lyrics_endpoint(make_server) -> None:  # type: ignore[no-untyped-def]
    upstream = make_server(workers=1)
    downstream = make_server(workers=1, env=FAST)
    proxy = FaultProxy(upstream.base_url)
    receiver = Receiver()
    try:
        open_api_key = _open_api_key(upstream)
        _add_key(downstream, proxy.url, open_api_key, max_jobs=1)
        with downstream.client() as c:
            _account(c)
        with open_client(downstream, _open_api_key(downstream)) as oa:
            body = {
                "prompt": "a song about the sea at night",
                "song_model": "TemPolor v3",
                "callback_url": receiver.url + "/lyrics",
            }
            item = ok(oa, "/lyrics/generate", body)["item_ids"][0]
            got = wait_item(oa, "lyrics", item, timeout=120)
            assert got["status"] == "succeeded" and got["title"] and got["lyric"], (got, downstream.log())

            # Written by the upstream: the same title and text as its own query of the task.
            task_id, state, _ = _tasks(downstream)[item]
            assert state == "done" and task_id
            theirs = _upstream_item(upstream, open_api_key, "lyrics", str(task_id))
            assert (got["title"], got["lyric"]) == (theirs["title"], theirs["lyric"])
            sent = [b for path, _, b in proxy.seen if path.endswith("/lyrics/generate")]
            assert len(sent) == 1 and sent[0]["prompt"] == body["prompt"], sent
            assert sent[0]["song_model"] == "TemPolor v3"
            assert sent[0]["callback_url"].startswith(f"{downstream.base_url}/upstream/callbacks/")
            assert receiver.wait_calls("/lyrics", 1)[0]["json"] == {"lyrics": [got]}

            # The platform's refusal fails the lyrics task with its words, called back as failed.
            proxy.inject(
                "/lyrics/generate",
                Fault(status=400004, message="Content violation, please modify and try again."),
            )
            item = ok(oa, "/lyrics/generate", {**body, "callback_url": receiver.url + "/bad"})["item_ids"][0]
            failed = wait_item(oa, "lyrics", item, timeout=120)
            assert failed["status"] == "failed", failed
            assert "Content violation, please modify and try again." in failed["error"], failed
            call = receiver.wait_calls("/bad", 1)[0]["json"]["lyrics"][0]
            assert call["item_id"] == item and call["status"] == "failed"
    finally:
        proxy.close()
        receiver.close()


def test_stems_of_an_upload_through_the_upstream_from_a_signed_link(make_server) -> None:  # type: ignore[no-untyped-def]
    upstream = make_server(workers=1)
    downstream = make_server(workers=1, env={**FAST, "SONGFORGE_UPLOAD_WAIT_SECONDS": "5"})
    proxy = FaultProxy(upstream.base_url)
    try:
        open_api_key = _open_api_key(upstream)
        _add_key(downstream, proxy.url, open_api_key, max_jobs=1)
        sr = 44100
        t = np.arange(sr * 4) / sr
        mix = np.stack([np.sin(2 * np.pi * 110 * t), np.sin(2 * np.pi * 330 * t)], axis=1) * 0.3
        buf = io.BytesIO()
        sf.write(buf, mix, sr, format="WAV", subtype="PCM_16")
        with downstream.client() as c:
            _account(c)
            sent_at = time.time()
            r = c.post(
                "/music/stems-splitter/",
                params={"user_id": "up"},
                content=buf.getvalue(),
                headers={"Content-Type": "audio/wave"},
            )
            assert r.status_code in (200, 202), r.text
            poll = f"/music/stems-splitter/{r.json()['stemsItemId']}"
            body = wait_until(lambda: (b := c.get(poll).json())["state"] in (2, 3) and b, timeout=240)
            assert body["state"] == 2, (body, downstream.log())
            ours = httpx.get(body["stemsZipUrl"], timeout=60).content
            item_id = str(body["itemId"])
            assert {"vocals", "drums", "bass", "other"} <= set(body["detail"]), body

        # What the upstream was sent: a link to our stored upload, signed and short-lived.
        sent = [b for path, _, b in proxy.seen if path.endswith("/open-apis/v1/stems")]
        assert len(sent) == 1, proxy.seen
        link = sent[0]["url"]
        assert link.startswith(f"{downstream.base_url}/files/stems/"), link
        expires = int(parse_qs(urlsplit(link).query)["expires"][0])
        assert sent_at < expires <= time.time() + 900
        assert httpx.get(link.replace("sig=", "sig=0"), timeout=30).status_code == 403
        assert sent[0]["callback_url"].startswith(f"{downstream.base_url}/upstream/callbacks/")

        # Our zip is the upstream's own zip of its task, byte for byte.
        task_id, state, _ = _tasks(downstream)[item_id]
        assert state == "done" and task_id
        theirs = _upstream_item(upstream, open_api_key, "stems", str(task_id))
        assert theirs["status"] == "succeeded", theirs
        assert ours == httpx.get(theirs["stems_url"], timeout=60).content
        with zipfile.ZipFile(io.BytesIO(ours)) as zf:
            assert {"vocals.wav", "drums.wav", "bass.wav", "other.wav"} <= set(zf.namelist())
    finally:
        proxy.close()
