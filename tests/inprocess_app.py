"""The real app in-process on a real SQLite file: for edge tests that need no worker and no socket.

`open_app(tmp_path, **settings)` yields an `InProcessApp` (app, TestClient, a tenant's Bearer
headers, an Open API key's headers, and the tenant id). `raw_call` drives the app over raw ASGI with
a scripted `receive`, for what an HTTP client cannot send (a body that never comes, a disconnect).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from songforge.config import Settings
from songforge.core.tenants import create_token
from songforge.dialects.platform.keys import create_key
from songforge.server import create_app


@dataclass
class InProcessApp:
    app: FastAPI
    client: TestClient
    bearer: dict[str, str]  # /v1/tempolor
    key: dict[str, str]  # /open-apis/v1
    tenant_id: str


@contextmanager
def open_app(tmp_path: Path, **settings: Any) -> Iterator[InProcessApp]:
    settings.setdefault("workers", 0)
    app = create_app(
        Settings(data_dir=tmp_path / "data", **settings), run_workers=False, run_background=False
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        with app.state.db.session() as s:
            token = create_token(s, "t")
            key = create_key(s, token.tenant_id).key
        yield InProcessApp(
            app, client, {"Authorization": f"Bearer {token.token}"}, {"Authorization": key}, token.tenant_id
        )


Receive = Callable[[], Awaitable[dict[str, Any]]]


def raw_call(
    app: FastAPI,
    method: str,
    path: str,
    headers: dict[str, str],
    receive: Receive,
    timeout: float = 20.0,
) -> list[dict[str, Any]]:
    """Runs one request (`path` may carry a query) through the ASGI app; returns the messages it sent."""
    sent: list[dict[str, Any]] = []
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        await asyncio.wait_for(app(scope, receive, send), timeout)

    asyncio.run(run())
    return sent


def status_of(messages: list[dict[str, Any]]) -> int | None:
    for m in messages:
        if m["type"] == "http.response.start":
            return int(m["status"])
    return None


def body_of(messages: list[dict[str, Any]]) -> bytes:
    return b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
