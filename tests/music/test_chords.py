"""Chord symbols and progressions (`songforge.music.chords`): the vocabulary the API validates and
the engines play."""

from __future__ import annotations

import pytest

from songforge.errors import ChordError
from songforge.music.chords import parse_bars, parse_chord, parse_progression


@pytest.mark.parametrize(
    "symbol, root, pcs",
    [
        ("C", 0, {0, 4, 7}),
        ("Am", 9, {9, 0, 4}),
        ("Bbmaj7", 10, {10, 2, 5, 9}),
        ("Gm7", 7, {7, 10, 2, 5}),
        ("F7", 5, {5, 9, 0, 3}),
        ("C/E", 0, {0, 4, 7}),
        ("Csus4", 0, {0, 5, 7}),
        ("Dsus2", 2, {2, 4, 9}),
        ("Bdim", 11, {11, 2, 5}),
        ("Caug", 0, {0, 4, 8}),
        ("C+", 0, {0, 4, 8}),
        ("Bm7b5", 11, {11, 2, 5, 9}),
        ("F#m", 6, {6, 9, 1}),
        ("Ebmaj9", 3, {3, 7, 10, 2, 5}),
        ("C6/9", 0, {0, 4, 7, 9, 2}),
        ("G7(b9)", 7, {7, 11, 2, 5, 8}),
    ],
)
def test_good_chords(symbol: str, root: int, pcs: set[int]) -> None:
    chord = parse_chord(symbol)
    assert chord.root == root
    assert set((chord.root + i) % 12 for i in chord.intervals) == pcs


def test_slash_bass() -> None:
    assert parse_chord("Am7/G").bass == 7
    assert parse_chord("C/E").pitch_classes == frozenset({0, 4, 7})


@pytest.mark.parametrize("bad", ["H", "Cxyz", "C/H", "Cmaj8", "Z7", "C##m"])
def test_bad_chords_name_the_symbol(bad: str) -> None:
    with pytest.raises(ChordError) as err:
        parse_progression(f"C {bad} G")
    assert err.value.symbol == bad


def test_progression_and_bars() -> None:
    chords = parse_progression("Bbmaj7 Gm7 Cm7 F7")
    assert [c.symbol for c in chords] == ["Bbmaj7", "Gm7", "Cm7", "F7"]
    bars = parse_bars("C F | G | Am")
    assert [[c.symbol for c in b] for b in bars] == [["C", "F"], ["G"], ["Am"]]
    with pytest.raises(ChordError):
        parse_progression("   ")
