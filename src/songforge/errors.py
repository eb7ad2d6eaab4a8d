"""Every error Songforge raises on purpose, under one root.

Why one hierarchy: the domain, the engines and the audio layer say *what* went wrong (bad input,
something missing, a limit, a busy account); each dialect at the edge decides *how* to say it
(a `/v1/tempolor` `{"error", "code"}` body with an HTTP status, or an Open API envelope code).
So nothing below the dialects knows an HTTP status or an API field name, and a dialect maps
errors by class, not by parsing messages.

    SongforgeError
    ├── InvalidInput          the caller sent something that breaks a rule (a 400 at the edge)
    │   ├── InvalidField      ... one named value: the domain's name for it, the rule it breaks
    │   ├── LimitExceeded     too long, too large, too many (a 413 where the dialect has one)
    │   └── ChordError        a chord symbol or progression that does not parse
    ├── NotFound              no such object for this caller (a 404)
    ├── Refused               understood, but not allowed in this state (a 400/403/409)
    ├── Busy                  the account or server is at its limit now; try later (a 429)
    ├── Unavailable           a part the operator has not installed or configured
    └── EngineError           an engine could not make what was asked
                              (ChordError is both: bad input an engine found)
"""

from __future__ import annotations

__all__ = [
    "Busy",
    "ChordError",
    "EngineError",
    "InvalidField",
    "InvalidInput",
    "LimitExceeded",
    "NotFound",
    "Refused",
    "SongforgeError",
    "Unavailable",
]


class SongforgeError(Exception):
    """The root: `except SongforgeError` catches every error raised on purpose."""


class InvalidInput(SongforgeError, ValueError):
    """Input that breaks a rule; the message names the field or value and the rule."""


class InvalidField(InvalidInput):
    """One value breaks a rule, told in parts so that each dialect can say it in its own words.

    `field` is the domain's name for the value (`max_jobs`, `request_params`), `key` a key inside it
    when the value is a mapping (`engine`), `rule` the rule phrased to follow a name ("must be
    between 1 and 100"). `str()` reads "max_jobs must be between 1 and 100"; a dialect maps `field`
    to its own parameter name and writes its own sentence around `rule`."""

    def __init__(self, field: str, rule: str, *, key: str | None = None) -> None:
        self.field = field
        self.key = key
        self.rule = rule
        super().__init__(f"{self.path} {rule}")

    @property
    def path(self) -> str:
        """`field`, or `field.key` for a key inside it."""
        return f"{self.field}.{self.key}" if self.key else self.field


class LimitExceeded(InvalidInput):
    """Input over a size, duration, rate or count limit."""


class NotFound(SongforgeError, LookupError):
    """No such object (or not one the caller may see)."""


class Refused(SongforgeError):
    """A valid request that cannot be carried out in the object's current state."""


class Busy(SongforgeError):
    """A limit on concurrent work is reached; the same request may succeed later."""


class Unavailable(SongforgeError):
    """A component (a model's weights, a system tool, a package) is missing or misconfigured."""


class EngineError(SongforgeError):
    """An engine failed to produce what was asked."""


class ChordError(InvalidInput, EngineError):
    """A chord symbol or progression that does not parse. `symbol` names the offending chord."""

    def __init__(self, symbol: str, message: str | None = None) -> None:
        self.symbol = symbol
        super().__init__(message or f"Unknown chord symbol: {symbol!r}")
