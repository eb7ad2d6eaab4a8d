"""GET /metrics in the Prometheus text format.

Everything is read from the database at scrape time, by a custom prometheus_client collector:
with N API replicas and M workers on other machines, the database is the one place that knows the
whole picture, so any replica answers the same and nothing is lost when a process restarts; this is
why prometheus_client's multiprocess mode is not needed. A scrape never reads the history: queued
and running jobs are counted through the active-set index, finished jobs and the histograms
(generation time = finished - started, queue wait = started - queued, per engine) come from
counters that database triggers keep in the transaction that changes a job (`store.models.JobCount`,
`JobObservation`). Histogram buckets are therefore counters: deleting a job keeps its observations.

The upstream engine's key pool is reported per key (`songforge_upstream_key_*`), labelled by the
key's id and its operator-chosen label, never by the key or its hint: a scrape must not leak what
`songforge upstream list` keeps to its first and last characters.

Which engines each worker has and whether each is ready (`songforge_engine_ready{engine,worker}`)
and how many live workers have each ready (`songforge_engine_workers{engine}`) come from the
workers' own reports (`store.worker_engines`), of the workers seen in the last `LIVE_SECONDS`.

The endpoint needs no token (scrapers rarely carry one) and reports no tenant data; restrict it at
the reverse proxy if the numbers themselves are sensitive.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from itertools import accumulate

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from songforge import config
from songforge.core.states import JobState
from songforge.store.db import Database
from songforge.store.models import CallbackDelivery, Job, JobCount, JobObservation, job_is_active
from songforge.store.upstream import KEY_STATES, list_keys
from songforge.store.worker_engines import LIVE_SECONDS, live_rows

router = APIRouter(tags=["service"])

# Seconds. Generation of a few minutes of music takes seconds to minutes on a CPU.
GENERATION_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800)
QUEUE_WAIT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800)
JOB_STATES: tuple[JobState, ...] = tuple(JobState)


def _histogram(session: Session, metric: str, name: str, doc: str, buckets: tuple[float, ...]) -> Metric:
    """Cumulative buckets per engine from the stored per-bucket counts (`bucket` = index into
    `buckets`, len(buckets) = +Inf); the bounds are frozen in migration 0004's triggers."""
    rows = session.execute(
        select(JobObservation.engine, JobObservation.bucket, JobObservation.n, JobObservation.sum_ms).where(
            JobObservation.metric == metric
        )
    )
    per_engine: dict[str, list[int]] = {}
    sums: dict[str, int] = {}
    for engine, bucket, n, sum_ms in rows:
        counts = per_engine.setdefault(engine, [0] * (len(buckets) + 1))
        counts[min(int(bucket), len(buckets))] += int(n)
        sums[engine] = sums.get(engine, 0) + int(sum_ms)
    family = HistogramMetricFamily(name, doc, labels=["engine"])
    for engine, counts in sorted(per_engine.items()):
        cumulative = list(accumulate(counts))
        points = [(str(float(b)), float(c)) for b, c in zip(buckets, cumulative, strict=False)]
        points.append(("+Inf", float(cumulative[-1])))
        family.add_metric([engine], points, sum_value=sums[engine] / 1000.0)
    return family


