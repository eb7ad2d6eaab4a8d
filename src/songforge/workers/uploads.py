"""The worker side of uploads: analysing cloned-voice samples and splitting tracks into stems.

`songforge.workers.uploads_dispatch` claims a row (voice status QUEUED -> RUNNING, stems state
QUEUED -> RUNNING; `songforge.core.states`) and calls `process_voice` / `process_stems_task` with its id.
The handlers are idempotent: they rebuild their output from the stored upload, so a task that was
interrupted by a crash and queued again at restart simply runs again. They give up, with a reason,
after MAX_ATTEMPTS starts, so a file that kills its worker cannot loop forever. Every final write
is conditional on the row still being in its running state: a row deleted or finished meanwhile is
left alone, and its output blobs are removed.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import update

from songforge.clock import now_ms
from songforge.core import events
from songforge.core.states import FINAL_STEMS_STATES, StemsState, VoiceStatus
from songforge.core.uploads import VOICE_MAX_SECONDS, VOICE_MIN_SECONDS
from songforge.errors import InvalidInput
from songforge.store.db import rowcount
from songforge.store.models import StemsTask, Voice
from songforge.workers.context import WorkerContext
from songforge.workers.upstream_stems import split_upstream, upstream_wanted

log = logging.getLogger("songforge.workers.uploads")

MAX_ATTEMPTS = 3
ANALYSIS_SR = 44100


class UploadFailed(InvalidInput):
    """A reason shown to the user in the record's `error`."""


# --------------------------------------------------------------------------- voices


def _analyse(audio: np.ndarray, sr: int) -> dict[str, Any]:
    from songforge.engines.base import EngineError
    from songforge.engines.singing import analyse_voice

    try:
        profile = analyse_voice(audio, sr)
    except EngineError as exc:
        raise UploadFailed(str(exc)) from None
    return dict(profile)


def _finish_voice(ctx: WorkerContext, item_id: str, values: dict[str, Any]) -> bool:
    with ctx.db.session() as s:
        won = rowcount(
            s.execute(
                update(Voice)
                .where(Voice.item_id == item_id, Voice.status == VoiceStatus.RUNNING)
                .values(updated_ms=now_ms(), **values)
            )
        )
    return bool(won)


def process_voice(ctx: WorkerContext, item_id: str) -> None:
    """Decodes a claimed voice sample, analyses it and marks it ready (30) or failed (10)."""
    from songforge.audio.decode import DecodeError, DecodeLimits, LimitExceeded, decode

    with ctx.db.session() as s:
        voice = s.get(Voice, item_id)
        if voice is None or voice.status != VoiceStatus.RUNNING:
            return
        attempts = int((voice.profile or {}).get("attempts", 0)) + 1
        voice.profile = {"attempts": attempts}
        blob_key, content_type = voice.blob_key, voice.content_type
    try:
        if attempts > MAX_ATTEMPTS:
            raise UploadFailed(f"Analysis was interrupted {MAX_ATTEMPTS} times; giving up")
        limits = DecodeLimits(max_duration_s=VOICE_MAX_SECONDS + 1)
        try:
            audio = decode(
                ctx.blobs.path(blob_key), limits, ANALYSIS_SR, stereo=False, content_type=content_type
            )
        except (DecodeError, LimitExceeded) as exc:
            raise UploadFailed(str(exc)) from None
        mono = audio[:, 0]
        seconds = len(mono) / ANALYSIS_SR
        if not VOICE_MIN_SECONDS <= seconds <= VOICE_MAX_SECONDS:
            raise UploadFailed(f"The voice sample must be 5 seconds to 5 minutes long; it is {seconds:.1f} s")
        profile = _analyse(mono, ANALYSIS_SR)
        profile.setdefault("duration_s", round(seconds, 2))
    except UploadFailed as exc:
        _finish_voice(ctx, item_id, {"status": VoiceStatus.FAILED, "error": str(exc)})
        return
    except Exception as exc:  # a bug must end as a visible failure, not a stuck "processing"
        log.exception("voice %s analysis crashed", item_id)
        _finish_voice(ctx, item_id, {"status": VoiceStatus.FAILED, "error": f"Voice analysis failed: {exc}"})
        return
    _finish_voice(ctx, item_id, {"status": VoiceStatus.READY, "profile": profile, "error": None})


# --------------------------------------------------------------------------- stems

STEM_FILE_FORMAT = {"wav": "wav", "flac": "flac"}  # lossless uploads keep their format


def stems_zip_key(item_id: str) -> str:
    return f"stems/{item_id}/stems.zip"


def _finish_stems(ctx: WorkerContext, item_id: str, values: dict[str, Any]) -> bool:
    with ctx.db.session() as s:
        won = rowcount(
            s.execute(
                update(StemsTask)
                .where(StemsTask.item_id == item_id, StemsTask.state == StemsState.RUNNING)
                .values(updated_ms=now_ms(), **values)
            )
        )
        if won and values.get("state") in FINAL_STEMS_STATES:
            # Subscribers (a dialect's callback) write in this transaction, with the final state.
            task = s.get(StemsTask, item_id, populate_existing=True)
            if task is not None:
                events.publish_stems_finished(s, task)
    return bool(won)


