import pytest

from songforge.engines.base import ChordError
from songforge.engines.embedded.prompt import make_title, parse_prompt
from songforge.music.chords import parse_bars, parse_chord, parse_progression
from songforge.music.theory import Key, parse_tonality, remap_pitch


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
def test_good_chords(symbol, root, pcs):
    chord = parse_chord(symbol)
    assert chord.root == root
    assert set((chord.root + i) % 12 for i in chord.intervals) == pcs


def test_slash_bass():
    assert parse_chord("Am7/G").bass == 7
    assert parse_chord("C/E").pitch_classes == frozenset({0, 4, 7})


@pytest.mark.parametrize("bad", ["H", "Cxyz", "C/H", "Cmaj8", "Z7", "C##m"])
def test_bad_chords_name_the_symbol(bad):
    with pytest.raises(ChordError) as err:
        parse_progression(f"C {bad} G")
    assert err.value.symbol == bad


def test_progression_and_bars():
    chords = parse_progression("Bbmaj7 Gm7 Cm7 F7")
    assert [c.symbol for c in chords] == ["Bbmaj7", "Gm7", "Cm7", "F7"]
    bars = parse_bars("C F | G | Am")
    assert [[c.symbol for c in b] for b in bars] == [["C", "F"], ["G"], ["Am"]]
    with pytest.raises(ChordError):
        parse_progression("   ")


def test_prompt_genres_and_controls():
    cases = {
        "chill lo-fi hip hop beat for studying": "lofi",
        "aggressive heavy metal": "metal",
        "deep house groove": "house",
        "bossa nova for a cafe": "bossa",
        "epic orchestral trailer": "cinematic",
        "drum and bass": "dnb",
        "string quartet": "quartet",
        "8-bit game music": "chiptune",
        "something for studying": "lofi",
        "glorp zzz": "pop",
    }
    for prompt, key in cases.items():
        assert parse_prompt(prompt).style.key == key, prompt
    b = parse_prompt("slow sad piano in D minor, 128 bpm")
    assert b.key == Key(2, "minor") and b.bpm == 128 and b.tempo_word == "slow" and b.mood == "sad"
    assert ("piano", 0, "keys") in b.instruments
    assert parse_prompt("upbeat pop").tempo_word == "fast"
    assert parse_prompt("wedding").scene == "wedding"
    prompt = "chill lo-fi beat for a rainy night"
    assert make_title(prompt, parse_prompt(prompt)) == "Rainy Night Lo-fi"


def test_tonality_and_degree_remap():
    assert parse_tonality("F#:minor") == Key(6, "minor")
    assert parse_tonality("Bb:major") == Key(10, "major")
    # E (the third of C major) goes to C (the third of A minor), not to C# (a plain shift)
    assert remap_pitch(64, Key(0, "major"), Key(9, "minor")) % 12 == 0
