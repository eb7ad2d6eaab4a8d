"""Running an extension job: the source's stored files and record read back for the engine.

Engines touch no store, so the worker gathers what an extension continues (the source's WAV and
stem files from the blob store, its material, sections, timed lyrics and the request its score
follows from) into a `SourceWork`, and records the basis on the new work too: an extension of an
extension then continues the root's composition, even once the root is deleted.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from songforge.core.states import JobState
from songforge.engines.base import SAMPLE_RATE, EngineError, GenerationRequest, GenerationResult, ProgressFn
from songforge.store.models import Job
from songforge.workers.context import WorkerContext

__all__ = ["extender_for", "extension_of", "read_stored_audio", "run_extension", "source_work"]

_INT16_SCALE = np.float32(1.0 / 32767.0)  # the inverse of `audio.encode.to_int16`: exact round trips


def extension_of(job: Job) -> dict[str, Any] | None:
    """The `extend` part of a job's request ({item_id, start_time}), or None for a plain generation."""
    ext = (job.request or {}).get("extend")
    if isinstance(ext, dict) and ext.get("item_id") and isinstance(ext.get("start_time"), int | float):
        return ext
    return None


Extender = Callable[..., GenerationResult]
"""extend(source, start_time, *, lyrics, max_seconds, progress) -> the whole new work."""


def extender_for(engine_name: str) -> Extender | None:
    """The extension of the engine a job runs on, from the source's stored audio; None for an
    engine without one here: the upstream engine extends through the platform's own endpoint
    inside its `generate` (its works live on the platform), other engines make a new work from
    the source's material. acestep's repaints after the splice (`engines.acestep.extend`)."""
    if engine_name == "embedded":
        from songforge.engines.embedded.extend import extend

        return extend
    if engine_name == "acestep":
        from songforge.engines.acestep.extend import extend as repaint

        return repaint
    return None


def read_stored_audio(data: bytes | Path) -> np.ndarray:
    """A stored 16-bit file as float32 (n, 2) that `write_wav` writes back to the same integers."""
    source = io.BytesIO(data) if isinstance(data, bytes) else str(data)
    pcm, sr = sf.read(source, dtype="int16", always_2d=True)
    if sr != SAMPLE_RATE:
        raise EngineError(f"The stored audio is at {sr} Hz, not {SAMPLE_RATE} Hz")
    audio = pcm.astype(np.float32) * _INT16_SCALE
    if audio.shape[1] == 1:
        audio = np.repeat(audio, 2, axis=1)
    return np.ascontiguousarray(audio[:, :2])


def _stored_stems(path: Path) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as zf:
        for member in zf.namelist():
            name, _, ext = member.rpartition(".")
            if ext.lower() in ("wav", "flac") and name:
                out[name] = read_stored_audio(zf.read(member))
    return out


def _basis(src: Job) -> dict[str, Any]:
    """The request and seed `src`'s score follows from (an extension's own basis when it has one)."""
    stored = ((src.extra or {}).get("extension") or {}).get("basis")
    if isinstance(stored, dict) and isinstance(stored.get("request"), dict):
        return stored
    return {"request": dict(src.request or {}), "seed": int(src.seed or 0)}


BuildRequest = Callable[[WorkerContext, Job], GenerationRequest]
"""`workers.generate.build_request`, passed in: it imports this module, so this one cannot import it."""


def source_work(
    ctx: WorkerContext, job: Job, ext: dict[str, Any], build_request: BuildRequest
) -> tuple[Any, dict[str, Any]]:
    """(SourceWork, basis) for the work `job` extends. EngineError when it cannot be read."""
    from songforge.engines.embedded.extend import SourceWork

    with ctx.db.session() as s:
        src = s.get(Job, str(ext["item_id"]))
        if src is None or src.tenant_id != job.tenant_id:
            raise EngineError("The work to extend does not exist.")
        if src.state != JobState.COMPLETED:
            raise EngineError("The work to extend is not complete.")
        s.expunge(src)
    blobs = src.blobs or {}
    wav = ctx.blobs.path(blobs.get("wav", "")) if blobs.get("wav") else None
    if wav is None or not wav.is_file():
        raise EngineError("The audio of the work to extend is missing from storage.")
    stems_path = ctx.blobs.path(blobs["stems"]) if blobs.get("stems") else None
    stems = _stored_stems(stems_path) if stems_path is not None and stems_path.is_file() else {}
    basis = _basis(src)
    basis_job = Job(
        item_id=src.item_id,
        tenant_id=src.tenant_id,
        kind=src.kind,
        request=basis["request"],
        seed=int(basis.get("seed") or 0),
    )
    extra = src.extra or {}
    previous = extra.get("extension") or {}
    work = SourceWork(
        item_id=src.item_id,
        mix=read_stored_audio(wav),
        stems=stems,
        material=dict(src.material or {}),
        basis=build_request(ctx, basis_job),
        title=src.title or "",
        lyrics=src.lyrics,
        lines=[tuple(x[:3]) for x in extra.get("lyrics_lines") or [] if isinstance(x, list | tuple)],
        sections=[(str(x[0]), int(x[1]), int(x[2])) for x in extra.get("sections") or []],
        bar_chords=[str(x) for x in extra.get("bar_chords") or []],
        root_item_id=previous.get("root_item_id"),
    )
    return work, basis


def run_extension(
    ctx: WorkerContext,
    job: Job,
    ext: dict[str, Any],
    extender: Extender,
    progress: ProgressFn,
    *,
    request: GenerationRequest,
    build_request: BuildRequest,
) -> GenerationResult:
    """The engine's extension of the stored source, with the basis recorded for later extensions.
    `request` is the job's own (its lyrics and length cap apply to the continuation)."""
    source, basis = source_work(ctx, job, ext, build_request)
    result = extender(
        source,
        float(ext["start_time"]),
        lyrics=request.lyrics if job.kind == "song" else None,
        max_seconds=request.max_seconds,
        progress=progress,
    )
    info = dict(result.extra.get("extension") or {})
    info["basis"] = basis
    result.extra["extension"] = info
    return result
