"""The platform's model names, mapped onto the engine profiles this server has.

The official API names models the way its pricing page does (`TemPolor v4.5`, `TemPolor i3.5`,
`tempolor-latest`); the useapi dialect and the engines use the catalogue's profile names (`v4.5`,
`i3.5 beta`, `songforge.config.MODEL_PROFILES`). Several platform names share a profile: we have
one song profile per length cap, not one per vendor release, and a client should not break
because it asks for a newer name. The tables name catalogue entries (`MODELS[...]`), so a
profile that leaves the catalogue fails here at import, not at a client's request.
"""

from __future__ import annotations

from dataclasses import dataclass

from songforge.config import MODELS, ModelKind, ModelProfile, canonical_model, model_profile
from songforge.errors import InvalidInput

Kind = ModelKind


@dataclass(frozen=True)
class ModelChoice:
    name: str  # the platform's spelling, echoed back in query results and callbacks
    profile: str  # our model profile: a catalogue name (songforge.config.MODELS)
    kind: Kind

    @property
    def max_seconds(self) -> float:
        """The profile's length cap."""
        return MODELS[self.profile].max_seconds


SONG_MODELS: dict[str, ModelProfile] = {
    "TemPolor v3": MODELS["v3"],
    "TemPolor v3.5": MODELS["v3.5"],
    "TemPolor v4.0": MODELS["v4.5"],
    "TemPolor v4.5": MODELS["v4.5"],
    "TemPolor v4.6": MODELS["v4.5"],
    "tempolor-latest": MODELS["v4.5"],
}

INSTRUMENTAL_MODELS: dict[str, ModelProfile] = {
    "TemPolor i3": MODELS["i3"],
    "TemPolor i3.5": MODELS["i3.5 beta"],
    "TemPolor i4": MODELS["i4"],
}

# What a model-less request gets: the platform's current examples.
DEFAULT_MODEL: dict[str, str] = {"song": "TemPolor v4.5", "instrumental": "TemPolor i3.5"}

_TABLES: dict[str, dict[str, ModelProfile]] = {"song": SONG_MODELS, "instrumental": INSTRUMENTAL_MODELS}
# Profile -> the platform name we report for jobs created through the other dialect.
_PROFILE_NAMES: dict[ModelProfile, str] = {
    MODELS["v3"]: "TemPolor v3",
    MODELS["v3.5"]: "TemPolor v3.5",
    MODELS["v4.5"]: "TemPolor v4.5",
    MODELS["v4.8"]: "tempolor-latest",
    MODELS["i3"]: "TemPolor i3",
    MODELS["i3.5 beta"]: "TemPolor i3.5",
    MODELS["i4"]: "TemPolor i4",
}


def _normalise(name: str) -> str:
    return " ".join(name.split()).casefold()


class UnknownModel(InvalidInput):
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
            return ModelChoice(canonical, profile.name, kind)
    raise UnknownModel(str(name), kind)


def platform_name(profile: str | None, kind: str) -> str:
    """The platform's name for a profile, for jobs made through /v1/tempolor."""
    known = model_profile(canonical_model(profile)) if profile else None
    if known is not None and known in _PROFILE_NAMES:
        return _PROFILE_NAMES[known]
    return DEFAULT_MODEL.get(kind, DEFAULT_MODEL["song"])
