"""A small fault-injecting HTTP proxy in front of a TemPolor Open API (our own server, or nothing).

Tests queue faults for a path suffix (`/generate`, `/query`); each matching request takes the next
fault instead of being forwarded: a business envelope (`status` 400007 ...), a bare HTTP status
(503), or a delay longer than the client's timeout. Everything else is forwarded unchanged to
`target`, so the upstream stays real; with no target, unmatched requests get 502.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


@dataclass
class Fault:
    status: int | None = None  # a business code, answered in an HTTP 200 envelope
    http_status: int | None = None  # a bare HTTP error instead
    delay: float = 0.0  # sleep first (a delay past the client's timeout is a timeout)
    message: str = ""


class FaultProxy:
    def __init__(self, target: str | None = None) -> None:
        self.target = target.rstrip("/") if target else None
        self.faults: dict[str, list[Fault]] = {}
        self.seen: list[tuple[str, str | None, dict[str, Any]]] = []  # (path, Authorization, body)
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                auth = self.headers.get("Authorization")
                fault = proxy._take(self.path, auth, body)
                if fault is not None:
                    time.sleep(fault.delay)
                    if fault.http_status is not None:
                        self._answer(fault.http_status, b"upstream trouble", "text/plain")
                        return
                    if fault.status is not None:
                        env = {
                            "status": fault.status,
                            "message": fault.message or f"injected {fault.status}",
                            "request_id": str(uuid.uuid4()),
                            "data": None,
                        }
                        self._answer(200, json.dumps(env).encode(), "application/json")
                        return
                if proxy.target is None:
                    self._answer(502, b"no upstream", "text/plain")
                    return
                headers = {"Content-Type": "application/json"}
                if auth is not None:
                    headers["Authorization"] = auth
                r = httpx.post(proxy.target + self.path, content=raw, headers=headers, timeout=60)
                self._answer(r.status_code, r.content, r.headers.get("content-type", "application/json"))

            def _answer(self, status: int, payload: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def inject(self, suffix: str, *faults: Fault) -> None:
        with self.lock:
            self.faults.setdefault(suffix, []).extend(faults)

    def calls(self, suffix: str) -> int:
        with self.lock:
            return sum(1 for path, _, _ in self.seen if path.endswith(suffix))

    def _take(self, path: str, auth: str | None, body: dict[str, Any]) -> Fault | None:
        with self.lock:
            self.seen.append((path, auth, body))
            for suffix, queued in self.faults.items():
                if path.endswith(suffix) and queued:
                    return queued.pop(0)
        return None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
