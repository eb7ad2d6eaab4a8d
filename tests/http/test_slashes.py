"""Trailing slashes and missing ids, in-process: every route answers with or without its trailing
slash, checks the token before anything else, and never redirects (issue 19)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from songforge.config import Settings
from songforge.core import accounts, tenants
from songforge.server import create_app

P = "/v1/tempolor"
PLACEHOLDER = "user:12345-tempolor:user_id-job:abcdef123456789"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    app = create_app(Settings(data_dir=tmp_path / "data"), run_workers=False, run_background=False)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        with app.state.db.session() as s:
            token = tenants.create_token(s, "one")
            accounts.upsert_account(s, token.tenant_id, {"user_id": "alice"}, None)
        yield client, {"Authorization": f"Bearer {token.token}"}


def _concrete(path: str) -> str:
    return path.replace("{job_id}", PLACEHOLDER).replace("{user_id}", "nobody").split("{", 1)[0]


def test_every_route_and_its_other_slash_form_checks_the_token_first(env) -> None:  # type: ignore[no-untyped-def]
    client, _headers = env
    paths = client.get("/openapi.json").json()["paths"]
    documented = [(p, m.upper()) for p, ops in paths.items() if p.startswith(P) for m in ops]
    assert len(documented) > 20
    for template, method in documented:
        if template.endswith("/preview.mp3"):  # the artist-voice catalogue is public
            continue
        base = _concrete(template).rstrip("/")
        for path in (base, base + "/"):
            for headers in ({}, {"Authorization": "Bearer wrong"}):
                r = client.request(method, path, headers=headers)
                assert r.status_code == 401, (method, path, r.status_code, r.text)
                assert r.json() == {"error": "Unauthorized", "code": 401}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/accounts/", 200),  # the list, as GET accounts
        ("GET", "/accounts", 200),
        ("DELETE", "/accounts/", 404),  # no such account: the page's 404, not 307 or 405
        ("DELETE", "/accounts", 404),
        ("DELETE", "/scheduler/", 400),  # no job id: the page's "job_id has incorrect format"
        ("DELETE", "/scheduler", 400),
        ("GET", "/scheduler/", 200),
        ("GET", "/scheduler", 200),
        ("GET", "/scheduler/available/", 200),
        ("GET", "/music/download/", 400),
        ("DELETE", "/music/", 400),
        ("GET", "/music/?user_id=alice", 200),
        ("GET", "/music?user_id=alice", 200),
        ("GET", f"/music/{PLACEHOLDER}/", 404),
        ("DELETE", f"/scheduler/{PLACEHOLDER}/", 404),
        ("GET", "/accounts/alice/", 200),
    ],
)
def test_documented_statuses_with_or_without_the_slash(env, method: str, path: str, status: int) -> None:  # type: ignore[no-untyped-def]
    client, headers = env
    r = client.request(method, P + path, headers=headers)
    assert r.status_code == status, r.text
    if status == 400 and "job" in r.text:
        assert r.json() == {"error": "job_id has incorrect format", "code": 400}


def test_unknown_paths_and_methods_answer_401_before_404_or_405(env) -> None:  # type: ignore[no-untyped-def]
    client, headers = env
    assert client.put(P + "/accounts").status_code == 401
    assert client.get(P + "/nowhere/").status_code == 401
    assert client.put(P + "/accounts", headers=headers).status_code == 405
    assert client.get(P + "/nowhere/", headers=headers).json() == {"error": "Not Found", "code": 404}
    # Outside the dialects nothing needs a token, and the other slash form still works.
    assert client.get("/healthz/").json() == {"status": "ok"}
    assert client.get("/nowhere").json() == {"error": "Not Found", "code": 404}
