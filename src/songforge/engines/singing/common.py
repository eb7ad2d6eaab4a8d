"""The singing package's shared vocabulary: lyric sections, what the singer returns, a stable hash.

Its own module so that the submodules (lyrics, singer, voices) and the package's contract in
`__init__` can all import it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["SECTION_NAMES", "LyricSection", "SungVocals", "hash_int"]

SECTION_NAMES = ("intro", "verse", "pre-chorus", "chorus", "bridge", "outro", "inst")


@dataclass
class LyricSection:
    name: str  # one of SECTION_NAMES
    lines: list[str]  # empty for instrumental sections
    voice: str | None = None  # "male" | "female" from [Male]/[Female] tags, else None


@dataclass
class SungVocals:
    audio: np.ndarray  # (n, 2) float32 at the requested sample rate; dry-ish (the mixer adds reverb)
    lyrics: str  # lyrics_text(...) of what was sung
    lines: list[tuple[float, float, str]]  # (start_s, end_s, text), timed from the synthesis (for LRC)
    melody: list[tuple[float, float, int]]  # (start_s, dur_s, midi_note) as written
    extra: dict = field(default_factory=dict)  # diagnostics: voice used, syllables per note, timings


def hash_int(text: str) -> int:
    """A stable hash (Python's `hash` is salted per process, which would break determinism)."""
    h = 2166136261
    for b in text.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h
