"""The platform's model names, mapped onto the engine profiles this server has.

The official API names models the way its pricing page does (`TemPolor v4.5`, `TemPolor i3.5`,
`tempolor-latest`); the useapi dialect and the engines use short profile names (`v4.5`,
`i3.5 beta`). Several platform names share a profile: we have one song profile per length cap,
not one per vendor release, and a client should not break because it asks for a newer name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["song", "instrumental"]


@dataclass(frozen=True)
class ModelChoice:
    name: str  # the platform's spelling, echoed back in query results and callbacks
    profile: str  # our engine profile (a key of engines.base.MODEL_MAX_SECONDS)
    kind: Kind


SONG_MODELS: dict[str, str] = {
    "TemPolor v3": "v3",
    "TemPolor v3.5": "v3.5",
    "TemPolor v4.0": "v4.5",
    "TemPolor v4.5": "v4.5",
    "TemPolor v4.6": "v4.5",
    "tempolor-latest": "v4.5",
}

INSTRUMENTAL_MODELS: dict[str, str] = {
    "TemPolor i3": "i3",
    "TemPolor i3.5": "i3.5 beta",
    "TemPolor i4": "i4",
}

# What a model-less request gets: the platform's current examples.
DEFAULT_MODEL: dict[str, str] = {"song": "TemPolor v4.5", "instrumental": "TemPolor i3.5"}

_TABLES: dict[str, dict[str, str]] = {"song": SONG_MODELS, "instrumental": INSTRUMENTAL_MODELS}
# Profile -> the platform name we report for jobs created through the other dialect.
_PROFILE_NAMES: dict[str, str] = {
    "v3": "TemPolor v3",
    "v3.5": "TemPolor v3.5",
    "v4.5": "TemPolor v4.5",
    "v4.8": "tempolor-latest",
    "i3": "TemPolor i3",
    "i3.5 beta": "TemPolor i3.5",
    "i3.5": "TemPolor i3.5",
    "i4": "TemPolor i4",
}


def _normalise(name: str) -> str:
    return " ".join(name.split()).casefold()


class UnknownModel(ValueError):
    def __init__(self, name: str, kind: Kind) -> None:
        self.name = name
        self.kind = kind
        known = ", ".join(_TABLES[kind])
        super().__init__(f"model {name!r} is not supported for {kind}s; use one of: {known}")


def resolve_model(name: str | None, kind: Kind) -> ModelChoice:
    """Case and spacing are forgiven (`tempolor v4.5`), nothing else: an unknown name raises
    `UnknownModel` naming it, rather than silently running some other model."""
    table = _TABLES[kind]
    if name is None or not str(name).strip():
        name = DEFAULT_MODEL[kind]
    wanted = _normalise(str(name))
    for canonical, profile in table.items():
        if _normalise(canonical) == wanted:
            return ModelChoice(canonical, profile, kind)
    raise UnknownModel(str(name), kind)


def platform_name(profile: str | None, kind: str) -> str:
    """The platform's name for a profile, for jobs made through /v1/tempolor."""
    if profile and profile in _PROFILE_NAMES:
        return _PROFILE_NAMES[profile]
    return DEFAULT_MODEL.get(kind, DEFAULT_MODEL["song"])
