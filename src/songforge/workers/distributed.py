"""Workers on many machines: jobs handed out through Dramatiq on Redis (`--queue redis://...`).

The database stays the source of truth; Redis only carries "job <id> is ready" messages.

- API processes send a message after the commit that queued a job (`dispatch_on_commit`), never
  before: a worker can always find the row it is told about.
- A worker that receives a message for a queued job claims the next job in the fair order across
  tenants (`core.queue.claim_next`, the conditional UPDATE queued -> running), which may be another
  job than the message's; that one is then sent again, so every queued job keeps a message.
  Delivery is at least once, so a duplicate, or a message for a job that is running, finished or
  was deleted, finds no queued row and is acknowledged without doing anything: one job id never
  produces two results or two final callbacks.
- While generating, the worker renews the job's lease (`workers.generate`); every later write
  is conditional on still holding it. A worker killed with SIGKILL stops renewing, and any
  surviving worker's maintenance round requeues the job in the database and sends it again.
- Messages can be lost (Redis restarted without persistence, a send that failed after the
  commit). When the Redis queue is empty but the database still has jobs queued for a while,
  maintenance sends those again; one process does so per round (a short Redis lock).
- A generation that outlives `job_timeout_seconds` is interrupted (Dramatiq's TimeLimit) and, in
  any case, failed by maintenance with the reason, whoever holds it.
- Retention (`SONGFORGE_RETENTION_DAYS`): every worker asks each minute whether this hour's prune
  is still to do, and the one whose conditional UPDATE of the `maintenance_runs` row matches does
  it (`workers.retention.prune_if_due`), in its own thread so a long prune never delays the
  maintenance rounds above.

Idle workers are woken, not left to find work by polling: Dramatiq's Redis consumer polls the queue
with a growing sleep (up to its idle timeout), which put tens of milliseconds between a commit and a
claim. Every send here also pushes a wake-up token onto a Redis list (`WAKE_KEY`) in the same round
trip, and an idle worker's consumer waits on that list with BLPOP instead of sleeping
(`_WokenConsumer`): one token wakes one idle worker, which fetches at once. The token is pushed
after the message, so a worker that found the queue empty and then waits sees it; stale tokens
(nobody was idle) cost one empty fetch each, and the list is capped. A busy consumer's wait ends
when its job is acknowledged, so a worker that finishes takes the next message at once. The idle
timeout remains as the fallback for messages sent without a token.

Each worker process runs one generation at a time (prefetch 1, so an idle worker elsewhere gets
the next message rather than a busy one hoarding it); run one process per core or per GPU.
Uploads (voice analysis, stems) are still claimed from the database between jobs, and the
callback outbox is drained here too, so a deployment does not depend on any one process type.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import compute_backoff
from dramatiq.errors import ConnectionClosed
from dramatiq.message import Message
from dramatiq.middleware import Retries, ShutdownNotifications, TimeLimit, TimeLimitExceeded
from sqlalchemy import select

from songforge.clock import now_ms
from songforge.config import Settings
from songforge.core import queue
from songforge.core.states import JobState
from songforge.store.db import Database
from songforge.store.models import Job
from songforge.workers import scratch
from songforge.workers.context import WorkerContext
from songforge.workers.retention import PRUNE_CHECK_SECONDS, prune_if_due

log = logging.getLogger("songforge.distributed")

NAMESPACE = "songforge"
QUEUE_NAME = "jobs"
ACTOR_NAME = "run_music_job"
MAINTENANCE_SECONDS = 2.0
STRANDED_AFTER_MS = 10_000
UPLOAD_POLL_SECONDS = 0.5
DEPLOYMENT_CHECK_SECONDS = 30.0  # how often a worker checks that the broker is still its deployment's
SCRATCH_SWEEP_SECONDS = 60.0  # how often a worker clears scratch directories crashed jobs left
# How long an idle worker waits for a wake-up before looking at the Redis queue again anyway.
IDLE_POLL_MS = 100
WAKE_KEY = f"{NAMESPACE}:wake:{QUEUE_NAME}"
WAKE_BACKLOG = 64  # wake-up tokens kept when no worker is idle to take them
# The deployment id (`songforge.store.deployment`) as the broker holds it: written by the first API or
# worker to start, compared by every later one (`claim_broker`), re-written by maintenance after a
# Redis restart without persistence.
DEPLOYMENT_KEY = f"{NAMESPACE}:deployment"


def _redis_client(url: str) -> redis.Redis:
    # Bounded timeouts: a send happens inside an API request, which must fail fast, not hang.
    return redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10, health_check_interval=30)


def broker_for_log(url: str) -> str:
    """The broker URL without its password (`redis://:secret@host/0` -> `redis://host/0`)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def claim_broker(url: str, deployment_id: str) -> str:
    """Stores `deployment_id` in the broker unless another id is there already, and returns the
    broker's id: the caller's own when the broker is new to it or already its own, another one when
    the broker is shared with processes on another database (a deployment mistake: those processes
    would take each other's job messages, find no such job in their database and drop them)."""
    client = _redis_client(url)
    try:
        client.set(DEPLOYMENT_KEY, deployment_id, nx=True)
        held = client.get(DEPLOYMENT_KEY)
    finally:
        client.close()
    return held.decode() if isinstance(held, bytes) else str(held or deployment_id)


