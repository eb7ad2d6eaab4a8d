"""Helpers for the Open API end-to-end tests (no tests here): keys from the real CLI, a real
callback receiver, a real file server for stems URLs, and polling."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import numpy as np
import soundfile as sf

OPENAPI = "/open-apis/v1"


def songforge(server: Any, *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI against the server's data dir."""
    return subprocess.run(
        [sys.executable, "-m", "songforge", *args, "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        env=server.env,
        timeout=120,
    )


def create_key(server: Any, tenant: str | None = None) -> str:
    args = ["key", "create"] + (["--tenant", tenant] if tenant is not None else [])
    result = songforge(server, *args)
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip().splitlines()[-1].strip()
    assert key.startswith("Tempo-") and key.endswith("-3w") and len(key) == 41, key
    return key


def open_client(server: Any, key: str) -> httpx.Client:
    """Headers exactly as the platform's curl samples send them: the raw key, no Bearer."""
    return httpx.Client(
        base_url=server.base_url + OPENAPI,
        headers={"Authorization": key, "Content-Type": "application/json; charset=utf-8"},
        timeout=60.0,
    )


def post(client: httpx.Client, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    r = client.post(path, content=json.dumps(body if body is not None else {}))
    assert r.status_code == 200, r.text
    env = r.json()
    assert set(env) == {"status", "message", "request_id", "data"}, env
    return env


def ok(client: httpx.Client, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    env = post(client, path, body)
    assert env["status"] == 200000 and env["message"] == "success", env
    return env["data"]


def wait_item(client: httpx.Client, kind: str, item_id: str, timeout: float = 180.0) -> dict[str, Any]:
    """Polls `<kind>/query` until the item's status is final."""
    field = {"song": "songs", "instrumental": "instrumentals", "lyrics": "lyrics", "stems": "stems"}[kind]
    path = "/stems/query" if kind == "stems" else f"/{kind}/query"
    deadline = time.monotonic() + timeout
    item: dict[str, Any] = {}
    while time.monotonic() < deadline:
        item = ok(client, path, {"item_ids": [item_id]})[field][0]
        if item["status"] in ("succeeded", "part_failed", "failed"):
            return item
        time.sleep(0.3)
    raise AssertionError(f"{kind} {item_id} not final after {timeout}s: {item}")


class Receiver:
    """A real HTTP server on 127.0.0.1 that records callbacks and answers each path from a script
    of (status, body) replies, then with (200, "success")."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.scripts: dict[str, list[tuple[int, str]]] = {}
        self.files: dict[str, bytes] = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                with outer.lock:
                    script = outer.scripts.get(self.path, [])
                    status, body = script.pop(0) if script else (200, "success")
                    call = {"path": self.path, "headers": dict(self.headers), "raw": raw}
                    call.update(json=json.loads(raw), answered=(status, body))
                    outer.calls.append(call)
                self.send_response(status)
                self.send_header("content-type", "text/plain")
                self.end_headers()
                self.wfile.write(body.encode())

            def do_GET(self) -> None:  # noqa: N802
                data = outer.files.get(self.path)
                if data is None:
                    self.send_response(302 if self.path.startswith("/redirect") else 404)
                    if self.path.startswith("/redirect"):
                        self.send_header("location", "http://169.254.169.254/latest/meta-data/")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("content-type", "audio/wav")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def calls_to(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [c for c in self.calls if c["path"] == path]

    def wait_calls(self, path: str, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = self.calls_to(path)
            if len(calls) >= count:
                return calls
            time.sleep(0.1)
        got = [(c["answered"], c["json"]) for c in self.calls_to(path)]
        raise AssertionError(f"{path}: {len(got)} calls, wanted {count}: {got}")

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def wav_bytes(seconds: float = 4.0, sr: int = 44100) -> bytes:
    """A small mix a separator can work on: a bass tone, a chord and clicks."""
    t = np.arange(int(seconds * sr)) / sr
    bass = 0.3 * np.sin(2 * np.pi * 55 * t)
    chord = sum(0.1 * np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0))
    clicks = np.zeros_like(t)
    clicks[:: sr // 2] = 0.8
    mono = (bass + chord + clicks).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, np.stack([mono, mono], axis=1), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()
