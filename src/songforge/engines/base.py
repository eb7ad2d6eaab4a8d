"""The contract between the job runner and whatever makes the music.

Workers build a `GenerationRequest` from a validated API request, call `Engine.generate`, and
store what comes back. Engines never touch HTTP, the database or blob storage: that keeps them
usable from the CLI and from any worker, local or remote. This module is only the contract, and
imports no engine: `songforge.engines.registry` finds an implementation by name, so the engines
can import this module without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

# Engines' errors live under the one root in `songforge.errors`; re-exported for engine code.
from songforge.errors import ChordError, EngineError

__all__ = [
    "SAMPLE_RATE",
    "STEM_NAMES",
    "ChordError",
    "Engine",
    "EngineError",
    "GenerationRequest",
    "GenerationResult",
    "ProgressFn",
    "VoiceProfile",
]

SAMPLE_RATE = 44100

# Stem names, in the order they appear in stems zips. Vocals only exist for songs.
STEM_NAMES = ("vocals", "drums", "bass", "keys", "lead")

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
    max_seconds: float | None = None  # at most the model profile's cap (songforge.config.MODELS)
    # A length an API field asks for (the Open API's #duration): it wins over a length in the prompt.
    seconds: float | None = None


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
