"""Cost of the API's everyday calls against the size of a tenant's history.

What it does, per database and history size N:
  1. a fresh database (SQLite file in a temp data dir, or a throwaway PostgreSQL database on
     127.0.0.1:5432), migrated; a token and one account (`gateway`, maxJobs 100) created
     in-process, as `songforge token create` and POST /accounts would;
  2. N past jobs of that account bulk-inserted straight into `jobs` with the server stopped
     (90% completed, 10% failed, half songs and half instrumentals, created over the last
     200 days, with the columns a finished job really has: request, material, blobs, times);
     on SQLite the rows are made by SQLite itself (INSERT ... SELECT from a recursive CTE, 100,000
     per transaction), so 1,000,000 take a minute or two rather than most of an hour in Python;
  3. a real `songforge serve --workers 0` on that database (no worker, so nothing changes the
     active set behind the measurement), then for each call 3 warm-up requests and 15 timed ones
     on one keep-alive httpx client; the median is printed. Admission (POST /music/instrumental)
     deletes the two jobs it made after each timed call (the delete is not timed), so every
     submission sees the same active set: none.

    nice -n 10 .venv/bin/python benchmarks/history.py [--sizes 0,10000,100000] [--million]
        [--pg-sizes 0,100000] [--no-pg] [--calls 15]

PostgreSQL needs trust auth for `postgres` on 127.0.0.1:5432 (as the tests use it); the
throwaway database `songforge_history_<random>` is dropped afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import insert, text  # noqa: E402

from songforge.config import Settings  # noqa: E402
from songforge.core.accounts import upsert_account  # noqa: E402
from songforge.core.tenants import create_token  # noqa: E402
from songforge.store.db import Database  # noqa: E402
from songforge.store.factory import open_database  # noqa: E402
from songforge.store.models import Job  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from scratch_pg import throwaway_pg  # noqa: E402

USER = "gateway"
DAY_MS = 86_400_000
CHUNK = 1_000
CALLS = (
    "GET /music/{job_id}",
    "GET /music/?type=instrumental",
    "GET /scheduler/",
    "GET /scheduler/available",
    "GET /metrics",
    "POST /music/instrumental",
)


@dataclass
class Seeded:
    token: str
    tenant_id: str
    job_id: str  # a finished job in the middle of the history (or none when N = 0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def history_rows(tenant_id: str, n: int, now: int) -> Iterator[list[dict[str, object]]]:
    """N finished jobs in chunks: what months of a gateway account's songs leave behind."""
    rnd = random.Random(17)
    chunk: list[dict[str, object]] = []
    for i in range(n):
        kind = "song" if i % 2 else "instrumental"
        created = now - rnd.randrange(1, 200 * DAY_MS)
        started = created + rnd.randrange(50, 5_000)
        finished = started + rnd.randrange(20_000, 180_000)
        failed = rnd.random() < 0.1
        item_id = secrets.token_hex(8)[:15]
        chunk.append(
            {
                "item_id": item_id,
                "tenant_id": tenant_id,
                "user_id": USER,
                "batch_id": secrets.token_hex(8)[:15],
                "kind": kind,
                "engine": "embedded",
                "state": "failed" if failed else "completed",
                "progress": 0 if failed else 100,
                "stage": "failed" if failed else "completed",
                "request": {"kind": kind, "prompt": "lo-fi piano beat with soft drums", "model": "v4"},
                "seed": rnd.randrange(2**31 - 1),
                "title": "" if failed else f"Track {i}",
                "material": {} if failed else {"bpm": 90, "key": "C minor", "duration": 120.0},
                "lyrics": None,
                "extra": {},
                "blobs": {} if failed else {"wav": f"jobs/{item_id}/a.wav", "mp3": f"jobs/{item_id}/a.mp3"},
                "error": "engine error" if failed else None,
                "reply_url": None,
                "reply_ref": None,
                "max_jobs": 10,
                "tracked": True,
                "attempts": 1,
                "worker_id": "w0-0-1",
                "lease_until_ms": None,
                "created_ms": created,
                "queued_ms": created,
                "started_ms": started,
                "finished_ms": finished,
                "updated_ms": finished,
            }
        )
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# The same rows as `history_rows`, made by SQLite: every 10th failed, odd ones songs, random times
# in the same ranges, 15-hex-digit ids. The JSON columns are written as SQLAlchemy's JSON type
# reads them (text).
_SQLITE_ROWS = """
WITH RECURSIVE seq(i) AS (SELECT :start UNION ALL SELECT i + 1 FROM seq WHERE i < :stop - 1),
ids AS (
    SELECT i, substr(lower(hex(randomblob(8))), 1, 15) AS item_id,
           substr(lower(hex(randomblob(8))), 1, 15) AS batch_id, i % 10 = 0 AS failed,
           CASE i % 2 WHEN 1 THEN 'song' ELSE 'instrumental' END AS kind,
           :now - 1 - abs(random()) % (200 * 86400000 - 1) AS created
    FROM seq
),
timed AS (SELECT *, created + 50 + abs(random()) % 4950 AS started FROM ids),
done AS (SELECT *, started + 20000 + abs(random()) % 160000 AS finished FROM timed)
INSERT INTO jobs (item_id, tenant_id, user_id, batch_id, kind, engine, state, progress, stage, request,
                  seed, title, material, lyrics, extra, blobs, error, reply_url, reply_ref, max_jobs,
                  tracked, attempts, worker_id, lease_until_ms, created_ms, queued_ms, started_ms,
                  finished_ms, updated_ms)
SELECT item_id, :tenant_id, :user_id, batch_id, kind, 'embedded',
       CASE WHEN failed THEN 'failed' ELSE 'completed' END, CASE WHEN failed THEN 0 ELSE 100 END,
       CASE WHEN failed THEN 'failed' ELSE 'completed' END,
       json_object('kind', kind, 'prompt', 'lo-fi piano beat with soft drums', 'model', 'v4'),
       abs(random()) % 2147483647, CASE WHEN failed THEN '' ELSE 'Track ' || i END,
       CASE WHEN failed THEN '{}' ELSE json_object('bpm', 90, 'key', 'C minor', 'duration', 120.0) END,
       NULL, '{}',
       CASE WHEN failed THEN '{}' ELSE json_object('wav', 'jobs/' || item_id || '/a.wav',
                                                    'mp3', 'jobs/' || item_id || '/a.mp3') END,
       CASE WHEN failed THEN 'engine error' END, NULL, NULL, 10, 1, 1, 'w0-0-1', NULL,
       created, created, started, finished, finished
FROM done
"""
SQLITE_BATCH = 100_000


