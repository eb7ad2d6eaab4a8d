"""A queued job that holds an upstream key's slot is run by the worker waiting for that slot.

Issue 17: after a restart, one request's two jobs were queued again, one of them with its upstream
task already sent (so holding the key's only slot). The one worker claimed the other first, which
waited for the slot inside its job for as long as its timeout, while the slot's holder waited in
the queue behind it: nothing ever polled the holder's task again. Now a worker waiting for a slot
runs the slot's unattended holder first, then sends its own task.

The real app in-process on a real SQLite file, the real worker loop (`workers.local.run_one`) and
engine; only the platform is a small fake HTTP server (it answers generate, query and the audio).
"""

from __future__ import annotations

import io
import json
import threading
import wave
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from inprocess_app import open_app
from songforge.core import queue
from songforge.store.models import Job, UpstreamTask
from songforge.store.upstream import JobLedger, add_key, key_box
from songforge.workers.context import WorkerContext
from songforge.workers.local import run_one

KEY = "Tempo-" + "k" * 32 + "-3w"


def _wav() -> bytes:
    tone = (0.2 * np.sin(np.linspace(0, 2 * np.pi * 440 * 3, 44100 * 3)) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(tone.tobytes())
    return buf.getvalue()


class Platform:
    """The Open API's generate and query (every task done at once) and its audio links."""

    def __init__(self) -> None:
        self.generated: list[str] = []
        self.queried: list[str] = []
        audio = _wav()
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Length", str(len(audio)))
                self.end_headers()
                self.wfile.write(audio)

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                data: dict[str, Any]
                if self.path.endswith("/generate"):
                    task = f"task{len(platform.generated) + 1}"
                    platform.generated.append(task)
                    data = {"item_ids": [task]}
                else:
                    task = str(body["item_ids"][0])
                    platform.queried.append(task)
                    url = f"http://127.0.0.1:{self.server.server_address[1]}/{task}.wav"
                    item = {"item_id": task, "status": "succeeded", "audio_hi_url": url, "audio_url": url}
                    data = {"instrumentals": [item]}
                payload = json.dumps({"status": 200000, "message": "success", "data": data}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def platform() -> Iterator[Platform]:
    p = Platform()
    try:
        yield p
    finally:
        p.close()


def test_a_worker_waiting_for_a_key_slot_runs_the_queued_job_that_holds_it(
    tmp_path: Path, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SONGFORGE_UPSTREAM_POLL_SECONDS", "0.1")
    monkeypatch.setenv("SONGFORGE_UPSTREAM_BACKOFF", "0.1")
    # A job that waits for a slot gives up after this (without the fix it waits out all of it).
    with open_app(tmp_path, job_timeout_seconds=20) as env:
        db, settings = env.app.state.db, env.app.state.settings
        with db.session() as s:
            add_key(s, key_box(settings.data_dir), base_url=platform.url, api_key=KEY, max_jobs=1)
        body = {"requestParams": {"user_id": "up", "engine": "tempolor"}, "maxJobs": 5}
        assert env.client.post("/v1/tempolor/accounts", json=body, headers=env.bearer).status_code == 200
        r = env.client.post(
            "/v1/tempolor/music/instrumental",
            json={"prompt": "lofi piano", "user_id": "up", "model_instrumental": "i3"},
            headers=env.bearer,
        )
        assert r.status_code == 200, r.text
        jobs = list(r.json()["itemIds"])
        assert len(jobs) == 2

        # The job the queue hands out first, and the other: the slot's holder, its task sent by a
        # worker of the previous boot and the job queued again by the restart's recovery.
        with db.session() as s:
            first = queue._next_in_turn(s)
        assert first is not None
        waiter = first
        (holder,) = [j for j in jobs if j != waiter]
        ledger = JobLedger(db, settings, holder)
        lease = ledger.acquire()
        assert lease is not None
        ledger.sent(lease, "task-of-the-holder")
        assert JobLedger(db, settings, waiter).unattended() == [holder]

        ctx = WorkerContext.from_settings(settings, "wtest-0-1")
        worker = threading.Thread(target=run_one, args=(ctx,), daemon=True)
        worker.start()
        worker.join(60)
        assert not worker.is_alive()

        with db.session() as s:
            rows = s.execute(select(Job.item_id, Job.state, Job.error).where(Job.item_id.in_(jobs))).all()
            tasks = {
                job_id: state
                for job_id, state in s.execute(
                    select(UpstreamTask.job_id, UpstreamTask.state).where(UpstreamTask.job_id.in_(jobs))
                )
            }
        states = {item_id: state for item_id, state, _ in rows}
        errors = {item_id: error for item_id, _, error in rows}
        assert states == {waiter: "completed", holder: "completed"}, errors
        assert tasks == {waiter: "done", holder: "done"}
        # The holder's task was polled again, never sent again; the waiter's was sent once.
        assert "task-of-the-holder" in platform.queried
        assert platform.generated == ["task1"]
        ctx.db.dispose()
