"""Extension in the embedded engine: the source's audio up to a bar line, sample for sample, then a
continuation in the same key and tempo, levelled at the splice, with stems that still sum to the mix."""

from __future__ import annotations

import numpy as np
import pytest

from songforge.audio.analysis import integrated_loudness
from songforge.audio.encode import to_int16
from songforge.engines.base import SAMPLE_RATE, GenerationRequest, GenerationResult
from songforge.engines.embedded.engine import EmbeddedEngine
from songforge.engines.embedded.extend import CROSSFADE_S, SourceWork, extend, splice_point


def _stored(audio: np.ndarray) -> np.ndarray:
    """What a stored 16-bit file reads back as (the worker's `read_stored_audio`)."""
    return to_int16(audio).astype(np.float32) / np.float32(32767)


def _source(result: GenerationResult, request: GenerationRequest, item_id: str = "src") -> SourceWork:
    extra = result.extra
    return SourceWork(
        item_id=item_id,
        mix=_stored(result.mix),
        stems={k: _stored(v) for k, v in result.stems.items()},
        material=dict(result.material),
        basis=request,
        title=result.title,
        lyrics=result.lyrics,
        lines=[tuple(x) for x in extra.get("lyrics_lines", [])],
        sections=[tuple(x) for x in extra["sections"]],
        bar_chords=list(extra["bar_chords"]),
        root_item_id=(extra.get("extension") or {}).get("root_item_id"),
    )


@pytest.fixture(scope="module")
def instrumental() -> tuple[GenerationRequest, GenerationResult]:
    request = GenerationRequest(
        kind="instrumental", prompt="funk groove with bass guitar", model="i3.5 beta", seed=11, max_seconds=20
    )
    return request, EmbeddedEngine().generate(request)


def test_splice_point_moves_back_to_the_bar_line() -> None:
    on = splice_point(240 / 120 * 5, 120)  # exactly bar 5 at 120 BPM
    assert (on.bar, on.seconds) == (5, 10.0) and on.sample == 10 * SAMPLE_RATE
    off = splice_point(11.9, 120)
    assert (off.bar, off.seconds, off.start_time) == (5, 10.0, 11.9)
    assert splice_point(0.5, 90).bar == 1  # never before the first bar line


def test_extension_holds_the_source_then_goes_on(instrumental) -> None:  # type: ignore[no-untyped-def]
    request, result = instrumental
    source = _source(result, request)
    out = extend(source, 10.3, max_seconds=30)
    info = out.extra["extension"]
    bpm = result.material["bpm"]
    splice = splice_point(10.3, bpm)
    assert info["splice_at"] == splice.seconds and info["splice_sample"] == splice.sample
    assert info["splice_at"] <= 10.3 and 10.3 - info["splice_at"] < 240 / bpm
    n = splice.sample
    # Sample for sample up to the splice: the same 16-bit integers once written.
    assert np.array_equal(to_int16(out.mix[:n]), to_int16(source.mix[:n]))
    for name, stem in source.stems.items():
        assert np.array_equal(to_int16(out.stems[name][:n]), to_int16(stem[:n])), name
    # The stems still sum to the mix, crossfade and continuation included.
    total = sum(out.stems.values())
    assert float(np.abs(total - out.mix).max()) < 1e-3
    # Longer than the splice by more than the crossfade, within the cap; the record says so.
    seconds = len(out.mix) / SAMPLE_RATE
    assert splice.seconds + 4 < seconds <= 30 + 1e-6
    assert out.material["dur"] == int(seconds)
    assert out.material["key"] == result.material["key"] and out.material["bpm"] == bpm
    assert out.material["extendedFrom"] == {"item_id": "src", "start_time": 10.3, "splice_at": splice.seconds}
    assert out.material["form"].split()[-1] == "outro"
    # No level jump: the bar before the splice and the bar after it within 3 LU.
    bar = int(round(240 / bpm * SAMPLE_RATE))
    xf = int(CROSSFADE_S * SAMPLE_RATE)
    before = integrated_loudness(out.mix[n - bar : n], SAMPLE_RATE)
    after = integrated_loudness(out.mix[n + xf : n + xf + bar], SAMPLE_RATE)
    assert abs(before - after) <= 3.0, (before, after)
    # Sections cover the whole new work from bar 0, the source's up to the splice.
    sections = out.extra["sections"]
    assert sections[0][1] == 0
    assert all(a[1] + a[2] == b[1] for a, b in zip(sections, sections[1:], strict=False))
    assert any(s[1] == splice.bar for s in sections)


def test_an_extension_of_an_extension(instrumental) -> None:  # type: ignore[no-untyped-def]
    request, result = instrumental
    first = extend(_source(result, request), 10, max_seconds=24)
    again = _source(first, request, item_id="ext1")
    second = extend(again, 20, max_seconds=32)
    info = second.extra["extension"]
    assert info["item_id"] == "ext1" and info["root_item_id"] == "src"
    n = info["splice_sample"]
    assert np.array_equal(to_int16(second.mix[:n]), to_int16(again.mix[:n]))
    assert second.material["key"] == result.material["key"]


def test_song_continuation_sings_the_given_lyrics() -> None:
    request = GenerationRequest(
        kind="song",
        prompt="bright pop song",
        model="v4.5",
        seed=5,
        lyrics="[verse]\nWe walk along the river\nThe evening light is warm\n[chorus]\nSing it out tonight",
        max_seconds=24,
    )
    result = EmbeddedEngine().generate(request)
    source = _source(result, request)
    lyrics = "[chorus]\nCarry me home again\nUnder the silver moon"
    out = extend(source, 12, lyrics=lyrics, max_seconds=40)
    splice_s = out.extra["extension"]["splice_at"]
    lines = out.extra["lyrics_lines"]
    sung_after = [t for s, _e, t in lines if s >= splice_s and not t.startswith("[")]
    assert "Carry me home again" in sung_after and "Under the silver moon" in sung_after
    before = [t for s, _e, t in lines if s < splice_s and not t.startswith("[")]
    source_before = [
        x[2] for x in result.extra["lyrics_lines"] if x[0] < splice_s - 0.05 and not x[2].startswith("[")
    ]
    assert before and before == source_before
    assert all(e <= splice_s for s, e, t in lines if s < splice_s)
    assert "vocals" in out.stems and np.any(out.stems["vocals"][out.extra["extension"]["splice_sample"] :])
    assert "Carry me home again" in (out.lyrics or "")
