"""After an unexpected 500 the keep-alive connection still serves the next request, and the error is
logged once. A real uvicorn (in a thread of this process) on a real socket: the reset was uvicorn closing
the transport because the app re-raised after its 500, which no in-process client would show."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from songforge.config import Settings
from songforge.server import create_app
from songforge_server import free_port


class _Boom(RuntimeError):
    pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[FastAPI, int]]:
    app = create_app(Settings(data_dir=tmp_path / "data", workers=0), run_workers=False, run_background=False)

    async def boom() -> None:
        raise _Boom("a bug in a handler")  # the stand-in for any bug we have not found yet

    app.add_api_route("/v1/tempolor/test-boom", boom, methods=["GET"])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="info", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield app, port
    server.should_exit = True
    thread.join(timeout=10)


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed after {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(
        int(v) for k, _, v in (ln.partition(": ") for ln in lines[1:]) if k.lower() == "content-length"
    )
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed mid-body")
        rest += chunk
    return status, rest[:length]


def _get(sock: socket.socket, path: str) -> tuple[int, bytes]:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    return _read_response(sock)


def test_the_connection_survives_a_500(served: tuple[FastAPI, int], caplog: pytest.LogCaptureFixture) -> None:
    _app, port = served
    with caplog.at_level(logging.INFO), socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for _ in range(5):
            status, body = _get(sock, "/v1/tempolor/test-boom")
            assert status == 500
            assert body == b'{"error":"Internal server error","code":500}'
            status, body = _get(sock, "/healthz")  # the same connection
            assert (status, body) == (200, b'{"status":"ok"}')
    tracebacks = [r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], _Boom)]
    assert len(tracebacks) == 5  # once per error: ours, not uvicorn's "Exception in ASGI application" too
    assert not any("Exception in ASGI application" in r.getMessage() for r in caplog.records)
