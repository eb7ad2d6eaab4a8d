"""Running one music job in a worker process: engine call, encoding, storage, final state.

Files are written to a scratch directory, moved into the blob store under `jobs/<item_id>/`,
and only then is the job marked COMPLETED, in one transaction with its results: a reader never
sees COMPLETED without its files, and a crash part-way leaves a job that recovery runs again.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from songforge import config
from songforge.core import queue
from songforge.core.ids import item_id_of
from songforge.core.jobs import JobRequest, Kind
from songforge.core.states import JobState
from songforge.engines.base import (
    SAMPLE_RATE,
    EngineError,
    GenerationRequest,
    GenerationResult,
    VoiceProfile,
)
from songforge.engines.registry import get_engine
from songforge.errors import Refused
from songforge.store.models import Job, MidiItem, Voice
from songforge.workers.artwork import write_artwork
from songforge.workers.context import WorkerContext
from songforge.workers.extend import extender_for, extension_of, run_extension
from songforge.workers.measure import measure_result
from songforge.workers.scratch import job_scratch

if TYPE_CHECKING:
    from songforge.store.upstream import JobLedger

log = logging.getLogger("songforge.worker")

# A quarter of the lease, so three missed beats in a row never lose it.
HEARTBEAT_SECONDS = min(5.0, queue.LEASE_MS / 4000)
PROGRESS_MIN_INTERVAL = 0.25
NOTIFY_STEP = 10


class RunOutcome(StrEnum):
    """How `run_music_job` ended: the job's final state, or abandoned (no longer ours)."""

    COMPLETED = JobState.COMPLETED.value
    FAILED = JobState.FAILED.value
    ABANDONED = "abandoned"


class JobAbandoned(Refused):
    """This worker no longer owns the job (deleted, untracked-and-reclaimed, or lease lost)."""


def _voice_profile(ctx: WorkerContext, job: Job, request: JobRequest) -> VoiceProfile | None:
    if request.cloned_voice_id:
        item_id = item_id_of(request.cloned_voice_id)
        with ctx.db.session() as s:
            voice = s.get(Voice, item_id)
            if voice is None or voice.tenant_id != job.tenant_id:
                raise EngineError("The source material does not exist.")
            stored = dict(voice.profile or {})
        from songforge.engines.singing import profile_to_voice

        return profile_to_voice(item_id, stored)
    if request.artist_voice_id:
        from songforge.engines.singing.voices import artist_voice

        if config.PLATFORM_VOICE_ID.match(request.artist_voice_id):
            # A TemPolor platform voice id, sent as is by the upstream engine (the only one that
            # is let take it: `engines.registry.refusal`); no voice of ours stands behind it.
            return VoiceProfile(item_id=request.artist_voice_id)
        profile = artist_voice(request.artist_voice_id)
        if profile is None:
            raise EngineError("The source material does not exist.")
        return profile
    return None


def _midi_path(ctx: WorkerContext, job: Job, request: JobRequest) -> Path | None:
    if not request.midi_id:
        return None
    with ctx.db.session() as s:
        item = s.get(MidiItem, item_id_of(request.midi_id))
        if item is None or item.tenant_id != job.tenant_id:
            raise EngineError("The source material does not exist.")
        key = item.blob_key
    path = ctx.blobs.path(key)
    if not path.is_file():
        raise EngineError("The uploaded MIDI file is missing from storage.")
    return path


def _asked_seconds(request: JobRequest) -> float | None:
    """An exact length a request asked for (a dialect field, e.g. the Open API's `#duration` tag):
    it wins over a length said in the prompt."""
    duration = request.duration
    return float(duration) if isinstance(duration, int | float) and duration > 0 else None


def _max_seconds(request: JobRequest, cap: float | None) -> float | None:
    """The engine fills `max_seconds` when it is given, so an asked length is passed as the cap
    too; the test-only cap (SONGFORGE_MAX_SECONDS_OVERRIDE) still wins."""
    asked = _asked_seconds(request)
    if asked is not None:
        return min(asked, cap) if cap is not None else asked
    return cap


def build_request(ctx: WorkerContext, job: Job) -> GenerationRequest:
    """What the engine is asked for: the request the job stored, read back as the domain's
    `JobRequest` (rows of every age read the same way), plus the files it refers to."""
    # Song and instrumental jobs only (lyrics jobs are run by `run_lyrics_job`; stems are no jobs).
    request = JobRequest.from_json(cast(Kind, job.kind), job.request or {})
    return GenerationRequest(
        kind=request.kind,
        prompt=request.prompt,
        # Dialects always store a model; a row without one gets the default it always got.
        model=request.model or "i4",
        seed=job.seed,
        tonality=request.tonality,
        bpm=request.bpm,
        chords=request.chords,
        lyrics=request.lyrics,
        midi_path=_midi_path(ctx, job, request),
        voice=_voice_profile(ctx, job, request),
        max_seconds=_max_seconds(request, config.max_seconds_override()),
        seconds=_asked_seconds(request),
    )


