"""What the domain announces when it writes a change, for the dialects to act on.

Why events: a job's change is reported in each dialect's own shape (a /v1/tempolor record to the
job's replyUrl, the platform's per-file events to its callback_url). The domain knows neither;
it publishes "this job changed" and each dialect's subscriber decides whether and what to send,
in the shape of Dramatiq's middleware hooks.

Subscribers run inside the writing transaction: they get the session that wrote the change, so
what they add (outbox rows) commits or rolls back with it, and a crash can never leave a change
without its callback or a callback without its change. For the same reason a subscriber that
raises makes the write fail rather than being skipped.

Subscribers are registered once per process by the composition root (`songforge.wiring.install`).
Publishing with none registered is a wiring mistake that would drop callbacks without a trace, so
it is logged as a warning (once per process).
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from sqlalchemy.orm import Session

from songforge.store.models import Job, StemsTask

__all__ = [
    "Hub",
    "Subscriber",
    "publish_job_changed",
    "publish_stems_finished",
    "subscribe",
    "subscribers",
]

log = logging.getLogger("songforge.events")


class Subscriber(Protocol):
    """The hooks a subscriber may implement. Subclass it to inherit no-op defaults for the
    hooks it does not care about (as a Dramatiq middleware does)."""

    def job_changed(self, session: Session, job: Job, *, is_final: bool) -> None:
        """A job was claimed, made progress worth reporting, or reached its final state
        (`is_final`: completed or failed). `job` is the row as just written."""
        return None

    def stems_finished(self, session: Session, task: StemsTask) -> None:
        """A stems task reached its final state (completed or failed)."""
        return None


class Hub(Subscriber):
    """A set of subscribers that is itself a subscriber: publishing calls each one in the order
    they subscribed."""

    def __init__(self) -> None:
        self._subscribers: tuple[Subscriber, ...] = ()
        self._lock = threading.Lock()
        self._warned = False

    def subscribe(self, subscriber: Subscriber) -> None:
        """Adds `subscriber`; adding one that is already there changes nothing (idempotent)."""
        with self._lock:
            if subscriber not in self._subscribers:
                self._subscribers = (*self._subscribers, subscriber)

    @property
    def subscribers(self) -> tuple[Subscriber, ...]:
        return self._subscribers

    def _current(self, event: str) -> tuple[Subscriber, ...]:
        current = self._subscribers
        if not current and not self._warned:
            self._warned = True
            log.warning(
                "%s published with no subscriber registered: no callbacks are written in this "
                "process (its entry point must call songforge.wiring.install())",
                event,
            )
        return current

    def job_changed(self, session: Session, job: Job, *, is_final: bool) -> None:
        for subscriber in self._current("job_changed"):
            subscriber.job_changed(session, job, is_final=is_final)

    def stems_finished(self, session: Session, task: StemsTask) -> None:
        for subscriber in self._current("stems_finished"):
            subscriber.stems_finished(session, task)


_HUB = Hub()


def subscribe(subscriber: Subscriber) -> None:
    """Registers `subscriber` for this process (idempotent)."""
    _HUB.subscribe(subscriber)


def subscribers() -> tuple[Subscriber, ...]:
    """The subscribers registered in this process, in calling order."""
    return _HUB.subscribers


def publish_job_changed(session: Session, job: Job, *, is_final: bool) -> None:
    """Announces a job's change inside the transaction (`session`) that wrote it."""
    _HUB.job_changed(session, job, is_final=is_final)


def publish_stems_finished(session: Session, task: StemsTask) -> None:
    """Announces a stems task's final state inside the transaction that wrote it."""
    _HUB.stems_finished(session, task)
