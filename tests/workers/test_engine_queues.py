"""A queue per engine on one broker: each worker takes only the jobs of its engines.

Against a real Redis and a real PostgreSQL: the dispatcher sends each job to its engine's queue and
wakes that queue's workers; `claim_next(engines=...)` keeps the fair order among a worker's engines;
a worker of two queues holds no second message while it runs one (an idle worker elsewhere takes it);
and two real workers, one with the embedded engine and one with acestep on a tiny random checkpoint
(tests/acestep_tiny.py), each run only their own engine's jobs while a job for an engine nobody has
stays queued, with one message waiting and counted in /metrics.
"""

# ruff: noqa: F811 - `pg_url` and `redis_url` are fixtures imported from worker_fixtures
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from sqlalchemy import update
from worker_fixtures import pg_url, redis_url  # noqa: F401 (fixtures)

from songforge.config import Settings
from songforge.core import accounts, queue, scheduler, tenants
from songforge.dialects.tempolor_v1.params import parse_music_params
from songforge.http.metrics import render
from songforge.store.db import Database
from songforge.store.models import Job
from songforge.workers import distributed
from songforge_server import cli


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    database = Database(pg_url)
    yield database
    database.dispose()


def _settings(tmp_path: Path, pg_url: str, redis_url: str, engines: tuple[str, ...]) -> Settings:
    s = Settings(data_dir=tmp_path / "data", database_url=pg_url, queue_url=redis_url, worker_engines=engines)
    s.data_dir.mkdir(parents=True, exist_ok=True)
    return s


def _account(db: Database, name: str) -> Any:
    with db.session() as s:
        tenant_id = tenants.create_token(s, name).tenant_id
        return accounts.upsert_account(s, tenant_id, {"user_id": "u1"}, 10)


def _submit(db: Database, account: Any, engine: str) -> list[str]:
    with db.session() as s:
        jobs = scheduler.submit(
            s, account=account, request=parse_music_params("instrumental", {"prompt": "x"}), engine=engine
        )
        return [j.item_id for j in jobs]


def _rows(db: Database, ids: list[str]) -> list[Job]:
    with db.session() as s:
        return [row for row in (s.get(Job, i) for i in ids) if row is not None]


def test_each_job_goes_to_its_engines_queue_and_wakes_only_its_workers(db: Database, redis_url: str) -> None:
    dispatcher = distributed.dispatch_on_commit(db, redis_url)
    try:
        account = _account(db, "t")
        _submit(db, account, "embedded")
        _submit(db, account, "acestep")
        _submit(db, account, "acestep")
        client = dispatcher.broker.client
        assert distributed.queue_for("embedded") == distributed.QUEUE_NAME  # the queue of older releases
        waiting = {engine: dispatcher.waiting(engine) for engine in ("embedded", "acestep", "tempolor")}
        assert waiting == {"embedded": 2, "acestep": 4, "tempolor": 0}
        assert client.llen(f"songforge:{distributed.QUEUE_NAME}") == 2
        assert client.llen("songforge:jobs.acestep") == 4
        assert client.llen(distributed.WAKE_KEY) == 2
        assert client.llen(distributed.wake_key("jobs.acestep")) == 4
        assert dispatcher.waiting() == 6
    finally:
        dispatcher.close()


def test_claim_next_takes_only_the_given_engines_in_fair_order(db: Database) -> None:
    busy, other = _account(db, "busy"), _account(db, "other")
    busy_ace = _submit(db, busy, "acestep") + _submit(db, busy, "acestep")
    busy_cpu = _submit(db, busy, "embedded")
    other_ace = _submit(db, other, "acestep")
    upstream = _submit(db, other, "tempolor")
    gpu = {"acestep"}
    first = queue.claim_next(db, "gpu", engines=gpu)
    assert first is not None and first.engine == "acestep"
    # The tenant served first waits for the other's turn, among acestep jobs only.
    second = queue.claim_next(db, "gpu", engines=gpu)
    assert second is not None and second.engine == "acestep" and second.tenant_id != first.tenant_id
    rest = [queue.claim_next(db, "gpu", engines=gpu) for _ in range(len(busy_ace) + len(other_ace) - 2)]
    assert all(j is not None and j.engine == "acestep" for j in rest)
    assert queue.claim_next(db, "gpu", engines=gpu) is None  # embedded and tempolor jobs are still queued
    assert {j.state for j in _rows(db, busy_cpu + upstream)} == {"queued"}
    cpu = queue.claim_next(db, "cpu", engines={"embedded"})
    assert cpu is not None and cpu.item_id in busy_cpu
    assert queue.claim_next(db, "nobody", engines=set()) is None
    everything = queue.claim_next(db, "any")  # without engines, as the local pool claims: any job
    assert everything is not None and everything.item_id in busy_cpu + upstream


