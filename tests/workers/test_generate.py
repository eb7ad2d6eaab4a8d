"""A worker running claimed jobs in-process with the real engine and a real SQLite store."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import soundfile as sf

from songforge.clock import now_ms
from songforge.config import Settings
from songforge.core import accounts, queue, scheduler, tenants
from songforge.dialects.tempolor_v1.params import parse_music_params
from songforge.store.migrate import upgrade_database
from songforge.store.models import Job, MidiItem
from songforge.workers.context import WorkerContext
from songforge.workers.generate import build_request, run_music_job


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WorkerContext:
    monkeypatch.setenv("SONGFORGE_MAX_SECONDS_OVERRIDE", "5")
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir()
    upgrade_database(settings.db_url)
    context = WorkerContext.from_settings(settings, "wtest-0-1")
    yield context
    context.db.dispose()


def _queue(ctx: WorkerContext, body: dict) -> list[Job]:
    with ctx.db.session() as s:
        tenant = tenants.create_token(s, "t").tenant_id
        account = accounts.upsert_account(s, tenant, {"user_id": "u"}, None)
    with ctx.db.session() as s:
        return scheduler.submit(s, account=account, request=parse_music_params("instrumental", body))


def test_completed_job_has_files_and_results(ctx: WorkerContext) -> None:
    jobs = _queue(ctx, {"prompt": "bossa nova guitar", "model_instrumental": "i3", "bpm": 120})
    job = queue.claim_next(ctx.db, ctx.worker_id)
    assert job is not None and job.item_id in {j.item_id for j in jobs}
    assert run_music_job(ctx, job) == "completed"
    with ctx.db.session() as s:
        done = s.get(Job, job.item_id)
        assert done.state == "completed" and done.progress == 100 and done.title
        assert done.material["bpm"] == 120 and done.material["dur"] > 0
        blobs = dict(done.blobs)
    # The audio, and the artwork the worker draws from the same mix (workers/artwork.py).
    assert set(blobs) == {"wav", "mp3", "stems", "waveform", "cover"}
    info = sf.info(str(ctx.blobs.path(blobs["wav"])))
    assert (info.samplerate, info.channels, info.subtype) == (44100, 2, "PCM_16")
    assert 3 <= info.duration <= 6
    assert zipfile.ZipFile(ctx.blobs.path(blobs["stems"])).namelist()
    assert not list(ctx.settings.data_dir.glob(".job-*"))  # scratch space cleaned up


def test_engine_error_ends_failed_with_reason(ctx: WorkerContext) -> None:
    jobs = _queue(ctx, {"prompt": "x", "midiItemId": "abc123"})
    with ctx.db.session() as s:  # the MIDI row exists but its file is gone from storage
        s.add(
            MidiItem(
                item_id="abc123",
                tenant_id=jobs[0].tenant_id,
                user_id="u",
                blob_key="midi/abc123.mid",
                created_ms=now_ms(),
            )
        )
    job = queue.claim_next(ctx.db, ctx.worker_id)
    assert run_music_job(ctx, job) == "failed"
    with ctx.db.session() as s:
        failed = s.get(Job, job.item_id)
        assert failed.state == "failed" and "MIDI" in (failed.error or "")


def test_engine_request_is_read_from_the_stored_request(ctx: WorkerContext) -> None:
    """The worker reads `Job.request` as a `JobRequest`: the settings reach the engine, a stored
    upload reference in the dialect's long form names the same item as a bare id, and an asked
    duration is both the exact length and (under the test cap) the cap."""
    jobs = _queue(ctx, {"prompt": "calm piano", "model_instrumental": "i3", "bpm": 90, "chords": "C G Am F"})
    job = jobs[0]
    with ctx.db.session() as s:
        s.add(
            MidiItem(
                item_id="mid1",
                tenant_id=job.tenant_id,
                user_id="u",
                blob_key="midi/mid1.mid",
                created_ms=now_ms(),
            )
        )
    ctx.blobs.put_bytes("midi/mid1.mid", b"MThd")
    job.request = {**job.request, "midiItemId": f"user:{job.tenant_id}-tempolor:u-midi:mid1", "duration": 3}
    built = build_request(ctx, job)
    assert (built.kind, built.prompt, built.model, built.seed) == (
        "instrumental",
        "calm piano",
        "i3",
        job.seed,
    )
    assert (built.bpm, built.chords, built.tonality, built.lyrics, built.voice) == (
        90,
        "C G Am F",
        None,
        None,
        None,
    )
    assert built.midi_path == ctx.blobs.path("midi/mid1.mid")
    assert (built.seconds, built.max_seconds) == (3.0, 3.0)
    job.request = {"prompt": "no model stored"}
    bare = build_request(ctx, job)
    assert (bare.model, bare.midi_path, bare.seconds, bare.max_seconds) == ("i4", None, None, 5.0)


def test_job_deleted_while_running_leaves_no_files(ctx: WorkerContext) -> None:
    _queue(ctx, {"prompt": "ambient drone", "model_instrumental": "i3"})
    job = queue.claim_next(ctx.db, ctx.worker_id)
    with ctx.db.session() as s:
        s.delete(s.get(Job, job.item_id))
    assert run_music_job(ctx, job) == "abandoned"
    assert not ctx.blobs.path(f"jobs/{job.item_id}").exists()


@pytest.mark.slow
def test_default_length_without_the_test_cap(ctx: WorkerContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """The one place the suite runs the real default path: no SONGFORGE_MAX_SECONDS_OVERRIDE."""
    monkeypatch.delenv("SONGFORGE_MAX_SECONDS_OVERRIDE")
    _queue(ctx, {"prompt": "short lo-fi piano loop", "model_instrumental": "i3"})
    job = queue.claim_next(ctx.db, ctx.worker_id)
    assert run_music_job(ctx, job) == "completed"
    with ctx.db.session() as s:
        done = s.get(Job, job.item_id)
        wav = ctx.blobs.path(done.blobs["wav"])
    seconds = sf.info(str(wav)).duration
    assert 30 < seconds <= 120.5  # far beyond the 5 s test cap, within i3's 2 minutes
