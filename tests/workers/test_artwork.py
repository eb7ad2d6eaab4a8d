"""The worker's artwork step (issue 19): a waveform JSON and a cover PNG per finished work, and
never a failed job because a picture could not be drawn."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from songforge.audio.peaks import POINTS
from songforge.engines.base import GenerationResult
from songforge.store.models import Job
from songforge.workers.artwork import write_artwork


def _result(mix: np.ndarray) -> GenerationResult:
    return GenerationResult(
        sample_rate=44100,
        mix=mix,
        stems={},
        title="Night Drive",
        material={"style": "Synthwave", "mood": "dark"},
    )


def test_writes_waveform_and_cover_named_for_the_work(tmp_path: Path) -> None:
    job = Job(item_id="abc", seed=5, title="", material={})
    t = np.arange(44100 * 2) / 44100
    mix = np.stack([np.sin(2 * np.pi * 110 * t)] * 2, axis=1).astype(np.float32) * 0.5
    files = write_artwork(job, _result(mix), tmp_path)
    assert set(files) == {"waveform", "cover"}
    assert files["waveform"].name == "abc-waveform.json" and files["cover"].name == "abc-cover.png"
    waveform = json.loads(files["waveform"].read_text())
    assert waveform["length"] == POINTS and abs(waveform["duration"] - 2.0) < 1e-6
    assert files["cover"].read_bytes()[:4] == b"\x89PNG"
    (tmp_path / "again").mkdir()
    again = write_artwork(job, _result(mix), tmp_path / "again")
    assert again["cover"].read_bytes() == files["cover"].read_bytes()


def test_a_picture_that_cannot_be_made_is_left_out(tmp_path: Path) -> None:
    job = Job(item_id="abc", seed=5, title="", material={})
    assert write_artwork(job, _result(np.zeros((10, 2), dtype=np.float32)), tmp_path / "missing-dir") == {}
