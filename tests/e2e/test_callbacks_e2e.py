"""replyUrl callbacks from a real server process to a real receiver on 127.0.0.1.

Retry delays are scaled down with SONGFORGE_CALLBACK_RETRY_SCALE so that retries happen within
seconds; everything else (outbox, signing, ordering, restart) is the production path.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from e2e_helpers import make_account, wait_final, wait_until

from songforge.core.callbacks import verify_signature

pytestmark = pytest.mark.slow

RETRY_ENV = {"SONGFORGE_CALLBACK_RETRY_SCALE": "0.02"}  # retries after 0.6 s, 1.8 s, 3.6 s, 12 s...


class Receiver:
    """Records every callback; answers 500 to the first final event it sees (to force a retry)."""

    def __init__(self, port: int = 0, fail_first_final: bool = False) -> None:
        self.events: list[tuple[dict[str, str], bytes]] = []
        self.fail_first_final = fail_first_final
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = 200
                with receiver.lock:
                    receiver.events.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    try:
                        final = json.loads(body).get("status_final") is True
                    except ValueError:
                        final = False
                    if final and receiver.fail_first_final:
                        receiver.fail_first_final = False
                        status = 500
                self.send_response(status)
                self.send_header("Content-Length", "7")
                self.end_headers()
                self.wfile.write(b"success")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/songforge/hook?secret=abc"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def payloads(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(b) for _h, b in self.events]

    def finals(self) -> dict[str, dict[str, Any]]:
        return {p["itemId"]: p for p in self.payloads() if p.get("status_final")}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _check_order(receiver: Receiver, secret: str, item_ids: list[str]) -> None:
    """Per job: events arrive in the order they happened, the final one last, all signed."""
    per_item: dict[str, list[dict[str, Any]]] = {i: [] for i in item_ids}
    for headers, body in receiver.events:
        assert verify_signature(secret, headers, body), headers
        assert headers["webhook-id"].startswith("msg_")
        payload = json.loads(body)
        per_item[payload["itemId"]].append(payload)
    for item_id, events in per_item.items():
        assert events, f"no callbacks for {item_id}"
        first_final = next(i for i, e in enumerate(events) if e["status_final"])
        assert all(e["status_final"] for e in events[first_final:]), events  # a retry may repeat it
        # Events were written in job-time order; they must arrive in it.
        times = [e["updateTime"] for e in events]
        assert times == sorted(times), str([(e["progress"], e["stage"], e["updateTime"]) for e in events])
        last = events[-1]
        assert last["status"] == 30 and last["status_name"] == "COMPLETED" and last["progress"] == 100
        assert all(e["replyRef"] == "order-42" for e in events)
        assert all(e["job_id"].endswith(":" + item_id) for e in events)


def test_progress_and_final_events_in_order_signed_with_a_retry(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(env=RETRY_ENV)
    receiver = Receiver(fail_first_final=True)
    try:
        with server.client() as c:
            make_account(c, "u1")
            r = c.post(
                "/music/instrumental",
                json={"prompt": "warm lo-fi piano", "replyUrl": receiver.url, "replyRef": "order-42"},
            )
            assert r.status_code == 200, r.text
            jobs, items = r.json()["jobs"], r.json()["itemIds"]
            for job in jobs:
                assert wait_final(c, job, timeout=180)["status"] == 30
        wait_until(lambda: len(receiver.finals()) == len(items), timeout=60)
        time.sleep(0.5)  # nothing may arrive after the final events
        _check_order(receiver, server.signing_secret, items)
        assert len(receiver.payloads()) > 2 * len(items)  # progress steps, not only the finals
        # The 500 was retried: one final event's message id arrived twice.
        final_ids = [h["webhook-id"] for h, b in receiver.events if json.loads(b)["status_final"]]
        assert len(final_ids) == len(items) + 1 and len(set(final_ids)) == len(items)
    finally:
        receiver.close()


def test_refused_targets_are_400(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(allow_private_callbacks=False)
    with server.client() as c:
        make_account(c, "u1")
        for url, word in [
            ("http://169.254.169.254/latest/meta-data/", "link-local"),
            ("http://127.0.0.1:9/hook", "loopback"),
            ("http://10.0.0.8/hook", "private"),
            ("ftp://example.com/hook", "http or https"),
        ]:
            r = c.post("/music/instrumental", json={"prompt": "x", "replyUrl": url})
            assert r.status_code == 400, (url, r.text)
            assert word in r.json()["error"] and r.json()["code"] == 400
        assert c.get("/music/", params={"type": "instrumental"}).json()["records"] == []


def test_pending_callbacks_survive_a_restart(make_server) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens yet: every attempt is refused
    server = make_server(env=RETRY_ENV)
    url = f"http://127.0.0.1:{port}/hook"
    with server.client() as c:
        make_account(c, "u1")
        r = c.post(
            "/music/instrumental", json={"prompt": "ambient pad", "replyUrl": url, "replyRef": "order-42"}
        )
        assert r.status_code == 200, r.text
        items = r.json()["itemIds"]
        for job in r.json()["jobs"]:
            wait_final(c, job, timeout=180)
    time.sleep(1.0)  # let the first attempts at the final events fail
    server.stop()
    receiver = Receiver(port=port)
    try:
        server.start()
        wait_until(lambda: len(receiver.finals()) == len(items), timeout=90)
        for item_id in items:
            final = receiver.finals()[item_id]
            assert final["status"] == 30 and final["replyRef"] == "order-42"
        for headers, body in receiver.events:
            assert verify_signature(server.signing_secret, headers, body)
        # Order holds across the restart: nothing for an item arrives after its final event.
        seen_final: set[str] = set()
        for payload in receiver.payloads():
            assert payload["itemId"] not in seen_final or payload["status_final"]
            if payload["status_final"]:
                seen_final.add(payload["itemId"])
    finally:
        receiver.close()


def test_untracked_job_gets_no_more_callbacks(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(env=RETRY_ENV)
    receiver = Receiver()
    try:
        with server.client() as c:
            make_account(c, "u1")
            r = c.post("/music/instrumental", json={"prompt": "slow ambient drone", "replyUrl": receiver.url})
            jobs, items = r.json()["jobs"], r.json()["itemIds"]
            assert c.delete(f"/scheduler/{jobs[0]}").status_code == 204
            for job in jobs:
                wait_final(c, job, timeout=180)
        wait_until(lambda: items[1] in receiver.finals(), timeout=60)
        time.sleep(1.0)
        assert items[0] not in receiver.finals()
    finally:
        receiver.close()
