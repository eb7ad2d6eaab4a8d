"""Lyrics alignment (songforge.audio.align) on real singing: the embedded engine's own vocals stem.

The embedded engine knows when it sang each line (its LRC), which is what an alignment of its vocals
must find again. Real festival speech through the project's singer, real pocketsphinx; the same stem
with other lyrics, and noise, must be rejected so that the acestep engine falls back to its own timing.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

pytest.importorskip("pocketsphinx")

from songforge.audio.align import align_lines, dictionary_words  # noqa: E402
from songforge.engines.acestep.engine import AceStepEngine, _Decisions  # noqa: E402
from songforge.engines.base import GenerationRequest, GenerationResult  # noqa: E402
from songforge.engines.embedded import EmbeddedEngine  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("festival") is None, reason="festival not installed")

LYRICS = (
    "[Verse]\nI walk along the empty street\nThe city lights are burning low\n"
    "I hear the echo of my feet\nAnd nowhere left for me to go\n"
    "[Chorus]\nStay with me until the morning\nHold my hand and sing along\n"
)
OTHER = [
    "The thunder rolls across the plain",
    "We ride against the falling rain",
    "Raise your hands and shout it loud",
    "We are the fire in the crowd",
    "Coffee in the morning light",
    "Your sweater hanging on the chair",
]


@pytest.fixture(scope="module")
def song() -> Iterator[GenerationResult]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SONGFORGE_SINGER", "festival")
        mp.setenv("SONGFORGE_CHORUS_PARTS", "0")  # one voice: the stem is the lead alone
        request = GenerationRequest(
            kind="song",
            prompt="upbeat pop song, 120 bpm",
            model="v4.8",
            seed=3,
            lyrics=LYRICS,
            max_seconds=40,
        )
        yield EmbeddedEngine().generate(request)


def _sung(result: GenerationResult) -> list[tuple[float, float, str]]:
    return [
        (float(s), float(e), str(t)) for s, e, t in result.extra["lyrics_lines"] if not str(t).startswith("[")
    ]


def test_aligned_onsets_are_where_the_lines_were_sung(song: GenerationResult) -> None:
    truth = _sung(song)
    assert len(truth) >= 5
    result = align_lines(song.stems["vocals"], song.sample_rate, [t for _s, _e, t in truth])
    assert result is not None and result.method == "pocketsphinx"
    assert len(result.lines) == len(truth)
    errors = [abs(line.start - s) for line, (s, _e, _t) in zip(result.lines, truth, strict=True)]
    assert sum(e <= 0.3 for e in errors) >= 0.8 * len(errors), errors
    assert result.anchored >= 0.5 * result.words and result.placed <= result.words
    starts = [line.start for line in result.lines]
    assert starts == sorted(starts)
    assert all(0 <= line.start <= line.end <= song.mix.shape[0] / song.sample_rate for line in result.lines)
    assert all(0.0 <= line.confidence <= 1.0 for line in result.lines)
    assert sum(line.placed for line in result.lines) >= 0.8 * len(truth)


def test_other_lyrics_and_noise_are_rejected(song: GenerationResult) -> None:
    vocals = song.stems["vocals"]
    assert align_lines(vocals, song.sample_rate, OTHER) is None
    noise = np.random.default_rng(0).standard_normal(vocals.shape).astype(np.float32) * 0.1
    assert align_lines(noise, song.sample_rate, [t for _s, _e, t in _sung(song)]) is None
    assert align_lines(np.zeros_like(vocals), song.sample_rate, [t for _s, _e, t in _sung(song)]) is None


def test_a_line_of_unknown_words_is_interpolated_between_its_neighbours(song: GenerationResult) -> None:
    truth = _sung(song)
    texts = [t for _s, _e, t in truth]
    texts.insert(2, "Zxqvy blorptang")  # not in the dictionary, and not sung
    result = align_lines(song.stems["vocals"], song.sample_rate, texts)
    assert result is not None and len(result.lines) == len(texts)
    odd = result.lines[2]
    assert not odd.placed and odd.confidence == 0.0
    assert result.lines[1].end <= odd.start <= result.lines[3].start


def test_numbers_are_spelt_out_and_unknown_words_dropped() -> None:
    known = {"twenty", "four", "hours", "running", "rocknroll", "in", "nineteen", "ninety", "nine"}

    def lookup(word: str) -> Any:
        return "X" if word in known else None

    assert dictionary_words("Twenty 4 hours, runnin' in 1999 Zxqvy!", lookup) == [
        "twenty",
        "four",
        "hours",
        "running",
        "in",
        "nineteen",
        "ninety",
        "nine",
    ]
    assert dictionary_words("rock'n'roll", lookup) == ["rocknroll"]
    assert dictionary_words("🎵 ...", lookup) == []


def test_the_acestep_timing_takes_the_alignment_and_keeps_the_section_markers(song: GenerationResult) -> None:
    """The engine's own timing step on a sung stem: the lines aligned, each section's marker at its
    first line, the record saying so."""
    sections: list[tuple[str, list[str]]] = []
    for _s, _e, text in song.extra["lyrics_lines"]:
        if str(text).startswith("["):
            sections.append((str(text)[1:-1], []))
        else:
            sections[-1][1].append(str(text))
    seconds = song.mix.shape[0] / song.sample_rate
    d = _Decisions(
        caption="pop",
        lyrics=LYRICS,
        lyric_sections=sections,
        keyscale=None,
        key_name=None,
        bpm=120,
        seconds=seconds,
        length_source="test",
        language="en",
        task="text2music",
    )
    lines, how, record = AceStepEngine()._timing(d, song.stems["vocals"])
    assert how == "aligned:pocketsphinx" and record is not None
    assert record["lines"] == len(_sung(song)) and record["placed_lines"] >= 0.8 * record["lines"]
    assert [t for _s, _e, t in lines] == [t for _s, _e, t in song.extra["lyrics_lines"]]
    for i, (start, _end, text) in enumerate(lines):
        if text.startswith("[") and i + 1 < len(lines) and not lines[i + 1][2].startswith("["):
            assert start == lines[i + 1][0]  # a marker at its section's first line
    truth = _sung(song)
    aligned = [(s, t) for s, _e, t in lines if not t.startswith("[")]
    close = sum(abs(s - ts) <= 0.3 for (s, _t), (ts, _te, _tt) in zip(aligned, truth, strict=True))
    assert close >= 0.8 * len(truth)
    # without a stem (or with one that carries no lyrics) the engine's untimed fallback
    assert AceStepEngine()._timing(d, None)[1] == "even"
    silent = np.zeros_like(song.stems["vocals"])
    assert AceStepEngine()._timing(d, silent)[1:] == ("even", None)
