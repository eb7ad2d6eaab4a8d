"""Scale-out end to end: PostgreSQL, Redis (Dramatiq), S3 (moto), two API and two worker processes.

Jobs go in through both APIs under three accounts with small maxJobs, one worker is SIGKILLed
while it generates (its job is requeued once its Redis connection is seen gone, the lease left at
its 30 s default), and then: every accepted job has exactly one final state and its files in S3;
maxJobs was never exceeded (sampled through GET /scheduler/available on both APIs while the jobs
ran); every callback event reached the receiver at least once, each with a webhook-id that stays
the same across retries, and no job produced two final events.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from songforge.store.db import normalize_url
from songforge_server import ROOT, ServerProcess, cli
from store.scale_services import (
    S3_ENV,
    fresh_pg_database,
    fresh_redis_url,
    make_bucket,
    moto_s3,
    s3_client,
)

pytestmark = pytest.mark.slow

BUCKET = "songforge-e2e"
REQUESTS = 12  # two variations each: 24 jobs
ACCOUNTS = {"alice": 1, "bob": 2, "carol": 2}


class _Receiver:
    """A replyUrl target that records every delivery (headers and body)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver.lock:
                    receiver.events.append({"id": self.headers.get("webhook-id"), "body": json.loads(body)})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def _start_worker(
    tmp: Path, name: str, args: tuple[str, ...], env: dict[str, str]
) -> subprocess.Popen[bytes]:
    log = open(tmp / f"{name}.log", "ab")  # noqa: SIM115 - the child writes to it
    proc = subprocess.Popen(
        [sys.executable, "-m", "songforge", "worker", "--id", name, "--data-dir", str(tmp / name),
         "--allow-private-callbacks", *args],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
    )  # fmt: skip
    log.close()
    return proc


