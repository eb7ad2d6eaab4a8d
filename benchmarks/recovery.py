"""Recovery without dead time: a job whose worker is killed mid-generation, until it runs again.

What it does: starts a server as queue_latency.py does (SQLite and a local pool, or with --queue
PostgreSQL, Dramatiq on Redis, moto S3 and `songforge worker` processes), with 3 workers, so that
when one request's two variations are running one worker is idle. Each round submits one request,
waits until both jobs have run for `--after` seconds, SIGKILLs the process of the first one's
worker (its `--id` in the job row with --queue; with a local pool, the busier of the server's
worker processes by CPU time), then reads both jobs' rows until one has a new attempt (`attempts`
up and `started_ms` after the kill). The
figure is kill -> the new attempt's `started_ms`, per round, and the round's other job must still
complete. With --queue the killed worker is started again between rounds.

With a local pool the server sees its worker die and requeues its job at once; a `songforge
worker`'s death is seen by the other workers when its named Redis connection has been gone for
3 s (`workers.presence`), and its job requeued then; the lease (`SONGFORGE_LEASE_SECONDS`) is
only the backstop for a worker that vanishes without its connection closing.

    nice -n 10 .venv/bin/python benchmarks/recovery.py [--rounds 5] [--queue] [--after 1.5]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from queue_latency import (  # noqa: E402
    ROOT,
    create_token,
    database,
    free_port,
    scale_out,
    wait_for_workers,
    wait_healthy,
)

WORKERS = 3


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(line.split()[0]) for line in out.stdout.splitlines() if "multiprocessing.spawn" in line]


def _cpu(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except OSError:
        return -1


def _busiest(pids: list[int], n: int) -> list[int]:
    """The `n` processes that used the most CPU over half a second."""
    before = {p: _cpu(p) for p in pids}
    time.sleep(0.5)
    return sorted(pids, key=lambda p: _cpu(p) - before[p], reverse=True)[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--queue", action="store_true", help="PostgreSQL, Redis and `songforge worker`s")
    ap.add_argument("--after", type=float, default=1.5, help="seconds of running before the kill")
    args = ap.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="songforge-recovery-"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SONGFORGE_MAX_SECONDS_OVERRIDE": "90"}
    if args.queue:
        env.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    results: list[tuple[float, str]] = []
    try:
        with database(args.queue, data_dir) as url, contextlib.ExitStack() as stack:
            env["SONGFORGE_DATABASE_URL"] = url if args.queue else ""
            queue_args = stack.enter_context(scale_out(data_dir, env, True)) if args.queue else []
            port = free_port()
            log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - the child writes to it
            proc = subprocess.Popen(
                [sys.executable, "-m", "songforge", "serve", "--port", str(port), "--data-dir", str(data_dir),
                 "--workers", "0" if args.queue else str(WORKERS), "--log-level", "warning", *queue_args],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
            )  # fmt: skip
            workers: dict[str, subprocess.Popen[bytes]] = {}

            def start_worker(name: str) -> None:
                worker_args = [sys.executable, "-m", "songforge", "worker", "--id", name,
                               "--data-dir", str(data_dir / name), "--log-level", "warning",
                               *queue_args]  # fmt: skip
                with open(data_dir / f"{name}.log", "ab") as wl:
                    workers[name] = subprocess.Popen(
                        worker_args, stdout=wl, stderr=subprocess.STDOUT, env=env, cwd=ROOT
                    )

            for i in range(WORKERS if args.queue else 0):
                start_worker(f"bench{i}")
            engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
            try:
                base = f"http://127.0.0.1:{port}"
                wait_healthy(base)
                h = {"Authorization": f"Bearer {create_token(data_dir, env)}"}
                api = base + "/v1/tempolor"

                def row(item_id: str) -> tuple[str, str | None, int, int | None]:
                    with engine.connect() as conn:
                        r = conn.execute(
                            text(
                                "SELECT state, worker_id, attempts, started_ms FROM jobs WHERE item_id = :i"
                            ),
                            {"i": item_id},
                        ).one()
                    return str(r[0]), r[1], int(r[2]), r[3]

                with httpx.Client(headers=h, timeout=60) as c:
                    c.post(api + "/accounts", json={"requestParams": {"user_id": "r"}, "maxJobs": 10})
                    for _ in range(args.rounds):
                        wait_for_workers(url, WORKERS, deadline=time.monotonic() + 600)
                        time.sleep(2)
                        r = c.post(
                            api + "/music/instrumental", json={"prompt": "steady rock", "user_id": "r"}
                        )
                        r.raise_for_status()
                        items = r.json()["itemIds"]
                        deadline = time.monotonic() + 120
                        while time.monotonic() < deadline and not all(row(i)[0] == "running" for i in items):
                            time.sleep(0.05)
                        time.sleep(args.after)
                        before = {i: row(i) for i in items}
                        if any(b[0] != "running" or b[1] is None for b in before.values()):
                            raise SystemExit(f"not both running after {args.after} s: {before}")
                        if args.queue:
                            victim = workers[str(before[items[0]][1])].pid
                        else:
                            # The two busiest of the server's worker processes run the two jobs, in
                            # no order known here: the busier one is killed, and the job that then
                            # gets a new attempt is the one followed.
                            victim = _busiest(_children(proc.pid), 2)[0]
                        killed_ms = time.time() * 1000
                        os.kill(victim, signal.SIGKILL)
                        deadline = time.monotonic() + 120
                        again: tuple[str, int] | None = None
                        while again is None and time.monotonic() < deadline:
                            for i in items:
                                _, _, attempts_now, started = row(i)
                                if (
                                    attempts_now > before[i][2]
                                    and started is not None
                                    and started > killed_ms
                                ):
                                    again = (i, started)
                            time.sleep(0.02)
                        if again is None:
                            raise SystemExit("no job ran again within 120 s of the kill")
                        followed, started = again
                        results.append(((started - killed_ms) / 1000, followed))
                        print(
                            f"round {len(results)}: job {followed} ran again "
                            f"{results[-1][0]:.2f} s after the kill"
                        )
                        deadline = time.monotonic() + 240
                        while time.monotonic() < deadline and not all(
                            row(i)[0] in ("completed", "failed") for i in items
                        ):
                            time.sleep(0.2)
                        print(f"  final states: {[row(i)[0] for i in items]}")
                        if args.queue:
                            for name, p in list(workers.items()):
                                if p.poll() is not None:
                                    start_worker(name)
            finally:
                engine.dispose()
                for p in [proc, *workers.values()]:
                    p.terminate()
                for p in [proc, *workers.values()]:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        p.wait(20)
                log.close()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    shape = (
        "PostgreSQL, Dramatiq on Redis, 3 `songforge worker`s" if args.queue else "SQLite, local pool of 3"
    )
    secs = sorted(s for s, _ in results)
    print(
        f"recovery ({shape}): {len(secs)} kills mid-job; kill -> running again "
        f"median {secs[len(secs) // 2]:.2f} s"
        f"  max {secs[-1]:.2f} s; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
