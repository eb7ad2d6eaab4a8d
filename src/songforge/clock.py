"""One place for time, so records agree on units (integer milliseconds, UTC)."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_ms() -> int:
    return int(time.time() * 1000)


def iso_utc(ms: int) -> str:
    """ISO 8601 with milliseconds and a Z, as the spec's `updatedUTC` shows."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def elapsed_mmss(since_ms: int, now: int | None = None) -> str:
    seconds = max(0, ((now if now is not None else now_ms()) - since_ms) // 1000)
    return f"{seconds // 60:02d}:{seconds % 60:02d}"
