"""Songs: a whole form around the lyric sections (`form.py`), and the singing module's vocals stem
sung over it, every repeat sung again on its own bars.

`songforge.engines.singing` is imported lazily so instrumentals never pay for festival/WORLD.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from songforge.engines.base import SAMPLE_RATE, GenerationRequest
from songforge.engines.embedded import form as forms
from songforge.engines.embedded.composer import BEATS_PER_BAR, Plan, Score

log = logging.getLogger(__name__)
BARS_PER_LINE = forms.BARS_PER_LINE
MARKER_S = 0.02  # a section marker's length in the timed lyrics, as the platform's example has them


@dataclass
class SongPlan:
    sections: list[Any]  # LyricSection objects from the singing module, as the lyrics give them
    form: forms.Form
    form_index: list[int]  # for each sung form section, its index in the plan's (and score's) sections


@dataclass
class Vocals:
    audio: np.ndarray
    lyrics: str
    lines: list[tuple[float, float, str]]  # sung lines and section markers ("[chorus]"), by time
    voice: dict[str, Any] | None = None  # the voice sung with, for the record (`voice_of`)


def _usable(line: str) -> bool:
    from songforge.engines.singing.lyrics import has_words
    from songforge.engines.singing.speech import sanitize

    return bool(sanitize(line)) and has_words(line)


def plan_song(
    request: GenerationRequest,
    plan: Plan,
    seed: int,
    *,
    seconds_cap: float | None = None,
    length_source: str = "style",
) -> SongPlan | None:
    """Set the plan's form from the lyric sections; None when there is nothing to sing.

    The plan's bars are the length aimed at (the style's habit or an asked length); an asked length
    (`request.seconds` or the prompt's) is met to the bar, the style's is a direction to grow in."""
    from songforge.engines.embedded.form import TAIL_SECONDS
    from songforge.engines.singing import plan_lyrics

    sections = plan_lyrics(request.lyrics, request.prompt, seed)
    if not sections:
        return None
    bar_s = BEATS_PER_BAR * 60.0 / plan.bpm
    cap = seconds_cap if seconds_cap is not None else plan.bars * bar_s + TAIL_SECONDS
    cap_bars = max(1, math.floor((cap - TAIL_SECONDS) / bar_s + 1e-6))
    exact = request.seconds is not None or length_source == "prompt"
    form = forms.build(sections, plan.style, plan.bpm, plan.bars, cap_bars, exact, _usable)
    if not any(s.lines for s in form.sections):
        if any(ln.strip() for s in sections for ln in s.lines):
            from songforge.engines.singing.lyrics import LyricsError

            raise LyricsError("The lyrics hold no words to sing (only emoji or symbols)")
        return None
    plan.sections = [
        (s.name, s.bars) if s.energy is None else (s.name, s.bars, s.energy) for s in form.sections
    ]
    plan.bars = form.bars
    index = [i for i, s in enumerate(form.sections) if s.lines]
    return SongPlan(sections=sections, form=form, form_index=index)


def fade_out_seconds(song: SongPlan | None, score: Score, default: float) -> float:
    """How long the song fades at its end: over most of the outro for a fading style, else only the
    final chord's ring."""
    if song is None or song.form.ending != "fade" or not score.sections:
        return default
    last = score.sections[-1]
    if last.name != "outro":
        return default
    bar_s = BEATS_PER_BAR * 60.0 / score.bpm
    return max(default, 0.75 * last.bars * bar_s + default)


def material(song: SongPlan | None) -> dict[str, Any]:
    """What the record adds about the form (the engine reports `form` and `dur` itself)."""
    if song is None:
        return {}
    return {"ending": song.form.ending, "sectionTags": [s.tag for s in song.form.sections]}


def sing_song(
    song: SongPlan | None, request: GenerationRequest, score: Score, seed: int, n_samples: int
) -> Vocals | None:
    if song is None:
        return None
    from songforge.engines.singing import LyricSection, lyrics_text, sing

    bar_chords = [bar[0].symbol for bar in score.bar_chords]
    form = song.form.sections
    sung_sections = [LyricSection(form[i].name, list(form[i].lines), form[i].voice) for i in song.form_index]
    section_bars = [
        (score.sections[i].name, score.sections[i].start, score.sections[i].bars) for i in song.form_index
    ]
    sung = sing(
        sections=sung_sections,
        key=score.key.name,
        bpm=float(score.bpm),
        bar_chords=bar_chords,
        section_bars=section_bars,
        voice=request.voice,
        seed=seed,
        sample_rate=SAMPLE_RATE,
    )
    audio = np.zeros((n_samples, 2), dtype=np.float32)
    src = np.asarray(sung.audio, dtype=np.float32)
    if src.ndim == 1:
        src = np.repeat(src[:, None], 2, axis=1)
    n = min(n_samples, len(src))
    audio[:n] = src[:n, :2]
    lines = timed_lines(list(sung.lines), song, score, n_samples / SAMPLE_RATE)
    # The record's lyrics are the lyrics as written (each section once), as far as the form sings them.
    kept = [song.sections[i] for i in song.form.kept]
    return Vocals(audio=audio, lyrics=lyrics_text(kept), lines=lines, voice=voice_of(sung.extra, request))


def voice_of(extra: dict[str, Any], request: GenerationRequest) -> dict[str, Any] | None:
    """The record's `musicMaterial.voice` (a field of our own): the voice the singer used, by the
    item id the API lists it under (an artist voice's, or the cloned voice's), its catalogue name,
    and whether the engine chose it (no voice was asked for)."""
    item_id = extra.get("voice")
    if not item_id:
        return None
    from songforge.engines.singing.voices import CATALOGUE

    artist = next((v for v in CATALOGUE if v.item_id == item_id), None)
    return {
        "itemId": str(item_id),
        "name": artist.name if artist else "",
        "kind": "artist" if artist else "cloned",
        "chosen": request.voice is None,
    }


def timed_lines(
    sung: list[tuple[float, float, str]], song: SongPlan, score: Score, seconds: float
) -> list[tuple[float, float, str]]:
    """The sung lines (repeats included) with a marker ("[intro]", "[chorus]") where each section of
    the form starts, just before its first sung line, the way the platform's `lyrics_sections` reads."""
    bar_s = BEATS_PER_BAR * 60.0 / score.bpm
    out: list[tuple[float, float, str]] = []
    starts = sorted(s for s, _, _ in sung)
    for fs, sec in zip(song.form.sections, score.sections, strict=False):
        t0, t1 = sec.start * bar_s, (sec.start + sec.bars) * bar_s
        if t0 >= seconds:
            break
        first = next((s for s in starts if t0 - 0.6 <= s < t1), t0)
        t = round(max(0.0, min(t0, first - 0.01)), 3)
        out.append((t, round(t + MARKER_S, 3), f"[{fs.tag}]"))
    out.extend(sung)
    out.sort(key=lambda x: (x[0], 0 if x[2].startswith("[") else 1))
    return out


def form_lines(song: SongPlan, score: Score, seconds: float) -> list[list[Any]]:
    """[tag, start_s, end_s, lines] for each section of the form, in order (repeats written out): the
    timing of an unsung guide, for an engine that sings over it (acestep)."""
    bar_s = BEATS_PER_BAR * 60.0 / score.bpm
    out: list[list[Any]] = []
    for fs, sec in zip(song.form.sections, score.sections, strict=False):
        t0, t1 = sec.start * bar_s, min(seconds, (sec.start + sec.bars) * bar_s)
        if t0 >= seconds:
            break
        out.append([fs.tag, round(t0, 3), round(t1, 3), list(fs.lines)])
    return out
