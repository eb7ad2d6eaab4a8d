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
  is conditional on still holding it. A worker killed with SIGKILL closes its named Redis
  connection as it dies (`workers.presence`), and any surviving worker's maintenance round sees it
  gone within a few seconds, requeues the job in the database and sends it again; one that stops
  renewing without dying so (a lost host) is requeued when its lease runs out.
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
claim. Every send here also pushes a wake-up token onto its queue's Redis list (`wake_key`) in the same
round trip, and an idle worker's consumer waits on that list with BLPOP instead of sleeping
(`_WokenConsumer`): one token wakes one idle worker, which fetches at once. The token is pushed
after the message, so a worker that found the queue empty and then waits sees it; stale tokens
(nobody was idle) cost one empty fetch each, and the list is capped. A busy consumer's wait ends
when its job is acknowledged, so a worker that finishes takes the next message at once. The idle
timeout remains as the fallback for messages sent without a token.

Each engine has its own queue on the broker (`queue_for`: the embedded engine keeps `jobs`, the queue of
releases before there were several; the others `jobs.<engine>`) and its own wake-up list, and a worker
consumes only the queues of its engines (`worker_engines`: `--engines` / SONGFORGE_WORKER_ENGINES, else
every engine ready in its process), and claims only their jobs (`claim_next(engines=...)`, the fair order
kept among them): a GPU worker with `--engines acestep` never takes an embedded job, CPU workers take
the rest. A job whose engine no live worker has stays queued, its message waiting in its queue (so the
lost-message sweep, which looks queue by queue, does not send it again and again); /metrics counts it
in the queue depth. A message that reaches a worker without its engine (sent to `jobs` by an older
release) is forwarded to its engine's queue.

Each worker process runs one generation at a time (prefetch 1 over all its queues, so an idle worker
elsewhere gets the next message rather than a busy one hoarding it); run one process per core or per
GPU.
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
from collections.abc import Iterable, Mapping
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import compute_backoff, q_name
from dramatiq.errors import ConnectionClosed
from dramatiq.message import Message
from dramatiq.middleware import Retries, ShutdownNotifications, TimeLimit, TimeLimitExceeded
from sqlalchemy import select

from songforge import config
from songforge.clock import now_ms
from songforge.config import Settings
from songforge.core import queue
from songforge.core.states import JobState
from songforge.store.db import Database
from songforge.store.models import Job
from songforge.workers import scratch
from songforge.workers.context import WorkerContext
from songforge.workers.engine_report import EngineReport
from songforge.workers.presence import DeathWatch, Presence
from songforge.workers.retention import PRUNE_CHECK_SECONDS, prune_if_due

log = logging.getLogger("songforge.distributed")

NAMESPACE = "songforge"
QUEUE_NAME = "jobs"  # the embedded engine's queue; every other engine's is `jobs.<engine>` (queue_for)
ACTOR_NAME = "run_music_job"
MAINTENANCE_SECONDS = 2.0
STRANDED_AFTER_MS = 10_000
UPLOAD_POLL_SECONDS = 0.5
DEPLOYMENT_CHECK_SECONDS = 30.0  # how often a worker checks that the broker is still its deployment's
SCRATCH_SWEEP_SECONDS = 60.0  # how often a worker clears scratch directories crashed jobs left
# How long an idle worker waits for a wake-up before looking at the Redis queue again anyway.
IDLE_POLL_MS = 100
WAKE_BACKLOG = 64  # wake-up tokens kept when no worker is idle to take them
# The deployment id (`songforge.store.deployment`) as the broker holds it: written by the first API or
# worker to start, compared by every later one (`claim_broker`), re-written by maintenance after a
# Redis restart without persistence.
DEPLOYMENT_KEY = f"{NAMESPACE}:deployment"


def queue_for(engine: str) -> str:
    """The queue of `engine`'s job messages. The embedded engine keeps the one queue of releases before
    engine queues, so their workers and messages still meet the jobs they can make."""
    return QUEUE_NAME if engine == config.DEFAULT_ENGINE else f"{QUEUE_NAME}.{engine}"


def wake_key(queue_name: str) -> str:
    """The wake-up list of one job queue: a token there wakes an idle worker of that queue only."""
    return f"{NAMESPACE}:wake:{queue_name}"


WAKE_KEY = wake_key(QUEUE_NAME)


def _is_job_queue(queue_name: str) -> bool:
    """A queue of job messages (not Dramatiq's delay or dead-letter queue of one)."""
    return q_name(queue_name) == queue_name and (
        queue_name == QUEUE_NAME or queue_name.startswith(f"{QUEUE_NAME}.")
    )


