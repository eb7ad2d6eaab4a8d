"""Queueing overhead: acceptance commit -> a worker's claim, with idle workers.

What it does: starts `songforge serve --workers 2` (temp data dir; SQLite, or PostgreSQL with
--pg: a throwaway database on 127.0.0.1:5432, dropped afterwards) with 4-second songs (the
embedded engine's shortest; it fails shorter ones), creates a
token and an account, then submits one request (two variations) at a time: it waits until both
are finished and the workers idle again (1 s) before the next. Each job's wait is
`started_ms - queued_ms` as the database holds them (queued_ms is stamped just before the
admission commit, started_ms by the claiming UPDATE), so it covers commit, wake-up and claim.
It prints p50/p99/max over all jobs.

With --pg the processes keep their files in an S3 bucket of a moto server (a shared database needs
a shared blob store). With --queue (implies --pg): the scale-out shape instead, `songforge serve
--workers 0 --queue redis://...` and two `songforge worker` processes (Dramatiq on the local Redis,
on a database index nobody else holds), so the wait covers the commit, the Redis send, the worker's
wake-up and its claim.

    nice -n 10 .venv/bin/python benchmarks/queue_latency.py [--requests 25] [--pg] [--queue]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from scratch_pg import throwaway_pg

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def database(pg: bool, data_dir: Path) -> Iterator[str]:
    if not pg:
        yield f"sqlite:///{data_dir / 'songforge.db'}"
        return
    with throwaway_pg("songforge_qlat") as url:
        yield url


@contextlib.contextmanager
def scale_out(data_dir: Path, env: dict[str, str], queue: bool) -> Iterator[list[str]]:
    """A moto S3 server with a bucket (a shared database needs a shared blob store) and, with `queue`,
    a Redis database index claimed as the tests claim theirs: the `--blob-store/--s3-endpoint` (and
    `--queue`) arguments of every process."""
    import boto3
    import redis

    client = None
    for index in range(1, 16) if queue else ():
        candidate = redis.Redis(host="127.0.0.1", port=6379, db=index)
        if candidate.set("songforge-test-owner", f"bench-{os.getpid()}", nx=True, ex=3600):
            client = candidate
            break
        candidate.close()
    if queue and client is None:
        raise SystemExit("no free Redis database index on 127.0.0.1:6379")
    port = free_port()
    s3_log = open(data_dir / "moto.log", "wb")  # noqa: SIM115 - the child writes to it
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=s3_log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    try:
        endpoint = f"http://127.0.0.1:{port}"
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=env["AWS_DEFAULT_REGION"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )
        for attempt in range(300):
            try:
                s3.create_bucket(Bucket="qlat")
                break
            except Exception:  # noqa: BLE001 - not listening yet
                if attempt == 299:
                    raise
                time.sleep(0.1)
        args = ["--blob-store", "s3://qlat/songs", "--s3-endpoint", endpoint]
        yield [*args, "--queue", f"redis://127.0.0.1:6379/{index}"] if queue else args
    finally:
        moto.terminate()
        moto.wait(20)
        s3_log.close()
        if client is not None:
            client.flushdb()
            client.close()


def wait_healthy(base: str, tries: int = 600) -> None:
    """Until the server at `base` answers /healthz (tries 0.1 s apart)."""
    for _ in range(tries):
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)


def create_token(data_dir: Path, env: dict[str, str]) -> str:
    """A new token, made by the CLI in the server's data dir."""
    args = [sys.executable, "-m", "songforge", "token", "create", "--data-dir", str(data_dir)]
    out = subprocess.run(args, capture_output=True, text=True, check=True, env=env)
    return out.stdout.strip().splitlines()[-1]


