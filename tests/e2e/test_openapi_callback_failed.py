"""A callback the receiver never acknowledges is given up on, and the Open API's query record says
so (`callback_failed`, `callback_error`: fields of ours, as `callbackFailed` on /v1/tempolor), over
real HTTP against a real server process with a real worker and a real receiver."""

from __future__ import annotations

import time

import pytest
from test_openapi_support import Receiver, create_key, ok, open_client

from songforge.outbox.store import MAX_ATTEMPTS

pytestmark = pytest.mark.slow


def test_a_callback_that_fails_for_good_shows_on_the_query_record(make_server) -> None:  # type: ignore[no-untyped-def]
    receiver = Receiver()
    # Every retry of the first event answered without the "success" ack; the later events succeed.
    receiver.scripts["/refusing"] = [(500, "busy")] * MAX_ATTEMPTS
    try:
        server = make_server(env={"SONGFORGE_CALLBACK_RETRY_SCALE": "0.001"})
        key = create_key(server, server.tenant_id)
        with open_client(server, key) as c:
            body = {"prompt": "calm piano", "model": "TemPolor i3"}
            lost = ok(c, "/instrumental/generate", {**body, "callback_url": receiver.url + "/refusing"})
            fine = ok(c, "/instrumental/generate", {**body, "callback_url": receiver.url + "/fine"})
            lost_id, fine_id = lost["item_ids"][0], fine["item_ids"][0]
            deadline = time.monotonic() + 240
            item: dict = {}
            while time.monotonic() < deadline:
                item = ok(c, "/instrumental/query", {"item_ids": [lost_id]})["instrumentals"][0]
                if item["status"] in ("succeeded", "failed") and item.get("callback_failed"):
                    break
                time.sleep(0.3)
            assert item.get("callback_failed") is True, (item, server.log())
            assert item["status"] == "succeeded"
            error = item["callback_error"]
            assert f"after {MAX_ATTEMPTS} attempt(s)" in error and "'success' ack" in error, error
            assert len(receiver.calls_to("/refusing")) >= MAX_ATTEMPTS

            # Delivered callbacks leave the record as the platform documents it.
            receiver.wait_calls("/fine", 2, timeout=120)
            other = ok(c, "/instrumental/query", {"item_ids": [fine_id]})["instrumentals"][0]
            assert other["status"] == "succeeded"
            assert "callback_failed" not in other and "callback_error" not in other
        assert f"attempt {MAX_ATTEMPTS}: HTTP 500 without the 'success' ack -> failed" in server.log()
    finally:
        receiver.close()
