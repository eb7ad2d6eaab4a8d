"""Festival's singing mode as a second singer: real festival runs, real WORLD re-pitching, pyin checks."""

from __future__ import annotations

import dataclasses
import shutil

import librosa
import numpy as np
import pytest

from songforge.engines.base import EngineError
from songforge.engines.singing import plan_lyrics, sing
from songforge.engines.singing.speech import sing_scores
from songforge.engines.singing.voices import artist_voice

pytestmark = pytest.mark.skipif(shutil.which("festival") is None, reason="festival not installed")


@pytest.fixture(autouse=True)
def festival_singer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Festival's singing mode sings festival's diphone bases: the fallback singer's voices."""
    monkeypatch.setenv("SONGFORGE_SINGER", "festival")


def test_sing_scores_follows_the_written_durations() -> None:
    score = (
        ("i", ((130.0, 0.4),), 0.0),
        ("walk", ((147.0, 0.6),), 0.3),
        ("along", ((150.0, 0.25), (160.0, 0.5)), 0.0),
    )
    (line,) = sing_scores([score], "kal")
    assert line is not None
    assert [s.word for s in line.syllables] == ["i", "walk", "along", "along"]
    # Syllables follow one another at the written lengths (festival moves a syllable's start by at
    # most its first consonant's perceptual offset, ~0.1 s), with the rest after "walk".
    starts = [s.start for s in line.syllables]
    assert starts[0] == pytest.approx(0.0, abs=0.01)
    assert starts[1] == pytest.approx(0.4, abs=0.1)
    assert starts[2] == pytest.approx(1.3, abs=0.1)
    assert len(line.audio) / line.sr == pytest.approx(0.4 + 0.6 + 0.3 + 0.75, abs=0.1)


def test_sing_scores_reports_lines_it_could_not_sing_and_refuses_the_hts_voice() -> None:
    assert sing_scores([()], "kal") == [None]
    with pytest.raises(EngineError):
        sing_scores([(("la", ((200.0, 0.3),), 0.0),)], "slt")


def test_festival_method_sings_in_tune_and_on_time() -> None:
    voice = artist_voice("voice_atlas")
    assert voice is not None
    voice = dataclasses.replace(voice, extra={**voice.extra, "method": "festival"})
    sections = plan_lyrics("[Verse]\nI walk along the empty street\nThe city lights are burning low", "", 0)
    v = sing(
        sections=sections,
        key="E:minor",
        bpm=120,
        bar_chords=["Em", "C", "G", "D"],
        section_bars=[("verse", 0, 4)],
        voice=voice,
        seed=3,
    )
    assert v.extra["method"] == "festival" and v.extra["sung_by_festival"] == 2
    assert len(v.audio) == int(round(4 * 4 * 0.5 * 44100))
    y = librosa.resample(v.audio[:, 0], orig_sr=44100, target_sr=16000)
    f0, voiced, _ = librosa.pyin(y, fmin=65, fmax=600, sr=16000, frame_length=1024, hop_length=160)
    times = np.arange(len(f0)) * 0.01
    ok = measured = 0
    for start, dur, midi in v.melody:
        m = (times > start + 0.05) & (times < start + dur - 0.02) & voiced
        if np.count_nonzero(m) >= 3:
            measured += 1
            ok += abs(1200 * np.log2(np.median(f0[m]) / librosa.midi_to_hz(midi))) < 50
    assert measured >= len(v.melody) // 2
    assert ok >= 0.9 * measured