def wait_for_workers(url: str, count: int, deadline: float) -> None:
    """Until `count` worker processes have reported their engines (`worker_engines`)."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                n = conn.execute(text("SELECT count(DISTINCT worker_id) FROM worker_engines")).scalar()
            if (n or 0) >= count:
                return
            time.sleep(0.2)
        raise SystemExit(f"fewer than {count} workers reported within the deadline")
    finally:
        engine.dispose()


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=25)
    ap.add_argument("--pg", action="store_true")
    ap.add_argument("--queue", action="store_true", help="Dramatiq on Redis and 2 `songforge worker`s")
    args = ap.parse_args()
    args.pg = args.pg or args.queue
    data_dir = Path(tempfile.mkdtemp(prefix="songforge-qlat-"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SONGFORGE_MAX_SECONDS_OVERRIDE": "4"}
    if args.pg:
        env.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    waits: list[float] = []
    states: list[str] = []
    try:
        with database(args.pg, data_dir) as url, contextlib.ExitStack() as stack:
            env["SONGFORGE_DATABASE_URL"] = url if args.pg else ""
            queue_args = stack.enter_context(scale_out(data_dir, env, args.queue)) if args.pg else []
            port = free_port()
            log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - the child writes to it
            proc = subprocess.Popen(
                [sys.executable, "-m", "songforge", "serve", "--port", str(port), "--data-dir", str(data_dir),
                 "--workers", "0" if args.queue else "2", "--log-level", "warning", *queue_args],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
            )  # fmt: skip
            workers: list[subprocess.Popen[bytes]] = []
            for i in range(2 if args.queue else 0):
                worker_args = [sys.executable, "-m", "songforge", "worker", "--id", f"bench{i}",
                               "--data-dir", str(data_dir / f"worker{i}"), "--log-level", "warning",
                               *queue_args]  # fmt: skip
                with open(data_dir / f"worker{i}.log", "wb") as wl:
                    workers.append(
                        subprocess.Popen(worker_args, stdout=wl, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
                    )
            try:
                base = f"http://127.0.0.1:{port}"
                wait_healthy(base)
                h = {"Authorization": f"Bearer {create_token(data_dir, env)}"}
                api = base + "/v1/tempolor"
                with httpx.Client(headers=h, timeout=60) as c:
                    c.post(api + "/accounts", json={"requestParams": {"user_id": "q"}, "maxJobs": 10})
                    # Idle workers means started ones: each reports its engines as it enters its
                    # loop. A fixed sleep measured the start-up of a worker on a busy machine (the
                    # second variation waited seconds for the only worker up yet).
                    wait_for_workers(url, 2, deadline=time.monotonic() + 600)
                    time.sleep(3)  # past the first beats and the analysis warm-up's start
                    item_ids: list[str] = []
                    for _ in range(args.requests):
                        r = c.post(api + "/music/instrumental", json={"prompt": "soft piano", "user_id": "q"})
                        r.raise_for_status()
                        jobs = r.json()["jobs"]
                        item_ids += r.json()["itemIds"]
                        deadline = time.monotonic() + 120
                        while time.monotonic() < deadline:
                            done = [c.get(f"{api}/music/{j}").json().get("status_name") for j in jobs]
                            if all(d in ("COMPLETED", "FAILED") for d in done):
                                break
                            time.sleep(0.05)
                        time.sleep(1.0)
                engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
                with engine.connect() as conn:
                    rows = conn.execute(
                        text(
                            "SELECT item_id, started_ms - queued_ms, state FROM jobs"
                            " ORDER BY queued_ms, item_id"
                        )
                    ).all()
                engine.dispose()
                waits = [float(w) for i, w, _ in rows if i in set(item_ids) and w is not None]
                states = [state for i, _, state in rows if i in set(item_ids)]
            finally:
                for p in [proc, *workers]:
                    p.terminate()
                for p in [proc, *workers]:
                    p.wait(20)
                log.close()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    shape = (
        "PostgreSQL, Dramatiq on Redis, 2 `songforge worker`s"
        if args.queue
        else ("PostgreSQL, local pool of 2" if args.pg else "SQLite, local pool of 2")
    )
    print(
        f"queue_latency ({shape}): {len(waits)} jobs from {args.requests} "
        f"requests, one request at a time, 2 idle workers; acceptance -> claim "
        f"p50 {pct(waits, 50):.1f} ms  p99 {pct(waits, 99):.1f} ms  max {max(waits):.0f} ms; "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )
    print("waits in submission order (ms):", " ".join(f"{w:.0f}" for w in waits))
    print("final states:", {s: states.count(s) for s in sorted(set(states), key=str)})


if __name__ == "__main__":
    main()
