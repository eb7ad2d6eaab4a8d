"""Small helpers for end-to-end tests against a real server process."""

from __future__ import annotations

import os
import time
from typing import Any

import httpx


def wait_final(client: httpx.Client, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    record: dict[str, Any] = {}
    while time.monotonic() < deadline:
        r = client.get(f"/music/{job_id}")
        assert r.status_code == 200, r.text
        record = r.json()
        if record["status_final"]:
            return record
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} not final after {timeout}s: {record}")


def wait_until(predicate: Any, timeout: float = 60.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def make_account(client: httpx.Client, user_id: str = "u1", max_jobs: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"requestParams": {"user_id": user_id}}
    if max_jobs is not None:
        body["maxJobs"] = max_jobs
    r = client.post("/accounts", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def children(pid: int, named: str | None = None) -> list[int]:
    """The processes whose parent is `pid` (from /proc), only those whose name is `named` if given."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                comm, rest = f.read().rsplit(")", 1)
            if int(rest.split()[1]) == pid and (named is None or comm.split("(", 1)[1] == named):
                out.append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return out
