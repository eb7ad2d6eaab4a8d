"""Property: no body, however odd, gets a 5xx (or the Open API's 400001) from any body route of either
dialect. Hypothesis sends arbitrary JSON (deep nesting, huge and boolean numbers, lone surrogates as
escapes, the routes' own field names with any values), arbitrary bytes and arbitrary form data, through
the real app in-process (no workers, no network: callback hosts are literal addresses or garbage)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inprocess_app import InProcessApp, open_app

TEMPOLOR_ROUTES = ("/v1/tempolor/accounts", "/v1/tempolor/music/song", "/v1/tempolor/music/instrumental")
OPEN_API_ROUTES = (
    "/open-apis/v1/song/generate",
    "/open-apis/v1/song/extend",
    "/open-apis/v1/song/query",
    "/open-apis/v1/instrumental/generate",
    "/open-apis/v1/instrumental/extend",
    "/open-apis/v1/instrumental/query",
    "/open-apis/v1/lyrics/generate",
    "/open-apis/v1/lyrics/query",
    "/open-apis/v1/stems/query",
    "/open-apis/v1/account/billing",
)
# The fields the routes read, so that generated bodies get past "required" checks into the parsers.
FIELDS = (
    "prompt", "lyrics", "model", "model_song", "model_instrumental", "user_id", "maxJobs", "requestParams",
    "replyUrl", "replyRef", "tonality", "bpm", "chords", "chord", "midiItemId", "artistVoiceItemId",
    "clonedVoiceItemId", "item_ids", "callback_url", "song_model", "start_time", "item_id", "voice_id",
    "engine", "ucid",
)  # fmt: skip
URLS = (
    "http://[::1",
    "http://127.0.0.1:9/cb",
    "http://[::ffff:127.0.0.1]:9/",
    "ftp://x",
    "http://:0/",
    "http://",
)
MODELS = ("TemPolor v4", "TemPolor i3.5", "v4.8", "i4", "TemPolor v3.5")

surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.one_of(st.characters(), surrogates), max_size=20),
    st.sampled_from(URLS + MODELS),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**62, max_value=2**130),
    st.floats(allow_nan=False),
    texts,
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.one_of(st.sampled_from(FIELDS), texts), inner, max_size=5),
    ),
    max_leaves=20,
)
bodies = st.dictionaries(st.sampled_from(FIELDS), values, max_size=8) | values


@st.composite
def nested(draw: st.DrawFn) -> str:
    depth = draw(st.integers(min_value=1, max_value=20_000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    return '{"prompt": "x", "requestParams": ' + opener * depth + "1" + closer * depth + "}"


raw_bodies = st.one_of(
    bodies.map(lambda b: json.dumps(b).encode()),  # ensure_ascii: surrogates travel as \\udXXX escapes
    nested().map(str.encode),
    st.binary(max_size=200),
)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApp]:
    with open_app(tmp_path_factory.mktemp("fuzz"), allow_private_callbacks=False) as app:
        r = app.client.post(
            "/v1/tempolor/accounts", json={"requestParams": {"user_id": "u1"}}, headers=app.bearer
        )
        assert r.status_code == 200
        yield app


def _check(r: Any, open_api: bool) -> None:
    assert r.status_code < 500, r.text
    body = r.json()
    if open_api:
        assert body["status"] != 400001, body
    elif r.status_code != 200:
        assert body == {"error": body.get("error"), "code": r.status_code}, body


def _read_back(api: InProcessApp, path: str, r: Any) -> None:
    """What a submission stored must read back: a poisoned row answered 500 forever."""
    if r.status_code != 200:
        return
    if path.endswith("/accounts"):
        _check(api.client.get("/v1/tempolor/accounts", headers=api.bearer), open_api=False)
    for job in r.json().get("jobs", []):
        _check(api.client.get(f"/v1/tempolor/music/{job}", headers=api.bearer), open_api=False)
    kind = "song" if path.endswith("/song") else "instrumental"
    _check(api.client.get("/v1/tempolor/music/", params={"type": kind}, headers=api.bearer), open_api=False)


def _read_back_open_api(api: InProcessApp, path: str, r: Any) -> None:
    body = r.json()
    if body["status"] != 200000 or not path.endswith("/generate"):
        return
    query = path.replace("/generate", "/query")
    _check(
        api.client.post(query, json={"item_ids": body["data"]["item_ids"]}, headers=api.key), open_api=True
    )


FUZZ = settings(
    max_examples=120,
    deadline=None,
    database=None,  # no .hypothesis/ left in the tree; failures print their reproducing example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(path=st.sampled_from(TEMPOLOR_ROUTES), raw=raw_bodies)
def test_tempolor_json_bodies_never_5xx(api: InProcessApp, path: str, raw: bytes) -> None:
    r = api.client.post(path, content=raw, headers={**api.bearer, "content-type": "application/json"})
    _check(r, open_api=False)
    _read_back(api, path, r)


@FUZZ
@given(
    path=st.sampled_from(TEMPOLOR_ROUTES),
    fields=st.lists(st.tuples(st.one_of(st.sampled_from(FIELDS), texts), texts), max_size=6),
    charset=st.sampled_from(["utf-8", "unicode_escape", "raw_unicode_escape", "latin-1", "utf-16"]),
)
def test_tempolor_form_bodies_never_5xx(
    api: InProcessApp, path: str, fields: list[tuple[str, str]], charset: str
) -> None:
    boundary = "fuzzboundary"
    out = b""
    for name, value in fields:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        out += head.encode("utf-8", "backslashreplace") + value.encode("utf-8", "backslashreplace") + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    ctype = f"multipart/form-data; boundary={boundary}; charset={charset}"
    r = api.client.post(path, content=out, headers={**api.bearer, "content-type": ctype})
    _check(r, open_api=False)
    _read_back(api, path, r)


@FUZZ
@given(path=st.sampled_from(OPEN_API_ROUTES), raw=raw_bodies)
def test_open_api_json_bodies_never_5xx(api: InProcessApp, path: str, raw: bytes) -> None:
    r = api.client.post(path, content=raw, headers={**api.key, "content-type": "application/json"})
    _check(r, open_api=True)
    _read_back_open_api(api, path, r)
