"""Request bodies are capped while they stream, timed out when they stall, and a client that goes away
is one INFO line: both dialects, through the real app (raw ASGI where an HTTP client cannot misbehave
on purpose: a body that never comes, a disconnect)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from inprocess_app import InProcessApp, body_of, open_app, raw_call, status_of
from songforge.http.body import MAX_JSON_DEPTH, BadBody, NotJson, check_values, parse_json

CAP = 1024 * 1024
CHUNK = 64 * 1024


@pytest.fixture
def api(tmp_path: Path):  # type: ignore[no-untyped-def]
    with open_app(tmp_path, body_timeout_seconds=0.5) as app:
        r = app.client.post(
            "/v1/tempolor/accounts", json={"requestParams": {"user_id": "u1"}}, headers=app.bearer
        )
        assert r.status_code == 200
        yield app


# ------------------------------------------------------------------ the parser on its own


def test_parse_json_refuses_depth_past_the_limit() -> None:
    ok = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert parse_json(ok) is not None
    with pytest.raises(BadBody, match="nested too deeply"):
        parse_json("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))
    with pytest.raises(NotJson):
        parse_json("[" * 200_000 + "]" * 200_000)  # past the decoder's recursion: RecursionError inside


def test_check_values_names_the_field_holding_a_surrogate() -> None:
    with pytest.raises(BadBody, match=r"Parameter requestParams\.names\[1\] contains an invalid character"):
        check_values({"requestParams": {"names": ["ok", "bad\ud800"]}})
    assert check_values({"emoji": "\ud83c\udfb9".encode("utf-16", "surrogatepass").decode("utf-16")})


# ------------------------------------------------------------------ caps while streaming


def _streamed(total: int) -> tuple[Any, list[int]]:
    """A receive offering `total` bytes in CHUNK pieces (chunked: no Content-Length); counts reads."""
    reads = [0]

    async def receive() -> dict[str, Any]:
        reads[0] += 1
        more = reads[0] * CHUNK < total
        return {"type": "http.request", "body": b" " * CHUNK, "more_body": more}

    return receive, reads


@pytest.mark.parametrize("path", ["/v1/tempolor/music/song", "/v1/tempolor/accounts"])
def test_tempolor_chunked_body_is_refused_once_past_the_cap(api: InProcessApp, path: str) -> None:
    receive, reads = _streamed(200 * 1024 * 1024)
    sent = raw_call(api.app, "POST", path, {**api.bearer, "content-type": "application/json"}, receive)
    assert status_of(sent) == 413
    assert json.loads(body_of(sent)) == {
        "error": f"Request body too large (at most {CAP} bytes)",
        "code": 413,
    }
    assert reads[0] <= CAP // CHUNK + 1  # stopped reading at the cap, not after 200 MB


@pytest.mark.parametrize("path", ["/open-apis/v1/song/generate", "/open-apis/v1/song/query"])
def test_open_api_chunked_body_is_refused_once_past_the_cap(api: InProcessApp, path: str) -> None:
    receive, reads = _streamed(200 * 1024 * 1024)
    sent = raw_call(api.app, "POST", path, {**api.key, "content-type": "application/json"}, receive)
    assert status_of(sent) == 413
    body = json.loads(body_of(sent))
    assert body["status"] == 400003 and f"Request body too large (at most {CAP} bytes)" in body["message"]
    assert reads[0] <= CAP // CHUNK + 1


def test_open_api_declared_length_past_the_cap_is_refused_before_reading(api: InProcessApp) -> None:
    r = api.client.post(
        "/open-apis/v1/song/generate", content=b"{" + b" " * (CAP + 10) + b"}", headers=api.key
    )
    assert r.status_code == 413 and r.json()["status"] == 400003


# ------------------------------------------------------------------ bodies that never come


def _stalls() -> Any:
    """Sends the first bytes of a body, then nothing (the client promised more and went quiet)."""
    calls = [0]

    async def receive() -> dict[str, Any]:
        calls[0] += 1
        if calls[0] == 1:
            return {"type": "http.request", "body": b'{"prompt": ', "more_body": True}
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    return receive


@pytest.mark.parametrize(
    ("path", "auth"),
    [
        ("/v1/tempolor/music/song", "bearer"),
        ("/v1/tempolor/accounts", "bearer"),
        ("/open-apis/v1/song/generate", "key"),
        ("/open-apis/v1/lyrics/generate", "key"),
    ],
)
def test_a_body_that_never_arrives_times_out(api: InProcessApp, path: str, auth: str) -> None:
    headers = {**getattr(api, auth), "content-type": "application/json", "content-length": "500"}
    started = time.monotonic()
    sent = raw_call(api.app, "POST", path, headers, _stalls(), timeout=10)
    assert time.monotonic() - started < 5
    assert status_of(sent) == 408
    body = json.loads(body_of(sent))
    if auth == "bearer":
        assert body == {"error": "Request body not received within 0.5 seconds", "code": 408}
    else:
        assert body["status"] == 400003 and "not received" in body["message"]


def test_an_upload_that_stalls_times_out(api: InProcessApp) -> None:
    headers = {**api.bearer, "content-type": "audio/midi", "content-length": "5000"}
    sent = raw_call(api.app, "POST", "/v1/tempolor/music/midi/?name=x", headers, _stalls(), timeout=10)
    assert status_of(sent) == 408
    assert not list((api.app.state.blobs.root / ".incoming").glob(".upload-*"))  # scratch removed


# ------------------------------------------------------------------ clients that go away


async def _disconnects() -> dict[str, Any]:
    return {"type": "http.disconnect"}


@pytest.mark.parametrize(
    ("path", "auth", "ctype"),
    [
        ("/v1/tempolor/music/song", "bearer", "application/json"),
        ("/open-apis/v1/song/generate", "key", "application/json"),
        ("/v1/tempolor/music/midi/", "bearer", "audio/midi"),
    ],
)
def test_a_client_disconnect_is_one_info_line(
    api: InProcessApp, caplog: pytest.LogCaptureFixture, path: str, auth: str, ctype: str
) -> None:
    headers = {**getattr(api, auth), "content-type": ctype, "content-length": "100"}
    if path.endswith("/midi/"):
        path += "?name=x"
    with caplog.at_level(logging.INFO):
        raw_call(api.app, "POST", path, headers, _disconnects)
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert errors == [], [r.getMessage() for r in errors]
    gone = [r for r in caplog.records if "client disconnected" in r.getMessage()]
    assert len(gone) == 1 and gone[0].levelno == logging.INFO and gone[0].exc_info is None
