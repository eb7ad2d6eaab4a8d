"""A generation's scratch directory, and clearing those a crash left behind.

Why: a job renders into `<data dir>/.job-<item id>-<random>/` and removes it when it ends, but a
worker killed mid-job (SIGKILL, the OOM killer, a power cut) never gets there, and each leftover held
tens of megabytes for good. Each directory now names its owner (the worker id, in `.owner`), and at
start (and from time to time in a distributed worker) every directory is removed unless its owner
still holds that job running with a live lease. Workers sharing a data dir (`--processes N`, several
`songforge worker`s on one machine) therefore never remove each other's live work.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from songforge.clock import now_ms
from songforge.core.states import JobState
from songforge.store.db import Database
from songforge.store.models import Job

__all__ = ["clean_leftovers", "job_scratch"]

log = logging.getLogger("songforge.workers")

PREFIX = ".job-"
OWNER_FILE = ".owner"
# A directory whose owner file is not written yet is being created right now; older, it is debris.
UNOWNED_GRACE_SECONDS = 60.0


def job_scratch(data_dir: Path, item_id: str, worker_id: str) -> Path:
    """A fresh scratch directory for `item_id`, marked as `worker_id`'s."""
    data_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{item_id}-", dir=data_dir))
    (scratch / OWNER_FILE).write_text(worker_id, encoding="utf-8")
    return scratch


def _item_id(name: str) -> str:
    # mkdtemp's random part never holds "-", item ids are hex: `.job-<item>-<random>`
    return name[len(PREFIX) :].rsplit("-", 1)[0]


def clean_leftovers(db: Database, data_dir: Path) -> int:
    """Removes the scratch directories no live worker is using; returns how many it removed."""
    if not data_dir.is_dir():
        return 0
    found = [d for d in data_dir.glob(f"{PREFIX}*") if d.is_dir()]
    if not found:
        return 0
    items = {_item_id(d.name) for d in found}
    t = now_ms()
    with db.session() as s:
        live = {
            (item_id, worker_id)
            for item_id, worker_id in s.execute(
                select(Job.item_id, Job.worker_id).where(
                    Job.item_id.in_(items), Job.state == JobState.RUNNING, Job.lease_until_ms > t
                )
            )
        }
    removed = 0
    for d in found:
        try:
            owner = (d / OWNER_FILE).read_text(encoding="utf-8").strip()
        except OSError:
            try:
                young = time.time() - d.stat().st_mtime < UNOWNED_GRACE_SECONDS
            except OSError:
                continue  # removed meanwhile
            if young:
                continue
            owner = ""
        if (_item_id(d.name), owner) in live:
            continue
        shutil.rmtree(d, ignore_errors=True)
        removed += 1
    if removed:
        log.warning(
            "removed %d scratch director%s left by interrupted jobs", removed, "y" if removed == 1 else "ies"
        )
    return removed
