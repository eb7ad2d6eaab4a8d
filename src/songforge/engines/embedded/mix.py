"""Per-stem processing (pedalboard) and the linked master (one gain curve for every stem).

Pedalboard runs its DSP in C++ and releases the GIL, so the stems are processed on two threads.
Reverb is only used where it helps (keys, lead): it is the costliest plugin.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pedalboard as pb

from songforge.audio.mixing import master_gain
from songforge.engines.base import SAMPLE_RATE

TARGET_LUFS = -14.0
CEILING_DB = -1.5  # true peak, leaves margin under the -1 dBTP limit


def _chain(stem: str, style_key: str) -> tuple[pb.Pedalboard, float]:
    """(effects, gain in dB) for a stem; a few style-specific touches."""
    wet = {"ambient": 0.35, "cinematic": 0.3, "piano": 0.25, "quartet": 0.28, "lofi": 0.2}.get(
        style_key, 0.16
    )
    if stem == "drums":
        return pb.Pedalboard(
            [
                pb.HighpassFilter(30),
                pb.PeakFilter(3500, 1.5, 0.9),
                pb.Compressor(threshold_db=-14, ratio=3, attack_ms=8, release_ms=120),
            ]
        ), 0.0
    if stem == "bass":
        return pb.Pedalboard(
            [
                pb.HighpassFilter(35),
                pb.LowpassFilter(4500),
                pb.Compressor(threshold_db=-18, ratio=4, attack_ms=15, release_ms=150),
            ]
        ), -1.0
    if stem == "keys":
        return pb.Pedalboard(
            [
                pb.HighpassFilter(110),
                pb.PeakFilter(350, -2.0, 0.8),
                pb.Compressor(threshold_db=-20, ratio=2.5, attack_ms=20, release_ms=200),
                pb.Reverb(room_size=0.55, damping=0.5, wet_level=wet, dry_level=0.9, width=1.0),
            ]
        ), -2.0
    if stem == "vocals":
        return pb.Pedalboard(
            [
                pb.HighpassFilter(90),
                pb.PeakFilter(3000, 2.0, 1.0),
                pb.Compressor(threshold_db=-20, ratio=3, attack_ms=10, release_ms=150),
                pb.Reverb(room_size=0.45, damping=0.5, wet_level=0.14, dry_level=0.95, width=0.8),
            ]
        ), 1.0
    # lead
    return pb.Pedalboard(
        [
            pb.HighpassFilter(150),
            pb.Compressor(threshold_db=-18, ratio=2.5, attack_ms=10, release_ms=150),
            pb.Reverb(room_size=0.5, damping=0.4, wet_level=wet, dry_level=0.9, width=1.0),
        ]
    ), -1.0


def process_stems(stems: dict[str, np.ndarray], style_key: str, workers: int = 2) -> dict[str, np.ndarray]:
    def run(item: tuple[str, np.ndarray]) -> tuple[str, np.ndarray]:
        name, audio = item
        if not np.any(audio):
            return name, audio
        board, gain_db = _chain(name, style_key)
        out = board(np.ascontiguousarray(audio.T), SAMPLE_RATE).T
        out = out[: len(audio)] * np.float32(10 ** (gain_db / 20))
        return name, np.ascontiguousarray(out, dtype=np.float32)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return dict(pool.map(run, stems.items()))


def fade(stems: dict[str, np.ndarray], fade_in_s: float, fade_out_s: float) -> None:
    """The same fades on every stem (in place), so they still sum to the master."""
    n = len(next(iter(stems.values())))
    fi, fo = min(n, int(fade_in_s * SAMPLE_RATE)), min(n, int(fade_out_s * SAMPLE_RATE))
    ramp_in = np.linspace(0, 1, fi, dtype=np.float32)[:, None] if fi else None
    ramp_out = (np.cos(np.linspace(0, np.pi / 2, fo)) ** 2).astype(np.float32)[:, None] if fo else None
    for audio in stems.values():
        if ramp_in is not None:
            audio[:fi] *= ramp_in
        if ramp_out is not None:
            audio[n - fo :] *= ramp_out


def master(stems: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray], float]:
    """Mix, level to -14 LUFS under a true-peak ceiling, and apply the same curve to every stem.
    Returns (mix, stems, loudness). The mix is the sum of the returned stems."""
    total = np.zeros_like(next(iter(stems.values())))
    for audio in stems.values():
        total += audio
    curve, loud = master_gain(total, SAMPLE_RATE, TARGET_LUFS, CEILING_DB)
    out = {name: (audio * curve[:, None]).astype(np.float32) for name, audio in stems.items()}
    mix = np.zeros_like(total)
    for audio in out.values():
        mix += audio
    return mix, out, loud
