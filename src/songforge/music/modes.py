"""Modal colour within a requested key: which seven notes the melody and inner voices use.

A key names a tonic and major or minor; the chords say which flavour of it is played. Dorian
(the raised sixth of a i7-IV7 vamp), mixolydian (the flat seventh of I-bVII), lydian, phrygian and
harmonic minor (the raised leading tone under V) are chosen from the chords actually played, so the
melody never fights them, and reported so the record says what was heard.
"""

from __future__ import annotations

from songforge.music.chords import Chord
from songforge.music.theory import Key

SCALES: dict[str, tuple[int, ...]] = {
    "ionian": (0, 2, 4, 5, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "aeolian": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "harmonic minor": (0, 2, 3, 5, 7, 8, 11),
}
# The plain mode of each quality comes first: a rival must fit the chords strictly better.
_CANDIDATES = {
    "major": ("ionian", "mixolydian", "lydian"),
    "minor": ("aeolian", "dorian", "harmonic minor", "phrygian"),
}


def choose_mode(key: Key, chords: list[Chord] | None) -> str:
    """The mode of `key` whose scale holds most of the chords' notes. Without chords the composer
    writes its own, and a minor key then cadences with the harmonic-minor dominant."""
    if not chords:
        return "harmonic minor" if key.mode == "minor" else "ionian"
    candidates = _CANDIDATES[key.mode]

    def fit(mode: str) -> float:
        pcs = {(key.tonic + s) % 12 for s in SCALES[mode]}
        return sum(len(c.pitch_classes & pcs) / len(c.pitch_classes) for c in chords)

    best = candidates[0]
    for mode in candidates[1:]:
        if fit(mode) > fit(best) + 1e-9:
            best = mode
    return best


def scale_pcs(key: Key, mode: str) -> set[int]:
    return {(key.tonic + s) % 12 for s in SCALES[mode]}