def _seed_sqlite(db: Database, tenant_id: str, n: int, now: int) -> str | None:
    for start in range(0, n, SQLITE_BATCH):
        stop = min(n, start + SQLITE_BATCH)
        with db.engine.begin() as conn:
            conn.execute(
                text(_SQLITE_ROWS),
                {"start": start, "stop": stop, "now": now, "tenant_id": tenant_id, "user_id": USER},
            )
    with db.engine.connect() as conn:
        middle = conn.execute(
            text("SELECT item_id FROM jobs WHERE state = 'completed' AND title = :title"),
            {"title": f"Track {n // 2 | 1}"},
        ).scalar()
    return str(middle) if middle else None


def seed(settings: Settings, n: int) -> Seeded:
    db = open_database(settings, migrate=True)
    try:
        with db.session() as s:
            created = create_token(s, "history")
            upsert_account(s, created.tenant_id, {"user_id": USER}, 100)
        now = int(time.time() * 1000)
        middle = None
        t0 = time.perf_counter()
        if db.is_sqlite and n:
            middle = _seed_sqlite(db, created.tenant_id, n, now)
        # Multi-row INSERTs committed per chunk: PostgreSQL's per-statement counter triggers then
        # run once per chunk, not once per row (executemany sends one statement per row there).
        for i, chunk in enumerate(history_rows(created.tenant_id, 0 if db.is_sqlite else n, now)):
            with db.engine.begin() as conn:
                conn.execute(insert(Job.__table__).values(chunk))
            if i == (n // CHUNK) // 2:
                middle = next(r for r in chunk if r["state"] == "completed")["item_id"]
        if n:
            with db.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
            print(f"  seeded {n} jobs in {time.perf_counter() - t0:.1f} s", flush=True)
    finally:
        db.dispose()
    job_id = f"user:{created.tenant_id}-tempolor:{USER}-job:{middle}" if middle else ""
    return Seeded(created.token, created.tenant_id, job_id)


S3_ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}


@contextmanager
def s3_bucket(log_dir: Path) -> Iterator[str]:
    """A moto S3 server with a bucket (a server on a shared database refuses to start without a
    shared blob store); yields its endpoint."""
    import boto3

    port = free_port()
    log = open(log_dir / "moto.log", "ab")  # noqa: SIM115 - the child writes to it
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **S3_ENV},
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    try:
        keys = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench", "region_name": "us-east-1"}
        client = boto3.client("s3", endpoint_url=endpoint, **keys)
        for attempt in range(300):
            try:
                client.create_bucket(Bucket="history")
                break
            except Exception:  # noqa: BLE001 - not listening yet
                if attempt == 299:
                    raise
                time.sleep(0.1)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