def test_the_setting_names_registered_ready_engines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SONGFORGE_ACESTEP_WEIGHTS", raising=False)
    base = tmp_path / "data"
    assert "acestep" not in distributed.worker_engines(Settings(data_dir=base))  # default: the ready ones
    assert "embedded" in distributed.worker_engines(Settings(data_dir=base))
    assert distributed.worker_engines(Settings(data_dir=base, worker_engines=("embedded",))) == {"embedded"}
    with pytest.raises(ValueError, match="no engine is registered as nope"):
        distributed.worker_engines(Settings(data_dir=base, worker_engines=("embedded", "nope")))
    with pytest.raises(ValueError, match="names acestep, not ready here"):
        distributed.worker_engines(Settings(data_dir=base, worker_engines=("acestep",)))
    monkeypatch.setenv("SONGFORGE_WORKER_ENGINES", "embedded, tempolor")
    assert Settings(data_dir=base).worker_engines == ("embedded", "tempolor")


def test_songforge_worker_refuses_engines_it_cannot_run(tmp_path: Path) -> None:
    """`--engines` is checked before the worker joins anything (nothing here is contacted)."""
    common = ["worker", "--data-dir", str(tmp_path / "w"), "--queue", "redis://127.0.0.1:1/0"]
    common += ["--database-url", "postgresql://nobody@127.0.0.1:1/none", "--blob-store", "s3://b/p"]
    env = {"SONGFORGE_ACESTEP_WEIGHTS": "", "SONGFORGE_WORKER_ENGINES": "", "SONGFORGE_MODEL_ENGINES": ""}
    unknown = cli(*common, "--engines", "embedded,nope", env=env, check=False)
    assert unknown.returncode == 2, unknown.stderr
    assert "no engine is registered as nope" in " ".join(unknown.stderr.split())
    # From the environment as well; acestep without its weights is not ready here.
    not_ready = cli(*common, env={**env, "SONGFORGE_WORKER_ENGINES": "acestep"}, check=False)
    assert not_ready.returncode == 2, not_ready.stderr
    said = " ".join(not_ready.stderr.split())
    assert "names acestep, not ready here" in said and "SONGFORGE_ACESTEP_WEIGHTS" in said, said


def test_a_message_in_another_engines_queue_is_forwarded_not_run(
    tmp_path: Path, pg_url: str, redis_url: str, db: Database
) -> None:
    """An older release sent every job to `jobs`: an embedded-only worker that gets an acestep job's
    message there claims nothing and puts the message in the acestep queue."""
    worker = distributed.DistributedWorker(_settings(tmp_path, pg_url, redis_url, ("embedded",)), "cpu")
    try:
        ace = _submit(db, _account(db, "t"), "acestep")
        assert worker.dispatcher.waiting("acestep") == 0  # nothing dispatched on commit here
        assert worker._claim(ace[0]) is None
        assert worker.dispatcher.waiting("acestep") == 1
        assert {j.state for j in _rows(db, ace)} == {"queued"}
    finally:
        worker.stop()


class _Consumer:
    """The broker and Dramatiq worker a `DistributedWorker` runs, on the queues of `engines`, with an
    actor that records where each message arrived and holds it for a while (a generation)."""

    def __init__(
        self, url: str, name: str, engines: set[str], arrived: dict[str, str], hold_s: float
    ) -> None:
        self.name = name
        self.arrived = arrived
        self.hold_s = hold_s
        self.dispatcher = distributed.Dispatcher(url, self._run)
        queues = {distributed.queue_for(e) for e in engines}
        for q in queues:
            self.dispatcher.broker.declare_queue(q)
        self.worker = dramatiq.Worker(
            self.dispatcher.broker, queues=queues, worker_threads=1, worker_timeout=distributed.IDLE_POLL_MS
        )
        self.worker.queue_prefetch = 1
        self.started = threading.Event()

    def _run(self, item_id: str) -> None:
        self.arrived[item_id] = self.name
        self.started.set()
        time.sleep(self.hold_s)

    def close(self) -> None:
        self.worker.stop(timeout=5000)
        self.dispatcher.close()