def test_scale_out_two_apis_two_workers_kill_one(tmp_path: Path) -> None:
    with fresh_pg_database() as db_url, fresh_redis_url() as redis_url, moto_s3(tmp_path) as s3_endpoint:
        make_bucket(s3_endpoint, BUCKET)
        env = {
            **os.environ,
            **S3_ENV,
            "PYTHONUNBUFFERED": "1",
            "SONGFORGE_MAX_SECONDS_OVERRIDE": "4",
        }
        common = (
            "--database-url", db_url, "--queue", redis_url,
            "--blob-store", f"s3://{BUCKET}/e2e", "--s3-endpoint", s3_endpoint,
        )  # fmt: skip
        cli("db", "upgrade", "--database-url", db_url, "--data-dir", str(tmp_path / "cli"), env=env)
        apis = [
            ServerProcess(tmp_path / f"api{i}", workers=0, max_seconds=4, env=env, extra_args=common)
            for i in range(2)
        ]
        workers: dict[str, subprocess.Popen[bytes]] = {}
        receiver = _Receiver()
        engine = create_engine(normalize_url(db_url))
        try:
            for api in apis:
                api.start()
            out = cli(
                "token", "create", "--database-url", db_url, "--data-dir", str(tmp_path / "cli"), env=env
            )
            token = out.stdout.strip().splitlines()[-1].strip()
            for name in ("w1", "w2"):
                workers[name] = _start_worker(tmp_path, name, common, env)
            clients = [api.client(token) for api in apis]
            for i, (user, max_jobs) in enumerate(ACCOUNTS.items()):
                r = clients[i % 2].post(
                    "/accounts", json={"requestParams": {"user_id": user}, "maxJobs": max_jobs}
                )
                assert r.status_code == 200, r.text

            samples: list[dict[str, int]] = []
            sampling = threading.Event()

            def sample() -> None:
                while not sampling.is_set():
                    for c in clients:
                        try:
                            body = c.get("/scheduler/available").json()
                        except httpx.HTTPError:
                            continue
                        samples.append({a["user_id"]: a["executing"] for a in body["available"]})
                    time.sleep(0.05)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()

            # Submit through both APIs, retrying 429s, while watching for a job on w1 to kill it.
            accepted: list[str] = []
            killed_job: str | None = None
            users = list(ACCOUNTS)
            pending = list(range(REQUESTS))
            deadline = time.monotonic() + 150
            with engine.connect() as conn:
                while (pending or killed_job is None) and time.monotonic() < deadline:
                    if pending:
                        n = pending[0]
                        r = clients[n % 2].post(
                            "/music/instrumental",
                            json={
                                "prompt": "calm lo-fi piano",
                                "user_id": users[n % len(users)],
                                "replyUrl": receiver.url,
                                "replyRef": f"req-{n}",
                            },
                        )
                        if r.status_code == 200:
                            accepted.extend(r.json()["jobs"])
                            pending.pop(0)
                        else:
                            assert r.status_code == 429, r.text
                            pending.append(pending.pop(0))  # try another account first
                    if killed_job is None:
                        row = conn.execute(
                            text(
                                "SELECT item_id FROM jobs"
                                " WHERE state='running' AND worker_id='w1' AND progress>0"
                            )
                        ).first()
                        conn.commit()
                        if row is not None:
                            workers["w1"].send_signal(signal.SIGKILL)
                            workers["w1"].wait(10)
                            killed_job = row[0]
                    time.sleep(0.05)
            assert not pending, "submissions did not all get in"
            assert killed_job is not None, "w1 never ran a job"
            assert len(accepted) >= 20

            # Every accepted job reaches a final state (the killed one after its lease lapses).
            def states() -> dict[str, str]:
                with engine.connect() as conn:
                    return dict(conn.execute(text("SELECT item_id, state FROM jobs")).all())

            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                if all(s in ("completed", "failed") for s in states().values()):
                    break
                time.sleep(0.5)
            sampling.set()
            sampler.join(5)
            final = states()
            item_ids = {j.rsplit(":", 1)[-1] for j in accepted}
            assert set(final) == item_ids
            logs = "\n".join((tmp_path / f"{w}.log").read_text()[-3000:] for w in workers)
            assert all(final[i] == "completed" for i in item_ids), f"{final}\n{logs}"

            # maxJobs held at every sampled moment, on both APIs.
            assert len(samples) > 20
            for snap in samples:
                for user, executing in snap.items():
                    assert executing <= ACCOUNTS[user], (user, executing, snap)
            assert any(snap.get("alice") == 1 for snap in samples)  # the sampler did see busy accounts

            with engine.connect() as conn:
                rows = conn.execute(text("SELECT item_id, attempts, blobs, extra FROM jobs")).all()
                finals = dict(
                    conn.execute(
                        text(
                            "SELECT item_id, count(*) FROM callback_deliveries"
                            " WHERE is_final GROUP BY item_id"
                        )
                    ).all()
                )
                outbox = conn.execute(
                    text("SELECT message_id, item_id, state FROM callback_deliveries")
                ).all()
            by_id = {r.item_id: r for r in rows}
            # The killed job ran again and has one result; it was requeued because its worker's
            # Redis connection closed (`workers.presence`), not because its 30 s lease ran out.
            assert by_id[killed_job].attempts >= 2
            extra = by_id[killed_job].extra
            extra = extra if isinstance(extra, dict) else json.loads(extra)
            assert extra.get("last_requeue") == "the worker process died (its queue connection closed)", extra
            blobs_of = {
                r.item_id: (r.blobs if isinstance(r.blobs, dict) else json.loads(r.blobs)) for r in rows
            }
            s3 = s3_client(s3_endpoint)
            for item_id in item_ids:
                assert set(blobs_of[item_id]) == {"wav", "mp3", "stems", "waveform", "cover"}
                for key in blobs_of[item_id].values():
                    head = s3.head_object(Bucket=BUCKET, Key=f"e2e/{key}")
                    assert head["ContentLength"] > 1000
            listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"e2e/jobs/{killed_job}/")
            assert sorted(o["Key"].rsplit("/", 1)[-1] for o in listed["Contents"]) == sorted(
                k.rsplit("/", 1)[-1] for k in blobs_of[killed_job].values()
            )

            # A download link is a presigned S3 URL that works without a token and says how long.
            job_id = next(j for j in accepted if j.endswith(killed_job))
            link = clients[1].get(f"/music/download/{job_id}", params={"file_format": "wav"}).json()
            assert link["url"].startswith(f"{s3_endpoint}/{BUCKET}/e2e/jobs/{killed_job}/")
            assert link["remainSeconds"] == 3600
            got = httpx.get(link["url"], timeout=30)
            assert got.status_code == 200 and got.content[:4] == b"RIFF"

            # Callbacks: exactly one final event per job in the outbox; every event arrived at least
            # once, each carrying a stable webhook-id; deduplicated by it, one final per job.
            assert finals == dict.fromkeys(item_ids, 1)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                got_ids = {e["id"] for e in receiver.events}
                if {m for m, _, _ in outbox} <= got_ids:
                    break
                time.sleep(0.5)
            assert all(e["id"] for e in receiver.events)
            assert {m for m, _, _ in outbox} <= {e["id"] for e in receiver.events}
            unique = {e["id"]: e["body"] for e in receiver.events}
            final_events: dict[str, int] = {}
            for body in unique.values():
                if body.get("status") in (10, 30):
                    final_events[body["itemId"]] = final_events.get(body["itemId"], 0) + 1
            assert final_events == dict.fromkeys(item_ids, 1)

            # /metrics on either API reports the whole deployment, from the database.
            metrics = httpx.get(apis[0].base_url + "/metrics", timeout=30).text
            assert f'songforge_jobs{{engine="embedded",state="completed"}} {float(len(item_ids))}' in metrics
            assert 'songforge_queue_depth{engine="embedded"} 0.0' in metrics
            assert (
                f'songforge_generation_seconds_count{{engine="embedded"}} {float(len(item_ids))}' in metrics
            )
        finally:
            receiver.close()
            for proc in workers.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in workers.values():
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
            for api in apis:
                api.stop()
            engine.dispose()