class _WokenConsumer(_RedisConsumer):
    """Dramatiq's Redis consumer (`dramatiq.brokers.redis._RedisConsumer`, pinned version), whose
    waits end on an event instead of a fixed sleep: an idle consumer of the jobs queue blocks on the
    wake-up list (BLPOP, at most the idle timeout), a busy one until its message is acknowledged.
    Other queues (Dramatiq's delay queue) keep its backoff. Fetching, caching and acknowledging are
    Dramatiq's own. Dramatiq's Redis module is untyped: its calls below are marked so."""

    def __init__(self, broker: RedisBroker, queue_name: str, prefetch: int, timeout: int) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)  # type: ignore[no-untyped-call]
        self.wake_key = WAKE_KEY if queue_name == QUEUE_NAME else None
        self.settled = threading.Event()  # set by every ack or nack (from the worker thread)

    def ack(self, message: Any) -> None:
        try:
            super().ack(message)  # type: ignore[no-untyped-call]
        finally:
            self.settled.set()

    def nack(self, message: Any) -> None:
        try:
            super().nack(message)  # type: ignore[no-untyped-call]
        finally:
            self.settled.set()

    def __next__(self) -> Any:
        try:
            while True:
                if self.message_cache:
                    data = self.message_cache.pop(0)
                    if data is None:  # as Dramatiq's own consumer: skip, see its issue 266
                        continue
                    self.misses = 0
                    message = Message.decode(data)
                    self.queued_message_ids.add(message.message_id)
                    return dramatiq.MessageProxy(message)
                self.settled.clear()  # before the look: an ack after it ends the wait below
                free = self.prefetch - self.outstanding_message_count
                if free > 0:
                    self.message_cache = self.broker.do_fetch(self.queue_name, free)
                    if self.message_cache:
                        continue
                    if self.wake_key is not None:
                        if self.broker.client.blpop([self.wake_key], timeout=self.timeout / 1000):
                            continue  # woken: look again now
                        return None  # the consumer thread's turn (delayed messages, stopping)
                self.misses, backoff_ms = compute_backoff(self.misses, max_backoff=self.timeout)
                if free > 0:
                    time.sleep(backoff_ms / 1000)
                else:
                    self.settled.wait(backoff_ms / 1000)
                return None
        except redis.ConnectionError as e:
            raise ConnectionClosed(e) from None  # type: ignore[no-untyped-call]


class _WokenRedisBroker(RedisBroker):
    @property
    def consumer_class(self) -> type[_RedisConsumer]:
        return _WokenConsumer


def make_broker(url: str) -> RedisBroker:
    """Dramatiq's Redis broker, with only the middleware we rely on (no Prometheus exporter:
    metrics come from the API's /metrics), and consumers that are woken (`_WokenConsumer`)."""
    return _WokenRedisBroker(  # type: ignore[no-untyped-call]
        client=_redis_client(url),
        namespace=NAMESPACE,
        middleware=[TimeLimit(), ShutdownNotifications(), Retries(max_retries=0)],
    )


