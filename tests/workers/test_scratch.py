"""Scratch directories a crash left behind (`songforge.workers.scratch`): removed at start unless
their owner still holds the job running, so workers sharing a data dir keep each other's."""

from __future__ import annotations

import os
import time
from pathlib import Path

from songforge.config import Settings
from songforge.core import accounts, queue, scheduler, tenants
from songforge.dialects.tempolor_v1.params import parse_music_params
from songforge.store.db import Database
from songforge.store.migrate import upgrade_database
from songforge.workers.local import WorkerPool
from songforge.workers.scratch import clean_leftovers, job_scratch


def _setup(tmp_path: Path) -> tuple[Settings, Database, list[str]]:
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    upgrade_database(settings.db_url)
    db = Database(settings.db_url)
    with db.session() as s:
        account = accounts.upsert_account(s, tenants.create_token(s, "t").tenant_id, {"user_id": "u"}, 10)
    with db.session() as s:
        jobs = scheduler.submit(
            s, account=account, request=parse_music_params("instrumental", {"prompt": "x"})
        )
        ids = [j.item_id for j in jobs]
    return settings, db, ids


def test_only_a_live_owners_directory_survives(tmp_path: Path) -> None:
    settings, db, (running_id, queued_id) = _setup(tmp_path)
    try:
        job = queue.claim_next(db, "w-live")
        assert job is not None
        running_id, queued_id = job.item_id, next(i for i in (running_id, queued_id) if i != job.item_id)
        data = settings.data_dir
        live = job_scratch(data, running_id, "w-live")
        earlier_attempt = job_scratch(data, running_id, "w-dead")
        requeued = job_scratch(data, queued_id, "w-dead")  # its worker died; the job went back
        (requeued / "take.wav").write_bytes(b"\0" * 4096)
        unowned_old = data / f".job-{queued_id}-abcd1234"
        unowned_old.mkdir()
        old = time.time() - 3600
        os.utime(unowned_old, (old, old))
        being_made = data / f".job-{running_id}-zzzz9999"  # mkdtemp done, owner not yet written
        being_made.mkdir()
        assert clean_leftovers(db, data) == 3
        assert live.is_dir() and being_made.is_dir()
        assert not earlier_attempt.exists() and not requeued.exists() and not unowned_old.exists()
        # once the job ends (or its lease runs out), its directory is debris too
        assert queue.complete(db, running_id, "w-live", {})
        assert clean_leftovers(db, data) == 1 and not live.exists()
    finally:
        db.dispose()


def test_the_local_pool_clears_leftovers_when_it_starts(tmp_path: Path) -> None:
    settings, db, (item_id, _) = _setup(tmp_path)
    try:
        job = queue.claim_next(db, "wOLDBOOT-0-1")  # a worker of the previous boot, killed mid-job
        assert job is not None
        left = job_scratch(settings.data_dir, job.item_id, "wOLDBOOT-0-1")
        pool = WorkerPool(settings, 0)
        pool.start()
        pool.stop()
        assert not left.exists()
    finally:
        db.dispose()
