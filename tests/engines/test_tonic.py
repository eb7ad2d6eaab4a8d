"""A tonic you can hear and a pulse you can tap: structural properties of the composed score.

These check the notes, not the audio (the estimators' verdicts are `benchmarks/adherence.py`'s job):
the requested key's tonic in the bass where phrases start and end, the melody cadencing on it, the
ending on it, the user's chords untouched; a timekeeper on every beat, louder than what falls
between the beats, and no off-beat onsets at slow tempos.
"""

from __future__ import annotations

import numpy as np
import pytest

from songforge.engines.base import GenerationRequest
from songforge.engines.embedded import EmbeddedEngine, patterns
from songforge.engines.embedded.composer import Composer, Plan, Score, is_tonic_chord
from songforge.engines.embedded.styles import STYLES
from songforge.music.chords import parse_bars
from songforge.music.modes import choose_mode
from songforge.music.theory import Key, parse_tonality


def _request(prompt: str, key: str | None, chords: str | None, bpm: int, seconds: float) -> GenerationRequest:
    return GenerationRequest(
        kind="instrumental",
        prompt=prompt,
        model="i3",
        seed=3,
        max_seconds=seconds,
        tonality=key,
        chords=chords,
        bpm=bpm,
    )


def _score(
    prompt: str, key: str | None, chords: str | None = None, bpm: int = 110, seconds: float = 40
) -> Score:
    eng = EmbeddedEngine()
    req = _request(prompt, key, chords, bpm, seconds)
    d = eng._decide(req, np.random.default_rng([3, 1]), None)
    return Composer(eng._plan(req, d, None, 3)).compose()


def _bass_at(score: Score, beat: float) -> int:
    bass = score.stems["bass"][0]
    return min((n for n in bass.notes if abs(n.start - beat) < 0.05), key=lambda n: n.pitch).pitch


# ---------------------------------------------------------------- the tonic


@pytest.mark.parametrize(
    "prompt, key, chords",
    [
        ("epic cinematic trailer", "D:minor", "Bb C Dm Dm"),  # VI VII i i: phrases start on VI
        ("synthwave night drive", "C:minor", "Ab Bb Cm Cm"),
        ("lo-fi hip hop for study", "F:minor", "Db Eb Fm Fm"),
        ("ambient meditation", "A:minor", "F G Am Am"),
    ],
)
def test_pedal_styles_hold_the_tonic_under_chords_that_contain_it(prompt, key, chords):
    score = _score(prompt, key, chords)
    k = parse_tonality(key)
    for sec in score.sections:
        chord = score.bar_chords[sec.start][0]
        assert (k.tonic - chord.root) % 12 in (3, 4)  # VI holds the tonic as its third
        assert _bass_at(score, sec.start * 4) % 12 == k.tonic, (sec.name, chord.symbol)
    for bar, chords_ in enumerate(score.bar_chords[:-1]):
        if k.tonic not in chords_[0].pitch_classes:  # VII: no pedal under a chord that lacks it
            assert _bass_at(score, bar * 4) % 12 == chords_[0].root, bar


def test_other_styles_keep_the_roots_and_arrive_on_the_tonic():
    score = _score("driving rock anthem", "E:minor", "C D Em Em")
    for bar, chords_ in enumerate(score.bar_chords[:-1]):
        assert _bass_at(score, bar * 4) % 12 == chords_[0].root, bar  # C stays C, not C over E


def test_bass_keeps_the_root_where_the_tonic_would_be_the_chords_fifth():
    # A minor over Dm (the tonic is its fifth) and F7/C7: Dm over A would be heard as A minor
    score = _score("latin salsa", "A:minor", "Am Dm | E7 Am", bpm=100)
    for bar, chords in enumerate(score.bar_chords[:-1]):
        if chords[0].symbol == "Dm":
            assert _bass_at(score, bar * 4) % 12 == 2, bar


@pytest.mark.parametrize(
    "prompt, key, chords",
    [
        ("epic cinematic trailer", "D:minor", "Dm Bb F C"),  # i VI III VII: ends on VII
        ("sad pop ballad", "A:minor", "Am F C G"),
        ("deep house", "F#:major", "D#m C# B F#"),  # vi V IV I: ends at home already
        ("lofi hip hop beat", "Eb:minor", "Ebm7 Bmaj7 Db7 Ebm7"),
    ],
)
def test_user_chords_are_kept_and_the_piece_ends_on_the_tonic(prompt, key, chords):
    score = _score(prompt, key, chords, bpm=120, seconds=34.5)  # 16 bars: four passes end on the 4th chord
    assert score.bars == 16
    k = parse_tonality(key)
    prog = parse_bars(chords)
    asked = {c.symbol for bar in prog for c in bar}
    # the user's chords, cycled, in every bar; at most one closing bar on their own tonic chord
    for b, bar in enumerate(score.bar_chords):
        symbols = [c.symbol for c in bar]
        if symbols != [c.symbol for c in prog[b % len(prog)]]:
            assert b == len(score.bar_chords) - 1 and len(bar) == 1 and bar[0].symbol in asked
    assert {c.symbol for bar in score.bar_chords for c in bar} <= asked
    assert is_tonic_chord(score.bar_chords[-1][-1], k)
    end = score.bars * 4
    assert _bass_at(score, end) % 12 == k.tonic  # the last bass note, under the final chord
    last_bar_bass = [n for n in score.stems["bass"][0].notes if end - 4.05 <= n.start < end - 0.05]
    assert last_bar_bass and last_bar_bass[0].pitch % 12 == k.tonic
    ring = [n for n in score.stems["keys"][0].notes if n.start >= end - 0.05]
    assert {n.pitch % 12 for n in ring} <= score.bar_chords[-1][-1].pitch_classes