class Dispatcher:
    """Sends job ids to the workers."""

    def __init__(self, url: str, handler: Any = None, time_limit_ms: int | None = None) -> None:
        self.broker = make_broker(url)
        options: dict[str, Any] = {"max_retries": 0}
        if time_limit_ms:
            options["time_limit"] = time_limit_ms
        # The decorator form: dramatiq's typed overloads take either a function or options, not both.
        self.actor = dramatiq.actor(
            broker=self.broker,
            actor_name=ACTOR_NAME,
            queue_name=QUEUE_NAME,
            **options,
        )(handler or _not_here)

    def send(self, item_ids: Iterable[str]) -> int:
        sent = 0
        for item_id in item_ids:
            self.actor.send(item_id)
            sent += 1
        if sent:
            self.wake(sent)
        return sent

    def wake(self, count: int) -> None:
        """Pushes `count` wake-up tokens (one idle worker each), after the messages they announce.
        A failure here loses nothing: the messages are in Redis and workers look at least every
        IDLE_POLL_MS."""
        try:
            pipe = self.broker.client.pipeline(transaction=False)
            pipe.lpush(WAKE_KEY, *(["1"] * min(count, WAKE_BACKLOG)))
            pipe.ltrim(WAKE_KEY, 0, WAKE_BACKLOG - 1)
            pipe.execute()
        except redis.RedisError:
            log.warning("could not wake the workers; they will find the job(s) within %d ms", IDLE_POLL_MS)

    def send_quietly(self, item_ids: list[str]) -> None:
        """After a commit: a failed send loses nothing (the job is queued in the database and
        maintenance sends it again), so it must not turn a successful request into an error."""
        try:
            self.send(item_ids)
        except Exception:  # noqa: BLE001 - logged; the sweep recovers the job
            log.exception("could not hand jobs %s to the queue; they will be re-sent", item_ids)

    def waiting(self) -> int:
        """Messages waiting in Redis (not yet taken by any worker)."""
        return int(self.broker.client.llen(f"{NAMESPACE}:{QUEUE_NAME}"))

    def try_lock(self, name: str, ttl_ms: int) -> bool:
        return bool(self.broker.client.set(f"{NAMESPACE}:lock:{name}", "1", nx=True, px=ttl_ms))

    def hold_deployment(self, deployment_id: str) -> str:
        """`claim_broker` on this dispatcher's connection: puts the id back after a Redis restart
        without persistence, and returns the id the broker holds."""
        self.broker.client.set(DEPLOYMENT_KEY, deployment_id, nx=True)
        held = self.broker.client.get(DEPLOYMENT_KEY)
        return held.decode() if isinstance(held, bytes) else str(held or deployment_id)

    def close(self) -> None:
        self.broker.close()


def _not_here(item_id: str) -> None:  # pragma: no cover - API processes only send
    raise RuntimeError(f"job {item_id} reached a process that does not run jobs")


def dispatch_on_commit(db: Database, queue_url: str) -> Dispatcher:
    """Makes every commit that queues music jobs send their ids to the workers."""
    dispatcher = Dispatcher(queue_url)
    db.on_jobs_queued(dispatcher.send_quietly)
    return dispatcher


def sweep_stranded(db: Database, dispatcher: Dispatcher, older_than_ms: int = STRANDED_AFTER_MS) -> list[str]:
    """Sends again the jobs that have been queued in the database for a while when no message
    waits in Redis: their message was lost. Duplicates are harmless (claims are conditional)."""
    if dispatcher.waiting() > 0:
        return []
    cutoff = now_ms() - older_than_ms
    with db.session() as s:
        ids = list(
            s.scalars(
                select(Job.item_id)
                .where(Job.state == JobState.QUEUED, Job.queued_ms < cutoff, Job.updated_ms < cutoff)
                .order_by(Job.queued_ms, Job.created_ms, Job.item_id)
                .limit(500)
            )
        )
    if ids:
        log.warning("re-sending %d queued job(s) with no message in the queue", len(ids))
        dispatcher.send(ids)
    return ids


