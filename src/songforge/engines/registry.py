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

from songforge.config import PLATFORM_VOICE_ID
from songforge.engines.base import Engine

__all__ = ["FACTORIES", "engine_names", "engine_ready", "get_engine", "readiness", "refusal"]


def _embedded() -> Engine:
    from songforge.engines.embedded.engine import EmbeddedEngine

    return EmbeddedEngine()


def _tempolor() -> Engine:
    from songforge.engines.tempolor.engine import TempolorEngine

    return TempolorEngine()


def _acestep() -> Engine:
    from songforge.engines.acestep.engine import AceStepEngine

    return AceStepEngine()


# name -> a zero-argument factory. A new engine is one function and one entry here.
FACTORIES: dict[str, Callable[[], Engine]] = {
    "embedded": _embedded,
    "tempolor": _tempolor,
    "acestep": _acestep,
}


def readiness(name: str) -> str | None:
    """None when engine `name` can take jobs in this process, else why not: a cheap check (files and
    settings; nothing is loaded), for admission, startup and `songforge engines`."""
    if name == "acestep":
        import importlib.util

        from songforge import config
        from songforge.engines.acestep.weights import check_weights

        try:
            check = check_weights(config.acestep_settings().weights)
        except ValueError as exc:
            return str(exc)
        if not check.ready:
            return check.message()
        missing = [m for m in ("torch", "diffusers", "transformers") if importlib.util.find_spec(m) is None]
        if missing:
            return f"the acestep engine needs the neural extra: {', '.join(missing)} not installed"
        return None
    if name == "embedded":
        try:
            from songforge.engines.embedded import check_ready

            check_ready()
        except Exception as exc:  # noqa: BLE001 - any failure is the reason
            return str(exc) or type(exc).__name__
        return None
    return None if name in FACTORIES else f"no engine is registered as {name!r}"


def engine_ready(name: str) -> bool:
    """Whether `name` can take jobs here; what admission's engine chains ask, per request. Only
    acestep's weights are looked at (a few file checks): the embedded engine's SoundFont and FluidSynth
    are checked when a server or worker starts, and the upstream engine's keys when it runs."""
    if name == "acestep":
        return readiness(name) is None
    return name in FACTORIES


def engine_names() -> tuple[str, ...]:
    return tuple(FACTORIES)


def get_engine(name: str) -> Engine:
    """A new engine for `name`. Raises KeyError for a name no engine is registered under."""
    return FACTORIES[name]()


def refusal(
    name: str,
    kind: str,
    model: str,
    *,
    midi: bool = False,
    voice: str | None = None,
    cloned_voice: bool = False,
    lyrics: bool = False,
    extend_start: float | None = None,
    ready: bool | None = None,
) -> str | None:
    """Why engine `name` cannot make this request, or None. The dialects ask before a request is
    queued, so what an engine would refuse is a 400 naming it, never a job that fails later (or a
    request sent to a paid upstream). `voice`: the artist voice asked for (our item id, or a
    platform voice id `SV...`, which only the upstream engine can sing); `cloned_voice`: a cloned
    voice is asked for. The upstream engine refuses fields it cannot send (a voice it has no
    platform voice id for, and an extension's `extend_start` outside the platform's range); acestep
    refuses while its weights are not ready here (SONGFORGE_ACESTEP_WEIGHTS), unless `ready` says
    the engine can take jobs anyway (admission's answer: a live worker reports it ready; None: only
    this process counts). The reason given is this process's, the one an operator can act on."""
    if name == "tempolor":
        from songforge.engines.tempolor.models import UnsupportedUpstream, check_fields

        try:
            check_fields(
                kind,
                model,
                midi=midi,
                voice=voice,
                cloned_voice=cloned_voice,
                lyrics=lyrics,
                extend_start=extend_start,
            )
        except UnsupportedUpstream as exc:
            return str(exc)
        return None
    if voice is not None and PLATFORM_VOICE_ID.match(voice):
        return (
            f"{voice} is a TemPolor platform voice id, which only an upstream (tempolor) account can "
            "use; give an artistVoiceItemId of /music/artist-voices/"
        )
    if name == "acestep" and not ready:
        reason = readiness(name)
        if reason and ready is False:
            reason += "; no running worker reports it ready either"
        return f"the acestep engine is not ready: {reason}" if reason else None
    return None