def _progress(ctx: WorkerContext, item_id: str, attempts: int) -> Any:
    last = [-1]

    def report(percent: int, stage: str) -> None:
        if percent - last[0] < 5 and percent < 100:
            return
        last[0] = percent
        with ctx.db.session() as s:
            s.execute(
                update(StemsTask)
                .where(StemsTask.item_id == item_id, StemsTask.state == StemsState.RUNNING)
                .values(
                    detail={"attempts": attempts, "progress": int(percent), "stage": stage},
                    updated_ms=now_ms(),
                )
            )

    return report


def _split_upstream(
    ctx: WorkerContext, item_id: str, source_key: str, key: str, scratch: Path, attempts: int
) -> None:
    """The upstream's stems (`workers.upstream_stems`), stored and finished like a local split's."""
    from songforge.engines.base import EngineError

    try:
        zip_path, upstream = split_upstream(
            ctx, item_id, source_key, scratch, _progress(ctx, item_id, attempts)
        )
    except EngineError as exc:
        _finish_stems(
            ctx, item_id, {"state": StemsState.FAILED, "error": str(exc) or "Stem separation failed"}
        )
        return
    ctx.blobs.put_file(key, zip_path)
    detail = {"attempts": attempts, "progress": 100, "stage": "done", **upstream}
    if not _finish_stems(
        ctx, item_id, {"state": StemsState.COMPLETED, "blobs": {"zip": key}, "detail": detail}
    ):
        ctx.blobs.delete_prefix(f"stems/{item_id}")  # deleted meanwhile: leave nothing behind


def process_stems_task(ctx: WorkerContext, item_id: str) -> None:
    """Decodes a claimed upload, separates it and stores a zip of the stems plus the original.

    Stems are written in the upload's format when that is lossless WAV or FLAC, else as 16-bit
    WAV (re-encoding a lossy upload to a lossy format would lose quality twice)."""
    from songforge.audio.decode import DecodeError, DecodeLimits, LimitExceeded, decode, probe
    from songforge.engines.separation import SAMPLE_RATE
    from songforge.engines.separation.split import separate_to_zip

    with ctx.db.session() as s:
        task = s.get(StemsTask, item_id)
        if task is None or task.state != StemsState.RUNNING:
            return
        attempts = int((task.detail or {}).get("attempts", 0)) + 1
        task.detail = {"attempts": attempts, "progress": 0, "stage": "decoding"}
        source_key, content_type = task.source_key, task.content_type
    key = stems_zip_key(item_id)
    scratch = Path(tempfile.mkdtemp(prefix=".stems-", dir=ctx.blobs.root))
    try:
        if attempts > MAX_ATTEMPTS:
            raise UploadFailed(f"Separation was interrupted {MAX_ATTEMPTS} times; giving up")
        if upstream_wanted(ctx, item_id):  # an upstream account's: split by the TemPolor upstream
            _split_upstream(ctx, item_id, source_key, key, scratch, attempts)
            return
        source = ctx.blobs.path(source_key)
        try:
            info = probe(source)
            audio = decode(
                source, DecodeLimits.from_env(), SAMPLE_RATE, stereo=True, content_type=content_type
            )
        except (DecodeError, LimitExceeded) as exc:
            raise UploadFailed(str(exc)) from None
        fmt = STEM_FILE_FORMAT.get(info.kind, "wav") if info.lossless else "wav"
        zip_path = scratch / "stems.zip"
        # Stems stream into the zip's files as they are separated: held whole, a 10-minute upload's four
        # stems were 850 MB on top of the decoded audio.
        separated, stems = separate_to_zip(
            audio,
            zip_path,
            fmt=fmt,
            extra={f"original.{info.kind}": source},
            progress=_progress(ctx, item_id, attempts),
        )
        ctx.blobs.put_file(key, zip_path)
        detail = {
            "attempts": attempts,
            "progress": 100,
            "stage": "done",
            "stems": list(stems),
            "method": separated.method,  # which separator made them; "method_note" when it fell back
            **({"method_note": separated.note} if separated.note else {}),
            "format": fmt,
            "duration_s": round(len(audio) / SAMPLE_RATE, 3),
        }
        if not _finish_stems(
            ctx, item_id, {"state": StemsState.COMPLETED, "blobs": {"zip": key}, "detail": detail}
        ):
            ctx.blobs.delete_prefix(f"stems/{item_id}")  # deleted meanwhile: leave nothing behind
    except UploadFailed as exc:
        _finish_stems(ctx, item_id, {"state": StemsState.FAILED, "error": str(exc)})
    except Exception as exc:
        log.exception("stems task %s crashed", item_id)
        _finish_stems(ctx, item_id, {"state": StemsState.FAILED, "error": f"Stem separation failed: {exc}"})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
