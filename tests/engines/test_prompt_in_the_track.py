"""What the prompt understood reaches the music and the record: lengths, removed parts, blended
genres, a language asked for, and the measurement of the rendered track."""

from __future__ import annotations

import numpy as np
import pytest

from songforge.engines.base import SAMPLE_RATE, GenerationRequest
from songforge.engines.embedded import EmbeddedEngine
from songforge.workers.measure import measure_result


def _make(prompt: str, **kw: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = dict(kind="instrumental", prompt=prompt, model="i3", seed=5)
    args.update(kw)
    return EmbeddedEngine().generate(GenerationRequest(**args), lambda p, s: None)  # type: ignore[arg-type]


def _seconds(res) -> float:  # type: ignore[no-untyped-def]
    return len(res.mix) / SAMPLE_RATE


def test_the_prompts_length_beats_the_styles_habit() -> None:
    res = _make("chill lofi beat, about 9 seconds", bpm=120)
    assert abs(_seconds(res) - 9) <= 1.0  # within half a bar of the 2 s bars, plus the tail
    assert res.material["lengthSource"] == "prompt" and res.material["lengthAsked"] == 9


def test_an_api_length_beats_the_prompts() -> None:
    res = _make("chill lofi beat, about 30 seconds", bpm=120, seconds=7.0, max_seconds=7.0)
    assert _seconds(res) <= 7.0
    assert res.material["lengthSource"] == "request" and res.material["lengthAsked"] == 30


def test_no_drums_and_no_piano_are_obeyed() -> None:
    res = _make("upbeat pop, no drums and no piano, 8 seconds")
    assert res.material["removed"] == ["drums", "piano"]
    assert float(np.abs(res.stems["drums"]).max()) == 0.0
    assert "drums" not in res.material["inst"] and "piano" not in res.material["inst"]
    assert float(np.abs(res.stems["keys"]).max()) > 0.0  # the keys play something else


def test_genre_outranks_instruments_and_blends_are_reported() -> None:
    res = _make("disco track with strings and clavinet, 8 seconds")
    assert res.material["style"] != "String Quartet"
    assert "clavinet" in res.material["inst"] and "strings" in res.material["inst"]
    res = _make("jazz hip hop with upright bass, 8 seconds")
    assert res.material["styles"] == ["Hip Hop", "Jazz"]


@pytest.mark.parametrize("kind", ["instrumental", "song"])
def test_a_language_asked_only_in_the_prompt_is_recorded(kind: str) -> None:
    res = _make("a song in Spanish about summer love", kind=kind, max_seconds=8)
    m = res.material
    assert m["languageRequested"] == "es" and "Spanish" in m["languageNote"]
    if kind == "song":
        assert m["languageSung"] == "en" and "sung in English" in m["languageNote"]
    else:
        assert "languageSung" not in m


def test_the_rendered_track_is_measured_into_the_record() -> None:
    res = _make("minor key synthwave", tonality="A:minor", bpm=100, chords="Am F C G", max_seconds=20)
    took = measure_result(res)
    measured = res.material["measured"]
    assert took is not None and measured["analysisSeconds"] == pytest.approx(took, abs=1e-3)
    assert set(measured) >= {"bpm", "key", "keyConfidence", "chordsMatched", "lufs", "truePeak", "estimator"}
    assert abs(measured["bpm"] - 100) < 4 and measured["key"] == "A:minor"
    assert measured["lufs"] == pytest.approx(-14, abs=1.0) and measured["truePeak"] <= -1.0
    assert all(isinstance(v, str) and v for v in measured["estimator"].values())
    # the spec's own fields keep their types
    assert isinstance(res.material["bpm"], int) and isinstance(res.material["key"], str)