def test_a_busy_worker_of_two_engines_leaves_the_other_engines_job_to_an_idle_worker(redis_url: str) -> None:
    """One prefetch over all of a worker's queues: while it runs a job of one engine, the other
    engine's message stays in Redis, for whichever worker is idle."""
    arrived: dict[str, str] = {}
    both = _Consumer(redis_url, "both", {"embedded", "acestep"}, arrived, hold_s=3.0)
    gpu = _Consumer(redis_url, "gpu", {"acestep"}, arrived, hold_s=0.0)
    sender = distributed.Dispatcher(redis_url)
    both.worker.start()
    try:
        time.sleep(0.5)
        sender.send(["cpu-job"], "embedded")
        assert both.started.wait(5)
        sender.send(["gpu-job"], "acestep")
        time.sleep(0.5)  # Dramatiq's own consumer of the second queue would have fetched it by now
        assert arrived == {"cpu-job": "both"} and sender.waiting("acestep") == 1
        gpu.worker.start()
        deadline = time.monotonic() + 1.5  # before `both` finishes its job
        while "gpu-job" not in arrived and time.monotonic() < deadline:
            time.sleep(0.01)
        assert arrived == {"cpu-job": "both", "gpu-job": "gpu"}
    finally:
        both.close()
        gpu.close()
        sender.close()


@pytest.mark.slow
def test_gpu_and_cpu_workers_take_only_their_engines_jobs(
    tmp_path: Path, pg_url: str, redis_url: str, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("diffusers")
    pytest.importorskip("transformers")
    from acestep_tiny import save_tiny_checkpoint
    from songforge.engines.acestep import pipeline as ace_pipeline

    weights = save_tiny_checkpoint(tmp_path / "weights" / "tiny-turbo")
    monkeypatch.setenv("SONGFORGE_ACESTEP_WEIGHTS", str(weights))
    monkeypatch.setenv("SONGFORGE_ACESTEP_STEPS", "2")
    monkeypatch.setenv("SONGFORGE_ACESTEP_DEVICE", "cpu")
    monkeypatch.setenv("SONGFORGE_MAX_SECONDS_OVERRIDE", "4")
    dispatcher = distributed.dispatch_on_commit(db, redis_url)
    cpu = distributed.DistributedWorker(
        _settings(tmp_path, pg_url, redis_url, ("embedded",)), "cpu", callbacks=False
    )
    gpu = distributed.DistributedWorker(
        _settings(tmp_path, pg_url, redis_url, ("acestep",)), "gpu", callbacks=False
    )
    assert (cpu.engines, gpu.engines) == ({"embedded"}, {"acestep"})
    for w in (cpu, gpu):
        w.start()
    try:
        account = _account(db, "t")
        embedded = _submit(db, account, "embedded")
        ace = _submit(db, account, "acestep")
        nobody = _submit(db, account, "tempolor")  # no live worker has the upstream engine
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if {j.state for j in _rows(db, embedded + ace)} <= {"completed", "failed"}:
                break
            time.sleep(0.2)
        done = {j.item_id: (j.state, j.worker_id, j.engine, j.error) for j in _rows(db, embedded + ace)}
        assert {i: d[:3] for i, d in done.items()} == {
            **{i: ("completed", "cpu", "embedded") for i in embedded},
            **{i: ("completed", "gpu", "acestep") for i in ace},
        }, done
        # Jobs whose messages were lost (queued by a process without a dispatcher, long ago) are sent
        # again to their engine's queue while the job nobody can make keeps its one waiting message:
        # the lost-message sweep looks queue by queue, so the waiting message hides nothing else.
        silent = Database(pg_url)
        try:
            lost = _submit(silent, account, "acestep")
        finally:
            silent.dispose()
        with db.session() as s:
            s.execute(update(Job).where(Job.item_id.in_(lost + nobody)).values(queued_ms=1, updated_ms=1))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and {j.state for j in _rows(db, lost)} != {"completed"}:
            time.sleep(0.2)
        assert {(j.state, j.worker_id) for j in _rows(db, lost)} == {("completed", "gpu")}
        assert {(j.state, j.attempts, j.worker_id) for j in _rows(db, nobody)} == {("queued", 0, None)}
        assert dispatcher.waiting("tempolor") == 2  # never sent again: one message each, still waiting
        assert 'songforge_queue_depth{engine="tempolor"} 2.0' in render(db).decode()
    finally:
        for w in (cpu, gpu):
            w.stop()
        dispatcher.close()
        ace_pipeline.unload()
