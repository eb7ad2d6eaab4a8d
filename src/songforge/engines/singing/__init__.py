"""Sung vocals without neural weights: lyrics, a vocal melody, and a singing voice.

The pipeline is: `plan_lyrics` (given lyrics parsed by section tag, or lyrics written from the prompt)
-> festival speaks each line (`speech`), which gives both the audio and the exact phone timings
-> `melody` writes notes for the syllables festival found, in the speech's own rhythm (slowed and
snapped to the beat grid), low in the voice's range, on the song's bars and chords
-> festival speaks each line again at the pace it is sung
-> `singer` re-times and re-pitches that speech with the WORLD vocoder so that consonants keep their
spoken length and the vowels carry the notes (benchmarks/vocals.py measured that stretching whole
syllables, a rhythm of the melody's own, and high notes are what cost intelligibility)
-> choruses add a double of the lead and a harmony line a diatonic third or sixth away (`harmony`),
panned either side of the lead, all in the one vocals stem.

This module is the contract other parts of Songforge build on (the embedded engine for songs, the API
for artist and cloned voices); the work happens in the submodules, imported lazily so that importing
the contract costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from songforge.engines.singing.common import SECTION_NAMES, LyricSection, SungVocals

if TYPE_CHECKING:
    from songforge.engines.base import VoiceProfile

__all__ = [
    "SECTION_NAMES",
    "LyricSection",
    "SungVocals",
    "analyse_voice",
    "lyrics_text",
    "plan_lyrics",
    "profile_to_voice",
    "sing",
]


def plan_lyrics(lyrics: str | None, prompt: str, seed: int) -> list[LyricSection]:
    """Sections from the user's tagged lyrics, or lyrics written from the prompt when there are none."""
    from songforge.engines.singing import lyrics as _lyrics

    return _lyrics.plan_lyrics(lyrics, prompt, seed)


def lyrics_text(sections: list[LyricSection]) -> str:
    """The lyrics with their section tags, as the record's `lyricsPrompt` shows them."""
    from songforge.engines.singing import lyrics as _lyrics

    return _lyrics.lyrics_text(sections)


def sing(
    *,
    sections: list[LyricSection],
    key: str,
    bpm: float,
    bar_chords: list[str],
    section_bars: list[tuple[str, int, int]],
    voice: VoiceProfile | None,
    seed: int,
    sample_rate: int = 44100,
    beats_per_bar: int = 4,
) -> SungVocals:
    """Write a vocal melody for `sections` over the song's bars and chords, and sing it.

    `section_bars` holds (section name, start bar, number of bars) for each entry of `sections`, in the
    same order. The audio is as long as the song's bars (trailing silence included).
    """
    from songforge.engines.singing import singer

    return singer.sing(
        sections=sections,
        key=key,
        bpm=bpm,
        bar_chords=bar_chords,
        section_bars=section_bars,
        voice=voice,
        seed=seed,
        sample_rate=sample_rate,
        beats_per_bar=beats_per_bar,
    )


def analyse_voice(audio: np.ndarray, sr: int) -> dict:
    """A cloned-voice profile (pitch range, median pitch, formants, spectral tilt, vibrato) of a sample.

    Raises `EngineError("No voice detected ...")` when the sample holds no singing or speech.
    """
    from songforge.engines.singing import analysis

    return analysis.analyse_voice(audio, sr)


def profile_to_voice(item_id: str, profile: dict) -> VoiceProfile:
    """The `VoiceProfile` the singer uses for a cloned voice's stored analysis."""
    from songforge.engines.singing import analysis

    return analysis.profile_to_voice(item_id, profile)
