"""Restarts and crashes lose nothing that was accepted; no job stays GENERATING forever."""

from __future__ import annotations

import httpx
import pytest
from e2e_helpers import children, make_account, wait_final, wait_until

pytestmark = pytest.mark.slow


def _running(c: httpx.Client) -> list[dict]:
    return [e for e in c.get("/scheduler/").json() if e.get("state") == "running"]


def test_kill_9_mid_generation_reruns_the_job(make_server) -> None:  # type: ignore[no-untyped-def]
    # Long enough music that the kill lands mid-generation.
    server = make_server(workers=1, max_seconds=25)
    with server.client() as c:
        make_account(c)
        jobs = c.post(
            "/music/instrumental", json={"prompt": "orchestral build", "model_instrumental": "i3"}
        ).json()["jobs"]
        victim = wait_until(lambda: _running(c), timeout=60, interval=0.05)[0]["job_id"]
    worker_pids = children(server.proc.pid)
    server.kill()
    # the workers die with the server: nothing keeps generating unsupervised
    wait_until(lambda: not any(_alive(p) for p in worker_pids), timeout=10)
    server.start()
    with server.client() as c:
        record = wait_final(c, victim, timeout=240)
        assert record["status_name"] == "COMPLETED", record
        for job in jobs:
            assert wait_final(c, job, timeout=240)["status_final"]
        assert c.get(f"/music/download/{victim}").status_code == 200
    assert "recovered interrupted jobs" in server.log()


def test_graceful_restart_keeps_everything(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(workers=1)
    with server.client() as c:
        make_account(c, "keep", max_jobs=7)
        job = c.post("/music/instrumental", json={"prompt": "jazz trio", "model_instrumental": "i3"}).json()[
            "jobs"
        ][0]
        wait_final(c, job)
        link = c.get(f"/music/download/{job}", params={"file_format": "wav"}).json()["url"]
    server.restart()
    with server.client() as c:
        assert c.get("/accounts/keep").json()["maxJobs"] == 7
        assert c.get(f"/music/{job}").json()["status_name"] == "COMPLETED"
    assert httpx.get(link).status_code == 200  # signed links survive a restart


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
