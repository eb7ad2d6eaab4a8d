"""Repair JSON values holding lone UTF-16 surrogates (stored before the edge refused them)

Revision ID: 0003_repair_lone_surrogates
Revises: 0002_openapi_keys
Create Date: 2026-12-02 09:00:00

Why a migration and not a check at every start: the API has refused lone surrogates at the edge since
this revision (`songforge.http.body`), so rows holding one can only predate it; the repair has to run
exactly once, on every database, before any server of the new version serves it, and Alembic is what
already runs exactly once per database (under the PostgreSQL advisory lock, for many replicas).

What could hold one: only JSON columns. A JSON serialiser escapes a surrogate as `\\udXXX`, which the
database keeps as text, while the drivers refuse to bind one into a plain text column (so those
requests failed instead of storing). Reading such a row back gave a str that UTF-8 cannot encode:
the record answered 500 forever, the list page holding it 500'd, an account holding it made
`GET /accounts` 500 for the whole tenant, and its callbacks could never be sent.

The repair: each lone surrogate becomes U+FFFD (the replacement character), everything else is kept;
each repaired row is logged with its table and key at WARNING. Downgrade changes nothing: the
original values were unusable.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003_repair_lone_surrogates"
down_revision: str | None = "0002_openapi_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("songforge.migrations")

# table -> (primary key, its JSON columns)
JSON_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "accounts": ("id", ("request_params",)),
    "jobs": ("item_id", ("request", "material", "extra", "blobs")),
    "midi_items": ("item_id", ("info",)),
    "voices": ("item_id", ("profile",)),
    "stems_tasks": ("item_id", ("blobs", "detail", "openapi")),
    "callback_deliveries": ("id", ("payload",)),
}
_BATCH = 500


def _clean(text: str) -> str:
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


def repaired(value: Any) -> tuple[Any, bool]:
    """`value` with every lone surrogate (in keys and strings, at any depth) replaced; and whether
    anything was. Iterative: a stored value may be nested deeper than the recursion limit."""
    changed = False

    def fix(s: str) -> str:
        nonlocal changed
        try:
            s.encode("utf-8")
            return s
        except UnicodeEncodeError:
            changed = True
            return _clean(s)

    root: list[Any] = [value]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        parent, key = stack.pop()
        item = parent[key]
        if isinstance(item, str):
            parent[key] = fix(item)
        elif isinstance(item, list):
            stack.extend((item, i) for i in range(len(item)))
        elif isinstance(item, dict):
            for k in list(item):
                fixed = fix(k)
                if fixed != k:
                    item[fixed] = item.pop(k)
                stack.append((item, fixed))
    return root[0], changed


def upgrade() -> None:
    bind = op.get_bind()
    for table_name, (pk, columns) in JSON_COLUMNS.items():
        table = sa.table(table_name, sa.column(pk), *(sa.column(c, sa.JSON) for c in columns))
        raw = [sa.cast(sa.column(c), sa.Text).label(c) for c in columns]
        last: Any = None
        while True:
            after = sa.true() if last is None else sa.column(pk) > last
            query: Any = (  # Select over a computed column list: mypy cannot infer its row type
                sa.select(sa.column(pk), *raw)
                .select_from(sa.table(table_name))
                .where(after)
                .order_by(sa.column(pk))
            )
            rows = bind.execute(query.limit(_BATCH)).all()
            if not rows:
                break
            last = rows[-1][0]
            for row in rows:
                updates: dict[str, Any] = {}
                for column, text in zip(columns, row[1:], strict=True):
                    # Only text with a \\udXXX escape can decode to a surrogate: skip the rest unparsed.
                    if not isinstance(text, str) or "\\ud" not in text.lower():
                        continue
                    try:
                        value, changed = repaired(json.loads(text))
                    except (ValueError, RecursionError):
                        log.warning(
                            "unreadable JSON left as it is: %s %s=%s (%s)", table_name, pk, row[0], column
                        )
                        continue
                    if changed:
                        updates[column] = value
                if updates:
                    bind.execute(table.update().where(table.c[pk] == row[0]).values(**updates))
                    log.warning(
                        "repaired lone UTF-16 surrogates in %s %s=%s (%s)",
                        table_name,
                        pk,
                        row[0],
                        ", ".join(updates),
                    )


def downgrade() -> None:
    pass
