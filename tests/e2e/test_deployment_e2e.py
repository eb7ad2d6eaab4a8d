"""One deployment, many processes (issue 21): the callback-target policy and the deployment id are
kept in the database, so every API and worker agrees on them, over real processes on PostgreSQL,
Redis and S3 (moto).

- An API started without a flag on a loopback address accepts a loopback replyUrl at submit (its
  default); a separate `songforge worker` started without a flag then delivers that job's final
  callback (it used to refuse it, and the event was lost for good). A worker flag that contradicts
  the stored policy is refused with status 2.
- A worker or API whose database is another deployment than the one the broker already serves
  refuses to start with status 2 and says why.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine, text

from songforge.store.db import normalize_url
from songforge_server import ROOT, ServerProcess, cli
from store.scale_services import S3_ENV, fresh_pg_database, fresh_redis_url, make_bucket, moto_s3

pytestmark = pytest.mark.slow

BUCKET = "songforge-deploy"
FAILED_DELIVERIES = "SELECT item_id, last_error FROM callback_deliveries WHERE state = 'failed'"


class _Receiver:
    """A replyUrl target on loopback that records every delivery's body."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                receiver.bodies.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[tuple[str, str, str, dict[str, str]]]:
    """(database URL, Redis URL, S3 endpoint, environment) of a fresh scale-out deployment."""
    with fresh_pg_database() as db_url, fresh_redis_url() as redis_url, moto_s3(tmp_path) as s3_endpoint:
        make_bucket(s3_endpoint, BUCKET)
        env = {
            **os.environ,
            **S3_ENV,
            "PYTHONUNBUFFERED": "1",
            "SONGFORGE_MAX_SECONDS_OVERRIDE": "4",
            "SONGFORGE_CALLBACK_RETRY_SCALE": "0.01",
        }
        yield db_url, redis_url, s3_endpoint, env


def _scale_out_args(db_url: str, redis_url: str, s3_endpoint: str) -> tuple[str, ...]:
    return (
        "--database-url", db_url, "--queue", redis_url,
        "--blob-store", f"s3://{BUCKET}/d", "--s3-endpoint", s3_endpoint,
    )  # fmt: skip


def _worker(tmp: Path, name: str, args: tuple[str, ...], env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = open(tmp / f"{name}.log", "ab")  # noqa: SIM115 - the child writes to it
    proc = subprocess.Popen(
        [sys.executable, "-m", "songforge", "worker", "--id", name, "--data-dir", str(tmp / name), *args],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
    )  # fmt: skip
    log.close()
    return proc


def _refused(args: list[str], env: dict[str, str], tmp: Path) -> str:
    """Runs a `songforge` command that must refuse to start; returns its output."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "songforge", *args, "--data-dir", str(tmp)],
            capture_output=True, text=True, env=env, cwd=ROOT, timeout=60,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"`songforge {' '.join(args[:1])}` started instead of refusing") from exc
    output = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 2, output
    assert "Cannot start:" in output, output
    return output


def test_api_and_worker_without_flags_agree_on_private_callback_targets(
    tmp_path: Path, services: tuple[str, str, str, dict[str, str]]
) -> None:
    db_url, redis_url, s3_endpoint, env = services
    common = _scale_out_args(db_url, redis_url, s3_endpoint)
    api = ServerProcess(
        tmp_path / "api", workers=0, max_seconds=4, env=env, extra_args=common, allow_private_callbacks=None
    )
    receiver = _Receiver()
    engine = create_engine(normalize_url(db_url))
    worker: subprocess.Popen[bytes] | None = None
    try:
        api.start()
        made = cli("token", "create", "--database-url", db_url, "--data-dir", str(tmp_path / "cli"), env=env)
        token = made.stdout.strip().splitlines()[-1].strip()
        with api.client(token) as c:
            r = c.post("/accounts", json={"requestParams": {"user_id": "u"}, "maxJobs": 2})
            assert r.status_code == 200, r.text
            # The API's default on a loopback --host: a loopback target is accepted at submit.
            r = c.post(
                "/music/instrumental",
                json={"prompt": "calm piano", "user_id": "u", "replyUrl": receiver.url, "replyRef": "r1"},
            )
            assert r.status_code == 200, r.text
            item_ids = {j.rsplit(":", 1)[-1] for j in r.json()["jobs"]}
        # Only the worker can deliver the final events now: the API is gone before any job ran.
        api.stop()

        # A worker flag that contradicts the stored policy is refused, before the worker starts.
        output = _refused(["worker", *common, "--no-allow-private-callbacks"], env, tmp_path / "w0")
        assert "--no-allow-private-callbacks contradicts this deployment's policy" in output
        assert "private/loopback callback targets allowed" in output

        worker = _worker(tmp_path, "w1", common, env)  # no flag
        deadline = time.monotonic() + 180
        finals: set[str] = set()
        failed: list[Any] = []
        while time.monotonic() < deadline and finals != item_ids and not failed:
            finals = {b["itemId"] for b in list(receiver.bodies) if b.get("status") in (10, 30)}
            with engine.connect() as conn:
                failed = list(conn.execute(text(FAILED_DELIVERIES)))
            time.sleep(0.3)
        log = (tmp_path / "w1.log").read_text(errors="replace")[-4000:]
        assert not failed, f"the worker refused what the API accepted: {failed}\n{log}"
        assert finals == item_ids, f"final callbacks {finals} of {item_ids}\n{log}"
        with engine.connect() as conn:
            errors = conn.execute(text("SELECT callback_error FROM jobs")).scalars().all()
        assert errors == [None] * len(item_ids)
    finally:
        receiver.close()
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
        api.stop()
        engine.dispose()


def test_processes_on_another_database_sharing_the_broker_refuse_to_start(
    tmp_path: Path, services: tuple[str, str, str, dict[str, str]]
) -> None:
    db_a, redis_url, s3_endpoint, env = services
    api = ServerProcess(
        tmp_path / "api", workers=0, env=env, extra_args=_scale_out_args(db_a, redis_url, s3_endpoint)
    )
    try:
        api.start()
        client = redis.Redis.from_url(redis_url)
        try:
            held = client.get("songforge:deployment")
        finally:
            client.close()
        engine = create_engine(normalize_url(db_a))
        try:
            with engine.connect() as conn:
                id_a = conn.execute(
                    text("SELECT value FROM deployment_settings WHERE name='deployment_id'")
                ).scalar_one()
        finally:
            engine.dispose()
        assert held is not None and held.decode() == id_a  # the first start wrote it to both

        with fresh_pg_database() as db_b:
            other = _scale_out_args(db_b, redis_url, s3_endpoint)
            for command in ("worker", "serve"):
                output = _refused([command, *other], env, tmp_path / command)
                assert f"belongs to deployment {id_a}" in output, output
                assert "must use the same --database-url and --queue" in output, output
            engine = create_engine(normalize_url(db_b))
            try:
                with engine.connect() as conn:
                    id_b = conn.execute(
                        text("SELECT value FROM deployment_settings WHERE name='deployment_id'")
                    ).scalar_one()
            finally:
                engine.dispose()
            assert id_b != id_a
            assert f"is deployment {id_b}" in output
        # The broker still names the first deployment: the refused processes changed nothing.
        client = redis.Redis.from_url(redis_url)
        try:
            assert client.get("songforge:deployment") == id_a.encode()
        finally:
            client.close()
        assert api.proc is not None and api.proc.poll() is None
    finally:
        api.stop()
