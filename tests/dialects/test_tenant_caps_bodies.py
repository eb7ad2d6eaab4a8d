"""The per-tenant caps at the edge: the spec's 429 body on /v1/tempolor, the platform's
queue-full envelope on /open-apis/v1 (in-process app, no workers, so jobs stay queued)."""

from __future__ import annotations

from pathlib import Path

import pytest

from inprocess_app import open_app

T = "/v1/tempolor"


def test_too_many_queued_jobs_is_the_specs_429(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SONGFORGE_MAX_QUEUED_PER_TENANT", "4")
    with open_app(tmp_path) as box:
        c, h = box.client, box.bearer
        for user in ("a", "b", "c"):
            r = c.post(f"{T}/accounts", json={"requestParams": {"user_id": user}, "maxJobs": 10}, headers=h)
            assert r.status_code == 200, r.text
        for user in ("a", "b"):
            r = c.post(f"{T}/music/instrumental", json={"prompt": "calm", "user_id": user}, headers=h)
            assert r.status_code == 200, r.text
        full = c.post(f"{T}/music/instrumental", json={"prompt": "calm", "user_id": "c"}, headers=h)
        assert full.status_code == 429, full.text
        assert int(full.headers["Retry-After"]) > 0
        body = full.json()
        assert body == {
            "error": "Too many jobs queued: 4 of at most 4 for this token",
            "runningJobs": {},
            "code": 429,
        }
        # the Open API of the same tenant is refused too, in its own words
        r = c.post(
            "/open-apis/v1/instrumental/generate",
            json={"prompt": "calm", "model": "TemPolor i3", "callback_url": "http://127.0.0.1:9/cb"},
            headers=box.key,
        )
        env = r.json()
        assert r.status_code == 200 and env["status"] == 400007, env
        assert env["message"].endswith("4 tasks are queued, the limit is 4"), env


def test_too_many_accounts_is_a_429(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SONGFORGE_MAX_ACCOUNTS_PER_TENANT", "1")
    with open_app(tmp_path) as box:
        c, h = box.client, box.bearer
        assert c.post(f"{T}/accounts", json={"requestParams": {"user_id": "a"}}, headers=h).status_code == 200
        r = c.post(f"{T}/accounts", json={"requestParams": {"user_id": "b"}}, headers=h)
        assert r.status_code == 429
        assert r.json() == {"error": "Too many accounts: at most 1 per token. Delete one first", "code": 429}
        assert (
            c.post(
                f"{T}/accounts", json={"requestParams": {"user_id": "a"}, "maxJobs": 3}, headers=h
            ).status_code
            == 200
        )