class _Progress:
    """Throttles the engine's progress reports into DB writes and callback events."""

    def __init__(self, ctx: WorkerContext, job: Job) -> None:
        self.ctx = ctx
        self.job = job
        self.last_write = 0.0
        self.last_pct = -1
        self.last_stage = ""
        self.last_notified = -NOTIFY_STEP
        self.lock = threading.Lock()
        self.lost = False

    def __call__(self, percent: int, stage: str) -> None:
        if self.lost:
            raise JobAbandoned(self.job.item_id)
        pct = max(0, min(99, int(percent)))
        now = time.monotonic()
        stage_changed = stage != self.last_stage
        if not stage_changed and (pct == self.last_pct or now - self.last_write < PROGRESS_MIN_INTERVAL):
            return
        notify = stage_changed or pct >= self.last_notified + NOTIFY_STEP
        with self.lock:
            owned = queue.set_progress(
                self.ctx.db, self.job.item_id, self.ctx.worker_id, pct, stage, notify=notify
            )
        if not owned:
            self.lost = True
            raise JobAbandoned(self.job.item_id)
        self.last_write, self.last_pct, self.last_stage = now, pct, stage
        if notify:
            self.last_notified = pct


def _heartbeat(ctx: WorkerContext, job: Job, progress: _Progress, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_SECONDS):
        try:
            with progress.lock:
                if not queue.renew_lease(ctx.db, job.item_id, ctx.worker_id):
                    progress.lost = True
                    return
        except Exception:  # noqa: BLE001 - a missed beat is retried; the lease has slack
            log.exception("lease renewal failed for %s", job.item_id)


def encode_outputs(result: GenerationResult, title: str, item_id: str, scratch: Path) -> dict[str, Path]:
    from songforge.audio.encode import write_mp3, write_stems_zip, write_wav

    files = {
        "wav": scratch / f"{item_id}.wav",
        "mp3": scratch / f"{item_id}.mp3",
        "stems": scratch / f"{item_id}-stems.zip",
    }
    write_wav(files["wav"], result.mix, result.sample_rate)
    write_mp3(files["mp3"], result.mix, result.sample_rate, title=title or item_id)
    write_stems_zip(files["stems"], result.stems, result.sample_rate, fmt="wav")
    return files


def _result_fields(job: Job, result: GenerationResult, blobs: dict[str, str]) -> dict[str, Any]:
    material = {k: v for k, v in (result.material or {}).items() if isinstance(k, str)}
    frames = int(result.mix.shape[0]) if hasattr(result.mix, "shape") else 0
    material.setdefault("dur", round(frames / (result.sample_rate or SAMPLE_RATE)))
    material["seed"] = job.seed
    return {
        "title": (result.title or "")[:300],
        "material": material,
        "lyrics": result.lyrics,
        "extra": {**(job.extra or {}), **{k: v for k, v in (result.extra or {}).items() if _jsonable(v)}},
        "blobs": blobs,
    }


def _jsonable(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, type(None), list, dict))


class _Partner:
    """A sibling variation claimed with the job, to be generated in the same batch (engines with
    `generate_batch`: acestep). Its lease is kept while the batch runs; it is finished on its own after."""

    def __init__(self, ctx: WorkerContext, job: Job, request: GenerationRequest) -> None:
        self.job = job
        self.request = request
        self.progress = _Progress(ctx, job)
        self.stop = threading.Event()
        self.result: GenerationResult | None = None
        self.error: str | None = None
        threading.Thread(target=_heartbeat, args=(ctx, job, self.progress, self.stop), daemon=True).start()


def _claim_partners(ctx: WorkerContext, job: Job) -> list[_Partner]:
    """The job's still-queued siblings (same batch, engine and kind), claimed for this worker. A
    sibling another worker took meanwhile is simply not claimed (claims are conditional)."""
    from sqlalchemy import select

    with ctx.db.session() as s:
        ids = list(
            s.scalars(
                select(Job.item_id).where(
                    Job.batch_id == job.batch_id,
                    Job.item_id != job.item_id,
                    Job.state == JobState.QUEUED,
                    Job.engine == job.engine,
                    Job.kind == job.kind,
                )
            )
        )
    partners = []
    for item_id in ids:
        claimed = queue.claim(ctx.db, item_id, ctx.worker_id)
        if claimed is None:
            continue
        try:
            partners.append(_Partner(ctx, claimed, build_request(ctx, claimed)))
        except EngineError as exc:
            queue.fail(
                ctx.db, claimed.item_id, ctx.worker_id, str(exc) or "The engine could not generate this"
            )
    return partners


