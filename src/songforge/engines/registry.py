"""Engines by the name an account stores, imported only when first asked for.

Why a module of its own: `engines.base` is the contract every engine imports; when the lookup
lived there too, the contract imported the implementations and every engine file sat in one import
circle. Here the registry imports the implementations (lazily: an engine's heavy dependencies load
only in the processes that generate) and nothing imports the registry but its callers.

`songforge.config.ENGINE_NAMES` lists the names accounts may choose; this table must cover them
(tests/engines/test_registry.py checks it).
"""

from __future__ import annotations

from collections.abc import Callable

from songforge.engines.base import Engine

__all__ = ["FACTORIES", "engine_names", "get_engine", "refusal"]


def _embedded() -> Engine:
    from songforge.engines.embedded.engine import EmbeddedEngine

    return EmbeddedEngine()


def _tempolor() -> Engine:
    from songforge.engines.tempolor.engine import TempolorEngine

    return TempolorEngine()


# name -> a zero-argument factory. A new engine is one function and one entry here.
FACTORIES: dict[str, Callable[[], Engine]] = {
    "embedded": _embedded,
    "tempolor": _tempolor,
}


def engine_names() -> tuple[str, ...]:
    return tuple(FACTORIES)


def get_engine(name: str) -> Engine:
    """A new engine for `name`. Raises KeyError for a name no engine is registered under."""
    return FACTORIES[name]()


def refusal(
    name: str, kind: str, model: str, *, midi: bool = False, voice: bool = False, lyrics: bool = False
) -> str | None:
    """Why engine `name` cannot make this request, or None. The dialects ask before a request is
    queued, so what an engine would refuse is a 400 naming it, never a job that fails later (or a
    request sent to a paid upstream). Only the upstream engine refuses anything today."""
    if name == "tempolor":
        from songforge.engines.tempolor.models import UnsupportedUpstream, check_fields

        try:
            check_fields(kind, model, midi=midi, voice=voice, lyrics=lyrics)
        except UnsupportedUpstream as exc:
            return str(exc)
    return None
