"""Bad input on /v1/tempolor gets a 400 with the dialect's error body, never a 500, and nothing invalid
is stored: JSON nested thousands of levels, an unparseable replyUrl, forged list cursors, and lone UTF-16
surrogates in any text (JSON escapes, multipart fields decoded with a surrogate-making charset, field
names, file names). Runs the real app in-process on a real SQLite file."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from inprocess_app import InProcessApp, open_app
from songforge.store.models import Account, Job

BODY_ROUTES = ("/v1/tempolor/accounts", "/v1/tempolor/music/song", "/v1/tempolor/music/instrumental")
JSON = {"content-type": "application/json"}


@pytest.fixture
def api(tmp_path: Path):  # type: ignore[no-untyped-def]
    with open_app(tmp_path) as app:
        r = app.client.post(
            "/v1/tempolor/accounts", json={"requestParams": {"user_id": "u1"}}, headers=app.bearer
        )
        assert r.status_code == 200, r.text
        yield app


def _count(api: InProcessApp, model: type) -> int:
    with api.app.state.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _assert_400(r, *, contains: str | None = None) -> None:  # type: ignore[no-untyped-def]
    assert r.status_code == 400, r.text
    body = r.json()
    assert set(body) == {"error", "code"} and body["code"] == 400
    if contains is not None:
        assert contains in body["error"]


@pytest.mark.parametrize("path", BODY_ROUTES)
@pytest.mark.parametrize("depth", [100, 5_000, 100_000])
def test_deeply_nested_json_is_a_400(api: InProcessApp, path: str, depth: int) -> None:
    for opener, closer in (("[", "]"), ('{"a":', "}")):
        body = '{"prompt": "x", "requestParams": ' + opener * depth + "1" + closer * depth + "}"
        _assert_400(api.client.post(path, content=body, headers={**api.bearer, **JSON}))


def test_nested_json_inside_a_multipart_request_params_is_a_400(api: InProcessApp) -> None:
    nested = "[" * 5_000 + "]" * 5_000
    r = api.client.post("/v1/tempolor/accounts", data={"requestParams": nested}, headers=api.bearer)
    _assert_400(r, contains="requestParams")


@pytest.mark.parametrize("url", ["http://[::1", "http://[::1]:99999/x", "http://a:port/", "https://[zz]/"])
def test_unparseable_reply_url_is_a_400(api: InProcessApp, url: str) -> None:
    for path in BODY_ROUTES[1:]:
        r = api.client.post(path, json={"prompt": "calm piano", "replyUrl": url}, headers=api.bearer)
        _assert_400(r, contains="replyUrl")
    assert _count(api, Job) == 0


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize("created", [2**63, 2**64 + 5, -1, True, False, 1.5])
@pytest.mark.parametrize("path", ["/v1/tempolor/music/", "/v1/tempolor/music/midi/"])
def test_forged_cursor_is_a_400(api: InProcessApp, created: object, path: str) -> None:
    kind = "midi" if "midi" in path else "song"
    r = api.client.get(path, params={"cursor": _cursor([kind, created, "abc"])}, headers=api.bearer)
    _assert_400(r, contains="cursor")


def test_cursor_with_a_surrogate_item_id_is_a_400(api: InProcessApp) -> None:
    raw = base64.urlsafe_b64encode(b'["song",1,"a\\ud800"]').decode().rstrip("=")
    _assert_400(api.client.get("/v1/tempolor/music/", params={"cursor": raw}, headers=api.bearer))


SURROGATE_BODIES = [
    '{"prompt": "calm \\ud800 piano"}',
    '{"prompt": "calm piano", "lyrics": "\\udfff"}',
    '{"prompt": "calm piano", "replyRef": "\\ud83d"}',
    '{"prompt": "calm piano", "\\ud800": 1}',
    '{"prompt": "calm piano", "extra": ["ok", {"deep": "\\udc00"}]}',
]


@pytest.mark.parametrize("body", SURROGATE_BODIES)
@pytest.mark.parametrize("path", BODY_ROUTES[1:])
def test_lone_surrogate_in_a_submission_is_a_400_and_nothing_is_stored(
    api: InProcessApp, body: str, path: str
) -> None:
    _assert_400(api.client.post(path, content=body, headers={**api.bearer, **JSON}), contains="surrogate")
    assert _count(api, Job) == 0
    assert api.client.get("/v1/tempolor/music/", headers=api.bearer).status_code == 200


def test_paired_surrogates_are_a_valid_character(api: InProcessApp) -> None:
    body = '{"prompt": "calm piano \\ud83c\\udfb9"}'
    r = api.client.post("/v1/tempolor/music/song", content=body, headers={**api.bearer, **JSON})
    assert r.status_code == 200, r.text
    job = api.client.get(f"/v1/tempolor/music/{r.json()['jobs'][0]}", headers=api.bearer)
    assert job.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        '{"requestParams": {"user_id": "u2", "note": "\\ud800"}}',
        '{"requestParams": {"user_id": "u2", "\\udbff": "x"}}',
        '{"requestParams": "{\\"user_id\\": \\"u2\\", \\"note\\": \\"\\\\ud800\\"}"}',
    ],
)
def test_lone_surrogate_in_an_account_is_a_400_and_accounts_still_list(api: InProcessApp, body: str) -> None:
    _assert_400(api.client.post("/v1/tempolor/accounts", content=body, headers={**api.bearer, **JSON}))
    assert _count(api, Account) == 1
    r = api.client.get("/v1/tempolor/accounts", headers=api.bearer)
    assert r.status_code == 200 and list(r.json()) == ["u1"]


def _multipart(fields: list[tuple[str, str]], charset: str, filename: str | None = None) -> tuple[bytes, str]:
    boundary = "sfboundary"
    out = b""
    for name, value in fields:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    if filename is not None:
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\nabc\r\n"
        ).encode()
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}; charset={charset}"


@pytest.mark.parametrize(
    ("fields", "filename"),
    [
        ([("prompt", "calm \\ud800 piano")], None),  # the charset turns the escape into a surrogate
        ([("prompt", "calm piano"), ("x\\udc00", "1")], None),
        ([("prompt", "calm piano")], "take\\ud800.wav"),
    ],
)
def test_multipart_fields_decoded_to_a_surrogate_are_a_400(
    api: InProcessApp, fields: list[tuple[str, str]], filename: str | None
) -> None:
    body, ctype = _multipart(fields, "unicode_escape", filename)
    r = api.client.post(
        "/v1/tempolor/music/song", content=body, headers={**api.bearer, "content-type": ctype}
    )
    _assert_400(r, contains="surrogate")
    assert _count(api, Job) == 0


def test_multipart_account_with_a_surrogate_is_a_400(api: InProcessApp) -> None:
    body, ctype = _multipart([("requestParams", '{"user_id": "u3", "n": "\\ud800"}')], "unicode_escape")
    r = api.client.post("/v1/tempolor/accounts", content=body, headers={**api.bearer, "content-type": ctype})
    _assert_400(r)
    assert _count(api, Account) == 1
