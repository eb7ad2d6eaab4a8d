"""Per-stem processing (pedalboard) and the linked master (one gain curve for every stem).

Pedalboard runs its DSP in C++ and releases the GIL, so stems are processed on the render threads
as soon as each is rendered. Reverb is only used where it helps (keys, lead, vocals): it is the
costliest plugin. In songs the instruments duck under the voice (`duck_under`) before the master,
and the master's one curve keeps the stems summing to the mix.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pedalboard as pb
from scipy.ndimage import maximum_filter1d, uniform_filter1d

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
        # clean the low end and the boxy 300 Hz, add presence and air, level it, a short room
        return pb.Pedalboard(
            [
                pb.HighpassFilter(90),
                pb.PeakFilter(300, -2.5, 1.0),
                pb.PeakFilter(3000, 2.5, 1.0),
                pb.HighShelfFilter(9000, 1.5, 0.7),
                pb.Compressor(threshold_db=-22, ratio=3.5, attack_ms=8, release_ms=120),
                pb.Reverb(room_size=0.4, damping=0.55, wet_level=0.13, dry_level=0.95, width=0.7),
            ]
        ), 2.0
    # lead
    return pb.Pedalboard(
        [
            pb.HighpassFilter(150),
            pb.Compressor(threshold_db=-18, ratio=2.5, attack_ms=10, release_ms=150),
            pb.Reverb(room_size=0.5, damping=0.4, wet_level=wet, dry_level=0.9, width=1.0),
        ]
    ), -1.0


def process_stem(name: str, audio: np.ndarray, style_key: str) -> np.ndarray:
    """One stem through its chain and gain: float32 in and out, (n, 2), same length."""
    if not np.any(audio):
        return audio
    board, gain_db = _chain(name, style_key)
    board.append(pb.Gain(gain_db))
    out = board(audio.T, SAMPLE_RATE, reset=True)  # pedalboard takes (channels, n), a view will do
    return np.ascontiguousarray(out.T[: len(audio)], dtype=np.float32)


def process_stems(stems: dict[str, np.ndarray], style_key: str, workers: int = 2) -> dict[str, np.ndarray]:
    def run(item: tuple[str, np.ndarray]) -> tuple[str, np.ndarray]:
        return item[0], process_stem(item[0], item[1], style_key)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return dict(pool.map(run, stems.items()))


DUCK_DB = {"lead": 9.0}  # the lead melody competes with the voice most; others use the default


def duck_under(vocals: np.ndarray, stems: dict[str, np.ndarray], depth_db: float = 4.5) -> np.ndarray:
    """Sidechain-style ducking: every stem but the vocals is turned down while the voice sings, by
    up to `depth_db` (more for the lead, see DUCK_DB), following the vocal's envelope (fast attack,
    slow release), so the voice sits on top without a louder master. The gain multiplies each
    instrument stem in place, before the shared master curve, so the stems still sum to the mix.
    Returns the amount (n,) in 0..1: 1 where the voice is at full level."""
    n = len(vocals)
    hop = 512
    frames = -(-n // hop)
    mono = np.zeros(frames * hop, dtype=np.float32)
    mono[:n] = np.maximum(np.abs(vocals[:, 0]), np.abs(vocals[:, -1]))
    level = mono.reshape(frames, hop).max(axis=1)
    peak = float(level.max())
    if peak <= 0:
        return np.zeros(n, dtype=np.float32)
    # 0 when the voice is 30 dB under its peak (breaths, silence), 1 at -6 dB and above
    db = 20 * np.log10(np.maximum(level / peak, 1e-6))
    amount = np.clip((db + 30.0) / 24.0, 0.0, 1.0)
    # attack within a frame or two, release over about 300 ms (25 frames of 11.6 ms)
    held = maximum_filter1d(amount, size=9)  # looks 4 frames ahead: ducking starts before the voice
    smooth = uniform_filter1d(held, size=25)
    smooth = np.maximum(smooth, amount)
    where = np.arange(frames) * hop + hop / 2
    duck = np.interp(np.arange(n, dtype=np.float32), where, smooth).astype(np.float32)
    for name, audio in stems.items():
        if name != "vocals":
            gain = np.power(np.float32(10.0), duck * np.float32(-DUCK_DB.get(name, depth_db) / 20))
            audio *= gain[:, None]
    return duck


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
    """Mix, level to -14 LUFS under a true-peak ceiling, and apply the same curve to every stem
    (in place). Returns (mix, stems, loudness). The mix is the sum of the returned stems."""
    first = next(iter(stems.values()))
    total = np.zeros_like(first)
    for audio in stems.values():
        total += audio
    curve, loud = master_gain(total, SAMPLE_RATE, TARGET_LUFS, CEILING_DB)
    c = curve[:, None]
    for audio in stems.values():
        audio *= c
    total *= c  # equals the sum of the scaled stems up to float rounding (~1e-7)
    return total, stems, loud
