"""Fair scheduling: how long a tenant's first job waits behind another tenant's backlog.

What it does: starts `songforge serve --workers 1` (temp data dir, SQLite) with 4-second songs (the
embedded engine's shortest) and `SONGFORGE_MAX_QUEUED_PER_TENANT` raised above the backlog, creates
two tokens (two tenants, A and B), and:
  1. tenant A queues a backlog of N jobs (--backlog, default 1000): N/2 instrumental requests of
     two variations, spread over accounts of maxJobs 100 (a request holds one slot while any of
     its variations is active, and 100 is the most an account may have). Admission is one
     transaction per request, so the requests are sent concurrently (--concurrency httpx
     connections, default 8) to keep the admission time short; the one worker starts on A's
     backlog meanwhile;
  2. once every A request is accepted, tenant B submits one request (two variations) and the
     script waits until B's first job is claimed.
B's wait is `started_ms - queued_ms` of its first-claimed job as the database holds them (queued_ms
is stamped just before the admission commit, started_ms by the claiming UPDATE). It also prints how
many of A's jobs were claimed between B's acceptance and that claim (fair order: at most one, the
job that was running when B arrived finishes first; FIFO would be all of A's queued backlog), and
how many of A's jobs had been claimed in all by then, and how B's wait splits into the remainder of
the A job that was running when B arrived and the hand-over to B.

    nice -n 10 .venv/bin/python benchmarks/fairness.py [--backlog 1000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT_MAX_JOBS = 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_token(data_dir: Path, env: dict[str, str], name: str) -> dict[str, str]:
    args = [sys.executable, "-m", "songforge", "token", "create", "--data-dir", str(data_dir), "--name", name]
    out = subprocess.run(args, capture_output=True, text=True, check=True, env=env)
    return {"Authorization": f"Bearer {out.stdout.strip().splitlines()[-1]}"}


async def queue_backlog(api: str, headers: dict[str, str], requests: int, concurrency: int) -> list[str]:
    """Tenant A's backlog: `requests` requests over accounts a0, a1, ... (100 slots each)."""
    accounts = max(1, math.ceil(requests / ACCOUNT_MAX_JOBS))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, timeout=120, limits=limits) as c:
        for a in range(accounts):
            r = await c.post(
                api + "/accounts", json={"requestParams": {"user_id": f"a{a}"}, "maxJobs": ACCOUNT_MAX_JOBS}
            )
            r.raise_for_status()
        gate = asyncio.Semaphore(concurrency)
        item_ids: list[str] = []

        async def one(i: int) -> None:
            body = {"prompt": "soft piano", "user_id": f"a{i % accounts}"}
            async with gate:
                r = await c.post(api + "/music/instrumental", json=body)
            r.raise_for_status()
            item_ids.extend(r.json()["itemIds"])

        await asyncio.gather(*(one(i) for i in range(requests)))
    return item_ids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backlog", type=int, default=1000, help="tenant A's queued jobs (two per request)")
    ap.add_argument("--concurrency", type=int, default=8, help="connections submitting A's backlog")
    args = ap.parse_args()
    requests = max(1, args.backlog // 2)
    data_dir = Path(tempfile.mkdtemp(prefix="songforge-fair-"))
    url = f"sqlite:///{data_dir / 'songforge.db'}"
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "SONGFORGE_MAX_SECONDS_OVERRIDE": "4",
        "SONGFORGE_DATABASE_URL": "",
        "SONGFORGE_MAX_QUEUED_PER_TENANT": str(max(10_000, 4 * args.backlog)),
    }
    try:
        port = free_port()
        log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - the child writes to it
        proc = subprocess.Popen(
            [sys.executable, "-m", "songforge", "serve", "--port", str(port), "--data-dir", str(data_dir),
             "--workers", "1", "--log-level", "warning"],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(600):
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            api = base + "/v1/tempolor"
            ha, hb = make_token(data_dir, env, "tenant-a"), make_token(data_dir, env, "tenant-b")
            time.sleep(3)  # the worker starts and goes idle
            t0 = time.monotonic()
            a_items = asyncio.run(queue_backlog(api, ha, requests, args.concurrency))
            admit_s = time.monotonic() - t0
            with httpx.Client(headers=hb, timeout=60) as c:
                c.post(
                    api + "/accounts", json={"requestParams": {"user_id": "b"}, "maxJobs": 10}
                ).raise_for_status()
                r = c.post(api + "/music/instrumental", json={"prompt": "soft piano", "user_id": "b"})
                r.raise_for_status()
                b_items = r.json()["itemIds"]
            engine = create_engine(url)
            placeholders = ",".join(f"'{i}'" for i in b_items)
            b_row = None
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    b_row = conn.execute(
                        text(
                            "SELECT item_id, queued_ms, started_ms FROM jobs"
                            f" WHERE item_id IN ({placeholders})"
                            " AND started_ms IS NOT NULL ORDER BY started_ms LIMIT 1"
                        )
                    ).first()
                if b_row is not None:
                    break
                time.sleep(0.05)
            if b_row is None:
                raise SystemExit("B's job was not claimed within 300 s")
            with engine.connect() as conn:
                a_rows = conn.execute(
                    text("SELECT item_id, started_ms, finished_ms FROM jobs WHERE tenant_id !="
                         " (SELECT tenant_id FROM jobs WHERE item_id = :b) AND started_ms IS NOT NULL"),
                    {"b": b_row.item_id},
                ).all()  # fmt: skip
            engine.dispose()
        finally:
            proc.terminate()
            proc.wait(30)
            log.close()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    wait_ms = b_row.started_ms - b_row.queued_ms
    a_set = set(a_items)
    a_before = [s for i, s, _ in a_rows if i in a_set and s <= b_row.started_ms]
    a_during = [s for s in a_before if s >= b_row.queued_ms]
    # the A job the worker was generating when B was accepted: B's wait is its remainder plus the hand-over
    running = [
        f for i, s, f in a_rows if i in a_set and s < b_row.queued_ms and (f is None or f >= b_row.queued_ms)
    ]
    if running and running[0] is not None:
        split = (
            f" (the A job running at B's acceptance finished {running[0] - b_row.queued_ms} ms after it, "
            f"B was claimed {b_row.started_ms - running[0]} ms after that)"
        )
    else:
        split = ""
    print(
        f"fairness (SQLite, local pool of 1, 4 s songs): tenant A backlog {len(a_items)} jobs "
        f"({requests} requests admitted in {admit_s:.1f} s over {args.concurrency} concurrent connections); "
        f"tenant B's first job waited {wait_ms} ms from acceptance to claim{split}; "
        f"A's jobs claimed while B waited: {len(a_during)}; "
        f"A's jobs claimed before it in all: {len(a_before)} (of {len(a_items)}); "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
