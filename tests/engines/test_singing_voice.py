"""The singer and the voice analysis, on real festival speech, WORLD synthesis and pyin."""

from __future__ import annotations

import shutil

import librosa
import numpy as np
import pytest

from songforge.engines.base import EngineError
from songforge.engines.singing import analyse_voice, plan_lyrics, profile_to_voice, sing
from songforge.engines.singing.previews import render_preview
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


@pytest.fixture(scope="module")
def sung():
    sections = plan_lyrics("[Intro]\n" + LYRICS, "", 0)
    voice = artist_voice("voice_aurora")
    return sing(
        sections=sections,
        key="A:minor",
        bpm=100,
        bar_chords=["Am", "F", "C", "G"] * 4,
        section_bars=[("intro", 0, 2), ("verse", 2, 4), ("chorus", 6, 4)],
        voice=voice,
        seed=5,
    ), voice


def test_sing_length_lines_and_bars(sung) -> None:
    v, _ = sung
    spb = 60 / 100
    assert v.audio.shape == (int(round(10 * 4 * spb * 44100)), 2) and v.audio.dtype == np.float32
    assert [t for _, _, t in v.lines] == [
        "I walk along the empty street",
        "The city lights are burning low",
        "Stay with me until the morning",
        "Hold my hand and sing along",
    ]
    starts = [s for s, _, _ in v.lines]
    assert all(s < e for s, e, _ in v.lines) and starts == sorted(starts)
    assert v.lines[0][0] >= 2 * 4 * spb - 0.4 and v.lines[1][1] <= 6 * 4 * spb + 0.05  # verse in its bars
    assert v.lines[2][0] >= 6 * 4 * spb - 0.4  # chorus in its bars
    assert "[Chorus]" in v.lyrics
    # Silence in the intro, voice in the verse.
    assert np.max(np.abs(v.audio[: int(2 * 4 * spb * 44100) - 20000])) < 1e-3
    assert np.max(np.abs(v.audio)) > 0.1


def test_melody_in_key_range_and_syllables(sung) -> None:
    v, voice = sung
    key = parse_tonality("A:minor")
    notes = v.extra["notes"]
    for _, _, m in v.melody:
        assert voice.low_midi <= m <= voice.high_midi
        assert m % 12 in key.pitch_classes()
    per_line: dict[int, set[int]] = {}
    for n in notes:
        per_line.setdefault(n.line, set()).add(n.syllable)
    for li, n_syl in enumerate(v.extra["syllables"]):
        assert per_line[li] == set(range(n_syl)), "every syllable gets at least one note"
    starts = [s for s, _, _ in v.melody]
    assert starts == sorted(starts)
    chorus = [m for s, _, m in v.melody if s >= 6 * 4 * 0.6]
    verse = [m for s, _, m in v.melody if s < 6 * 4 * 0.6]
    assert np.mean(chorus) > np.mean(verse), "the chorus lifts"


def test_sung_notes_are_in_tune(sung) -> None:
    v, _ = sung
    y = librosa.resample(v.audio[:, 0], orig_sr=44100, target_sr=16000)
    f0, voiced, _ = librosa.pyin(y, fmin=100, fmax=1000, sr=16000, frame_length=1024, hop_length=160)
    times = np.arange(len(f0)) * 0.01
    longest = max(v.melody, key=lambda n: n[1])
    start, dur, midi = longest
    m = (times > start + 0.06) & (times < start + dur - 0.03) & voiced
    assert np.count_nonzero(m) > 10
    cents = 1200 * np.log2(np.median(f0[m]) / librosa.midi_to_hz(midi))
    assert abs(cents) < 50


def test_sing_rejects_mismatched_sections() -> None:
    with pytest.raises(EngineError):
        sing(
            sections=plan_lyrics(LYRICS, "", 0),
            key="C:major",
            bpm=100,
            bar_chords=["C"],
            section_bars=[("verse", 0, 4)],
            voice=None,
            seed=0,
        )


def _voice_like(f0_lo: float, f0_hi: float, seconds: float = 6.0, sr: int = 22050) -> np.ndarray:
    """A glide between two pitches with vibrato, rich in harmonics and shaped by two formants."""
    t = np.arange(int(seconds * sr)) / sr
    f0 = np.exp(np.log(f0_lo) + (np.log(f0_hi) - np.log(f0_lo)) * 0.5 * (1 - np.cos(2 * np.pi * t / seconds)))
    f0 = f0 * 2 ** (0.25 / 12 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    y = np.zeros_like(t)
    for k in range(1, 30):
        fk = k * f0
        amp = (1 / k) * (1 + 3 * np.exp(-(((fk - 700) / 200) ** 2)) + 2 * np.exp(-(((fk - 1200) / 250) ** 2)))
        y += np.where(fk < sr / 2, amp * np.sin(k * phase), 0)
    return (0.3 * y / np.max(np.abs(y))).astype(np.float32)


def test_analyse_voice_finds_the_pitch_range() -> None:
    sr = 22050
    prof = analyse_voice(_voice_like(180.0, 360.0), sr)
    assert abs(prof["lowMidi"] - librosa.hz_to_midi(180.0)) < 1.5
    assert abs(prof["highMidi"] - librosa.hz_to_midi(360.0)) < 1.5
    assert prof["gender"] == "female"
    assert 4.5 < prof["vibratoRateHz"] < 6.5
    voice = profile_to_voice("cloned_1", prof)  # on the default singer's female base
    assert voice.low_midi <= 55 and voice.high_midi >= 66 and voice.extra["base"] == "hibari"
    low = analyse_voice(np.stack([_voice_like(90.0, 150.0)] * 2, axis=1), sr)
    assert low["gender"] == "male" and abs(low["medianMidi"] - librosa.hz_to_midi(116.0)) < 3


@pytest.mark.parametrize(("singer", "bases"), [("festival", ("slt", "kal")), ("neural", ("hibari", "joe"))])
def test_a_cloned_voice_is_sung_on_the_singers_base_of_its_gender(
    monkeypatch: pytest.MonkeyPatch, singer: str, bases: tuple[str, str]
) -> None:
    monkeypatch.setenv("SONGFORGE_SINGER", singer)
    female = {"gender": "female", "medianMidi": 67, "formantsHz": [600.0, 1900.0]}
    male = {"gender": "male", "medianMidi": 52, "formantsHz": [450.0, 1350.0]}
    her, him = profile_to_voice("cloned_f", female), profile_to_voice("cloned_m", male)
    assert (her.extra["base"], him.extra["base"]) == bases
    # the warp is the sample's formants against a typical voice of its gender, whichever base sings it
    assert her.extra["formant"] == round(2500.0 / 2310.0, 3) and him.extra["formant"] == 0.9


@pytest.mark.parametrize("kind", ["silence", "noise"])
def test_analyse_voice_rejects_samples_without_voice(kind: str) -> None:
    rng = np.random.default_rng(0)
    audio = np.zeros(44100 * 6, np.float32) if kind == "silence" else rng.standard_normal(44100 * 6) * 0.3
    with pytest.raises(EngineError, match="No voice detected"):
        analyse_voice(audio, 44100)


def test_render_preview_writes_a_sung_file(tmp_path) -> None:
    import soundfile as sf

    path = tmp_path / "p.wav"
    render_preview("voice_atlas", path)
    audio, sr = sf.read(path)
    assert sr == 44100 and len(audio) > sr * 5 and np.max(np.abs(audio)) > 0.3
    with pytest.raises(KeyError):
        render_preview("voice_missing", tmp_path / "x.wav")
