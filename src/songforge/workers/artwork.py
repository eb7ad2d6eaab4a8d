"""A finished work's waveform JSON and cover PNG, written next to its audio files.

They are made once, in the worker, from the rendered mix (not from a decoded mp3), and stored
under the work's blob prefix like the mp3 and wav: the job's `blobs` names them `waveform` and
`cover`, links to them are signed like downloads, and deleting the work deletes them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from songforge.audio.cover import draw_cover
from songforge.audio.peaks import amplitudes, waveform_peaks
from songforge.engines.base import SAMPLE_RATE, GenerationResult
from songforge.store.models import Job

log = logging.getLogger("songforge.worker")


def write_artwork(job: Job, result: GenerationResult, scratch: Path) -> dict[str, Path]:
    """{"waveform": <id>-waveform.json, "cover": <id>-cover.png} in `scratch`; {} if they could not
    be made: a picture must never fail the music it illustrates (the record then shows "")."""
    try:
        return _write(job, result, scratch)
    except Exception:  # noqa: BLE001 - logged; the work completes without artwork
        log.exception("artwork for %s failed", job.item_id)
        return {}


def _write(job: Job, result: GenerationResult, scratch: Path) -> dict[str, Path]:
    waveform = waveform_peaks(result.mix, result.sample_rate or SAMPLE_RATE)
    files = {
        "waveform": scratch / f"{job.item_id}-waveform.json",
        "cover": scratch / f"{job.item_id}-cover.png",
    }
    files["waveform"].write_text(json.dumps(waveform, separators=(",", ":")), encoding="utf-8")
    material = {**(job.material or {}), **(result.material or {})}
    title = result.title or job.title or ""
    files["cover"].write_bytes(draw_cover(job.seed, material, title, amplitudes(waveform)))
    return files
