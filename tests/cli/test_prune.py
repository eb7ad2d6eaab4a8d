"""`songforge prune` against a real SQLite data dir: old finished jobs lose their rows, files and
callbacks; new ones, and old ones still queued or running, are kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from songforge.cli.common import build_settings, open_db
from songforge.cli.main import app
from songforge.clock import now_ms
from songforge.outbox import enqueue
from songforge.store.models import CallbackDelivery, Job, Tenant

DAY_MS = 86_400_000
FILES = ("audio.wav", "audio.mp3", "stems.zip", "waveform.json", "cover.png")


def _data_dir(tmp_path: Path) -> Path:
    """Jobs `<state>-<age in days>`, each with the five files a job keeps and one callback row."""
    data = tmp_path / "data"
    settings = build_settings(data)
    db = open_db(settings)
    now = now_ms()
    jobs = [("completed", 40), ("failed", 40), ("completed", 2), ("running", 40), ("queued", 40)]
    with db.session() as s:
        s.add(Tenant(id="t1", name="t", token_hash="h" * 64, signing_secret="s", created_ms=now))
        s.flush()
        for state, age in jobs:
            item_id = f"{state}-{age}"
            at = now - age * DAY_MS
            finished = at if state in ("completed", "failed") else None
            s.add(
                Job(
                    item_id=item_id,
                    tenant_id="t1",
                    user_id="u",
                    batch_id="b",
                    kind="instrumental",
                    state=state,
                    blobs={name: f"jobs/{item_id}/{name}" for name in FILES},
                    created_ms=at,
                    queued_ms=at,
                    started_ms=at if state != "queued" else None,
                    finished_ms=finished,
                    updated_ms=at,
                )
            )
            enqueue(
                s,
                tenant_id="t1",
                job_id=item_id,
                item_id=item_id,
                url="http://127.0.0.1:9/",
                payload={"itemId": item_id},
                is_final=True,
            )
    db.dispose()
    for _state, _age in jobs:
        folder = settings.blob_dir / "jobs" / f"{_state}-{_age}"
        folder.mkdir(parents=True)
        for name in FILES:
            (folder / name).write_bytes(b"x" * 100)
    return data


def _left(data: Path) -> tuple[list[str], list[str], list[str]]:
    settings = build_settings(data)
    db = open_db(settings)
    with db.session() as s:
        jobs = sorted(s.scalars(select(Job.item_id)))
        deliveries = sorted(s.scalars(select(CallbackDelivery.item_id)))
    db.dispose()
    folders = sorted(p.name for p in (settings.blob_dir / "jobs").iterdir() if any(p.iterdir()))
    return jobs, deliveries, folders


KEPT = ["completed-2", "queued-40", "running-40"]
ALL = sorted(["completed-40", "failed-40", *KEPT])


def test_prune_deletes_old_finished_jobs_with_files_and_callbacks(tmp_path: Path) -> None:
    data = _data_dir(tmp_path)
    r = CliRunner().invoke(app, ["prune", "--days", "30", "--data-dir", str(data)])
    assert r.exit_code == 0, r.output
    assert "deleted 2 finished job(s)" in r.output and "2 callback row(s)" in r.output
    assert _left(data) == (KEPT, KEPT, KEPT)


def test_dry_run_deletes_nothing(tmp_path: Path) -> None:
    data = _data_dir(tmp_path)
    r = CliRunner().invoke(app, ["prune", "--days", "30", "--dry-run", "--data-dir", str(data)])
    assert r.exit_code == 0, r.output
    assert "would delete 2 finished job(s)" in r.output
    assert _left(data) == (ALL, ALL, ALL)


def test_the_setting_applies_when_no_days_are_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _data_dir(tmp_path)
    monkeypatch.setenv("SONGFORGE_RETENTION_DAYS", "1")
    r = CliRunner().invoke(app, ["prune", "--data-dir", str(data)])
    assert r.exit_code == 0, r.output
    assert _left(data)[0] == ["queued-40", "running-40"]


def test_without_a_period_nothing_is_deleted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _data_dir(tmp_path)
    monkeypatch.delenv("SONGFORGE_RETENTION_DAYS", raising=False)
    r = CliRunner().invoke(app, ["prune", "--data-dir", str(data)])
    assert r.exit_code == 2
    assert _left(data) == (ALL, ALL, ALL)
