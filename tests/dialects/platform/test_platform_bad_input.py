"""Bad input on the Open API gets a 400003 envelope (a bad parameter), never 400001, and nothing
invalid is stored: JSON nested thousands of levels and lone UTF-16 surrogates in any string."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from inprocess_app import InProcessApp, open_app
from songforge.store.models import Job

BODY_ROUTES = (
    "/open-apis/v1/song/generate",
    "/open-apis/v1/song/extend",
    "/open-apis/v1/song/query",
    "/open-apis/v1/instrumental/generate",
    "/open-apis/v1/instrumental/extend",
    "/open-apis/v1/instrumental/query",
    "/open-apis/v1/lyrics/generate",
    "/open-apis/v1/lyrics/query",
    "/open-apis/v1/stems",
    "/open-apis/v1/stems/query",
)
JSON = {"content-type": "application/json"}


@pytest.fixture
def api(tmp_path: Path):  # type: ignore[no-untyped-def]
    with open_app(tmp_path, allow_private_callbacks=True) as app:
        yield app


def _assert_bad_parameter(r, *, contains: str | None = None) -> None:  # type: ignore[no-untyped-def]
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == 400003, body
    assert set(body) == {"status", "message", "request_id", "data"}
    if contains is not None:
        assert contains in body["message"]


@pytest.mark.parametrize("path", BODY_ROUTES)
@pytest.mark.parametrize("depth", [100, 5_000])
def test_deeply_nested_json_is_a_bad_parameter(api: InProcessApp, path: str, depth: int) -> None:
    body = '{"prompt": "x", "extra": ' + "[" * depth + "]" * depth + "}"
    _assert_bad_parameter(api.client.post(path, content=body, headers={**api.key, **JSON}))


@pytest.mark.parametrize(
    "body",
    [
        '{"model": "TemPolor v4", "prompt": "calm \\ud800", "callback_url": "http://127.0.0.1:9/cb"}',
        '{"model": "TemPolor v4", "prompt": "calm", "callback_url": "http://127.0.0.1:9/cb?\\udc00"}',
        '{"model": "TemPolor v4", "prompt": "calm", "lyrics": ["\\ud800"], "callback_url": "http://x/"}',
        '{"\\ud800": 1, "model": "TemPolor v4", "prompt": "calm", "callback_url": "http://127.0.0.1:9/"}',
    ],
)
@pytest.mark.parametrize("path", ["/open-apis/v1/song/generate", "/open-apis/v1/instrumental/generate"])
def test_lone_surrogate_is_a_bad_parameter_and_nothing_is_stored(
    api: InProcessApp, body: str, path: str
) -> None:
    r = api.client.post(path, content=body, headers={**api.key, **JSON})
    _assert_bad_parameter(r, contains="surrogate")
    with api.app.state.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 0


def test_surrogate_in_query_ids_is_a_bad_parameter(api: InProcessApp) -> None:
    r = api.client.post(
        "/open-apis/v1/song/query", content='{"item_ids": ["a\\ud800"]}', headers={**api.key, **JSON}
    )
    _assert_bad_parameter(r, contains="surrogate")
