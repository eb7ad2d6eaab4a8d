"""Heavy work runs in a thread at low priority; the calling thread (a worker's claim loop) keeps its own."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from songforge.workers.priority import WORKER_NICE, run_low


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_the_job_thread_and_what_it_starts_run_lower_while_the_caller_keeps_its_priority() -> None:
    before = _nice()

    def job() -> tuple[int, int]:
        child = subprocess.run(["sh", "-c", "cut -d' ' -f19 /proc/self/stat"], capture_output=True, text=True)
        return _nice(), int(child.stdout)

    inside, child = run_low(job)
    assert inside == min(19, before + WORKER_NICE)
    assert child == inside  # a subprocess (fluidsynth, ffmpeg) inherits the job's priority
    assert _nice() == before  # the claim loop is not lowered


def test_the_jobs_result_and_its_exception_come_back_to_the_caller() -> None:
    assert run_low(lambda a, b: a + b, 2, 3) == 5

    def fails() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run_low(fails)
