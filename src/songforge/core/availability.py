"""Which models are served right now: what the studio's model picker may offer.

Why here and from the workers' reports: a model is made by the first engine of its route that can take
it (`scheduler.engine_for`: SONGFORGE_MODEL_ENGINES and SONGFORGE_UPSTREAM_MODELS, else the account's
engine), and a job for an engine no running worker has ready would wait in the queue for nobody. So a
model is available when its chain holds an engine that a live worker reports ready
(`store.worker_engines`), or the embedded engine, which is always ready: every server and local
worker checks its SoundFont and FluidSynth at start and refuses to run without them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from songforge import config
from songforge.store.worker_engines import ready_engines

__all__ = ["ALWAYS_READY", "ModelServed", "models_served"]

ALWAYS_READY = frozenset({"embedded"})


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


def models_served(session: Session, account_engine: str, *, now: int | None = None) -> list[ModelServed]:
    """Every model in catalogue order, for an account whose engine is `account_engine`. Raises
    ValueError for a malformed route (the server refuses to start with one, so only a changed
    environment gets here)."""
    ready = ready_engines(session, now=now) | ALWAYS_READY
    routes = config.model_engines()
    out = []
    for profile in config.MODEL_PROFILES:
        chain = routes.get(profile.name) or (account_engine,)
        engine = next((name for name in chain if name in ready), None)
        default = config.DEFAULT_MODELS[profile.kind] == profile.name
        out.append(ModelServed(profile.name, profile.kind, chain, engine, default))
    return out
