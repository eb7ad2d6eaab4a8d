"""Status-read throughput while the machine is generating.

What it does: starts its own `songforge serve` (temp data dir, default workers = one per core),
creates a token and an account, queues enough instrumental requests that the workers generate for
the whole run, then runs 50 concurrent keep-alive clients for 20 s: 48 poll GET /music/{job_id}
(cycling over the queued jobs), 2 submit POST /music/instrumental back to back (429s once the
account is full count as answered requests, not errors). It prints requests/s and p50/p99
latency per kind, and the run's parameters.

The load generator is a minimal HTTP/1.1 client on asyncio streams (uvloop when available)
rather than httpx, because on a 2-core machine the client shares the CPU with the server and
its workers: a heavy client would measure itself. It runs in this process, so the figure
includes that contention, as a real co-located poller would.

    .venv/bin/python benchmarks/api_load.py [--seconds 20] [--clients 50] [--workers N] [--api-processes N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Conn:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port, self.token = host, port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, body: bytes = b"") -> int:
        assert self.reader is not None and self.writer is not None
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {self.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        if length:
            await self.reader.readexactly(length)
        return status


async def run_load(port: int, token: str, job_ids: list[str], seconds: float, clients: int) -> dict:
    reads: list[float] = []
    writes: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    stop_at = time.perf_counter() + seconds
    submit = json.dumps({"prompt": "lo-fi piano beat", "model_instrumental": "i3"}).encode()

    async def reader(i: int) -> None:
        nonlocal errors
        conn = Conn("127.0.0.1", port, token)
        await conn.open()
        k = i
        while time.perf_counter() < stop_at:
            path = "/v1/tempolor/music/" + job_ids[k % len(job_ids)]
            k += 1
            t0 = time.perf_counter()
            try:
                status = await conn.request("GET", path)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                await conn.open()
                continue
            reads.append(time.perf_counter() - t0)
            statuses[status] = statuses.get(status, 0) + 1

    async def writer() -> None:
        nonlocal errors
        conn = Conn("127.0.0.1", port, token)
        await conn.open()
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            try:
                status = await conn.request("POST", "/v1/tempolor/music/instrumental", submit)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                await conn.open()
                continue
            writes.append(time.perf_counter() - t0)
            statuses[status] = statuses.get(status, 0) + 1

    n_writers = 2 if clients >= 4 else 0
    started = time.perf_counter()
    await asyncio.gather(
        *(reader(i) for i in range(clients - n_writers)), *(writer() for _ in range(n_writers))
    )
    elapsed = time.perf_counter() - started
    return {"reads": reads, "writes": writes, "statuses": statuses, "errors": errors, "elapsed": elapsed}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000
        if len(values) > 1
        else values[0] * 1000
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument(
        "--api-processes", type=int, default=None, help="serve --api-processes (default: the server's own)"
    )
    args = ap.parse_args()
    if args.api_processes is None:
        from songforge.config import default_api_processes

        args.api_processes = default_api_processes()

    data_dir = Path(tempfile.mkdtemp(prefix="songforge-bench-"))
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("SONGFORGE_MAX_SECONDS_OVERRIDE", None)  # real generation lengths keep workers busy
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "songforge", "serve", "--port", str(port), "--data-dir", str(data_dir),
         "--workers", str(args.workers), "--api-processes", str(args.api_processes),
         "--log-level", "warning"],
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
        out = subprocess.run(
            [sys.executable, "-m", "songforge", "token", "create", "--data-dir", str(data_dir)],
            capture_output=True, text=True, check=True, env=env,
        )  # fmt: skip
        token = out.stdout.strip().splitlines()[-1]
        h = {"Authorization": f"Bearer {token}"}
        api = base + "/v1/tempolor"
        httpx.post(api + "/accounts", json={"requestParams": {"user_id": "bench"}, "maxJobs": 100}, headers=h)
        job_ids: list[str] = []
        for _ in range(20):
            r = httpx.post(
                api + "/music/instrumental", json={"prompt": "cinematic strings"}, headers=h, timeout=30
            )
            job_ids += r.json()["jobs"]
        # let the workers get going so the run measures reads *during* generation
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            sched = httpx.get(api + "/scheduler/", headers=h).json()
            if sum(1 for e in sched if e.get("state") == "running") >= min(args.workers, 1):
                break
            time.sleep(0.2)
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:  # pragma: no cover
            runner = asyncio.run
        res = runner(run_load(port, token, job_ids, args.seconds, args.clients))
        sched = httpx.get(api + "/scheduler/", headers=h).json()
        running = sum(1 for e in sched if e.get("state") == "running")
        done = sum(
            1
            for j in job_ids
            if httpx.get(f"{api}/music/{j}", headers=h).json().get("status_name") == "COMPLETED"
        )
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()

    reads, writes, elapsed = res["reads"], res["writes"], res["elapsed"]
    print(
        f"api_load: {args.clients} clients ({args.clients - 2} polling GET /music/{{job_id}}, 2 submitting "
        f"POST /music/instrumental) for {elapsed:.1f} s; server with {args.api_processes} API "
        f"process(es) and {args.workers} worker process(es) "
        f"generating throughout ({running} running at the end, {done} of the first {len(job_ids)} completed)"
    )
    print(f"machine: {os.cpu_count()} cores, load average before/after: {os.getloadavg()[0]:.2f}")
    print(
        f"GET  /music/{{job_id}}:       {len(reads) / elapsed:8.1f} req/s   p50 {pct(reads, 50):6.2f} ms   "
        f"p99 {pct(reads, 99):6.2f} ms   (n={len(reads)})"
    )
    print(
        f"POST /music/instrumental:  {len(writes) / elapsed:8.1f} req/s   p50 {pct(writes, 50):6.2f} ms   "
        f"p99 {pct(writes, 99):6.2f} ms   (n={len(writes)})"
    )
    print(f"status codes: {dict(sorted(res['statuses'].items()))}   connection errors: {res['errors']}")


if __name__ == "__main__":
    main()
