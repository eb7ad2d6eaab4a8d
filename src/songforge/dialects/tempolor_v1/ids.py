"""Ids as the hosted service shapes them: `user:<tenant>-tempolor:<user_id>-job:<itemId>`.

The domain knows only the item id at the end (`songforge.core.ids`); this dialect writes the
rest around it in every record, and parses it back only to reject malformed ids early: ownership
is always checked by looking the item up under the caller's tenant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["KINDS", "ParsedId", "make_id", "parse_id"]

KINDS = ("job", "voice", "midi", "stems")
_ID_RE = re.compile(r"^user:([A-Za-z0-9_]+)-tempolor:(.+)-(job|voice|midi|stems):([A-Za-z0-9]+)$")


@dataclass(frozen=True)
class ParsedId:
    tenant_id: str
    user_id: str
    kind: str
    item_id: str


def make_id(tenant_id: str, user_id: str, item_id: str, kind: str = "job") -> str:
    return f"user:{tenant_id}-tempolor:{user_id}-{kind}:{item_id}"


def parse_id(value: str, kind: str | None = None) -> ParsedId:
    """Raises ValueError when `value` is not an id of the expected kind."""
    m = _ID_RE.match(value or "")
    if not m or (kind is not None and m.group(3) != kind):
        raise ValueError(f"{kind or 'job'}_id has incorrect format")
    return ParsedId(m.group(1), m.group(2), m.group(3), m.group(4))
