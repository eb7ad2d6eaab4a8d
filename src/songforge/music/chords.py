"""Chord symbols as people type them, turned into pitch classes.

Notation (what the API documents):

* Chords are separated by spaces (commas also work).
* Without any ``|`` every chord lasts one bar: ``C F G Am`` is four bars.
* With ``|`` the bars are explicit and the chords inside a bar share it equally:
  ``C F | G | Am`` is three bars, the first split between C and F.
* Roots: A-G with ``#``/``b`` (``♯``/``♭`` too); a slash names the bass: ``C/E``, ``Am7/G``.
* Qualities: major, ``m``/``min``/``-``, ``dim``/``°``, ``aug``/``+``, ``5``, ``6``, ``m6``, ``6/9``,
  ``7``, ``maj7``/``M7``/``Δ``, ``m7``, ``mMaj7``, ``dim7``, ``m7b5``/``ø``, ``7b5``, ``7#5``, ``sus``,
  ``sus2``, ``sus4``, ``7sus4``, ``add9``, ``9``, ``maj9``, ``m9``, ``11``, ``13`` and altered
  dominants (``7b9``, ``7#9``, ``7#11``); parentheses are ignored (``7(b9)``).

Anything else raises `ChordError` naming the symbol, so the API can answer 400 with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from songforge.errors import ChordError

NOTE_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

# Suffix (after normalisation) -> intervals above the root, in semitones.
_QUALITIES: dict[str, tuple[int, ...]] = {
    "": (0, 4, 7),
    "maj": (0, 4, 7),
    "m": (0, 3, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "5": (0, 7),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "sus": (0, 5, 7),
    "2": (0, 2, 4, 7),
    "add9": (0, 4, 7, 14),
    "add2": (0, 2, 4, 7),
    "madd9": (0, 3, 7, 14),
    "add11": (0, 4, 7, 17),
    "6": (0, 4, 7, 9),
    "m6": (0, 3, 7, 9),
    "69": (0, 4, 7, 9, 14),
    "m69": (0, 3, 7, 9, 14),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "mmaj7": (0, 3, 7, 11),
    "dim7": (0, 3, 6, 9),
    "m7b5": (0, 3, 6, 10),
    "7b5": (0, 4, 6, 10),
    "7#5": (0, 4, 8, 10),
    "aug7": (0, 4, 8, 10),
    "maj7#5": (0, 4, 8, 11),
    "7sus4": (0, 5, 7, 10),
    "7sus": (0, 5, 7, 10),
    "7sus2": (0, 2, 7, 10),
    "9": (0, 4, 7, 10, 14),
    "maj9": (0, 4, 7, 11, 14),
    "m9": (0, 3, 7, 10, 14),
    "9sus4": (0, 5, 7, 10, 14),
    "9sus": (0, 5, 7, 10, 14),
    "7b9": (0, 4, 7, 10, 13),
    "7#9": (0, 4, 7, 10, 15),
    "7#11": (0, 4, 7, 10, 18),
    "maj7#11": (0, 4, 7, 11, 18),
    "11": (0, 4, 7, 10, 14, 17),
    "m11": (0, 3, 7, 10, 14, 17),
    "13": (0, 4, 7, 10, 14, 21),
    "maj13": (0, 4, 7, 11, 14, 21),
    "m13": (0, 3, 7, 10, 14, 21),
}

_SYMBOL = re.compile(r"^([A-Ga-g])([#b]?)(.*?)(?:/([A-Ga-g])([#b]?))?$")


@dataclass(frozen=True)
class Chord:
    """One parsed chord. `beats` is filled in by `parse_bars` when a bar holds several chords."""

    symbol: str
    root: int  # pitch class 0..11
    intervals: tuple[int, ...]
    bass: int  # pitch class of the lowest note (the root unless a slash chord)

    @property
    def pitch_classes(self) -> frozenset[int]:
        return frozenset({(self.root + i) % 12 for i in self.intervals} | {self.bass})

    @property
    def is_minor(self) -> bool:
        return 3 in self.intervals and 4 not in self.intervals

    @property
    def triad(self) -> tuple[int, str]:
        """(root, "maj" | "min" | "dim" | "aug" | "sus" | "5"): what a triad template can see."""
        iv = set(self.intervals)
        if 3 in iv and 6 in iv and 7 not in iv:
            return self.root, "dim"
        if 4 in iv and 8 in iv and 7 not in iv:
            return self.root, "aug"
        if 3 in iv and 4 not in iv:
            return self.root, "min"
        if 4 in iv:
            return self.root, "maj"
        if 5 in iv or 2 in iv:
            return self.root, "sus"
        return self.root, "5"


def _normalise_suffix(suffix: str) -> str:
    s = suffix.replace("♯", "#").replace("♭", "b").replace("(", "").replace(")", "").replace(",", "")
    s = s.replace("Δ", "maj7" if s in ("Δ", "Δ7") else "maj").replace("maj77", "maj7")
    s = s.replace("ø7", "m7b5").replace("ø", "m7b5").replace("°7", "dim7").replace("°", "dim")
    s = s.replace("6/9", "69")
    if s.startswith("-"):
        s = "m" + s[1:]
    if s.startswith("+"):
        s = "aug" + s[1:]
    s = re.sub(r"^(m?)(?:MAJ|Maj|M)(?=\d|$)", r"\1maj", s)
    s = re.sub(r"^min(?!or)", "m", s)
    s = re.sub(r"^minor|^mi(?=\d|$)", "m", s)
    s = re.sub(r"^major", "maj", s)
    s = re.sub(r"^o(?=7?$)", "dim", s)
    s = s.replace("augmented", "aug").replace("diminished", "dim")
    if s in ("maj7", "maj"):
        return s
    s = s.replace("aug7", "7#5") if s.startswith("aug7") else s
    s = s.replace("+5", "#5").replace("-5", "b5").replace("+9", "#9").replace("-9", "b9")
    s = s.replace("7+", "7#5") if s == "7+" else s
    if s == "mmaj7":
        return s
    return s


def _pc(letter: str, accidental: str) -> int:
    return (NOTE_PC[letter.upper()] + {"#": 1, "b": -1, "": 0}[accidental]) % 12


def parse_chord(symbol: str) -> Chord:
    """Parse one symbol such as ``Bbmaj7`` or ``C/E``; raises `ChordError` for anything unknown."""
    text = symbol.strip().replace("♯", "#").replace("♭", "b")
    if not text:
        raise ChordError(symbol, "Empty chord symbol")
    text = text.replace("6/9", "69")
    m = _SYMBOL.match(text)
    if not m:
        raise ChordError(symbol)
    letter, acc, suffix, bass_letter, bass_acc = m.groups()
    key = _normalise_suffix(suffix)
    intervals = _QUALITIES.get(key)
    if intervals is None:
        raise ChordError(symbol)
    root = _pc(letter, acc)
    bass = _pc(bass_letter, bass_acc) if bass_letter else root
    return Chord(symbol=symbol.strip(), root=root, intervals=intervals, bass=bass)


def parse_bars(text: str) -> list[list[Chord]]:
    """The progression bar by bar (see the module notes for the ``|`` notation)."""
    if text is None or not text.strip():
        raise ChordError(text or "", "The chord progression is empty")
    cleaned = text.replace(",", " ")
    if "|" in cleaned:
        bars = [seg.split() for seg in cleaned.split("|")]
        bars = [b for b in bars if b]
    else:
        bars = [[tok] for tok in cleaned.split()]
    if not bars:
        raise ChordError(text, "The chord progression is empty")
    if len(bars) > 64:
        raise ChordError(text, "The chord progression is too long (at most 64 bars)")
    out: list[list[Chord]] = []
    for bar in bars:
        if len(bar) > 4:
            raise ChordError(" ".join(bar), "At most four chords fit in one bar")
        out.append([parse_chord(tok) for tok in bar])
    return out


def parse_progression(text: str) -> list[Chord]:
    """Every chord of the progression in order; raises `ChordError(symbol)` for an unknown chord."""
    return [chord for bar in parse_bars(text) for chord in bar]


def format_bars(bars: list[list[Chord]]) -> str:
    """The progression written back in the same notation (``|`` only when a bar holds two chords)."""
    if all(len(b) == 1 for b in bars):
        return " ".join(b[0].symbol for b in bars)
    return " | ".join(" ".join(c.symbol for c in b) for b in bars)
