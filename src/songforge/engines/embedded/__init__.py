"""The embedded default engine: real instrumental music offline on CPU, no model weights.

Composition is rule-based (`prompt` -> `styles` -> `composer`), instruments come from a General MIDI
SoundFont rendered by the FluidSynth command line (`render`), and `mix` balances, limits and levels
the stems so that they sum to the master exactly.

Heavy modules load lazily so that the API can import `chords` for validation without numpy work.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EmbeddedEngine", "check_ready"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from songforge.engines.embedded import engine

        return getattr(engine, name)
    raise AttributeError(name)