@contextmanager
def server(settings: Settings) -> Iterator[str]:
    port = free_port()
    args = [sys.executable, "-m", "songforge", "serve", "--port", str(port),
            "--data-dir", str(settings.data_dir), "--workers", "0", "--log-level", "warning"]  # fmt: skip
    env = {**os.environ}
    with contextlib.ExitStack() as stack:
        if settings.database_url:
            endpoint = stack.enter_context(s3_bucket(settings.data_dir))
            args += ["--database-url", settings.database_url, "--blob-store", "s3://history/songs"]
            args += ["--s3-endpoint", endpoint]
            env.update(S3_ENV)
        yield from _serve(settings, args, env, port)


def _serve(settings: Settings, args: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    log = open(settings.data_dir / "server.log", "ab")  # noqa: SIM115 - the child writes to it
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((settings.data_dir / "server.log").read_text()[-4000:])
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def timed(fn: Callable[[], None], calls: int, after: Callable[[], None] | None = None) -> float:
    """Median wall time of `calls` calls in ms, after 3 untimed ones."""
    times = []
    for i in range(3 + calls):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        if after is not None:
            after()
        if i >= 3:
            times.append(dt * 1000)
    return statistics.median(times)


def measure(base: str, seeded: Seeded, calls: int) -> dict[str, float]:
    api = base + "/v1/tempolor"
    out: dict[str, float] = {}
    with httpx.Client(headers={"Authorization": f"Bearer {seeded.token}"}, timeout=60) as c:
        job_id = seeded.job_id
        if not job_id:  # fresh database: read back a job of our own, then delete it
            r = c.post(api + "/music/instrumental", json={"prompt": "x", "user_id": USER})
            job_id = r.json()["jobs"][0]

        def ok(r: httpx.Response) -> None:
            if r.status_code != 200:
                raise RuntimeError(f"{r.request.method} {r.request.url}: {r.status_code} {r.text[:300]}")

        made: list[str] = []

        def submit() -> None:
            r = c.post(api + "/music/instrumental", json={"prompt": "lo-fi piano beat", "user_id": USER})
            ok(r)
            made.extend(r.json()["jobs"])

        def clean() -> None:
            while made:
                ok(c.delete(api + "/music/" + made.pop()))

        out[CALLS[0]] = timed(lambda: ok(c.get(f"{api}/music/{job_id}")), calls)
        out[CALLS[1]] = timed(
            lambda: ok(c.get(api + "/music/", params={"type": "instrumental", "user_id": USER})), calls
        )
        if not seeded.job_id:  # that first submission must not stay in the active set
            for entry in c.get(api + "/scheduler/").json():
                ok(c.delete(api + "/music/" + entry["job_id"]))
        out[CALLS[2]] = timed(lambda: ok(c.get(api + "/scheduler/")), calls)
        out[CALLS[3]] = timed(lambda: ok(c.get(api + "/scheduler/available")), calls)
        out[CALLS[4]] = timed(lambda: ok(c.get(base + "/metrics")), calls)
        out[CALLS[5]] = timed(submit, calls, after=clean)
    return out


def pg_database() -> AbstractContextManager[str]:
    return throwaway_pg("songforge_history")


def run_one(label: str, n: int, calls: int, database_url: str | None) -> dict[str, float]:
    data_dir = Path(tempfile.mkdtemp(prefix="songforge-history-"))
    try:
        settings = Settings(data_dir=data_dir)
        if database_url:
            settings.database_url = database_url
        print(f"{label} N={n}", flush=True)
        seeded = seed(settings, n)
        with server(settings) as base:
            return measure(base, seeded, calls)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="0,10000,100000", help="SQLite history sizes")
    ap.add_argument("--million", action="store_true", help="also 1,000,000 on SQLite (slow to seed)")
    ap.add_argument("--pg-sizes", default="0,100000", help="PostgreSQL history sizes")
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--calls", type=int, default=15)
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",") if x]
    if args.million:
        sizes.append(1_000_000)
    columns: list[tuple[str, dict[str, float]]] = []
    for n in sizes:
        columns.append((f"SQLite {n:,}", run_one("SQLite", n, args.calls, None)))
    if not args.no_pg:
        for n in [int(x) for x in args.pg_sizes.split(",") if x]:
            with pg_database() as url:
                columns.append((f"PG {n:,}", run_one("PostgreSQL", n, args.calls, url)))
    print()
    print(
        f"history.py: median of {args.calls} calls (after 3 warm-up) per cell, ms; one keep-alive client; "
        f"`songforge serve --workers 0`; history = N finished jobs of one account, bulk-inserted with the "
        f"server stopped; machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
    )
    print("| call | " + " | ".join(name for name, _ in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for call in CALLS:
        print(f"| `{call}` | " + " | ".join(f"{col[call]:.1f}" for _, col in columns) + " |")


if __name__ == "__main__":
    main()