def test_minor_without_chords_starts_and_ends_sections_on_i_with_a_harmonic_minor_cadence():
    score = _score("epic cinematic trailer", "D:minor", None, bpm=96, seconds=60)
    k = parse_tonality("D:minor")
    assert score.mode == "harmonic minor"
    for sec in score.sections:
        assert is_tonic_chord(score.bar_chords[sec.start][0], k), sec.name
        assert is_tonic_chord(score.bar_chords[sec.start + sec.bars - 1][-1], k), sec.name
        if sec.bars >= 4:
            v = score.bar_chords[sec.start + sec.bars - 2][-1]
            assert v.root == (k.tonic + 7) % 12 and (k.tonic + 11) % 12 in v.pitch_classes  # V, leading tone


@pytest.mark.parametrize(
    "prompt, key, chords",
    [
        ("sad pop ballad", "A:minor", "Am F C G"),
        ("driving rock anthem", "E:minor", "Em C G D"),
        ("upbeat pop song", "C:major", "Am F C G"),
    ],
)
def test_the_melody_cadences_on_the_tonic(prompt, key, chords):
    score = _score(prompt, key, chords, seconds=60)
    k = parse_tonality(key)
    lead = sorted(score.stems["lead"][0].notes, key=lambda n: n.start)
    checked = 0
    for sec in score.sections:
        notes = [n for n in lead if sec.start * 4 - 0.05 <= n.start < (sec.start + sec.bars) * 4 - 0.05]
        if notes:
            chord = score.bar_chords[int(notes[-1].start + 0.05) // 4][-1].pitch_classes
            rubs = {(k.tonic + 1) % 12, (k.tonic - 1) % 12} & chord  # e.g. C over G with its B
            assert notes[-1].pitch % 12 == (k.tonic if not rubs else (k.tonic + 7) % 12), sec.name
            checked += 1
    assert checked >= 2
    # strong beats lean on the tonic more than on any other note
    strong = [n.pitch % 12 for n in lead if abs(n.start - 2 * round(n.start / 2)) < 0.05]
    counts = np.bincount(strong, minlength=12)
    assert counts[k.tonic] == counts.max()


def test_tonic_bars_are_accented():
    score = _score("sad pop ballad", "A:minor", "Am F C G", seconds=40)
    keys = score.stems["keys"][0]
    k = parse_tonality("A:minor")
    loud = {True: [], False: []}
    for n in keys.notes:
        bar = int(n.start // 4)
        if bar < len(score.bar_chords) - 1:
            loud[is_tonic_chord(score.bar_chords[bar][0], k)].append(n.vel)
    assert np.mean(loud[True]) > 1.05 * np.mean(loud[False])


@pytest.mark.parametrize(
    "key, chords, mode",
    [
        ("E:minor", "Em7 A7", "dorian"),
        ("D:minor", "Dm G", "dorian"),
        ("D:major", "D C G D", "mixolydian"),
        ("C:major", "C Gm", "mixolydian"),
        ("C:major", "C D", "lydian"),
        ("E:minor", "Em F", "phrygian"),
        ("A:minor", "Am Dm E7 Am", "harmonic minor"),
        ("C:minor", "Cm Ab Eb Bb", "aeolian"),
        ("G:major", "G C D G", "ionian"),
    ],
)
def test_mode_follows_the_chords(key, chords, mode):
    k = parse_tonality(key)
    assert choose_mode(k, [c for bar in parse_bars(chords) for c in bar]) == mode


def test_mode_and_feel_are_in_the_record():
    res = EmbeddedEngine().generate(
        _request("funky groove with slap bass", "E:minor", "Em7 A7", 104, 8), lambda p, s: None
    )
    assert res.material["mode"] == "dorian" and res.material["feel"] == "straight"
    assert res.material["chord"] == "Em7 A7"


# ---------------------------------------------------------------- the pulse


def _plan(style_key: str, bpm: int, feel: str | None = None, bars: int = 24) -> Plan:
    return Plan(style=STYLES[style_key], key=Key(9, "minor"), bpm=bpm, bars=bars, seed=5, feel=feel)


_DRUM_STYLES = sorted(k for k, s in STYLES.items() if s.drums is not None)


@pytest.mark.parametrize("feel", [None, "half-time", "6/8"])
@pytest.mark.parametrize("bpm", [70, 104, 150])
def test_every_beat_has_a_timekeeper_louder_than_the_offbeats(feel, bpm):
    for style_key in _DRUM_STYLES:
        score = Composer(_plan(style_key, bpm, feel)).compose()
        drums = score.stems["drums"][0].notes
        n_beats = score.bars * 4
        on = np.zeros(n_beats)
        off = np.zeros(n_beats)
        kick = np.zeros(n_beats, dtype=bool)
        for n in drums:
            beat = int(round(n.start))
            if abs(n.start - beat) < 0.03 and beat < n_beats:  # humanised by a few ms
                if n.pitch in patterns.KEEPERS:
                    on[beat] = max(on[beat], n.vel)
                kick[beat] |= n.pitch == patterns.KICK
            elif n.pitch in patterns.KEEPERS and int(n.start) < n_beats:
                off[int(n.start)] = max(off[int(n.start)], n.vel)
        assert np.all((on > 0) | kick), (style_key, np.flatnonzero((on == 0) & ~kick)[:8])
        # humanising moves velocities by up to 5 either way
        assert np.all(on + 10 >= off), (style_key, np.flatnonzero(on + 10 < off)[:8])


@pytest.mark.parametrize("style_key", ["pop", "bossa", "rnb", "folk", "reggae", "cinematic", "ambient"])
def test_slow_tempos_play_no_offbeat_onsets(style_key):
    score = Composer(_plan(style_key, 72)).compose()
    for stem in ("bass", "keys", "lead"):
        for part in score.stems[stem]:
            starts = np.array([n.start for n in part.notes])
            offbeat = np.abs(starts - np.round(starts)) > 0.1  # strums spread their notes by 0.02
            assert not offbeat.any(), (stem, part.name, starts[offbeat][:6])


@pytest.mark.parametrize("style_key", ["cinematic", "pop", "rnb", "reggae"])
def test_slow_drums_keep_offbeats_for_fills_and_alternate_kick_and_backbeat(style_key):
    score = Composer(_plan(style_key, 64)).compose()
    fill_bars = {s.start + s.bars - 1 for s in score.sections[:-1]}
    backbeat, kicks = set(), set()
    for n in score.stems["drums"][0].notes:
        beat = round(n.start)
        in_fill = int(n.start) // 4 in fill_bars
        if abs(n.start - beat) > 0.03:  # humanised by a few ms
            # groove toms (the cinematic kit plays them between beats) do not escape the slow filter
            assert in_fill, (style_key, n)
            continue
        if in_fill:
            continue
        if n.pitch in (patterns.SNARE, patterns.CLAP, patterns.RIM):
            backbeat.add(beat)
        elif n.pitch == patterns.KICK:
            kicks.add(beat)
    assert backbeat and not (backbeat & kicks), (style_key, sorted(backbeat & kicks)[:8])


def test_six_eight_rides_on_triplets_under_the_beat():
    score = Composer(_plan("folk", 66, "6/8")).compose()
    assert score.feel == "6/8"
    drums = score.stems["drums"][0].notes
    thirds = {round((n.start % 1) * 3) % 3 for n in drums if n.pitch == patterns.HAT}
    assert thirds == {0, 1, 2}  # hats on the beat and on both triplet eighths
    assert not any(abs(n.start % 1 - 0.5) < 0.08 for n in drums)  # no straight eighths
    keys = [n for n in score.stems["keys"][0].notes if n.start < score.bars * 4]
    assert any(abs(n.start % 1 - 1 / 3) < 0.05 for n in keys)
    assert not any(abs(n.start % 1 - 0.5) < 0.08 for n in keys)


def test_half_time_moves_the_backbeat_to_three_and_keeps_the_hats():
    score = Composer(_plan("trap", 142, "half-time")).compose()
    assert score.feel == "half-time"
    notes = score.stems["drums"][0].notes
    claps = {round(n.start % 4, 1) for n in notes if n.pitch == patterns.CLAP}
    assert claps == {2.0}
    hats = {round(n.start) for n in notes if n.pitch == patterns.HAT and abs(n.start - round(n.start)) < 0.03}
    assert len(hats) >= 0.9 * score.bars * 4


def test_feel_words_in_the_prompt():
    from songforge.engines.embedded.feel import requested_feel

    assert requested_feel("old fashioned 6/8 love ballad") == "6/8"
    assert requested_feel("dark trap beat, half-time drums") == "half-time"
    assert requested_feel("aggressive trap, halftime groove") == "half-time"
    assert requested_feel("texas shuffle blues, swinging drums") == "shuffle"
    assert requested_feel("upbeat pop song") is None
    assert requested_feel("16/8 or 6/80 are not meters") is None


def test_same_seed_same_notes():
    a = _score("bossa nova cafe", "A:minor", "Am7 Dm7 E7 Am7", bpm=124)
    b = _score("bossa nova cafe", "A:minor", "Am7 Dm7 E7 Am7", bpm=124)
    for stem in a.stems:
        for pa, pb in zip(a.stems[stem], b.stems[stem], strict=True):
            assert [(n.start, n.pitch, n.vel) for n in pa.notes] == [
                (n.start, n.pitch, n.vel) for n in pb.notes
            ]
