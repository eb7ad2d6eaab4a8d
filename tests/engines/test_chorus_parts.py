"""Choruses sing with a double of the lead and a harmony line a diatonic third or sixth away; verses
sing alone. On real festival speech (the fallback singer) and WORLD synthesis, and through the embedded
engine."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from songforge.engines.base import GenerationRequest
from songforge.engines.singing import plan_lyrics, sing
from songforge.engines.singing.harmony import DOUBLE_CENTS, DOUBLE_DELAY_S, harmony_line
from songforge.engines.singing.melody import chord_pcs
from songforge.engines.singing.voices import artist_voice
from songforge.music.theory import parse_tonality

pytestmark = pytest.mark.skipif(shutil.which("festival") is None, reason="festival not installed")

LYRICS = """[Verse]
I walk along the empty street
The city lights are burning low
[Chorus]
Stay with me until the morning
Hold my hand and sing along
"""
KEY, BPM, CHORDS = "A:minor", 100, ["Am", "F", "C", "G"] * 4
SR, SPB = 44100, 60 / BPM
CHORUS_BEAT = 16  # the chorus starts at bar 4


def _sing(voice_id: str, seed: int = 5):
    return sing(
        sections=plan_lyrics(LYRICS, "", 0),
        key=KEY,
        bpm=BPM,
        bar_chords=CHORDS,
        section_bars=[("verse", 0, 4), ("chorus", 4, 4)],
        voice=artist_voice(voice_id),
        seed=seed,
    )


@pytest.fixture(scope="module", autouse=True)
def festival_singer():
    """Festival's fallback singer (the neural default's harmony level: test_singing_neural.py)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SONGFORGE_SINGER", "festival")
        yield


@pytest.fixture(scope="module", params=["voice_aurora", "voice_atlas"])
def sung(request, festival_singer):
    return request.param, _sing(request.param)


def test_harmony_notes_are_a_diatonic_third_or_sixth_from_the_lead_in_choruses_only(sung) -> None:
    _, v = sung
    tonic, scale = parse_tonality(KEY).tonic, parse_tonality(KEY).scale
    in_key = {(tonic + s) % 12 for s in scale}
    lead = {(n.line, n.start): n for n in v.extra["notes"]}
    harmony = v.extra["harmony_notes"]
    assert harmony, "the chorus has a harmony line"
    chorus_lead = [n for n in lead.values() if n.start >= CHORUS_BEAT]
    assert len(harmony) >= 0.9 * len(chorus_lead)
    for h in harmony:
        n = lead[(h.line, h.start)]  # sung at the same time as a lead note, as long
        assert h.dur == n.dur and n.start >= CHORUS_BEAT, "harmony only in the chorus"
        assert abs(h.midi - n.midi) in (3, 4, 8, 9), (n.midi, h.midi)
        chord = chord_pcs(CHORDS[int(h.start // 4)], tonic, scale)
        assert h.midi % 12 in in_key or h.midi % 12 in chord
    # mostly on one side of the lead (above while the voice's range allows)
    sides = [np.sign(h.midi - lead[(h.line, h.start)].midi) for h in harmony]
    assert abs(sum(sides)) >= 0.8 * len(sides)


def _peak(seg: np.ndarray, hz: float) -> float:
    spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg)), 1 << 15))
    freqs = np.fft.rfftfreq(1 << 15, 1 / SR)
    band = (freqs > hz * 2 ** (-0.4 / 12)) & (freqs < hz * 2 ** (0.4 / 12))
    return float(spec[band].max())