def worker_engines(settings: Settings) -> frozenset[str]:
    """The engines whose jobs a worker takes: `settings.worker_engines` (`--engines`,
    SONGFORGE_WORKER_ENGINES), each of which must be registered and ready here, since a worker that
    claimed jobs it cannot make would only fail them; unset, every engine ready in this process (a
    CPU machine without ACE-Step weights leaves acestep jobs to the GPU workers). Raises ValueError
    naming the setting."""
    from songforge.engines.registry import engine_names, readiness

    if not settings.worker_engines:
        ready = frozenset(name for name in engine_names() if readiness(name) is None)
        if not ready:
            raise ValueError("no engine is ready in this process (see `songforge engines`)")
        return ready
    unknown = [name for name in settings.worker_engines if name not in engine_names()]
    if unknown:
        raise ValueError(
            f"--engines / SONGFORGE_WORKER_ENGINES: no engine is registered as {', '.join(unknown)} "
            f"(engines: {', '.join(engine_names())})"
        )
    for name in settings.worker_engines:
        reason = readiness(name)
        if reason is not None:
            raise ValueError(f"--engines / SONGFORGE_WORKER_ENGINES names {name}, not ready here: {reason}")
    return frozenset(settings.worker_engines)


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


class _Settled:
    """Counts acknowledgements, so that a consumer waits for one after its last look. A shared
    `threading.Event` would not do: a sibling clearing it before its own look could swallow the
    set meant to end this one's wait."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._count = 0

    def mark(self) -> int:
        with self._cond:
            return self._count

    def set(self) -> None:
        with self._cond:
            self._count += 1
            self._cond.notify_all()

    def wait_past(self, mark: int, timeout_s: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._count != mark, timeout_s)


class _JobConsumers:
    """What the job queues' consumers of one worker share. Dramatiq gives each queue its own consumer
    and prefetch; a worker of two engines would then hold a second message while it generates, which
    an idle worker elsewhere could have run. So the prefetch counts the messages of all of them, and
    an acknowledgement on any queue ends the others' waits."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # around each fetch and each hand-over from a cache
        self.members: set[_WokenConsumer] = set()
        self.settled = _Settled()  # set by every ack or nack (from the worker thread)

    def held(self) -> int:
        return sum(c.outstanding_message_count for c in list(self.members))


class _WokenConsumer(_RedisConsumer):
    """Dramatiq's Redis consumer (`dramatiq.brokers.redis._RedisConsumer`, pinned version), whose
    waits end on an event instead of a fixed sleep: an idle consumer of a job queue blocks on that
    queue's wake-up list (BLPOP, at most the idle timeout), a busy one until a message is acknowledged.
    Other queues (Dramatiq's delay queues) keep its backoff and their own prefetch. Fetching, caching
    and acknowledging are Dramatiq's own. Dramatiq's Redis module is untyped: its calls below are
    marked so."""

    def __init__(self, broker: RedisBroker, queue_name: str, prefetch: int, timeout: int) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)  # type: ignore[no-untyped-call]
        self.wake_key = wake_key(queue_name) if _is_job_queue(queue_name) else None
        self.shared = cast("_WokenRedisBroker", broker).job_consumers if self.wake_key else None
        if self.shared is not None:
            self.settled = self.shared.settled
            with self.shared.lock:
                self.shared.members.add(self)
        else:
            self.settled = _Settled()

    def close(self) -> None:
        """Dramatiq replaces a consumer after a connection error: the old one's counts must leave the
        shared prefetch with it."""
        if self.shared is not None:
            with self.shared.lock:
                self.shared.members.discard(self)
        super().close()

    def _fetch(self) -> int:
        """Fills the cache with up to the free prefetch; returns how much was free."""
        if self.shared is None:
            free = self.prefetch - self.outstanding_message_count
            if free > 0:
                self.message_cache = self.broker.do_fetch(self.queue_name, free)
            return int(free)
        with self.shared.lock:
            free = self.prefetch - self.shared.held()
            if free > 0:
                self.message_cache = self.broker.do_fetch(self.queue_name, free)
        return int(free)

    def _take_cached(self) -> Any:
        """The next cached message as Dramatiq's consumer hands it over, or None for its placeholder;
        under the shared lock, so a sibling's fetch never sees it in neither count."""
        if self.shared is None:
            return self._hand_over(self.message_cache.pop(0))
        with self.shared.lock:
            return self._hand_over(self.message_cache.pop(0))

    def _hand_over(self, data: Any) -> Any:
        if data is None:  # as Dramatiq's own consumer: skip, see its issue 266
            return None
        self.misses = 0
        message = Message.decode(data)
        self.queued_message_ids.add(message.message_id)
        return dramatiq.MessageProxy(message)

    def _pass_on_wake(self) -> None:
        """A wake-up this worker took while its other queue gave it a job: put back for an idle one."""
        assert self.wake_key is not None
        try:
            pipe = self.broker.client.pipeline(transaction=False)
            pipe.lpush(self.wake_key, "1")
            pipe.ltrim(self.wake_key, 0, WAKE_BACKLOG - 1)
            pipe.execute()
        except redis.RedisError:
            pass  # the others look at least every IDLE_POLL_MS

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
            woken = False
            while True:
                if self.message_cache:
                    proxy = self._take_cached()
                    if proxy is None:
                        continue
                    return proxy
                seen = self.settled.mark()  # before the look: an ack after it ends the wait below
                free = self._fetch()
                if free > 0:
                    woken = False
                    if self.message_cache:
                        continue
                    if self.wake_key is not None:
                        if self.broker.client.blpop([self.wake_key], timeout=self.timeout / 1000):
                            woken = True
                            continue  # woken: look again now
                        return None  # the consumer thread's turn (delayed messages, stopping)
                elif woken:
                    woken = False
                    self._pass_on_wake()
                self.misses, backoff_ms = compute_backoff(self.misses, max_backoff=self.timeout)
                if free > 0:
                    time.sleep(backoff_ms / 1000)
                else:
                    self.settled.wait_past(seen, backoff_ms / 1000)
                return None
        except redis.ConnectionError as e:
            raise ConnectionClosed(e) from None  # type: ignore[no-untyped-call]