def _failure_reason(exc: BaseException, cannot: str = "generate this", failed: str = "Generation") -> str:
    if isinstance(exc, EngineError):
        return str(exc) or f"The engine could not {cannot}"
    return f"{failed} failed: {type(exc).__name__}: {exc}"


def _fail(ctx: WorkerContext, job: Job, exc: Exception, cannot: str, failed: str) -> RunOutcome:
    """Ends `job` failed with the reason a user reads; only a failure nobody foresaw is logged with
    its traceback (an engine's refusal or an unknown engine name is the reason itself)."""
    if isinstance(exc, KeyError):
        reason = f"Unknown engine {exc}"
    else:
        if not isinstance(exc, EngineError):
            log.exception("job %s failed", job.item_id)
        reason = _failure_reason(exc, cannot, failed)
    queue.fail(ctx.db, job.item_id, ctx.worker_id, reason)
    return RunOutcome.FAILED


def _generate_batch(
    engine: Any, job: Job, request: GenerationRequest, partners: list[_Partner], progress: Any
) -> GenerationResult:
    """One engine call for the job and its partners; each partner keeps its result or the reason."""

    def report(pct: int, stage: str) -> None:
        lost = 0
        for each in [progress, *(lambda p, st, q=q: q.progress(1 + p * 89 // 100, st) for q in partners)]:
            try:
                each(pct, stage)
            except JobAbandoned:
                lost += 1
        if lost == 1 + len(partners):
            raise JobAbandoned(job.item_id)

    try:
        results = engine.generate_batch([request, *(p.request for p in partners)], report)
    except BaseException as exc:
        for partner in partners:
            partner.error = _failure_reason(exc)
        raise
    for partner, result in zip(partners, results[1:], strict=True):
        partner.result = result
    return cast(GenerationResult, results[0])


def _finish_partners(ctx: WorkerContext, partners: list[_Partner]) -> None:
    for partner in partners:
        partner.stop.set()
        if partner.result is not None:
            outcome = run_music_job(ctx, partner.job, prepared=partner.result)
            log.info("job %s %s (batched)", partner.job.item_id, outcome)
        elif partner.error is not None:
            queue.fail(ctx.db, partner.job.item_id, ctx.worker_id, partner.error)
        else:  # the batch never ran (the first job failed before it): back to the queue, unharmed
            queue.hand_back(ctx.db, (Job.item_id == partner.job.item_id) & (Job.worker_id == ctx.worker_id))


def run_lyrics_job(ctx: WorkerContext, job: Job) -> RunOutcome:
    """A queued lyrics job (only the upstream engine queues them: ours are written while the request
    is answered): the engine's lyrics, stored on the row as a finished lyrics job's are."""
    progress = _Progress(ctx, job)
    stop = threading.Event()
    threading.Thread(target=_heartbeat, args=(ctx, job, progress, stop), daemon=True).start()
    try:
        try:
            engine = get_engine(job.engine)
            write_lyrics = getattr(engine, "write_lyrics", None)
            if write_lyrics is None:
                raise EngineError(f"the {job.engine} engine writes no lyrics in a worker")
            _bind_job(ctx, job, engine)
            progress(1, "writing lyrics")
            openapi = (job.request or {}).get("openapi") or {}
            song_model = openapi.get("song_profile")
            written = write_lyrics(str((job.request or {}).get("prompt", "")), song_model, progress)
        except JobAbandoned:
            return _abandon(ctx, job)
        except Exception as exc:  # noqa: BLE001 - any failure must end the job with a reason
            return _fail(ctx, job, exc, "write lyrics", "Lyrics")
        stop.set()
        fields = {
            "title": written.title,
            "lyrics": written.text,
            "material": {},
            "extra": {**(job.extra or {}), **{k: v for k, v in written.extra.items() if _jsonable(v)}},
        }
        with progress.lock:
            done = queue.complete(ctx.db, job.item_id, ctx.worker_id, fields)
        return RunOutcome.COMPLETED if done else _abandon(ctx, job)
    finally:
        stop.set()


def run_music_job(ctx: WorkerContext, job: Job, prepared: GenerationResult | None = None) -> RunOutcome:
    """Runs a claimed job to its final state, and says which it reached (or that it was abandoned).
    `prepared`: the job's result, already generated in a sibling's batch. A lyrics job (queued only
    for the upstream engine) goes to `run_lyrics_job`."""
    if job.kind == "lyrics":
        return run_lyrics_job(ctx, job)
    progress = _Progress(ctx, job)
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(ctx, job, progress, stop), daemon=True)
    beat.start()
    scratch = job_scratch(ctx.settings.data_dir, job.item_id, ctx.worker_id)  # a crash's: workers.scratch
    partners: list[_Partner] = []
    try:
        try:
            request = build_request(ctx, job)
            engine = get_engine(job.engine)
            _bind_job(ctx, job, engine)
            progress(1, "composing")
            # The engine's 0..100 maps onto 1..90: encoding and storing follow, and progress never goes back.
            engine_progress = lambda pct, stage: progress(1 + pct * 89 // 100, stage)  # noqa: E731
            extension = extension_of(job)
            extender = extender_for(job.engine) if extension is not None else None
            if extension is not None and extender is not None:
                result = run_extension(
                    ctx,
                    job,
                    extension,
                    extender,
                    engine_progress,
                    request=request,
                    build_request=build_request,
                )
            elif prepared is not None:
                result = prepared
            elif hasattr(engine, "generate_batch"):
                partners = _claim_partners(ctx, job)
                result = _generate_batch(engine, job, request, partners, engine_progress)
            else:
                result = engine.generate(request, engine_progress)
            measure_result(result)  # musicMaterial.measured: what the rendered master sounds like
            progress(95, "encoding")
            files = encode_outputs(result, result.title, job.item_id, scratch)
            files.update(write_artwork(job, result, scratch))  # waveformUrl and cover
        except JobAbandoned:
            return _abandon(ctx, job)
        except Exception as exc:  # noqa: BLE001 - any failure must end the job with a reason
            return _fail(ctx, job, exc, "generate this", "Generation")
        prefix = f"jobs/{job.item_id}"
        blobs = {}
        for name, path in files.items():
            key = f"{prefix}/{path.name}"
            ctx.blobs.put_file(key, path)
            blobs[name] = key
        stop.set()
        with progress.lock:
            done = queue.complete(ctx.db, job.item_id, ctx.worker_id, _result_fields(job, result, blobs))
        if not done:
            return _abandon(ctx, job)
        return RunOutcome.COMPLETED
    finally:
        stop.set()
        shutil.rmtree(scratch, ignore_errors=True)
        _finish_partners(ctx, partners)


def _bind_job(ctx: WorkerContext, job: Job, engine: object) -> None:
    """Engines that keep state per job across processes (the upstream engine's key pool and task
    record) get it from the database through the worker: engines import no store."""
    bind = getattr(engine, "bind_job", None)
    if bind is not None:
        bind(job_ledger(ctx, job.item_id))


def job_ledger(ctx: WorkerContext, item_id: str) -> JobLedger:
    """The upstream engine's view of job (or stems task) `item_id`, able to run a queued holder of
    the key slot it waits for in this worker (`attend_job`)."""
    from songforge.store.upstream import JobLedger

    return JobLedger(ctx.db, ctx.settings, item_id, attend=lambda held: attend_job(ctx, held))


def attend_job(ctx: WorkerContext, item_id: str) -> bool:
    """Runs queued job `item_id` in this worker now, nested in the job (or upload) that asked, if it
    can still claim it; True when it ran. The upstream engine asks it for a job holding the key slot
    it waits for while that job sits in the queue (`TaskLedger.attend_unattended`): every worker may
    be such a waiter, so the holder would otherwise never be claimed. The asker keeps its own claim
    and lease (its heartbeat thread renews it) and goes on when this returns; an engine bound
    anew by the nested job keeps the asker's ledger in its own call's locals."""
    job = queue.claim(ctx.db, item_id, ctx.worker_id)
    if job is None:
        return False
    log.info("job %s: run now, it holds the upstream key slot another job here waits for", item_id)
    outcome = run_music_job(ctx, job)
    log.info("job %s %s", item_id, outcome)
    return True


def _abandon(ctx: WorkerContext, job: Job) -> RunOutcome:
    """The job was deleted or taken over. Remove our files only if no row owns them any more."""
    with ctx.db.session() as s:
        gone = s.get(Job, job.item_id) is None
    if gone:
        ctx.blobs.delete_prefix(f"jobs/{job.item_id}")
    return RunOutcome.ABANDONED
