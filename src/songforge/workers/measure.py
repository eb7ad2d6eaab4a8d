"""Measuring a finished track on its own audio, so its record says what was heard beside what was asked.

Runs in the worker on the rendered master, after the engine and before encoding, for every engine:
the record carries `musicMaterial.measured = {bpm, key, keyConfidence, chordsMatched, lufs,
truePeak, estimator, ...}`. A measurement that fails is logged and left out; it never fails the job.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time

from songforge.engines.base import GenerationResult

log = logging.getLogger("songforge.worker")

BEATS_PER_BAR = 4  # the engines' bar grid, which `bar_chords` follows


def measure_result(result: GenerationResult) -> float | None:
    """Adds `measured` to `result.material`; returns the seconds it took (None when not measured)."""
    try:
        from songforge.audio.analysis import measure
    except ImportError:  # an install without the analysis extras: nothing to measure with
        return None
    material = result.material
    bpm = material.get("bpm")
    bpm = float(bpm) if isinstance(bpm, int | float) and bpm > 0 else None
    chords = result.extra.get("bar_chords")
    t0 = time.perf_counter()
    try:
        measured = measure(
            result.mix,
            result.sample_rate,
            bpm_hint=bpm,
            chords_per_bar=chords if isinstance(chords, list) and chords else None,
            bar_seconds=BEATS_PER_BAR * 60.0 / bpm if bpm else None,
        )
    except Exception:  # noqa: BLE001 - the track is fine without its measurement
        log.exception("measuring the rendered track failed")
        return None
    took = time.perf_counter() - t0
    record = measured.as_record()
    record["analysisSeconds"] = round(took, 3)
    material["measured"] = record
    render = result.extra.get("render_seconds")
    if isinstance(render, int | float) and render > 0:
        log.info(
            "measured %.1f s of audio in %.3f s (%.1f%% of the %.2f s render): %s BPM, %s",
            measured.seconds,
            took,
            100.0 * took / render,
            render,
            record.get("bpm"),
            record.get("key"),
        )
    return took


def warm_up() -> None:
    """Pay the analysis's one-off start-up (librosa loads its beat tracker lazily and numba compiles
    it: several seconds) once per worker process, before the first job needs it."""
    try:
        import numpy as np

        from songforge.audio.analysis import measure

        noise = np.random.default_rng(0).standard_normal((44100, 2)).astype(np.float32) * 0.1
        measure(noise, 44100, bpm_hint=120.0, chords_per_bar=["C"], bar_seconds=2.0)
    except Exception:  # noqa: BLE001 - the first job measures (more slowly) or logs why it cannot
        log.debug("analysis warm-up failed", exc_info=True)


# The packages whose first import must not run in two threads at once: scipy and librosa load their
# submodules lazily, and a job importing `scipy.ndimage` while the warm-up thread was importing
# `scipy.signal` failed with "Module 'scipy' has no attribute '_lib'" (seen in CI on the first jobs).
PRELOAD = (
    "scipy.fft",
    "scipy.ndimage",
    "scipy.signal",
    "scipy.signal.windows",
    "scipy.sparse",
    "songforge.audio.jit",  # librosa and its submodules, under the numba cache lock
    "songforge.audio.analysis",
)


def preload() -> None:
    """Imports, in the calling thread, what the engines and the analysis would import lazily."""
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # an install without the analysis extras: the job says what is missing
            log.debug("preload: %s is not installed", name)


def start_warm_up() -> None:
    """Preloads before any thread starts, then compiles the analysis in the background."""
    preload()
    threading.Thread(target=warm_up, name="analysis-warm-up", daemon=True).start()
