"""Which engines can take jobs now, and so which models are served: one rule for admission and the picker.

Why one rule: a model is made by the first engine of its route that can take it (`scheduler.engine_for`:
SONGFORGE_MODEL_ENGINES and SONGFORGE_UPSTREAM_MODELS, else the account's engine), and the studio's
model picker must offer exactly what admission would then accept. An engine can take jobs when it is
ready in this process (the registry's check, passed in as `local`: core knows no engine) or when a
live worker reports it ready (`store.worker_engines`). The reports are what a split deployment needs:
an API box without a GPU admits acestep jobs while a GPU worker has the weights, and falls back along
the chain (or refuses an account bound to acestep) once that worker stops beating. This process's own
check keeps a single box working before its local workers' first reports, and covers the engines
every server checks at start (the embedded engine's SoundFont and FluidSynth).

Cost per request: at most one query on a tiny table through `ix_worker_engines_seen_ms`, made only
when a chain asks about an engine this process does not have ready, and kept for the request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from songforge import config
from songforge.store.worker_engines import ready_engines

__all__ = ["ModelServed", "Readiness", "models_served"]


class Readiness:
    """`ready(name)`: whether engine `name` can take jobs now, here or on a live worker. One per
    request (or per answer): the workers' reports are read on the first name `local` does not vouch
    for, once, so a route whose first engine is ready here costs no query at all."""

    def __init__(self, session: Session, local: Callable[[str], bool], *, now: int | None = None) -> None:
        self._session = session
        self._local = local
        self._now = now
        self._reported: set[str] | None = None

    def __call__(self, name: str) -> bool:
        if self._local(name):
            return True
        if self._reported is None:
            self._reported = ready_engines(self._session, now=self._now)
        return name in self._reported


@dataclass(frozen=True)
class ModelServed:
    """One model of the catalogue, the engines that may make it, and the one that would now."""

    model: str
    kind: config.ModelKind
    engines: tuple[str, ...]  # its route's chain, or the account's engine
    engine: str | None  # the first of `engines` that is ready; None: not available now
    default: bool  # what a request of its kind that names no model gets

    @property
    def available(self) -> bool:
        return self.engine is not None

    def reason(self) -> str | None:
        """Why it is not available, in words a user reads; None when it is."""
        if self.engine is not None:
            return None
        if len(self.engines) == 1:
            return f"{self.model} is made by the {self.engines[0]} engine, which no running worker has ready"
        names = " or ".join(self.engines)
        return f"{self.model} is made by the {names} engine, none of which a running worker has ready"


def models_served(
    session: Session, account_engine: str, local: Callable[[str], bool], *, now: int | None = None
) -> list[ModelServed]:
    """Every model in catalogue order, for an account whose engine is `account_engine`; `local`: the
    registry's check of this process, as admission passes it. Raises ValueError for a malformed route
    (the server refuses to start with one, so only a changed environment gets here)."""
    ready = Readiness(session, local, now=now)
    routes = config.model_engines()
    out = []
    for profile in config.MODEL_PROFILES:
        chain = routes.get(profile.name) or (account_engine,)
        engine = next((name for name in chain if ready(name)), None)
        default = config.DEFAULT_MODELS[profile.kind] == profile.name
        out.append(ModelServed(profile.name, profile.kind, chain, engine, default))
    return out
