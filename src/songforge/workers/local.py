"""Local worker processes: N processes that take jobs from the database queue.

Generation is CPU-heavy and runs synchronous library code, so it lives in separate processes
(never the server's event loop), at a lower CPU priority so the API keeps answering status
reads quickly while the machine is busy: each job runs in a thread that lowers its own priority,
while the loop that waits for work and claims it keeps the server's (`workers.priority`). The
server supervises them: a worker that dies is restarted and the jobs it held are requeued (or
failed) at once, and jobs whose worker stopped renewing its lease are requeued or failed.

Idle workers are woken, not left to find work by polling: after the server commits new jobs (or its
supervisor requeues some) it writes a line into each worker's pipe, and an idle worker waits on its
pipe, so the wait from acceptance to a claim is the time to wake a process. The line names the new
jobs, in a different order for each worker (worker k first the k-th), and a worker's claim prefers
them (`queue.claim_next(prefer=...)`, a tie-break among one request's variations): two idle workers
woken for a request's two variations each take their own at once, where both used to race for the
first and the loser paid a second claim round (and, on SQLite, the wait for the winner's lock).
A pipe and not a multiprocessing Event: Event.set() waits, under a lock, until every sleeping
worker has been scheduled, which stalled the submitting request (and the workers' own clear())
behind the slowest low-priority process on a busy machine; a non-blocking write of one short line
never waits for anyone.
The short poll remains as a fallback for work the server's own commits do not announce (uploads,
other processes writing the same database).

Workers die with the server: each asks the kernel for SIGKILL when its parent goes (Linux) and
also checks its parent pid, so a `kill -9` of the server never leaves orphans generating.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing as mp
import os
import secrets
import select
import signal
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any

from songforge.config import Settings
from songforge.core import queue
from songforge.store import worker_engines
from songforge.store.models import Job
from songforge.workers import scratch, uploads_dispatch
from songforge.workers.context import WorkerContext
from songforge.workers.engine_report import EngineReport
from songforge.workers.prctl import signal_with_parent
from songforge.workers.priority import run_low
from songforge.workers.retention import PRUNE_CHECK_SECONDS, prune_if_due

log = logging.getLogger("songforge.workers")

IDLE_POLL_SECONDS = 0.2
REAP_EVERY_SECONDS = 5.0


def worker_main(
    settings: Settings,
    worker_id: str,
    parent_pid: int,
    setup: Callable[[], None] | None = None,
    wake: Any | None = None,
) -> None:
    """Entry point of one worker process. `setup` is the composition root's per-process set-up
    (`songforge.wiring.install`: the dialects' event subscribers), run before any job is touched.
    `wake` is the read end of this worker's wake-up pipe (a byte in it: there may be new work)."""
    signal_with_parent(signal.SIGKILL)
    if os.getppid() != parent_pid:
        return
    if setup is not None:
        setup()
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {worker_id} %(levelname)s %(message)s")
    from songforge.workers.measure import start_warm_up

    # The imports and the analysis warm-up are heavy: low priority, like every job (workers.priority).
    run_low(start_warm_up)
    stopping = False

    def _on_term(_sig: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ctx = WorkerContext.from_settings(settings, worker_id)
    # Which engines this worker has and whether each is ready (`songforge engines`, /metrics, the
    # studio's model list); re-checked between jobs, kept alive during one by the pool's `reap`.
    report = EngineReport(ctx.db, worker_id, "local")
    report.send()
    if wake is not None:
        os.set_blocking(wake.fileno(), False)
    try:
        while not stopping and os.getppid() == parent_pid:
            report.beat()
            # Drained before looking, so a job committed after the look leaves a byte that ends
            # the wait below at once: no wake-up is lost between the look and the wait.
            named = _woken_for(_drain(wake.fileno())) if wake is not None else []
            if not run_one(ctx, named):
                if wake is not None:
                    select.select([wake.fileno()], [], [], IDLE_POLL_SECONDS)
                else:
                    time.sleep(IDLE_POLL_SECONDS)
    finally:
        report.forget()
        ctx.db.dispose()


def _drain(fd: int) -> bytes:
    """Everything in the wake-up pipe (b"" when nothing was)."""
    chunks = []
    try:
        while chunk := os.read(fd, 4096):
            chunks.append(chunk)
    except BlockingIOError:
        pass
    return b"".join(chunks)


def _wake_line(item_ids: list[str], slot: int) -> bytes:
    """What `WorkerPool.wake_up` writes to the worker in `slot`: the new jobs' ids, that worker's
    own first (the `slot`-th, cyclically), one line well under PIPE_BUF so the write is atomic."""
    ids = item_ids[: queue.PREFER_MAX]
    if not ids:
        return b"!\n"
    k = slot % len(ids)
    return (",".join(ids[k:] + ids[:k]) + "\n").encode()


def _woken_for(data: bytes) -> list[str]:
    """The job ids the wake-up lines in `data` name, the latest line's first: what to prefer."""
    named: list[str] = []
    for line in reversed(data.split(b"\n")):
        for item_id in line.decode("ascii", "replace").split(","):
            if item_id.isalnum() and item_id not in named:
                named.append(item_id)
    return named[: queue.PREFER_MAX]


def run_one(ctx: WorkerContext, prefer: list[str] | None = None) -> bool:
    """Claims and runs one unit of work. False when there was nothing to do. `prefer`: the music
    jobs this worker was woken for (`queue.claim_next`).

    Uploads (voice analysis, stems) go first: they are short, and their POST waits for them. The
    music claim leaves the queue alone while one waits (`unless`), so a wake-up for a music job
    costs one statement, not an uploads read and then the claim. An upload that another worker
    took between the two leaves this one idle until its next look (`IDLE_POLL_SECONDS`).
    """
    job = queue.claim_next(
        ctx.db, ctx.worker_id, prefer=prefer or (), unless=uploads_dispatch.UPLOADS_WAITING
    )
    if job is None:
        return uploads_dispatch.run_one(ctx, run=run_low)
    from songforge.workers.generate import run_music_job

    outcome = run_low(run_music_job, ctx, job)
    log.info("job %s %s", job.item_id, outcome)
    return True


class WorkerPool:
    """Starts and supervises the worker processes of one server."""

    def __init__(
        self, settings: Settings, count: int | None = None, *, setup: Callable[[], None] | None = None
    ) -> None:
        """`setup` runs first in every worker process (it must be picklable: a module-level
        function such as `songforge.wiring.install`)."""
        self.settings = settings
        self.setup = setup
        self.count = max(0, count if count is not None else settings.workers)
        self.boot_id = "w" + secrets.token_hex(4)
        self._ctx = mp.get_context("spawn")
        self.procs: dict[str, BaseProcess] = {}
        self.worker_ids: dict[str, str] = {}
        self._serial = 0
        self._wakers: dict[str, Any] = {}  # slot -> write end of that worker's wake-up pipe

    def wake_up(self, item_ids: list[str] | None = None) -> None:
        """Tells idle workers there is work (a `Database.on_jobs_queued` hook: after the commit),
        naming the new jobs (`item_ids`), each worker's own first (`_wake_line`).
        Never blocks: a full pipe already holds a wake-up, a closed one belongs to a dead worker."""
        for slot, writer in list(self._wakers.items()):
            try:
                os.write(writer.fileno(), _wake_line(list(item_ids or ()), int(slot)))
            except OSError:  # BlockingIOError (full), BrokenPipeError, a closed fd
                pass

    def _spawn(self, slot: int) -> None:
        self._serial += 1
        worker_id = f"{self.boot_id}-{slot}-{self._serial}"
        reader, writer = self._ctx.Pipe(duplex=False)
        os.set_blocking(reader.fileno(), False)
        os.set_blocking(writer.fileno(), False)
        proc = self._ctx.Process(
            target=worker_main,
            args=(self.settings, worker_id, os.getpid(), self.setup, reader),
            name=f"songforge-{worker_id}",
            daemon=True,
        )
        proc.start()
        reader.close()  # the child has its own copy
        old = self._wakers.pop(f"{slot}", None)
        if old is not None:
            old.close()
        self.procs[f"{slot}"] = proc
        self.worker_ids[f"{slot}"] = worker_id
        self._wakers[f"{slot}"] = writer

    def start(self) -> None:
        ctx = WorkerContext.from_settings(self.settings, self.boot_id)
        try:
            counts = queue.recover_orphans(ctx.db, self.boot_id)
            uploads_dispatch.recover(ctx)
            if counts["requeued"] or counts["failed"]:
                log.warning("recovered interrupted jobs: %s", counts)
            scratch.clean_leftovers(ctx.db, self.settings.data_dir)  # what the interrupted jobs left
        finally:
            ctx.db.dispose()
        for slot in range(self.count):
            self._spawn(slot)

    def check(self) -> list[str]:
        """Restarts dead workers; returns the ids of those that died (their jobs: `recover`)."""
        dead = []
        for slot, proc in list(self.procs.items()):
            if not proc.is_alive():
                log.warning("worker %s exited (%s); restarting", proc.name, proc.exitcode)
                dead.append(self.worker_ids.get(slot, ""))
                self._spawn(int(slot))
        return [d for d in dead if d]

    def recover(self, worker_ids: list[str]) -> None:
        """Requeues (or fails) the jobs of dead workers now rather than when their leases run out."""
        ctx = WorkerContext.from_settings(self.settings, self.boot_id)
        try:
            worker_engines.forget(ctx.db, worker_ids)  # their models leave the lists at once
            for worker_id in worker_ids:
                counts = queue.recover_worker(ctx.db, worker_id)
                if counts["requeued"] or counts["failed"]:
                    log.warning("recovered the jobs of dead worker %s: %s", worker_id, counts)
                if counts["requeued"]:
                    self.wake_up()
        finally:
            ctx.db.dispose()

    def reap(self) -> None:
        ctx = WorkerContext.from_settings(self.settings, self.boot_id)
        try:
            counts = queue.reap_expired(ctx.db)
            counts["timed_out"] = queue.fail_overdue(ctx.db, self.settings.job_timeout_seconds * 1000)
            if counts["requeued"] or counts["failed"] or counts["timed_out"]:
                log.warning("reaped stale jobs: %s", counts)
            if counts["requeued"]:
                self.wake_up()
            # The supervision round is these workers' heartbeat while they are busy: a local worker
            # reports its engines between jobs only, and one generation may outlast the live window.
            alive = [self.worker_ids[slot] for slot, proc in self.procs.items() if proc.is_alive()]
            worker_engines.touch(ctx.db, alive)
        finally:
            ctx.db.dispose()

    async def supervise(self, stop: asyncio.Event) -> None:
        last_reap = 0.0
        last_prune = 0.0
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=1.0)
                break
            except TimeoutError:
                pass
            try:
                dead = self.check()
                if dead:
                    await asyncio.to_thread(self.recover, dead)
                if time.monotonic() - last_reap > REAP_EVERY_SECONDS:
                    last_reap = time.monotonic()
                    await asyncio.to_thread(self.reap)
                if self.settings.retention_days and time.monotonic() - last_prune > PRUNE_CHECK_SECONDS:
                    last_prune = time.monotonic()
                    await asyncio.to_thread(self.prune)
            except Exception:  # noqa: BLE001 - supervision must outlive one bad round
                log.exception("worker supervision round failed")

    def prune(self) -> None:
        """Applies `Settings.retention_days` once an hour per deployment: `supervise` asks each
        minute, and the process (this server or a `songforge worker`) that takes the hour's turn
        prunes (`workers.retention.prune_if_due`)."""
        if not self.settings.retention_days:
            return
        ctx = WorkerContext.from_settings(self.settings, self.boot_id)
        try:
            pruned = prune_if_due(ctx.db, ctx.blobs, self.settings.retention_days, self.boot_id)
            if pruned is not None and pruned.jobs:
                log.info("retention: deleted %d finished job(s) and their files", pruned.jobs)
        finally:
            ctx.db.dispose()

    def stop(self, timeout: float = 5.0) -> None:
        """Stops the workers and puts the jobs they held back in the queue, without counting
        the interrupted attempt: a graceful restart should not use up a job's retries."""
        for proc in self.procs.values():
            if proc.is_alive():
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(1)
        self.procs.clear()
        for writer in self._wakers.values():
            writer.close()
        self._wakers.clear()
        ctx = WorkerContext.from_settings(self.settings, self.boot_id)
        try:
            queue.hand_back(ctx.db, Job.worker_id.like(f"{self.boot_id}-%"))
            worker_engines.forget(ctx.db, prefix=f"{self.boot_id}-")
        finally:
            ctx.db.dispose()