def test_the_chorus_holds_two_pitches_a_third_or_sixth_apart_and_the_verse_one(sung) -> None:
    """A two-pitch tracker on the rendered vocals: in the middle of each held note, the strength of
    the harmony's fundamental against the lead's. In the verse the same measure at the pitch a
    harmony would have sung finds (almost) nothing."""
    voice_id, v = sung
    mono = v.audio.mean(axis=1)
    high = artist_voice(voice_id).high_midi
    harmony = {(h.line, h.start): h for h in v.extra["harmony_notes"]}
    ratios: dict[bool, list[float]] = {True: [], False: []}
    for n in v.extra["notes"]:
        t0, dur = n.start * SPB, n.dur * SPB
        if dur < 0.25:
            continue
        chorus = n.start >= CHORUS_BEAT
        h = harmony.get((n.line, n.start)) if chorus else harmony_line([n], KEY, CHORDS, 4, high)[0]
        if h is None:
            continue
        seg = mono[int((t0 + 0.2 * dur) * SR) : int((t0 + 0.8 * dur) * SR)]
        hz = [440 * 2 ** ((m - 69) / 12) for m in (n.midi, h.midi)]
        ratios[chorus].append(_peak(seg, hz[1]) / _peak(seg, hz[0]))
    assert len(ratios[True]) >= 4 and len(ratios[False]) >= 4
    assert np.median(ratios[True]) > 0.12, ratios[True]
    assert np.median(ratios[False]) < 0.08, ratios[False]


def test_the_double_is_a_second_take_panned_apart(sung) -> None:
    _, v = sung
    doubles = v.extra["doubles"]
    assert len(doubles) == 2  # the two chorus lines
    for _line, delay, cents in doubles:
        assert DOUBLE_DELAY_S[0] - 1e-4 <= abs(delay) <= DOUBLE_DELAY_S[1] + 1e-4
        assert DOUBLE_CENTS[0] - 0.01 <= abs(cents) <= DOUBLE_CENTS[1] + 0.01
    first_chorus = min(s for s, _, t in v.lines if t.startswith("Stay"))
    left, right = v.audio[:, 0], v.audio[:, 1]
    verse = slice(0, int((first_chorus - 0.3) * SR))
    chorus = slice(int(first_chorus * SR), None)
    assert np.array_equal(left[verse], right[verse]), "a verse is the lead alone, in the middle"
    side = np.sqrt(np.mean((left[chorus] - right[chorus]) ** 2))
    mid = np.sqrt(np.mean((left[chorus] + right[chorus]) ** 2 / 4))
    assert 0.05 < side / mid < 0.6, (side, mid)


def test_same_seed_same_vocals_and_parts_can_be_turned_off(sung) -> None:
    voice_id, v = sung
    again = _sing(voice_id)
    assert np.array_equal(v.audio, again.audio)
    assert again.extra["doubles"] == v.extra["doubles"]
    voice = artist_voice(voice_id)
    assert voice is not None
    import dataclasses

    solo = sing(
        sections=plan_lyrics(LYRICS, "", 0),
        key=KEY,
        bpm=BPM,
        bar_chords=CHORDS,
        section_bars=[("verse", 0, 4), ("chorus", 4, 4)],
        voice=dataclasses.replace(voice, extra={**voice.extra, "chorus_parts": False}),
        seed=5,
    )
    assert not solo.extra["harmony"] and np.array_equal(solo.audio[:, 0], solo.audio[:, 1])
    # the lead itself is the same with or without its parts
    first_chorus = min(s for s, _, t in v.lines if t.startswith("Stay"))
    verse = slice(0, int((first_chorus - 0.3) * SR))
    assert np.allclose(solo.audio[verse], v.audio[verse], atol=1e-6)


def test_a_song_keeps_its_stems_summing_to_the_mix_with_chorus_parts() -> None:
    from songforge.engines.embedded import EmbeddedEngine, check_ready

    check_ready()
    req = GenerationRequest(kind="song", prompt="pop song", model="v3", seed=3, lyrics=LYRICS, seconds=40)
    res = EmbeddedEngine().generate(req, lambda p, s: None)
    vocals = res.stems["vocals"]
    total = sum(res.stems.values())
    assert float(np.max(np.abs(total - res.mix))) < 1e-5
    chorus_lines = [s for s, _, t in res.extra["lyrics_lines"] if t.startswith("Stay")]
    assert chorus_lines
    t = int((chorus_lines[0] + 0.5) * SR)
    part = vocals[t : t + 2 * SR]
    assert np.sqrt(np.mean((part[:, 0] - part[:, 1]) ** 2)) > 0.02 * np.sqrt(np.mean(part**2))
