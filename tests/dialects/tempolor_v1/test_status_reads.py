"""The status poll's short road (`StatusReads`): it answers only what the route would answer 200,
with the route's very bytes and headers, and hands everything else to the ordinary road."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from inprocess_app import body_of, open_app, status_of
from songforge.dialects.tempolor_v1.status_reads import StatusReads

API = "/v1/tempolor"


def _call(app: Any, shortcut: StatusReads, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """`path` through `shortcut` alone, with the real app's state behind it (Starlette puts the app
    in the scope before its middleware runs)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
        "app": app,
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(shortcut(scope, receive, send))
    return sent


def test_a_poll_is_answered_before_routing_with_the_routes_own_answer(tmp_path: Path) -> None:
    with open_app(tmp_path) as a:
        a.client.post(
            API + "/accounts", json={"requestParams": {"user_id": "s"}, "maxJobs": 3}, headers=a.bearer
        )
        submitted = a.client.post(
            API + "/music/instrumental", json={"prompt": "soft piano"}, headers=a.bearer
        )
        assert submitted.status_code == 200, submitted.text
        job_id = submitted.json()["jobs"][0]

        # The trailing-slash form is routed (songforge.http.slashes) to the route itself: the long road.
        long_road = a.client.get(f"{API}/music/{job_id}/", headers=a.bearer)
        short_road = a.client.get(f"{API}/music/{job_id}", headers=a.bearer)
        assert long_road.status_code == short_road.status_code == 200
        assert short_road.content == long_road.content
        assert short_road.json()["job_id"] == job_id
        for name in ("content-type", "content-length"):
            assert short_road.headers[name] == long_road.headers[name]

        passed_on: list[str] = []

        async def ordinary_road(scope: Any, _receive: Any, send: Any) -> None:
            passed_on.append(scope["path"])
            await send({"type": "http.response.start", "status": 599, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        shortcut = StatusReads(ordinary_road, prefix=API)
        answered = _call(a.app, shortcut, f"{API}/music/{job_id}", a.bearer)
        assert status_of(answered) == 200 and passed_on == []
        assert body_of(answered) == short_road.content

        # Whatever the route would not answer 200 goes on, untouched, to the ordinary road.
        other_tenant_job = job_id[:-4] + ("aaaa" if not job_id.endswith("aaaa") else "bbbb")
        for path, headers in [
            (f"{API}/music/{job_id}", {}),  # no token: the route's 401
            (f"{API}/music/{job_id}", {"Authorization": "Bearer not-a-token"}),  # uncached: looked up there
            (f"{API}/music/{other_tenant_job}", a.bearer),  # no such job: 404
            (f"{API}/music/not-an-id", a.bearer),  # malformed: 400
            (f"{API}/music/{job_id}/", a.bearer),  # the other slash form
            (f"{API}/music/", a.bearer),  # the list
        ]:
            passed_on.clear()
            assert status_of(_call(a.app, shortcut, path, headers)) == 599, path
            assert passed_on == [path]

        # And through the whole app those answer as the route always did.
        assert a.client.get(f"{API}/music/{job_id}").status_code == 401
        assert a.client.get(f"{API}/music/{other_tenant_job}", headers=a.bearer).status_code == 404
        assert a.client.get(f"{API}/music/not-an-id", headers=a.bearer).status_code in (400, 404)
