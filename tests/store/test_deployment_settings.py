"""The deployment's shared settings (`songforge.store.deployment`) on a real SQLite file: one
deployment id however many processes start at once, and a stored callback policy that wins over
every process's own default, set with `songforge deployment private-callbacks` and read by the API's
submit checks of both dialects without a restart."""

from __future__ import annotations

import threading
from pathlib import Path

from typer.testing import CliRunner

from inprocess_app import open_app
from songforge.cli.main import app as cli_app
from songforge.config import Settings
from songforge.store.db import Database
from songforge.store.deployment import (
    deployment_id,
    private_callbacks_allowed,
    set_callback_policy,
    stored_callback_policy,
)
from songforge.store.migrate import upgrade_database

LOOPBACK_HOOK = "http://127.0.0.1:9/hook"


def _db(tmp_path: Path) -> Database:
    url = f"sqlite:///{tmp_path / 'songforge.db'}"
    upgrade_database(url)
    return Database(url)


def test_one_deployment_id_however_many_first_starts(tmp_path: Path) -> None:
    db = _db(tmp_path)
    try:
        ids: list[str] = []
        threads = [threading.Thread(target=lambda: ids.append(deployment_id(db))) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(ids) == 8 and len(set(ids)) == 1
        assert deployment_id(db) == ids[0]
    finally:
        db.dispose()


def test_the_stored_policy_wins_over_the_process_default(tmp_path: Path) -> None:
    db = _db(tmp_path)
    try:
        loopback = Settings(data_dir=tmp_path, host="127.0.0.1")  # default: allowed
        public = Settings(data_dir=tmp_path, host="0.0.0.0")  # default: refused
        assert stored_callback_policy(db) is None
        assert private_callbacks_allowed(db, loopback) and not private_callbacks_allowed(db, public)
        assert set_callback_policy(db, False, explicit=True, set_by="test") is None
        assert not private_callbacks_allowed(db, loopback)
        previous = set_callback_policy(db, True, explicit=False, set_by="test again")
        assert previous is not None and previous.allowed is False and previous.explicit
        assert private_callbacks_allowed(db, public)
    finally:
        db.dispose()


def test_songforge_deployment_sets_the_policy_every_submit_check_reads(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    runner = CliRunner()
    result = runner.invoke(
        cli_app, ["deployment", "private-callbacks", "refuse", "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 0, result.output
    assert "private/loopback callback targets refused" in result.output
    # This app's own default (a loopback host, no flag) would allow the target: the stored policy wins.
    with open_app(tmp_path) as a:
        r = a.client.post("/v1/tempolor/accounts", json={"requestParams": {"user_id": "u"}}, headers=a.bearer)
        assert r.status_code == 200, r.text
        song = {"prompt": "x", "user_id": "u", "replyUrl": LOOPBACK_HOOK}
        r = a.client.post("/v1/tempolor/music/instrumental", json=song, headers=a.bearer)
        assert r.status_code == 400 and "Parameter replyUrl" in r.json()["error"], r.text
        body = {"prompt": "x", "model": "TemPolor i3", "callback_url": LOOPBACK_HOOK}
        r = a.client.post("/open-apis/v1/instrumental/generate", json=body, headers=a.key)
        assert r.json()["status"] == 400003 and "callback_url" in r.json()["message"], r.text

        result = runner.invoke(
            cli_app, ["deployment", "private-callbacks", "allow", "--data-dir", str(data_dir)]
        )
        assert result.exit_code == 0, result.output
        r = a.client.post("/v1/tempolor/music/instrumental", json=song, headers=a.bearer)
        assert r.status_code == 200, r.text
        r = a.client.post("/open-apis/v1/instrumental/generate", json=body, headers=a.key)
        assert r.json()["status"] == 200000, r.text

    result = runner.invoke(cli_app, ["deployment", "show", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "Deployment id:" in result.output
    assert "allowed (set by songforge deployment private-callbacks allow" in " ".join(result.output.split())
