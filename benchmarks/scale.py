"""Scale-out throughput and queueing overhead: PostgreSQL + Redis (Dramatiq) + S3 (moto).

What it does: creates a fresh PostgreSQL database, takes a free Redis database index, starts a
moto S3 server, one `songforge serve --queue ... --blob-store s3://...` API process, and then:

1. Throughput, with 1 and then 2 `songforge worker` processes: submits REQUESTS requests (two
   variations each) at once and times first submission -> last job COMPLETED (files in S3).
   jobs/min = jobs / that time. Music length is capped (SONGFORGE_MAX_SECONDS_OVERRIDE, default
   8 s) so a run takes minutes, not hours; the ratio is what the figure is about.
2. Queueing overhead, with 2 idle workers: ROUNDS times, one request (2 jobs, one per worker)
   is submitted and, per job, started_ms - queued_ms is read from the database (acceptance commit
   -> Redis -> a worker's conditional claim). Printed as p50/p99 over all jobs.

    .venv/bin/python benchmarks/scale.py [--requests 8] [--rounds 15] [--seconds 8] [--engine-threads 1]

With --engine-threads 1 each job keeps to one core, so two workers can use two cores; with 2 (the
engine's default) one job already keeps both cores busy and a second worker has nothing to add.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust) and Redis on 127.0.0.1:6379 (.ci/run
starts both).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import redis
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
S3_ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def songforge(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115 - the child writes to it
    proc = subprocess.Popen(
        [sys.executable, "-m", "songforge", *args], stdout=out, stderr=subprocess.STDOUT, env=env
    )
    out.close()
    return proc


def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return sum(fields) - idle, sum(fields)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument(
        "--engine-threads",
        type=int,
        default=1,
        help="FluidSynth processes per job (SONGFORGE_ENGINE_THREADS); 1 keeps each job on one core",
    )
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="songforge-scale-"))
    dbname = f"songforge_bench_{secrets.token_hex(3)}"
    admin = create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{dbname}"'))
    db_url = f"postgresql://postgres@127.0.0.1:5432/{dbname}"
    index = next(i for i in range(15, 0, -1) if redis.Redis(db=i).dbsize() == 0)
    redis_url = f"redis://127.0.0.1:6379/{index}"
    s3_port = free_port()
    env = {
        **os.environ,
        **S3_ENV,
        "PYTHONUNBUFFERED": "1",
        "SONGFORGE_MAX_SECONDS_OVERRIDE": str(args.seconds),
        "SONGFORGE_ENGINE_THREADS": str(args.engine_threads),
    }
    procs: list[subprocess.Popen[bytes]] = []
    engine = create_engine("postgresql+psycopg" + db_url.removeprefix("postgresql"))
    try:
        moto = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        procs.append(moto)
        endpoint = f"http://127.0.0.1:{s3_port}"
        wait_http(endpoint)
        import boto3

        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"],
        ).create_bucket(Bucket="bench")
        common = [
            "--database-url",
            db_url,
            "--queue",
            redis_url,
            "--blob-store",
            "s3://bench/b",
            "--s3-endpoint",
            endpoint,
        ]
        sf = [sys.executable, "-m", "songforge"]
        subprocess.run(
            [*sf, "db", "upgrade", "--database-url", db_url], check=True, env=env, capture_output=True
        )
        port = free_port()
        procs.append(
            songforge(
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(tmp / "api"),
                *common,
                env=env,
                log=tmp / "api.log",
            )
        )
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/healthz")
        out = subprocess.run(
            [*sf, "token", "create", "--database-url", db_url, "--data-dir", str(tmp / "cli")],
            check=True, env=env, capture_output=True, text=True,
        )  # fmt: skip
        token = out.stdout.strip().splitlines()[-1]
        client = httpx.Client(
            base_url=base + "/v1/tempolor", headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        client.post(
            "/accounts", json={"requestParams": {"user_id": "bench"}, "maxJobs": 100}
        ).raise_for_status()

        def submit(n: int) -> list[str]:
            ids = []
            for i in range(n):
                r = client.post(
                    "/music/instrumental", json={"prompt": f"upbeat pop song {i}", "user_id": "bench"}
                )
                r.raise_for_status()
                ids.extend(j.rsplit(":", 1)[-1] for j in r.json()["jobs"])
            return ids

        def wait_done(ids: list[str]) -> None:
            deadline = time.monotonic() + 1800
            while time.monotonic() < deadline:
                with engine.connect() as c:
                    rows = c.execute(
                        text("SELECT state FROM jobs WHERE item_id = ANY(:ids)"), {"ids": ids}
                    ).all()
                states = [r[0] for r in rows]
                if all(s in ("completed", "failed") for s in states):
                    failed = states.count("failed")
                    if failed:
                        raise RuntimeError(f"{failed} job(s) failed; see {tmp}")
                    return
                time.sleep(0.2)
            raise RuntimeError("jobs did not finish")

        workers: list[subprocess.Popen[bytes]] = []

        def scale_to(n: int) -> None:
            while len(workers) < n:
                k = len(workers) + 1
                w = songforge(
                    "worker", "--id", f"bench{k}", "--data-dir", str(tmp / f"w{k}"), *common,
                    env=env, log=tmp / f"w{k}.log",
                )  # fmt: skip
                workers.append(w)
                procs.append(w)
            time.sleep(3)  # imports and the first Redis poll

        # Warm-up: first job in each worker pays imports and SoundFont loading.
        results: dict[int, float] = {}
        busy: dict[int, float] = {}
        for n in (1, 2):
            scale_to(n)
            wait_done(submit(n))
            t0, (b0, a0) = time.monotonic(), cpu_times()
            ids = submit(args.requests)
            wait_done(ids)
            elapsed = time.monotonic() - t0
            b1, a1 = cpu_times()
            results[n] = len(ids) / elapsed * 60
            busy[n] = (b1 - b0) / max(1.0, a1 - a0) * 100
            print(
                f"{n} worker process(es): {len(ids)} jobs in {elapsed:.1f} s -> {results[n]:.1f} jobs/min, "
                f"machine CPU busy {busy[n]:.0f}%"
            )

        waits: list[float] = []
        for _ in range(args.rounds):
            ids = submit(1)
            wait_done(ids)
            with engine.connect() as c:
                rows = c.execute(
                    text("SELECT started_ms - queued_ms FROM jobs WHERE item_id = ANY(:ids)"), {"ids": ids}
                ).all()
            waits.extend(float(r[0]) for r in rows)
        cpu = os.cpu_count()
        print()
        jobs = args.requests * 2
        print(
            f"Throughput ({cpu} cores, {args.seconds:g} s of music per job, {jobs} jobs per run, "
            f"{args.engine_threads} FluidSynth process(es) per job):"
        )
        print(f"  1 worker : {results[1]:.1f} jobs/min (all {cpu} cores {busy[1]:.0f}% busy)")
        print(
            f"  2 workers: {results[2]:.1f} jobs/min  ({results[2] / results[1]:.2f}x; {busy[2]:.0f}% busy)"
        )
        print(
            f"Queueing overhead, submission commit -> worker claim, idle workers, {len(waits)} jobs: "
            f"p50 {statistics.median(waits):.0f} ms, p99 {pct(waits, 99):.0f} ms, max {max(waits):.0f} ms"
        )
        print(f"Setup: PostgreSQL {db_url}, Redis {redis_url} (Dramatiq), S3 = moto at {endpoint}")
        print(f"Logs: {tmp}")
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        engine.dispose()
        redis.Redis(db=index).flushdb()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
