"""Keys, scales and diatonic harmony: the small amount of theory the composer leans on."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from songforge.errors import EngineError
from songforge.music.chords import NOTE_PC, Chord, parse_chord

# The spec's spelling of the twelve tonics (flats for Eb, Ab, Bb; sharps for C#, F#).
PC_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)

# Krumhansl-Kessler key profiles (probe-tone ratings), index 0 = tonic.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class
    mode: str  # "major" | "minor"

    @property
    def scale(self) -> tuple[int, ...]:
        return MAJOR if self.mode == "major" else MINOR

    @property
    def name(self) -> str:
        """The record's spelling, e.g. ``F:minor``."""
        return f"{PC_NAMES[self.tonic]}:{self.mode}"

    @property
    def label(self) -> str:
        return f"{PC_NAMES[self.tonic]} {self.mode}"

    def pitch_classes(self) -> set[int]:
        return {(self.tonic + s) % 12 for s in self.scale}

    def degree_pc(self, degree: int) -> int:
        """Pitch class of a 0-based scale degree (wraps over octaves)."""
        return (self.tonic + self.scale[degree % 7]) % 12


def pc_of(name: str) -> int:
    name = name.strip().replace("♯", "#").replace("♭", "b")
    if not name or name[0].upper() not in NOTE_PC:
        raise ValueError(name)
    pc = NOTE_PC[name[0].upper()]
    for ch in name[1:]:
        if ch == "#":
            pc += 1
        elif ch == "b":
            pc -= 1
        else:
            raise ValueError(name)
    return pc % 12


_TONALITY = re.compile(r"^\s*([A-Ga-g][#b♯♭]?)\s*[:\s_-]?\s*(major|minor|maj|min|m|M)?\s*$")


def parse_tonality(text: str) -> Key:
    """``"F#:minor"`` (the API's form); ``"F# minor"`` and ``"F#m"`` are accepted too."""
    m = _TONALITY.match(text or "")
    if not m:
        raise EngineError(f"Unknown tonality {text!r}; expected e.g. 'C:major' or 'F#:minor'")
    mode_word = m.group(2) or "major"
    mode = "minor" if mode_word in ("minor", "min", "m") else "major"
    return Key(pc_of(m.group(1)), mode)


_ROMAN = re.compile(r"^([b#]?)(VII|VI|IV|V|III|II|I|vii|vi|iv|v|iii|ii|i)(.*)$")
_ROMAN_DEGREE = {"i": 0, "ii": 1, "iii": 2, "iv": 3, "v": 4, "vi": 5, "vii": 6}


def roman_to_chord(numeral: str, key: Key) -> Chord:
    """``"V7"`` in A minor -> E7. Case gives the quality (upper major, lower minor); a suffix such
    as ``7``, ``maj7``, ``sus4``, ``dim`` or ``m7b5`` is appended to the root as a chord symbol."""
    m = _ROMAN.match(numeral)
    if not m:
        raise ValueError(numeral)
    acc, rn, suffix = m.groups()
    degree = _ROMAN_DEGREE[rn.lower()]
    root = (key.tonic + MAJOR[degree] + {"b": -1, "#": 1, "": 0}[acc]) % 12
    if key.mode == "minor" and not acc:
        # Minor-key numerals are read against the natural minor scale (III, VI, VII are flat).
        root = (key.tonic + MINOR[degree]) % 12
    quality = "" if rn.isupper() else "m"
    if quality == "m" and suffix.startswith("m") and not suffix.startswith(("maj", "m7b5")):
        suffix = suffix[1:]
    if suffix.startswith("o"):
        suffix = "dim" + suffix[1:]
    if suffix.startswith(("dim", "m7b5", "ø", "aug", "+")):
        quality = ""
    if quality == "m" and suffix.startswith("maj7"):
        suffix = "Maj7"
    return parse_chord(PC_NAMES[root] + quality + suffix)


def estimate_key(chroma: np.ndarray) -> Key:
    """Krumhansl-Schmuckler: correlate a 12-bin pitch-class weight with the 24 rotated profiles."""
    best, best_r = Key(0, "major"), -2.0
    c = np.asarray(chroma, dtype=float)
    if not np.any(c):
        return best
    for tonic in range(12):
        for mode, prof in (("major", KK_MAJOR), ("minor", KK_MINOR)):
            r = float(np.corrcoef(c, np.roll(prof, tonic))[0, 1])
            if r > best_r:
                best, best_r = Key(tonic, mode), r
    return best


def remap_pitch(pitch: int, src: Key, dst: Key) -> int:
    """Move a note to the same scale degree in another key (modes may differ), keeping its
    chromatic offset from the degree. Shifting by the tonic interval alone would land a minor
    tune on the relative major, which is why a degree map is used."""
    rel = (pitch - src.tonic) % 12
    octave_base = pitch - rel
    # nearest scale degree at or below rel
    deg = max(i for i, s in enumerate(src.scale) if s <= rel)
    offset = rel - src.scale[deg]
    shift = (dst.tonic - src.tonic) % 12
    if shift > 6:
        shift -= 12
    return octave_base + shift + dst.scale[deg] + offset


def nearest_pitch(pc: int, target: float, lo: int = 0, hi: int = 127) -> int:
    """The pitch of class `pc` closest to `target` within [lo, hi]."""
    base = int(round(target)) - ((int(round(target)) - pc) % 12)
    cands = [p for p in (base - 12, base, base + 12, base + 24) if lo <= p <= hi]
    if not cands:
        return max(lo, min(hi, base))
    return min(cands, key=lambda p: abs(p - target))