class _WokenRedisBroker(RedisBroker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self.job_consumers = _JobConsumers()

    @property
    def consumer_class(self) -> type[_RedisConsumer]:
        return _WokenConsumer


def make_broker(url: str) -> RedisBroker:
    """Dramatiq's Redis broker, with only the middleware we rely on (no Prometheus exporter:
    metrics come from the API's /metrics), and consumers that are woken (`_WokenConsumer`)."""
    return _WokenRedisBroker(
        client=_redis_client(url),
        namespace=NAMESPACE,
        middleware=[TimeLimit(), ShutdownNotifications(), Retries(max_retries=0)],
    )


class Dispatcher:
    """Sends job ids to the workers, each to its engine's queue (`queue_for`)."""

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

    def send(self, item_ids: Iterable[str], engine: str = config.DEFAULT_ENGINE) -> int:
        """Sends jobs of one engine."""
        return self.send_jobs(dict.fromkeys(item_ids, engine))

    def send_jobs(self, jobs: Mapping[str, str]) -> int:
        """Sends each job (item id -> its engine) to its engine's queue, then wakes that queue's
        idle workers."""
        by_queue: dict[str, list[str]] = {}
        for item_id, engine in jobs.items():
            by_queue.setdefault(queue_for(engine), []).append(item_id)
        for queue_name, ids in by_queue.items():
            for item_id in ids:
                message = self.actor.message(item_id)
                if queue_name != message.queue_name:
                    message = message.copy(queue_name=queue_name)
                self.broker.enqueue(message)
            self.wake(len(ids), queue_name)
        return len(jobs)

    def wake(self, count: int, queue_name: str = QUEUE_NAME) -> None:
        """Pushes `count` wake-up tokens (one idle worker of `queue_name` each), after the messages
        they announce. A failure here loses nothing: the messages are in Redis and workers look at
        least every IDLE_POLL_MS."""
        key = wake_key(queue_name)
        try:
            pipe = self.broker.client.pipeline(transaction=False)
            pipe.lpush(key, *(["1"] * min(count, WAKE_BACKLOG)))
            pipe.ltrim(key, 0, WAKE_BACKLOG - 1)
            pipe.execute()
        except redis.RedisError:
            log.warning("could not wake the workers; they will find the job(s) within %d ms", IDLE_POLL_MS)

    def send_quietly(self, jobs: Mapping[str, str]) -> None:
        """After a commit: a failed send loses nothing (the job is queued in the database and
        maintenance sends it again), so it must not turn a successful request into an error."""
        try:
            self.send_jobs(jobs)
        except Exception:  # noqa: BLE001 - logged; the sweep recovers the job
            log.exception("could not hand jobs %s to the queue; they will be re-sent", list(jobs))

    def waiting(self, engine: str | None = None) -> int:
        """Messages waiting in Redis (not yet taken by any worker): in `engine`'s queue, or in the
        queues of every engine there is."""
        if engine is not None:
            return int(self.broker.client.llen(f"{NAMESPACE}:{queue_for(engine)}"))
        return sum(self.waiting_by_engine().values())

    def waiting_by_engine(self) -> dict[str, int]:
        """`waiting` for each engine there is, in one round trip."""
        pipe = self.broker.client.pipeline(transaction=False)
        for engine in config.ENGINE_NAMES:
            pipe.llen(f"{NAMESPACE}:{queue_for(engine)}")
        return {engine: int(n) for engine, n in zip(config.ENGINE_NAMES, pipe.execute(), strict=True)}

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
    """Makes every commit that queues music jobs send their ids to their engines' workers."""
    dispatcher = Dispatcher(queue_url)
    db.on_jobs_queued_by_engine(dispatcher.send_quietly)
    return dispatcher


def engines_of(db: Database, item_ids: Iterable[str]) -> dict[str, str]:
    """Item id -> engine of those jobs (what a send needs, for ids that come without it)."""
    ids = list(item_ids)
    if not ids:
        return {}
    with db.session() as s:
        found = {i: e for i, e in s.execute(select(Job.item_id, Job.engine).where(Job.item_id.in_(ids)))}
    return {item_id: found[item_id] for item_id in ids if item_id in found}


def sweep_stranded(db: Database, dispatcher: Dispatcher, older_than_ms: int = STRANDED_AFTER_MS) -> list[str]:
    """Sends again the jobs that have been queued in the database for a while when no message
    waits in their engine's queue: their message was lost. Duplicates are harmless (claims are
    conditional). A queue with a message waiting is left alone: its engine's workers are busy, or
    there are none (their jobs stay queued, with one message each, until one starts)."""
    waiting = dispatcher.waiting_by_engine()
    busy = [engine for engine, n in waiting.items() if n > 0]
    if len(busy) == len(waiting):
        return []
    cutoff = now_ms() - older_than_ms
    with db.session() as s:
        rows = list(
            s.execute(
                select(Job.item_id, Job.engine)
                .where(
                    Job.state == JobState.QUEUED,
                    Job.queued_ms < cutoff,
                    Job.updated_ms < cutoff,
                    Job.engine.not_in(busy),
                )
                .order_by(Job.queued_ms, Job.created_ms, Job.item_id)
                .limit(500)
            )
        )
    stranded: dict[str, str] = {}
    for item_id, engine in rows:
        if engine not in waiting:  # a name no engine has now: its queue is looked at all the same
            waiting[engine] = dispatcher.waiting(engine)
        if waiting[engine] == 0:
            stranded[item_id] = engine
    if stranded:
        log.warning("re-sending %d queued job(s) with no message in the queue", len(stranded))
        dispatcher.send_jobs(stranded)
    return list(stranded)


def maintenance_round(
    ctx: WorkerContext, dispatcher: Dispatcher, watch: DeathWatch | None = None
) -> dict[str, int]:
    """Dead workers, leases, timeouts and lost messages. Every worker runs it; all of it is
    conditional writes, so concurrent rounds in several processes are safe."""
    requeued: list[str] = []
    counts = queue.reap_expired(ctx.db, requeued=requeued)
    counts["dead_workers"] = 0
    dead = watch.dead() if watch is not None else []
    for worker_id in dead:
        held = queue.recover_worker(
            ctx.db, worker_id, "the worker process died (its queue connection closed)", requeued
        )
        if held["requeued"] or held["failed"]:
            counts["dead_workers"] += 1
            counts["requeued"] += held["requeued"]
            counts["failed"] += held["failed"]
            log.warning("worker %s is gone (its queue connection closed): %s", worker_id, held)
    if watch is not None:
        watch.forget(dead)
    if requeued:
        dispatcher.send_jobs(engines_of(ctx.db, requeued))
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
        self.engines = worker_engines(settings)
        self.queues = {queue_for(engine) for engine in self.engines}
        self.worker_id = worker_id or _default_worker_id()
        self.ctx = WorkerContext.from_settings(settings, self.worker_id)
        # Its engines as configured (every registered one when none is), each with its readiness, so
        # `songforge engines` also says why an engine is missing here: sent at start, beaten by maintenance.
        self.engine_report = EngineReport(self.ctx.db, self.worker_id, "distributed", settings.worker_engines)
        self.busy = threading.Lock()  # one unit of work at a time: generation is CPU-bound
        self.current: str | None = None
        self.stopping = threading.Event()
        self.callbacks = callbacks
        timeout_ms = settings.job_timeout_seconds * 1000
        self.dispatcher = Dispatcher(settings.queue_url, self._run_job, time_limit_ms=timeout_ms)
        for queue_name in self.queues:  # the actor declared the embedded engine's; the worker reads these
            self.dispatcher.broker.declare_queue(queue_name)
        self.worker = dramatiq.Worker(
            self.dispatcher.broker, queues=self.queues, worker_threads=1, worker_timeout=IDLE_POLL_MS
        )
        self.worker.queue_prefetch = 1
        self.presence = Presence(settings.queue_url, self.worker_id)
        self.death_watch = DeathWatch(settings.queue_url)

    def _run_job(self, item_id: str) -> None:
        """The actor: claim, generate, finish. Never raises (nothing to retry at this level)."""
        from songforge.workers.generate import RunOutcome, run_music_job

        if self.stopping.is_set():
            return  # shutting down: the job stays queued in the database and the sweep re-sends it
        with self.busy:
            job = self._claim(item_id)
            if job is None:
                log.info("job %s: nothing to run here (a duplicate or late delivery, or forwarded)", item_id)
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
        duplicate or late delivery), else the next job of this worker's engines in the fair order
        (`queue.claim_next`), which may be another tenant's or another engine's. Redis holds messages
        in arrival order, and one tenant's backlog would otherwise starve the rest; when another job
        is taken, `item_id` is sent again, so it keeps its message and the taken job's own message
        becomes a harmless duplicate. A job of an engine this worker has not (its message came
        through the embedded engine's queue from an older release) is forwarded to its own queue."""
        row = self.ctx.db.read(select(Job.state, Job.engine).where(Job.item_id == item_id))
        if row is None or row.state != JobState.QUEUED:
            return None
        if row.engine not in self.engines:
            self.dispatcher.send_quietly({item_id: row.engine})
            return None
        # `prefer`: among one request's variations (queued in the same millisecond) this message's own
        # job first, so two workers given a request's two messages each take their own at once, where
        # both raced for the first and the loser paid a second claim. Fairness is untouched.
        job = queue.claim_next(self.ctx.db, self.worker_id, engines=self.engines, prefer=(item_id,))
        if job is not None and job.item_id != item_id:
            self.dispatcher.send_quietly({item_id: row.engine})
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
                self.engine_report.beat()  # this worker's engines and that it is alive
                if time.monotonic() - last_sweep > SCRATCH_SWEEP_SECONDS:
                    # At start and then now and then: a crashed worker's lease must lapse first.
                    last_sweep = time.monotonic()
                    scratch.clean_leftovers(self.ctx.db, self.settings.data_dir)
                if time.monotonic() - last_check > DEPLOYMENT_CHECK_SECONDS:
                    last_check = time.monotonic()
                    self.check_deployment()
                counts = maintenance_round(self.ctx, self.dispatcher, self.death_watch)
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
        self.engine_report.send()
        threads = [threading.Thread(target=self._maintenance_loop, name="maintenance", daemon=True)]
        threads.append(threading.Thread(target=self._uploads_loop, name="uploads", daemon=True))
        if self.settings.retention_days:
            threads.append(threading.Thread(target=self._retention_loop, name="retention", daemon=True))
        if self.callbacks:
            threads.append(threading.Thread(target=self._callbacks_loop, name="callbacks", daemon=True))
        from songforge.workers.measure import start_warm_up

        start_warm_up()  # its imports finish before the first job thread starts
        self.presence.start()  # before the first claim: a job is never held by an unwatched worker
        self.worker.start()
        for t in threads:
            t.start()
        log.info(
            "worker %s: engines %s, consuming %s",
            self.worker_id,
            ", ".join(sorted(self.engines)),
            ", ".join(f"{NAMESPACE}:{q}" for q in sorted(self.queues)),
        )
        return threads

    def stop(self, timeout_s: float = 15.0) -> None:
        """Graceful stop: the job in hand goes back to the queue without using up an attempt
        (its generation notices the lost lease at its next progress step), then Dramatiq stops."""
        self.stopping.set()
        handed_back = self._hand_back()
        self.worker.stop(timeout=int(timeout_s * 1000))
        if handed_back:
            self.dispatcher.send_quietly(engines_of(self.ctx.db, handed_back))
        self.dispatcher.close()
        self.presence.leave()  # after the hand-back: until then its job is still held
        self.death_watch.close()
        self.engine_report.forget()
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
