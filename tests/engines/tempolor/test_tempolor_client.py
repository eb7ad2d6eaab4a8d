"""The Open API client turns the platform's answers into the failure kinds the engine acts on.

The upstream is played by a fault-injecting proxy (no upstream behind it): each error code, a 5xx
and a timeout, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tempolor_fault_proxy import Fault, FaultProxy

from songforge.engines.tempolor.client import (
    BadKey,
    ContentViolation,
    InsufficientPoints,
    OpenApiClient,
    PlatformBusy,
    PlatformRefused,
    Transient,
    WorkLost,
)

KEY = "Tempo-" + "k" * 32 + "-3w"


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    p = FaultProxy()
    yield p
    p.close()


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (Fault(status=400007), PlatformBusy),
        (Fault(status=400006), PlatformBusy),
        (Fault(status=400005), InsufficientPoints),
        (Fault(status=400002), BadKey),
        (Fault(status=400004, message="Content violation, please modify and try again."), ContentViolation),
        (Fault(status=400001), Transient),
        (Fault(status=400003), PlatformRefused),
        (Fault(status=400008), WorkLost),
        (Fault(http_status=503), Transient),
        (Fault(http_status=429), Transient),
        (Fault(delay=1.5), Transient),  # past the client's 1 s timeout
    ],
)
def test_each_failure_has_its_kind(proxy: FaultProxy, fault: Fault, kind: type[Exception]) -> None:
    proxy.inject("/generate", fault)
    client = OpenApiClient(proxy.url, KEY, timeout=1.0)
    with pytest.raises(kind) as raised:
        client.generate("song", {"prompt": "p"})
    if fault.message:
        assert fault.message in str(raised.value)  # the platform's own words reach the job
    # The key went raw in Authorization, as the platform's samples send it; never in a repr.
    assert proxy.seen[-1][1] == KEY
    assert KEY not in repr(client)


def test_success_and_query(proxy: FaultProxy) -> None:
    import json
    import threading  # noqa: F401
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Platform(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            data = (
                {"item_ids": ["it1"]}
                if self.path.endswith("/generate")
                else {"songs": [{"item_id": "it1", "status": "running"}]}
            )
            payload = json.dumps(
                {"status": 200000, "message": "success", "request_id": "r", "data": data}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Platform)
    import threading as th

    th.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = OpenApiClient(f"http://127.0.0.1:{server.server_address[1]}", KEY, timeout=5)
        assert client.generate("song", {"prompt": "p"}) == "it1"
        assert client.query("song", "it1")["status"] == "running"
        with pytest.raises(WorkLost):
            client.query("song", "other")
    finally:
        server.shutdown()
        server.server_close()
