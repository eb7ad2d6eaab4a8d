"""What an idle worker's claim costs, in this process: statements, CPU and wall per claim (issue 17).

What it does: a fresh database (SQLite under a temp dir, or with --pg a throwaway PostgreSQL
database on 127.0.0.1:5432, dropped afterwards), migrated as the server migrates it, one tenant
and account. Then, `--rounds` times: one request is admitted (`scheduler.submit`, two variations,
as the API does), and the path an idle local worker takes when woken is timed for each of the two
jobs: its uploads check and its claim (`core.queue.claim_next`, preferring the job it was woken
for; a checkout from before the claim carried the uploads condition runs
`workers.uploads_dispatch.run_one` first, as its worker did). The jobs are then finished, so
the active set stays two rows as in `queue_latency.py`. Printed: p50/p99 of the wall time and of
this thread's CPU time per claim, and the SQL statements per claim (counted at the cursor).

The wall figure on PostgreSQL includes the round trips (127.0.0.1); the CPU figure is what the
worker's Python spends, the part a busy machine multiplies. Compare versions within one run
(`--compare DIR`: the same measure on another checkout's `src`, in a child process, alternating).

    .venv/bin/python benchmarks/claim_cost.py [--pg] [--rounds 300] [--compare /tmp/base/src]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from scratch_pg import throwaway_pg


@contextlib.contextmanager
def database(pg: bool, data_dir: Path) -> Iterator[str]:
    if not pg:
        yield f"sqlite:///{data_dir / 'songforge.db'}"
        return
    with throwaway_pg("songforge_claim") as url:
        yield url


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def measure(pg: bool, rounds: int) -> dict[str, list[float]]:
    """The timings of `rounds` requests' claims in this process, on the `songforge` importable here."""
    from sqlalchemy import event, update

    from songforge.config import Settings
    from songforge.core import accounts, queue, scheduler, tenants
    from songforge.core.states import JobState
    from songforge.dialects.tempolor_v1.params import parse_music_params
    from songforge.store.migrate import upgrade_database
    from songforge.store.models import Job
    from songforge.workers import uploads_dispatch
    from songforge.workers.context import WorkerContext

    data_dir = Path(tempfile.mkdtemp(prefix="songforge-claim-"))
    out: dict[str, list[float]] = {"wall_ms": [], "cpu_ms": [], "statements": []}
    with database(pg, data_dir) as url:
        upgrade_database(url)
        settings = Settings(data_dir=data_dir, database_url=url if pg else None, workers=0)
        ctx = WorkerContext.from_settings(settings, "bench-worker")
        db = ctx.db
        statements = 0

        def count(*_args: object) -> None:
            nonlocal statements
            statements += 1

        event.listen(db.engine, "before_cursor_execute", count)
        with db.session() as s:
            tenant_id = tenants.create_token(s, "claim").tenant_id
            accounts.upsert_account(s, tenant_id, {"user_id": "u"}, 10)
        request = parse_music_params("instrumental", {"prompt": "soft piano"})
        unless = getattr(uploads_dispatch, "UPLOADS_WAITING", None)

        def wake_path(item_id: str) -> Job | None:
            """What `workers.local.run_one` does before running the job, in this checkout's order."""
            if unless is None:  # before the claim carried the uploads check: a read, then the claim
                assert not uploads_dispatch.run_one(ctx)
                return queue.claim_next(db, ctx.worker_id, prefer=[item_id])
            return queue.claim_next(db, ctx.worker_id, prefer=[item_id], unless=unless)

        for _ in range(rounds):
            with db.session() as s:
                account = accounts.get_account(s, tenant_id, "u")
                assert account is not None
                ids = [j.item_id for j in scheduler.submit(s, account=account, request=request)]
            for item_id in ids:
                statements = 0
                c0, w0 = time.thread_time(), time.perf_counter()
                job = wake_path(item_id)
                w1, c1 = time.perf_counter(), time.thread_time()
                assert job is not None
                out["wall_ms"].append((w1 - w0) * 1000)
                out["cpu_ms"].append((c1 - c0) * 1000)
                out["statements"].append(statements)
            with db.session() as s:
                s.execute(update(Job).where(Job.item_id.in_(ids)).values(state=JobState.COMPLETED))
        db.dispose()
    return out


def summary(label: str, timings: dict[str, list[float]]) -> str:
    w, c, n = timings["wall_ms"], timings["cpu_ms"], timings["statements"]
    return (
        f"{label}: {len(w)} claims; wall p50 {pct(w, 50):.2f} ms p99 {pct(w, 99):.2f} ms; "
        f"CPU p50 {pct(c, 50):.2f} ms p99 {pct(c, 99):.2f} ms; "
        f"statements per claim {statistics.median(n):.0f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg", action="store_true")
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--compare", help="another checkout's src directory, measured in alternation")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.pg, args.rounds)))
        return
    runs = [("this checkout", os.environ.get("PYTHONPATH", ""))]
    if args.compare:
        runs.append((args.compare, args.compare))
    merged: dict[str, dict[str, list[float]]] = {}
    for _ in range(2):  # alternating halves: the machine's load drifts
        for label, path in runs:
            env = {**os.environ, "PYTHONPATH": path} if path else dict(os.environ)
            if not path:
                env.pop("PYTHONPATH", None)
            cmd = [sys.executable, __file__, "--child", "--rounds", str(args.rounds // 2)]
            cmd += ["--pg"] if args.pg else []
            got = json.loads(subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout)
            into = merged.setdefault(label, {"wall_ms": [], "cpu_ms": [], "statements": []})
            for k, v in got.items():
                into[k] += v
    load = os.getloadavg()[0]
    print(f"claim_cost ({'PostgreSQL' if args.pg else 'SQLite'}), one idle worker's wake path per job "
          f"(uploads check + claim_next), load average {load:.2f} on {os.cpu_count()} cores")  # fmt: skip
    for label, timings in merged.items():
        print(summary(label, timings))


if __name__ == "__main__":
    main()
