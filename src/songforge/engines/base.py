"""The contract between the job runner and whatever makes the music.

Workers build a `GenerationRequest` from a validated API request, call `Engine.generate`, and
store what comes back. Engines never touch HTTP, the database or blob storage: that keeps them
usable from the CLI and from any worker, local or remote.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

# Engines' errors live under the one root in `songforge.errors`; re-exported for engine code.
from songforge.errors import ChordError, EngineError  # noqa: F401

SAMPLE_RATE = 44100

# Stem names, in the order they appear in stems zips. Vocals only exist for songs.
STEM_NAMES = ("vocals", "drums", "bass", "keys", "lead")

# Length caps per model name (seconds), as the hosted service documents them.
MODEL_MAX_SECONDS: dict[str, float] = {
    "i3": 120.0,
    "i3.5 beta": 270.0,
    "i4": 180.0,
    "v3": 120.0,
    "v3.5": 270.0,
    "v4.5": 270.0,
    "v4.8": 270.0,
}


# Engines' errors live under the one root in `songforge.errors`; re-exported for engine code.

ProgressFn = Callable[[int, str], None]
"""progress(percent 0..100, stage name such as "composing", "rendering", "mastering")."""


@dataclass
class VoiceProfile:
    """What a singer needs to know about a voice (artist catalogue or cloned sample)."""

    item_id: str
    gender: Literal["female", "male"] = "female"
    low_midi: int = 57
    high_midi: int = 77
    median_midi: float = 67.0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class GenerationRequest:
    kind: Literal["song", "instrumental"]
    prompt: str
    model: str = "i3.5 beta"
    seed: int = 0
    tonality: str | None = None  # "C:major", "F#:minor", ... (the spec's 24 keys)
    bpm: int | None = None  # 50..190
    chords: str | None = None  # "C F G Am", "Bbmaj7 Gm7 Cm7 F7", ...
    lyrics: str | None = None
    midi_path: Path | None = None  # an uploaded MIDI file to build on
    voice: VoiceProfile | None = None
    max_seconds: float | None = None  # defaults to MODEL_MAX_SECONDS[model]


@dataclass
class GenerationResult:
    sample_rate: int
    mix: np.ndarray  # float32, shape (n, 2)
    stems: dict[str, np.ndarray]  # name -> float32 (n, 2); they sum to `mix`
    title: str
    # Fields for the record's musicMaterial: style, mood, inst, scene, key, bpm, chord, dur, seed...
    material: dict[str, Any]
    lyrics: str | None = None  # the lyrics actually sung (songs)
    extra: dict[str, Any] = field(default_factory=dict)


class Engine(Protocol):
    name: str

    def generate(self, request: GenerationRequest, progress: ProgressFn) -> GenerationResult: ...


def get_engine(name: str) -> Engine:
    """Look an engine up by the name an account stores. Raises KeyError for an unknown name."""
    if name == "embedded":
        from songforge.engines.embedded import EmbeddedEngine

        return EmbeddedEngine()
    raise KeyError(name)


ENGINE_NAMES = ("embedded",)
