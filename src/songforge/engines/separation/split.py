"""The whole stems-splitter job for one uploaded file: probe, check, decode, separate, zip.

The HTTP route calls `split_file`; it raises `DecodeError` (a bad file) or `LimitExceeded` (over the
limits) for uploads it refuses, before any separation work is spent, and writes the zip atomically so a
failure leaves nothing half-written. `separate_to_zip` (also the upload worker's) streams the stems into
the zip's files chunk by chunk, so a 10-minute upload never holds its four stems in memory.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from songforge.audio.decode import DecodeLimits, check_content_type, check_limits, decode, probe
from songforge.audio.encode import StemsZipWriter
from songforge.engines.separation import SAMPLE_RATE, ProgressFn, Separation, separate_reporting

# The upload's own extension, for the verbatim copy of the original in the zip.
_EXTENSIONS = {"mp3": "mp3", "wav": "wav", "m4a": "m4a", "flac": "flac"}


def stem_format(kind: str, lossless: bool) -> str:
    """Stems keep a lossless upload lossless (WAV stays WAV, FLAC and ALAC become FLAC); a lossy
    upload gets 16-bit WAV, since re-encoding to a lossy format would stack a second generation of
    artefacts on top of the separation's own."""
    if kind == "wav":
        return "wav"
    if lossless:
        return "flac"
    return "wav"


def split_file(
    source_path: Path,
    content_type: str,
    out_zip: Path,
    *,
    limits: DecodeLimits | None = None,
    method: str = "auto",
    two_stems: bool = False,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Split an upload into a zip of stems; returns the fields the stems-splitter response needs.

    The zip holds `vocals`, `drums`, `bass`, `other` (with `two_stems`: `vocals`, `accompaniment`) in
    `stem_format(...)` plus `original.<ext>`, the uploaded bytes unchanged. `method` names the method
    that made the stems and `methodNote` why it is not the one asked for, when a named method's weights
    are missing.
    """
    report = progress or (lambda _pct, _stage: None)
    limits = limits or DecodeLimits()
    source_path = Path(source_path)
    started = time.monotonic()
    report(0, "probing")
    info = probe(source_path)
    check_content_type(info, content_type)
    check_limits(info, limits)
    report(2, "decoding")
    audio = decode(source_path, limits, target_sr=SAMPLE_RATE, stereo=True)
    duration = audio.shape[0] / SAMPLE_RATE

    def separating(pct: int, stage: str) -> None:
        report(5 + int(pct * 0.85), stage)

    fmt = stem_format(info.kind, info.lossless)
    original_name = f"original.{_EXTENSIONS[info.kind]}"
    result, names = separate_to_zip(
        audio,
        out_zip,
        fmt=fmt,
        extra={original_name: source_path},
        method=method,
        two_stems=two_stems,
        progress=separating,
    )
    del audio
    report(100, "done")
    return {
        "audioType": info.kind,
        "detail": names,
        "method": result.method,
        "methodNote": result.note,
        "duration": round(duration, 3),
        "files": [f"{name}.{fmt}" for name in names] + [original_name],
        "stemFormat": fmt,
        "sampleRate": SAMPLE_RATE,
        "sourceCodec": info.codec,
        "elapsedSeconds": round(time.monotonic() - started, 3),
    }


def separate_to_zip(
    audio: np.ndarray,
    out_zip: Path,
    *,
    fmt: str,
    extra: dict[str, Path],
    method: str = "auto",
    two_stems: bool = False,
    progress: ProgressFn | None = None,
) -> tuple[Separation, list[str]]:
    """Separate 44.1 kHz (n, 2) audio straight into a stems zip (`StemsZipWriter`, plus `extra` files):
    the record of how (its `stems` empty) and the names of the stems the zip holds."""
    with StemsZipWriter(out_zip, SAMPLE_RATE, fmt=fmt, extra=extra) as writer:
        result = separate_reporting(
            audio, SAMPLE_RATE, method=method, two_stems=two_stems, progress=progress, sink=writer.write
        )
        if progress is not None:
            progress(100, "encoding")
        names = writer.close()
    return result, names