class DatabaseCollector(Collector):
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        with self.db.session() as s:
            by_state = list(
                s.execute(
                    select(Job.engine, Job.state, func.count())
                    .where(job_is_active())
                    .group_by(Job.engine, Job.state)
                )
            )
            by_state += list(s.execute(select(JobCount.engine, JobCount.state, JobCount.n)))
            oldest = s.scalar(select(func.min(Job.queued_ms)).where(Job.state == JobState.QUEUED))
            callbacks = list(
                s.execute(
                    select(
                        CallbackDelivery.state,
                        func.count(),
                        func.coalesce(func.sum(CallbackDelivery.attempts), 0),
                        func.coalesce(
                            func.sum(case((CallbackDelivery.last_error.is_not(None), 1), else_=0)), 0
                        ),
                    ).group_by(CallbackDelivery.state)
                )
            )

        depth = GaugeMetricFamily(
            "songforge_queue_depth", "Jobs accepted and waiting for a worker", labels=["engine"]
        )
        jobs = GaugeMetricFamily(
            "songforge_jobs", "Jobs by state (every process, from the database)", labels=["engine", "state"]
        )
        seen: dict[str, dict[str, int]] = {}
        for engine, state, count in by_state:
            seen.setdefault(engine, {})[state] = int(count)
        for engine, states in sorted(seen.items()):
            depth.add_metric([engine], states.get(JobState.QUEUED, 0))
            for state in JOB_STATES:
                jobs.add_metric([engine, state], states.get(state, 0))
        yield depth
        yield jobs

        age = GaugeMetricFamily(
            "songforge_queue_oldest_seconds", "Age of the oldest queued job (0 when none)"
        )
        age.add_metric([], max(0.0, time.time() - oldest / 1000.0) if oldest else 0.0)
        yield age

        deliveries = GaugeMetricFamily(
            "songforge_callback_deliveries", "Callback events by state", labels=["state"]
        )
        attempts = CounterMetricFamily(
            "songforge_callback_attempts", "Callback send attempts made", labels=["state"]
        )
        failures = GaugeMetricFamily(
            "songforge_callback_failures",
            "Callback events with a failed attempt recorded, by state (pending: retrying, failed: given up)",
            labels=["state"],
        )
        # Events given up on (every retry spent, or refused for good): what an operator alerts on.
        # Counted from the outbox rows, so it falls if rows of deleted jobs go with them.
        lost = CounterMetricFamily(
            "songforge_callbacks_failed", "Callback events that failed for good (no more retries)"
        )
        lost_total = 0
        for state, count, tries, errored in callbacks:
            deliveries.add_metric([state], int(count))
            attempts.add_metric([state], int(tries))
            failures.add_metric([state], int(errored))
            if state == "failed":
                lost_total = int(count)
        lost.add_metric([], lost_total)
        yield deliveries
        yield attempts
        yield failures
        yield lost

        with self.db.session() as s:
            histograms = [
                _histogram(
                    s,
                    "generation",
                    "songforge_generation_seconds",
                    "Time from a worker's claim to the job's final state",
                    GENERATION_BUCKETS,
                ),
                _histogram(
                    s,
                    "queue_wait",
                    "songforge_queue_wait_seconds",
                    "Time from acceptance (or requeue) to a worker's claim",
                    QUEUE_WAIT_BUCKETS,
                ),
            ]
        yield from histograms
        yield from _upstream_keys(self.db)
        yield from _worker_engines(self.db)


def _worker_engines(db: Database) -> Iterator[Metric]:
    """Each live worker's engines (1 ready, 0 not), and per engine the live workers that have it
    ready: every known engine gets a count, 0 included, so an alert can read
    `songforge_engine_workers{engine="acestep"} == 0`."""
    with db.session() as s:
        rows = [(r.engine, r.worker_id, bool(r.ready)) for r in live_rows(s)]
    ready = GaugeMetricFamily(
        "songforge_engine_ready",
        f"Whether a worker's engine can take jobs (1) or not (0), for workers seen in the last "
        f"{LIVE_SECONDS:g} s",
        labels=["engine", "worker"],
    )
    workers = GaugeMetricFamily(
        "songforge_engine_workers",
        f"Workers seen in the last {LIVE_SECONDS:g} s with the engine ready",
        labels=["engine"],
    )
    counts = dict.fromkeys(config.ENGINE_NAMES, 0)
    for engine, worker_id, is_ready in rows:
        ready.add_metric([engine, worker_id], 1.0 if is_ready else 0.0)
        counts[engine] = counts.get(engine, 0) + (1 if is_ready else 0)
    for engine, n in sorted(counts.items()):
        workers.add_metric([engine], n)
    yield ready
    yield workers


def _upstream_keys(db: Database) -> Iterator[Metric]:
    """Each upstream key's state (one series per state, 1 for the one it is in, so an alert reads
    `songforge_upstream_key_state{state="disabled"} == 1`), its tasks in flight and its limit."""
    with db.session() as s:
        keys = [(str(k.id), k.label or "", k.state, k.max_jobs, busy) for k, busy in list_keys(s)]
    labels = ["key_id", "label"]
    state = GaugeMetricFamily(
        "songforge_upstream_key_state",
        "Upstream TemPolor key state: 1 for the state it is in (active; paused: out of points; "
        "disabled: refused by the platform)",
        labels=[*labels, "state"],
    )
    in_flight = GaugeMetricFamily(
        "songforge_upstream_key_in_flight",
        "Tasks an upstream key holds now (reserved or sent, their jobs still active)",
        labels=labels,
    )
    limit = GaugeMetricFamily(
        "songforge_upstream_key_max_jobs", "Parallel tasks an upstream key may hold", labels=labels
    )
    for key_id, label, current, max_jobs, busy in keys:
        for name in KEY_STATES:
            state.add_metric([key_id, label, name], 1.0 if current == name else 0.0)
        in_flight.add_metric([key_id, label], busy)
        limit.add_metric([key_id, label], max_jobs)
    yield state
    yield in_flight
    yield limit


def render(db: Database) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(db))
    return generate_latest(registry)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    body = await run_in_threadpool(render, request.app.state.db)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
