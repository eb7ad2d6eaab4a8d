"""The local pool's wake-up lines (`workers.local`): after a commit each worker's pipe names the new
jobs, that worker's own first, so idle workers woken for one request's variations claim different
ones (`queue.claim_next(prefer=...)`) instead of racing for the first."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from songforge.config import Settings
from songforge.workers.local import WorkerPool, _drain, _woken_for


def _pool_with_pipes(tmp_path: Path, n: int) -> tuple[WorkerPool, list[Any]]:
    """A pool without processes whose wake-up pipes' read ends the test holds (the workers' ends)."""
    pool = WorkerPool(Settings(data_dir=tmp_path / "data"), count=0)
    readers = []
    for slot in range(n):
        reader, writer = pool._ctx.Pipe(duplex=False)
        os.set_blocking(reader.fileno(), False)
        os.set_blocking(writer.fileno(), False)
        pool._wakers[f"{slot}"] = writer
        readers.append(reader)
    return pool, readers


def test_each_worker_is_woken_for_its_own_variation_first(tmp_path: Path) -> None:
    pool, readers = _pool_with_pipes(tmp_path, 3)
    fds = [r.fileno() for r in readers]
    pool.wake_up(["aaa111", "bbb222"])
    assert [_woken_for(_drain(fd)) for fd in fds] == [
        ["aaa111", "bbb222"],
        ["bbb222", "aaa111"],
        ["aaa111", "bbb222"],  # more workers than jobs: the third races as before, nothing lost
    ]
    assert [_drain(fd) for fd in fds] == [b"", b"", b""]  # drained: the next wait blocks


def test_a_plain_wake_up_names_nothing_and_later_lines_come_first(tmp_path: Path) -> None:
    pool, (reader,) = _pool_with_pipes(tmp_path, 1)
    fd = reader.fileno()
    pool.wake_up()  # a requeue: work without new ids
    data = _drain(fd)
    assert data and _woken_for(data) == []
    pool.wake_up(["old1", "old2"])
    pool.wake_up(["new1"])  # committed while the worker was busy: the newest request first
    assert _woken_for(_drain(fd)) == ["new1", "old1", "old2"]
    assert _woken_for(b"x;y\n,,\n") == []  # garbage is ignored, never claimed
