"""Queueing overhead: acceptance commit -> a worker's claim, with idle workers.

What it does: starts `songforge serve --workers 2` (temp data dir; SQLite, or PostgreSQL with
--pg: a throwaway database on 127.0.0.1:5432, dropped afterwards) with 1-second songs, creates a
token and an account, then submits one request (two variations) at a time: it waits until both
are finished and the workers idle again (1 s) before the next. Each job's wait is
`started_ms - queued_ms` as the database holds them (queued_ms is stamped just before the
admission commit, started_ms by the claiming UPDATE), so it covers commit, wake-up and claim.
It prints p50/p99/max over all jobs.

    nice -n 10 .venv/bin/python benchmarks/queue_latency.py [--requests 25] [--pg]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
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

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


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
    name = f"songforge_qlat_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=25)
    ap.add_argument("--pg", action="store_true")
    args = ap.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="songforge-qlat-"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SONGFORGE_MAX_SECONDS_OVERRIDE": "1"}
    waits: list[float] = []
    try:
        with database(args.pg, data_dir) as url:
            env["SONGFORGE_DATABASE_URL"] = url if args.pg else ""
            port = free_port()
            log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - the child writes to it
            proc = subprocess.Popen(
                [sys.executable, "-m", "songforge", "serve", "--port", str(port), "--data-dir", str(data_dir),
                 "--workers", "2", "--log-level", "warning"],
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
                token_args = [sys.executable, "-m", "songforge", "token", "create"]
                token_args += ["--data-dir", str(data_dir)]
                out = subprocess.run(token_args, capture_output=True, text=True, check=True, env=env)
                h = {"Authorization": f"Bearer {out.stdout.strip().splitlines()[-1]}"}
                api = base + "/v1/tempolor"
                with httpx.Client(headers=h, timeout=60) as c:
                    c.post(api + "/accounts", json={"requestParams": {"user_id": "q"}, "maxJobs": 10})
                    time.sleep(3)  # workers start and go idle
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
                    rows = conn.execute(text("SELECT item_id, started_ms - queued_ms FROM jobs")).all()
                engine.dispose()
                waits = [float(w) for i, w in rows if i in set(item_ids) and w is not None]
            finally:
                proc.terminate()
                proc.wait(20)
                log.close()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    print(
        f"queue_latency ({'PostgreSQL' if args.pg else 'SQLite'}): {len(waits)} jobs from {args.requests} "
        f"requests, one request at a time, 2 idle workers; acceptance -> claim "
        f"p50 {pct(waits, 50):.1f} ms  p99 {pct(waits, 99):.1f} ms  max {max(waits):.0f} ms; "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
