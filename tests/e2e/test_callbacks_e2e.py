"""replyUrl callbacks from a real server process to a real receiver on 127.0.0.1.

Retry delays are scaled down with SONGFORGE_CALLBACK_RETRY_SCALE so that retries happen within
seconds; everything else (outbox, signing, ordering, restart) is the production path.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from e2e_helpers import make_account, wait_final, wait_until

from songforge.outbox import verify_signature

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
    """One request, two jobs: the first is untracked at once (no further callbacks), the second
    reports every step and its final state, and the first 500 on its final event is retried."""
    server = make_server(env=RETRY_ENV)
    receiver = Receiver(fail_first_final=True)
    try:
        with server.client() as c:
            make_account(c, "u1")
            for url, word in [
                ("http://169.254.169.254/latest/meta-data/", "link-local"),
                ("http://[fe80::1]/hook", "link-local"),
                ("ftp://example.com/hook", "http or https"),
            ]:
                r = c.post("/music/instrumental", json={"prompt": "x", "replyUrl": url})
                assert r.status_code == 400 and word in r.json()["error"], (url, r.text)
            r = c.post(
                "/music/instrumental",
                json={"prompt": "warm lo-fi piano", "replyUrl": receiver.url, "replyRef": "order-42"},
            )
            assert r.status_code == 200, r.text
            jobs, items = r.json()["jobs"], r.json()["itemIds"]
            assert c.delete(f"/scheduler/{jobs[0]}").status_code == 204
            for job in jobs:
                assert wait_final(c, job, timeout=180)["status"] == 30
        # The final event is answered 500 once, then retried (after 0.6 s at this scale).
        wait_until(
            lambda: sum(1 for p in receiver.payloads() if p["itemId"] == items[1] and p["status_final"]) >= 2,
            timeout=60,
        )
        time.sleep(0.5)  # nothing may arrive after the final event
        assert items[0] not in receiver.finals()  # untracked: no final callback
        all_events = list(receiver.events)
        receiver.events = [(h, b) for h, b in receiver.events if json.loads(b)["itemId"] == items[1]]
        _check_order(receiver, server.signing_secret, [items[1]])
        assert len(receiver.payloads()) > 3  # progress steps, not only the final
        # The 500 was retried: the final event's message id arrived twice.
        final_ids = [h["webhook-id"] for h, b in receiver.events if json.loads(b)["status_final"]]
        assert len(final_ids) == 2 and len(set(final_ids)) == 1, str(
            [
                (json.loads(b)["itemId"], json.loads(b)["status_final"], h["webhook-id"][:10])
                for h, b in all_events
            ]
        )
    finally:
        receiver.close()


def test_pending_callbacks_survive_a_restart(make_server) -> None:  # type: ignore[no-untyped-def]
    """The receiver fails everything; the server stops right after a job's final event was first
    tried; after the restart the pending final event is delivered from the database."""
    receiver = Receiver()
    failing = {"on": True}
    original = receiver.server.RequestHandlerClass.do_POST

    def maybe_fail(handler) -> None:  # type: ignore[no-untyped-def]
        if failing["on"]:
            handler.rfile.read(int(handler.headers.get("content-length", "0")))
            handler.send_response(503)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        original(handler)

    receiver.server.RequestHandlerClass.do_POST = maybe_fail  # type: ignore[method-assign]
    server = make_server(env=RETRY_ENV)
    try:
        with server.client() as c:
            make_account(c, "u1")
            r = c.post(
                "/music/instrumental",
                json={"prompt": "ambient pad", "replyUrl": receiver.url, "replyRef": "order-42"},
            )
            assert r.status_code == 200, r.text
            items = r.json()["itemIds"]
            wait_until(
                lambda: any(c.get(f"/music/{j}").json()["status_final"] for j in r.json()["jobs"]),
                timeout=180,
            )
        time.sleep(0.3)
        server.stop()
        assert receiver.finals() == {}  # nothing was accepted before the restart
        failing["on"] = False
        server.start()
        wait_until(lambda: len(receiver.finals()) == len(items), timeout=120)
        for item_id in items:
            final = receiver.finals()[item_id]
            assert final["status"] == 30 and final["replyRef"] == "order-42"
        for headers, body in receiver.events:
            assert verify_signature(server.signing_secret, headers, body)
    finally:
        receiver.close()
