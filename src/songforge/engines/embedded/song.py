"""Songs: the form follows the lyric sections and the singing module adds a vocals stem.

`songforge.engines.singing` is imported lazily so instrumentals never pay for festival/WORLD.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from songforge.engines.base import SAMPLE_RATE, GenerationRequest
from songforge.engines.embedded.composer import BEATS_PER_BAR, Plan, Score

log = logging.getLogger(__name__)
BARS_PER_LINE = 2


@dataclass
class SongPlan:
    sections: list[Any]  # LyricSection objects from the singing module
    form_index: list[int]  # for each lyric section, its index in the plan's (and score's) sections


@dataclass
class Vocals:
    audio: np.ndarray
    lyrics: str
    lines: list[tuple[float, float, str]]


def plan_song(request: GenerationRequest, plan: Plan, seed: int) -> SongPlan | None:
    """Set the plan's form from the lyric sections; None when there is nothing to sing."""
    from songforge.engines.singing import plan_lyrics

    sections = plan_lyrics(request.lyrics, request.prompt, seed)
    if not sections:
        return None
    bar_s = BEATS_PER_BAR * 60.0 / plan.bpm
    budget = plan.bars
    # The lyrics may bring their own intro/outro; add the engine's only where they don't.
    own_intro = str(sections[0].name).lower() == "intro"
    own_outro = str(sections[-1].name).lower() == "outro"
    form: list[tuple[str, int]] = []
    if not own_intro:
        form.append(("intro", 2 if budget * bar_s > 30 else 1))
    used = sum(n for _, n in form) + (0 if own_outro else 2)
    kept: list[Any] = []
    index: list[int] = []
    for sec in sections:
        n = max(2, BARS_PER_LINE * max(1, len(sec.lines)))
        if used + n > budget and kept:
            break
        kept.append(sec)
        index.append(len(form))
        form.append((str(sec.name).lower() or "verse", n))
        used += n
    if not (own_outro and kept and kept[-1] is sections[-1]):
        form.append(("outro", 2))
    plan.sections = form
    return SongPlan(sections=kept, form_index=index)


def sing_song(
    song: SongPlan | None, request: GenerationRequest, score: Score, seed: int, n_samples: int
) -> Vocals | None:
    if song is None:
        return None
    from songforge.engines.singing import sing

    bar_chords = [bar[0].symbol for bar in score.bar_chords]
    section_bars = [
        (score.sections[i].name, score.sections[i].start, score.sections[i].bars) for i in song.form_index
    ]
    sung = sing(
        sections=song.sections,
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
    return Vocals(audio=audio, lyrics=sung.lyrics, lines=list(sung.lines))
