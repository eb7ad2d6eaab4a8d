"""A flood of wrong tokens: its throughput, how it is answered, and what it costs a real client.

What it does: starts `songforge serve --workers 0` (temp data dir, SQLite; no worker, so nothing
changes behind the measurement), creates a token and an account, and submits one request so the
valid client has a job to read. Then:
  1. baseline: the valid client reads its job's status (GET /v1/tempolor/music/{job_id}) --reads
     times, one at a time, with no flood;
  2. flood: one client sends --requests GETs of the same URL (default 2000), each with a different
     random wrong token, as fast as it can over --concurrency keep-alive httpx connections
     (default 4); every answer is counted by status (401 until the address's
     `SONGFORGE_AUTH_FAILURES` budget, 30 a minute by default, is spent, then 429 with
     Retry-After). Meanwhile the valid client, in its own process (so the flood's client does not
     hold its interpreter), reads its job's status one at a time, 10 ms apart, from the same
     address (127.0.0.1), until the flood ends.
It prints the flood's throughput and answers and the valid client's p50/p99 both times.

    nice -n 10 .venv/bin/python benchmarks/auth_failures.py [--requests 2000] [--concurrency 4]
        [--reads 200]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.synchronize
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def timed_reads(url: str, headers: dict[str, str], count: int) -> list[float]:
    """`count` status reads on one keep-alive client, one at a time: their latencies in ms."""
    out: list[float] = []
    with httpx.Client(headers=headers, timeout=60) as c:
        for _ in range(count):
            t = time.perf_counter()
            c.get(url).raise_for_status()
            out.append((time.perf_counter() - t) * 1000)
    return out


def reader(
    url: str, headers: dict[str, str], stop: multiprocessing.synchronize.Event, conn: Connection
) -> None:
    """The valid client during the flood: reads until `stop`, sends its latencies and statuses."""
    lat: list[float] = []
    codes: Counter[int] = Counter()
    with httpx.Client(headers=headers, timeout=60) as c:
        while not stop.is_set():
            t = time.perf_counter()
            code = c.get(url).status_code
            lat.append((time.perf_counter() - t) * 1000)
            codes[code] += 1
            time.sleep(0.01)
    conn.send((lat, dict(codes)))
    conn.close()


async def flood(url: str, requests: int, concurrency: int) -> tuple[Counter[int], set[str], float]:
    """`requests` GETs with distinct wrong tokens over `concurrency` connections."""
    codes: Counter[int] = Counter()
    retry_after: set[str] = set()
    left = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as c:

        async def lane() -> None:
            for _ in left:
                r = await c.get(url, headers={"Authorization": f"Bearer sf_{secrets.token_urlsafe(24)}"})
                codes[r.status_code] += 1
                if r.status_code == 429:
                    retry_after.add(r.headers.get("Retry-After", "(none)"))

        t = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(concurrency)))
        return codes, retry_after, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000, help="wrong-token requests in the flood")
    ap.add_argument("--concurrency", type=int, default=4, help="the flood's connections")
    ap.add_argument("--reads", type=int, default=200, help="the valid client's baseline reads")
    args = ap.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="songforge-authf-"))
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "SONGFORGE_MAX_SECONDS_OVERRIDE": "4",
        "SONGFORGE_DATABASE_URL": "",
    }
    try:
        port = free_port()
        log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - the child writes to it
        proc = subprocess.Popen(
            [sys.executable, "-m", "songforge", "serve", "--port", str(port), "--data-dir", str(data_dir),
             "--workers", "0", "--log-level", "warning"],
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
            token_args = [sys.executable, "-m", "songforge", "token", "create", "--data-dir", str(data_dir)]
            out = subprocess.run(token_args, capture_output=True, text=True, check=True, env=env)
            h = {"Authorization": f"Bearer {out.stdout.strip().splitlines()[-1]}"}
            api = base + "/v1/tempolor"
            with httpx.Client(headers=h, timeout=60) as c:
                c.post(
                    api + "/accounts", json={"requestParams": {"user_id": "v"}, "maxJobs": 10}
                ).raise_for_status()
                r = c.post(api + "/music/instrumental", json={"prompt": "soft piano", "user_id": "v"})
                r.raise_for_status()
                url = f"{api}/music/{r.json()['jobs'][0]}"
            timed_reads(url, h, 10)  # warm-up
            baseline = timed_reads(url, h, args.reads)
            stop = multiprocessing.Event()
            mine, theirs = multiprocessing.Pipe(duplex=False)
            valid = multiprocessing.Process(target=reader, args=(url, h, stop, theirs))
            valid.start()
            time.sleep(0.5)
            codes, retry_after, elapsed = asyncio.run(flood(url, args.requests, args.concurrency))
            stop.set()
            during, valid_codes = mine.recv()
            valid.join(30)
        finally:
            proc.terminate()
            proc.wait(30)
            log.close()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    print(
        f"auth_failures (SQLite, `serve --workers 0`): {args.requests} wrong tokens (all distinct) from one "
        f"client over {args.concurrency} connections in {elapsed:.2f} s "
        f"= {args.requests / elapsed:.0f} req/s; "
        f"answers {dict(sorted(codes.items()))}; Retry-After values {sorted(retry_after)}; "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )
    print(
        f"valid client's GET /music/{{job_id}}: baseline ({len(baseline)} reads, no flood) "
        f"p50 {pct(baseline, 50):.1f} ms  p99 {pct(baseline, 99):.1f} ms; during the flood "
        f"({len(during)} reads, answers {valid_codes}) "
        f"p50 {pct(during, 50):.1f} ms  p99 {pct(during, 99):.1f} ms  "
        f"max {max(during):.0f} ms"
    )


if __name__ == "__main__":
    main()