def maintenance_round(ctx: WorkerContext, dispatcher: Dispatcher) -> dict[str, int]:
    """Leases, timeouts and lost messages. Every worker runs it; all of it is conditional
    writes, so concurrent rounds in several processes are safe."""
    requeued: list[str] = []
    counts = queue.reap_expired(ctx.db, requeued=requeued)
    if requeued:
        dispatcher.send(requeued)
    counts["timed_out"] = queue.fail_overdue(ctx.db, ctx.settings.job_timeout_seconds * 1000)
    counts["resent"] = 0
    if dispatcher.try_lock("sweep", int(MAINTENANCE_SECONDS * 1000 * 0.9)):
        counts["resent"] = len(sweep_stranded(ctx.db, dispatcher))
    return counts


class DistributedWorker:
    """One `songforge worker` process."""

    def __init__(self, settings: Settings, worker_id: str | None = None, *, callbacks: bool = True) -> None:
        if not settings.queue_url:
            raise ValueError("a distributed worker needs --queue redis://...")
        self.settings = settings
        self.worker_id = worker_id or _default_worker_id()
        self.ctx = WorkerContext.from_settings(settings, self.worker_id)
        self.busy = threading.Lock()  # one unit of work at a time: generation is CPU-bound
        self.current: str | None = None
        self.stopping = threading.Event()
        self.callbacks = callbacks
        timeout_ms = settings.job_timeout_seconds * 1000
        self.dispatcher = Dispatcher(settings.queue_url, self._run_job, time_limit_ms=timeout_ms)
        self.worker = dramatiq.Worker(
            self.dispatcher.broker, queues={QUEUE_NAME}, worker_threads=1, worker_timeout=IDLE_POLL_MS
        )
        self.worker.queue_prefetch = 1

    def _run_job(self, item_id: str) -> None:
        """The actor: claim, generate, finish. Never raises (nothing to retry at this level)."""
        from songforge.workers.generate import RunOutcome, run_music_job

        if self.stopping.is_set():
            return  # shutting down: the job stays queued in the database and the sweep re-sends it
        with self.busy:
            job = self._claim(item_id)
            if job is None:
                log.info("job %s: not queued any more (duplicate or finished delivery)", item_id)
                return
            item_id = job.item_id
            self.current = item_id
            t0 = time.monotonic()
            outcome: str  # a RunOutcome, or what the backstops below say happened
            try:
                outcome = run_music_job(self.ctx, job)
            except TimeLimitExceeded:
                limit = self.settings.job_timeout_seconds * 1000
                queue.fail(self.ctx.db, item_id, self.worker_id, queue.timeout_reason(limit))
                outcome = "timed out"
            except Exception:  # noqa: BLE001 - run_music_job records failures; this is the backstop
                log.exception("job %s crashed", item_id)
                queue.fail(self.ctx.db, item_id, self.worker_id, "Generation failed unexpectedly")
                outcome = RunOutcome.FAILED
            finally:
                self.current = None
            log.info("job %s %s in %.1f s", item_id, outcome, time.monotonic() - t0)

    def _claim(self, item_id: str) -> Job | None:
        """The job a message for `item_id` runs: None when that job is no longer queued (a
        duplicate or late delivery), else the next job in the fair order (`queue.claim_next`), which
        may be another tenant's. Redis holds messages in arrival order, and one tenant's backlog
        would otherwise starve the rest; when another job is taken, `item_id` is sent again, so it
        keeps its message and the taken job's own message becomes a harmless duplicate."""
        with self.ctx.db.session() as s:
            if s.scalar(select(Job.state).where(Job.item_id == item_id)) != JobState.QUEUED:
                return None
        job = queue.claim_next(self.ctx.db, self.worker_id)
        if job is not None and job.item_id != item_id:
            self.dispatcher.send_quietly([item_id])
        return job

    def _uploads_loop(self) -> None:
        from songforge.workers import uploads_dispatch

        while not self.stopping.wait(UPLOAD_POLL_SECONDS):
            try:
                while not self.stopping.is_set():
                    with self.busy:
                        if not uploads_dispatch.run_one(self.ctx):
                            break
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("upload processing round failed")

    def _maintenance_loop(self) -> None:
        last_sweep = last_check = 0.0
        while not self.stopping.wait(MAINTENANCE_SECONDS):
            try:
                if time.monotonic() - last_sweep > SCRATCH_SWEEP_SECONDS:
                    # At start and then now and then: a crashed worker's lease must lapse first.
                    last_sweep = time.monotonic()
                    scratch.clean_leftovers(self.ctx.db, self.settings.data_dir)
                if time.monotonic() - last_check > DEPLOYMENT_CHECK_SECONDS:
                    last_check = time.monotonic()
                    self.check_deployment()
                counts = maintenance_round(self.ctx, self.dispatcher)
                if any(counts.get(k) for k in ("requeued", "failed", "timed_out", "resent")):
                    log.warning("maintenance: %s", counts)
            except Exception:  # noqa: BLE001 - e.g. the database restarting; next round retries
                log.exception("maintenance round failed")

    def check_deployment(self) -> bool:
        """Whether the broker still holds this database's deployment id (`songforge worker` compared
        them at start; a Redis restart without persistence loses the key, which is put back here).
        Another id means another deployment now uses this broker: said at ERROR, once a check."""
        from songforge.store.deployment import stored_deployment_id

        own = stored_deployment_id(self.ctx.db)
        if own is None:
            return True  # not started by `songforge worker` (an embedded test): nothing to compare
        held = self.dispatcher.hold_deployment(own)
        if held != own:
            log.error(
                "the queue %s holds deployment id %s, this worker's database %s: processes on another "
                "database share this broker and take each other's job messages",
                broker_for_log(self.settings.queue_url or ""),
                held,
                own,
            )
        return held == own

    def prune_round(self) -> int | None:
        """This interval's retention prune, if this process takes the deployment's turn: the number
        of jobs deleted, or None when there is no retention period or another process has the turn."""
        pruned = prune_if_due(self.ctx.db, self.ctx.blobs, self.settings.retention_days, self.worker_id)
        if pruned is None:
            return None
        log.info("retention: deleted %d finished job(s) and their files (this hour's prune)", pruned.jobs)
        return pruned.jobs

    def _retention_loop(self) -> None:
        wait = 0.0  # the first check at start: a deployment restarted hourly still prunes
        while not self.stopping.wait(wait):
            wait = PRUNE_CHECK_SECONDS
            try:
                self.prune_round()
            except Exception:  # noqa: BLE001 - the next check retries
                log.exception("retention prune failed")

    def _callbacks_loop(self) -> None:
        from songforge.outbox import run_delivery_loop

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            threading.Thread(
                target=lambda: (self.stopping.wait(), loop.call_soon_threadsafe(stop.set)), daemon=True
            ).start()
            await run_delivery_loop(self.ctx.db, self.settings, stop)

        try:
            asyncio.run(main())
        except Exception:  # noqa: BLE001 - callbacks are retried by any other process
            log.exception("callback delivery loop stopped")

    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._maintenance_loop, name="maintenance", daemon=True)]
        threads.append(threading.Thread(target=self._uploads_loop, name="uploads", daemon=True))
        if self.settings.retention_days:
            threads.append(threading.Thread(target=self._retention_loop, name="retention", daemon=True))
        if self.callbacks:
            threads.append(threading.Thread(target=self._callbacks_loop, name="callbacks", daemon=True))
        self.worker.start()
        for t in threads:
            t.start()
        from songforge.workers.measure import start_warm_up

        start_warm_up()
        log.info("worker %s consuming %s:%s", self.worker_id, NAMESPACE, QUEUE_NAME)
        return threads

    def stop(self, timeout_s: float = 15.0) -> None:
        """Graceful stop: the job in hand goes back to the queue without using up an attempt
        (its generation notices the lost lease at its next progress step), then Dramatiq stops."""
        self.stopping.set()
        handed_back = self._hand_back()
        self.worker.stop(timeout=int(timeout_s * 1000))
        if handed_back:
            self.dispatcher.send_quietly(handed_back)
        self.dispatcher.close()
        self.ctx.db.dispose()

    def _hand_back(self) -> list[str]:
        return queue.hand_back(self.ctx.db, Job.worker_id == self.worker_id)

    def run_forever(self) -> None:
        """Runs until SIGTERM or SIGINT."""
        done = threading.Event()

        def _on_signal(_sig: int, _frame: Any) -> None:
            done.set()

        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
        self.start()
        while not done.wait(1.0):
            pass
        log.info("worker %s stopping", self.worker_id)
        self.stop()


def _default_worker_id() -> str:
    host = socket.gethostname().split(".")[0][:32] or "host"
    return f"{host}-{os.getpid()}-{secrets.token_hex(3)}"
