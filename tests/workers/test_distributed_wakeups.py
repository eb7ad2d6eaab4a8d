"""Distributed workers are woken by the broker, not left to poll: against a real Redis, the time from a
send to the worker's actor call, with the worker idle long enough for Dramatiq's own consumer to have
backed off to its full idle timeout (where it used to sleep up to `IDLE_POLL_MS` between looks), and
from one job's end to the next queued one's start on a busy worker."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator

import dramatiq
import pytest

from songforge.workers import distributed
from store.scale_services import fresh_redis_url


@pytest.fixture
def redis_url() -> Iterator[str]:
    with fresh_redis_url() as url:
        yield url


class _Consumer:
    """The broker and Dramatiq worker a `DistributedWorker` runs, with an actor that records when each
    message arrived and can hold a message for a while (a generation)."""

    def __init__(self, url: str, hold_s: float = 0.0) -> None:
        self.arrived: dict[str, float] = {}
        self.ended: dict[str, float] = {}
        self.event = threading.Event()
        self.hold_s = hold_s
        self.dispatcher = distributed.Dispatcher(url, self._run)
        self.worker = dramatiq.Worker(
            self.dispatcher.broker,
            queues={distributed.QUEUE_NAME},
            worker_threads=1,
            worker_timeout=distributed.IDLE_POLL_MS,
        )
        self.worker.queue_prefetch = 1

    def _run(self, item_id: str) -> None:
        self.arrived[item_id] = time.perf_counter()
        time.sleep(self.hold_s)
        self.ended[item_id] = time.perf_counter()
        self.event.set()

    def close(self) -> None:
        self.worker.stop(timeout=5000)
        self.dispatcher.close()


def test_an_idle_worker_is_woken_at_once(redis_url: str) -> None:
    consumer = _Consumer(redis_url)
    sender = distributed.Dispatcher(redis_url)
    consumer.worker.start()
    try:
        waits = []
        for i in range(12):
            time.sleep(0.6)  # idle: Dramatiq's own consumer would be sleeping 50-100 ms between looks
            consumer.event.clear()
            sent = time.perf_counter()
            sender.send([f"job-{i}"])
            assert consumer.event.wait(5)
            waits.append((consumer.arrived[f"job-{i}"] - sent) * 1000)
        assert statistics.median(waits) < 15, waits
        assert sorted(waits)[-2] < distributed.IDLE_POLL_MS / 2, waits
    finally:
        consumer.close()
        sender.close()


def test_a_busy_worker_takes_the_next_message_when_its_job_ends(redis_url: str) -> None:
    consumer = _Consumer(redis_url, hold_s=0.3)
    sender = distributed.Dispatcher(redis_url)
    consumer.worker.start()
    try:
        time.sleep(0.3)
        ids = [f"job-{i}" for i in range(6)]
        sender.send(ids)  # one worker, prefetch 1: each waits in Redis until the one before is acknowledged
        deadline = time.monotonic() + 30
        while len(consumer.ended) < len(ids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert set(consumer.ended) == set(ids)
        order = sorted(ids, key=lambda i: consumer.arrived[i])
        gaps = [
            (consumer.arrived[b] - consumer.ended[a]) * 1000 for a, b in zip(order, order[1:], strict=False)
        ]
        assert statistics.median(gaps) < 15, gaps
    finally:
        consumer.close()
        sender.close()


def test_wake_up_tokens_are_capped(redis_url: str) -> None:
    sender = distributed.Dispatcher(redis_url)
    try:
        sender.send([f"job-{i}" for i in range(distributed.WAKE_BACKLOG + 40)])  # nobody is listening
        assert sender.broker.client.llen(distributed.WAKE_KEY) == distributed.WAKE_BACKLOG
        assert sender.waiting() == distributed.WAKE_BACKLOG + 40  # every message is kept, only tokens go
    finally:
        sender.close()
