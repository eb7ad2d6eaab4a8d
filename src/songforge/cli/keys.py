"""`songforge key ...`: Open API keys (`Tempo-<32 chars>-3w`) for the /open-apis/v1 dialect.

A key opens an existing tenant (`--tenant`, so its jobs are shared with that tenant's Bearer
token) or, without `--tenant`, a new tenant whose Bearer token is printed too, so both dialects
can be used from the start. The key is printed alone on the last line and never stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from songforge.cli.common import DataDir, DbUrl, build_settings, err, open_db, out

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from songforge.store.db import Database

__all__ = ["key_app"]

key_app = typer.Typer(help="Create, list and revoke Open API keys (/open-apis/v1).", no_args_is_help=True)


def _open(data_dir: Path | None, database_url: str | None) -> Database:
    return open_db(build_settings(data_dir, database_url))


def _find_tenant(session: Session, ref: str) -> str:
    """A tenant by id, name or token prefix (`sf_<prefix>_...` accepted); exactly one must match."""
    from songforge.core.tenants import list_tokens

    ref = ref.strip()
    if ref.startswith("sf_"):
        ref = ref[3:].split("_", 1)[0]
    matches = [
        t
        for t in list_tokens(session)
        if t.revoked_ms is None and (t.id == ref or (t.name and t.name == ref) or t.token_prefix == ref)
    ]
    if len(matches) != 1:
        raise LookupError(
            f"no active tenant matches {ref!r}" if not matches else f"{len(matches)} tenants match {ref!r}"
        )
    return matches[0].id


@key_app.command("create")
def key_create(
    tenant: str | None = typer.Option(
        None, "--tenant", help="Tenant id, name or token prefix to bind the key to [default: a new tenant]"
    ),
    name: str = typer.Option("", "--name", help="A label to recognise the key by"),
    data_dir: Path | None = DataDir,
    database_url: str | None = DbUrl,
) -> None:
    """Create a key. It is printed alone on the last line; keep it, it is not stored."""
    from songforge.core.tenants import create_token
    from songforge.dialects.platform.keys import create_key

    db = _open(data_dir, database_url)
    token = None
    try:
        with db.session() as s:
            if tenant is None:
                created_token = create_token(s, name)
                tenant_id, token = created_token.tenant_id, created_token
            else:
                tenant_id = _find_tenant(s, tenant)
            created = create_key(s, tenant_id, name)
    except LookupError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    out.print(f"Tenant:          {created.tenant_id}")
    if token is not None:
        out.print(f"Bearer token:    {token.token}  (for /v1/tempolor; shown once)")
        out.print(f"Signing secret:  {token.signing_secret}  (verifies callbacks, Standard Webhooks)")
    out.print("Key (shown once; send as 'Authorization: <key>' to /open-apis/v1):")
    print(created.key, flush=True)


@key_app.command("list")
def key_list(data_dir: Path | None = DataDir, database_url: str | None = DbUrl) -> None:
    """List keys by prefix (keys themselves are never stored)."""
    from songforge.clock import iso_utc
    from songforge.dialects.platform.keys import list_keys

    db = _open(data_dir, database_url)
    try:
        with db.session() as s:
            rows = [
                (k.prefix, k.tenant_id, k.name, k.user_id, k.created_ms, k.revoked_ms) for k in list_keys(s)
            ]
    finally:
        db.dispose()
    table = Table("key", "tenant", "name", "account", "created", "status")
    for prefix, tenant_id, name, user_id, created, revoked in rows:
        table.add_row(
            f"Tempo-{prefix}…-3w",
            tenant_id,
            name,
            user_id or "(chosen on first use)",
            iso_utc(created),
            f"revoked {iso_utc(revoked)}" if revoked else "active",
        )
    out.print(table)


@key_app.command("revoke")
def key_revoke(
    ref: str = typer.Argument(..., help="Key prefix (the characters after 'Tempo-') or the whole key"),
    data_dir: Path | None = DataDir,
    database_url: str | None = DbUrl,
) -> None:
    """Revoke a key; the next request with it gets 400002."""
    from songforge.dialects.platform.keys import revoke_key

    db = _open(data_dir, database_url)
    try:
        with db.session() as s:
            row = revoke_key(s, ref)
            out.print(f"Revoked key Tempo-{row.prefix}…-3w (tenant {row.tenant_id})")
    except LookupError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    finally:
        db.dispose()
