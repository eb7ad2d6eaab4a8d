"""Failed authentication per client address (`songforge.http.auth_guard`): 429 with Retry-After in
both dialects' bodies past the limit, valid tokens unaffected, and unknown credentials not looked up
again while remembered."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import event

from inprocess_app import open_app
from songforge.config import Settings
from songforge.http.auth_guard import AuthGuard

T = "/v1/tempolor"


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_guard_blocks_past_the_limit_until_the_window_ends() -> None:
    clock = _Clock()
    guard = AuthGuard(max_failures=3, window_s=60, miss_ttl_s=5, clock=clock)
    for _ in range(3):
        assert guard.retry_after("10.0.0.1", "guess") is None
        guard.failed("10.0.0.1")
    assert guard.retry_after("10.0.0.1", "guess") == 60
    assert guard.retry_after("10.0.0.2", "guess") is None  # per address
    guard.succeeded("good")
    assert guard.retry_after("10.0.0.1", "good") is None  # a credential seen working still works
    clock.t += 45
    assert guard.retry_after("10.0.0.1", "guess") == 15
    clock.t += 15
    assert guard.retry_after("10.0.0.1", "guess") is None
    guard.missed("x")
    assert guard.known_miss("x")
    clock.t += 5
    assert not guard.known_miss("x")


def test_tempolor_wrong_tokens_get_429_with_retry_after(tmp_path: Path) -> None:
    with open_app(tmp_path, auth_failures_per_minute=5) as box:
        c = box.client
        assert c.get(f"{T}/accounts", headers=box.bearer).status_code == 404  # known good: no accounts
        for _ in range(10):  # one wrong token again and again costs one lookup, so counts once
            assert c.get(f"{T}/accounts", headers={"Authorization": "Bearer same"}).status_code == 401
        for _ in range(4):
            r = c.get(f"{T}/accounts", headers={"Authorization": f"Bearer sf_x_{secrets.token_hex(8)}"})
            assert r.status_code == 401
        r = c.get(f"{T}/accounts", headers={"Authorization": f"Bearer sf_x_{secrets.token_hex(8)}"})
        assert r.status_code == 429
        wait = int(r.headers["Retry-After"])
        assert 0 < wait <= 60
        body = r.json()
        assert body["code"] == 429 and set(body) == {"error", "code"}
        assert re.fullmatch(
            r"Too many failed authentication attempts from this address; retry in \d+ s", body["error"]
        )
        # the tenant's own token keeps working from the same address
        assert c.get(f"{T}/accounts", headers=box.bearer).status_code == 404
        # an unknown path answers the same 429 (auth comes first there too)
        r = c.get(f"{T}/nowhere", headers={"Authorization": "Bearer nope"})
        assert r.status_code == 429 and "Retry-After" in r.headers


def test_open_api_wrong_keys_get_an_envelope_429(tmp_path: Path) -> None:
    def wrong() -> dict[str, str]:
        return {"Authorization": "Tempo-" + secrets.token_hex(16) + "-3w"}

    with open_app(tmp_path, auth_failures_per_minute=3) as box:
        c = box.client
        body = {"item_ids": ["x"]}
        assert c.post("/open-apis/v1/song/query", json=body, headers=box.key).json()["status"] != 400002
        for _ in range(3):
            assert c.post("/open-apis/v1/song/query", json=body, headers=wrong()).json()["status"] == 400002
        r = c.post("/open-apis/v1/song/query", json=body, headers=wrong())
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
        env = r.json()
        assert env["status"] == 400006 and env["data"] is None and env["request_id"]
        assert env["message"].startswith("Server busy, please try again later~: too many failed")
        assert c.post("/open-apis/v1/song/query", json=body, headers=box.key).json()["status"] != 400006


def test_a_repeated_unknown_token_is_looked_up_once(tmp_path: Path) -> None:
    with open_app(tmp_path, auth_failures_per_minute=1000) as box:
        lookups: list[str] = []

        def record(_c: Any, _cur: Any, statement: str, _p: Any, _ctx: Any, _many: bool) -> None:
            if re.search(r"\bFROM (tenants|api_keys)\b", statement):
                lookups.append(statement)

        engine = box.app.state.db.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            for _ in range(20):
                r = box.client.get(f"{T}/accounts", headers={"Authorization": "Bearer sf_same_wrong"})
                assert r.status_code == 401
            key = {"Authorization": "Tempo-" + "a" * 32 + "-3w"}
            for _ in range(20):
                r = box.client.post("/open-apis/v1/song/query", json={"item_ids": ["x"]}, headers=key)
                assert r.json()["status"] == 400002
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert len(lookups) == 2, lookups


def test_forwarded_for_counts_only_behind_a_trusted_proxy() -> None:
    from starlette.requests import Request

    from songforge.http.auth_guard import client_address

    def request(peer: str, forwarded: str) -> Request:
        headers = [(b"x-forwarded-for", forwarded.encode())]
        return Request({"type": "http", "headers": headers, "client": (peer, 1234)})

    plain = Settings(data_dir=Path("unused"))
    proxied = Settings(data_dir=Path("unused"), trusted_proxies=("10.0.0.0/8",))
    assert client_address(request("203.0.113.9", "198.51.100.1"), plain) == "203.0.113.9"
    assert client_address(request("10.0.0.2", "1.2.3.4, 198.51.100.1, 10.0.0.3"), proxied) == "198.51.100.1"
    assert client_address(request("203.0.113.9", "198.51.100.1"), proxied) == "203.0.113.9"


def test_on_the_event_loop_the_shared_count_is_written_without_waiting() -> None:
    """`failed` on the loop hands the database write to a thread; the shared count, larger than this
    process's own, is taken when it comes."""
    import asyncio
    import threading
    import time

    release = threading.Event()

    def slow_shared(_address: str) -> tuple[float, int]:
        release.wait(10)
        return 1.0, 7  # six failures elsewhere, and this one

    guard = AuthGuard(max_failures=5, window_s=60, shared=slow_shared)

    async def fail_on_the_loop() -> float:
        start = time.monotonic()
        guard.failed("10.1.1.1")
        return time.monotonic() - start

    assert asyncio.run(fail_on_the_loop()) < 1.0  # the shared write is still blocked
    assert guard.retry_after("10.1.1.1", "guess") is None  # one failure known here so far
    release.set()
    deadline = time.monotonic() + 10
    while guard.retry_after("10.1.1.1", "guess") is None and time.monotonic() < deadline:
        time.sleep(0.01)
    wait = guard.retry_after("10.1.1.1", "guess")
    assert wait is not None and 58 <= wait <= 60
