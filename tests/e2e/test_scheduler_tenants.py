"""Scheduler endpoints, 429s, pagination, user_id rules and tenant isolation, over real HTTP.

The server runs without workers so jobs stay queued exactly as long as the test needs."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from e2e_helpers import make_account

pytestmark = pytest.mark.slow


def _submit(c: httpx.Client, **extra: object) -> httpx.Response:
    return c.post("/music/instrumental", json={"prompt": "calm piano", **extra})


def test_max_jobs_429_and_scheduler_endpoints(idle_server) -> None:  # type: ignore[no-untyped-def]
    with idle_server.client() as c:
        make_account(c, "u1", max_jobs=1)
        first = _submit(c, replyUrl="http://127.0.0.1:9/hook", replyRef="ref-1")
        assert first.status_code == 200, first.text
        jobs = first.json()["jobs"]

        busy = _submit(c)
        assert busy.status_code == 429
        assert int(busy.headers["Retry-After"]) >= 30
        body = busy.json()
        assert body["error"] == "Account is busy executing 1 jobs" and body["code"] == 429
        running = body["runningJobs"]["u1"]
        assert {e["job_id"] for e in running} == set(jobs)
        assert running[0]["replyUrl"] == "http://127.0.0.1:9/hook" and running[0]["replyRef"] == "ref-1"
        assert all(isinstance(e["started"], int) for e in running)
        # a per-request maxJobs lifts the account's limit for that request
        assert _submit(c, maxJobs=2).status_code == 200

        listed = c.get("/scheduler/").json()
        assert [e["job_id"] for e in listed][:2] == sorted(
            jobs, key=lambda j: [e["job_id"] for e in listed].index(j)
        )
        entry = listed[0]
        assert {"job_id", "started", "elapsed", "replyUrl", "replyRef"} <= set(entry)
        assert entry["started"].endswith("Z") and len(entry["elapsed"]) == 5
        assert entry["state"] == "queued" and entry["queuePosition"] == 1
        assert c.get("/scheduler").status_code == 200

        avail = c.get("/scheduler/available").json()
        assert avail["available"] == [{"user_id": "u1", "maxJobs": 1, "executing": 2, "available": 0}]
        assert len(avail["executing"]) == 4

        # untrack: 204, then 404 (not running any more); malformed: 400
        for job in jobs:
            assert c.delete(f"/scheduler/{job}").status_code == 204
        again = c.delete(f"/scheduler/{jobs[0]}")
        assert again.status_code == 404 and again.json()["error"] == "Unable to locate running job_id"
        bad = c.delete("/scheduler/garbage")
        assert bad.status_code == 400 and bad.json() == {"error": "job_id has incorrect format", "code": 400}
        assert len(c.get("/scheduler/").json()) == 2
        # the untracked job still exists and is still waiting to be generated
        assert c.get(f"/music/{jobs[0]}").json()["status_name"] == "GENERATING"


def test_cursor_pagination_is_stable_while_jobs_arrive(idle_server) -> None:  # type: ignore[no-untyped-def]
    with idle_server.client() as c:
        make_account(c, "u1", max_jobs=100)
        made = []
        for _ in range(13):
            made += _submit(c).json()["itemIds"]
        page1 = c.get("/music/", params={"type": "instrumental"}).json()
        assert page1["hasNext"] is True and len(page1["records"]) == 20 and page1["cursor"]
        # newer jobs arrive between pages: they must not shift page 2
        newer = _submit(c).json()["itemIds"]
        page2 = c.get("/music/", params={"type": "instrumental", "cursor": page1["cursor"]}).json()
        assert page2["hasNext"] is False and page2["cursor"] == ""
        seen = [r["itemId"] for r in page1["records"] + page2["records"]]
        assert sorted(seen) == sorted(made) and len(set(seen)) == 26
        times = [(r["createTime"]) for r in page1["records"] + page2["records"]]
        assert times == sorted(times, reverse=True)
        first = c.get("/music/", params={"type": "instrumental"}).json()["records"]
        assert {r["itemId"] for r in first[:2]} == set(newer)
        bad = c.get("/music/", params={"type": "instrumental", "cursor": "!!nope"})
        assert bad.status_code == 400 and "cursor" in bad.json()["error"]


def test_user_id_rules(idle_server) -> None:  # type: ignore[no-untyped-def]
    with idle_server.client() as c:
        none = _submit(c)
        assert none.status_code == 404
        make_account(c, "a")
        assert _submit(c).status_code == 200  # one account: user_id optional
        make_account(c, "b")
        several = _submit(c)
        assert several.status_code == 400 and "user_id" in several.json()["error"]
        assert c.get("/music/").status_code == 400
        assert _submit(c, user_id="b").status_code == 200
        assert _submit(c, user_id="zzz").status_code == 404
        assert (
            c.get("/music/", params={"user_id": "b", "type": "instrumental"}).json()["records"][0]["userId"]
            == "b"
        )
        bad_engine = c.post("/accounts", json={"requestParams": {"user_id": "c", "engine": "cloud9"}})
        assert bad_engine.status_code == 400 and "engine" in bad_engine.json()["error"]
        bad_max = c.post("/accounts", json={"requestParams": {"user_id": "c"}, "maxJobs": 500})
        assert bad_max.status_code == 400 and "maxJobs" in bad_max.json()["error"]


def test_tenants_are_isolated(idle_server) -> None:  # type: ignore[no-untyped-def]
    other_token, _, _ = idle_server.create_token("other")
    with idle_server.client() as a, idle_server.client(other_token) as b:
        make_account(a, "shared-name")
        job = _submit(a).json()["jobs"][0]
        assert b.get("/accounts").status_code == 404
        assert b.get("/accounts/shared-name").status_code == 404
        assert b.delete("/accounts/shared-name").status_code == 404
        make_account(b, "shared-name")  # same user_id, different tenant: a separate account
        for r in (
            b.get(f"/music/{job}"),
            b.get(f"/music/{quote(job, safe='')}"),
            b.delete(f"/music/{job}"),
            b.get(f"/music/download/{job}"),
        ):
            assert r.status_code == 404 and r.json()["error"] == f"No record found for {job}", r.text
        assert b.delete(f"/scheduler/{job}").status_code == 404
        assert b.get("/scheduler/").json() == []
        assert b.get("/music/", params={"type": "instrumental"}).json()["records"] == []
        # a's job is untouched
        assert a.get(f"/music/{job}").status_code == 200
        assert len(a.get("/scheduler/").json()) == 2
