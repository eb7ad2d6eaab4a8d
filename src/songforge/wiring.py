"""Which dialects this server speaks, and the set-up every process needs before it writes a job.

The domain publishes events (`songforge.core.events`) and each dialect subscribes to send its
own callbacks. Registration is per process, so every process that writes job changes calls
`install()` first: the API process (`server.create_app`), each local worker process (the pool
runs it as the child's set-up), `songforge worker`, and the test session. It is idempotent, so
calling it twice is harmless; forgetting it is logged by `core.events` on the first event.

A dialect is a package under `songforge.dialects` that exposes `PREFIX` and `router` (its
routes), `SUBSCRIBERS` (its event subscribers), and `ERROR_PREFIX` with `render_http_error`
(its shape for the framework's own errors: unknown route, wrong method). A new dialect is one new
package plus one entry in `dialects()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from fastapi import Request, Response

from songforge.core import events
from songforge.core.events import Subscriber

__all__ = ["Dialect", "dialects", "install"]


class Dialect(Protocol):
    """What the composition root uses of a dialect package (modules satisfy it structurally)."""

    PREFIX: str
    ERROR_PREFIX: str
    SUBSCRIBERS: tuple[Subscriber, ...]

    def render_http_error(
        self, request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
    ) -> Response: ...


def dialects() -> tuple[Dialect, ...]:
    """The mounted dialects, in the order their subscribers hear of an event."""
    from songforge.dialects import platform, tempolor_v1

    return (tempolor_v1, platform)


def install() -> None:
    """Registers every dialect's subscribers in this process. Idempotent."""
    for dialect in dialects():
        for subscriber in dialect.SUBSCRIBERS:
            events.subscribe(subscriber)
