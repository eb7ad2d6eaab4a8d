"""`songforge token create|list|revoke`: Bearer tokens for /v1/tempolor, one tenant per token."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from songforge.cli.common import DataDir, DbUrl, build_settings, err, open_db, out

__all__ = ["token_app"]

token_app = typer.Typer(
    help="Create, list and revoke API tokens (one tenant per token).", no_args_is_help=True
)


@token_app.command("create")
def token_create(
    data_dir: Path | None = DataDir,
    name: str = typer.Option("", "--name", help="A label to recognise the token by"),
    database_url: str | None = DbUrl,
) -> None:
    """Create a token. The token is printed alone on the last line; keep it, it is not stored."""
    from songforge.core.tenants import create_token

    db = open_db(build_settings(data_dir, database_url))
    try:
        with db.session() as s:
            created = create_token(s, name)
    finally:
        db.dispose()
    out.print(f"Tenant:          {created.tenant_id} ({created.name or 'unnamed'})")
    out.print(f"Signing secret:  {created.signing_secret}  (verifies replyUrl callbacks, Standard Webhooks)")
    out.print("Token (shown once; use as 'Authorization: Bearer <token>'):")
    print(created.token, flush=True)


@token_app.command("list")
def token_list(data_dir: Path | None = DataDir, database_url: str | None = DbUrl) -> None:
    """List tokens (their prefixes; tokens themselves are never stored)."""
    from songforge.clock import iso_utc
    from songforge.core.tenants import list_tokens

    db = open_db(build_settings(data_dir, database_url))
    try:
        with db.session() as s:
            rows = [(t.id, t.name, t.token_prefix, t.created_ms, t.revoked_ms) for t in list_tokens(s)]
    finally:
        db.dispose()
    table = Table("tenant", "name", "prefix", "created", "status")
    for tid, name, prefix, created, revoked in rows:
        table.add_row(
            tid,
            name,
            f"sf_{prefix}_…",
            iso_utc(created),
            f"revoked {iso_utc(revoked)}" if revoked else "active",
        )
    out.print(table)


@token_app.command("revoke")
def token_revoke(
    ref: str = typer.Argument(..., help="Token prefix, tenant id, or name"),
    data_dir: Path | None = DataDir,
    database_url: str | None = DbUrl,
) -> None:
    """Revoke a token; running servers stop accepting it within seconds."""
    from songforge.core.tenants import revoke_token

    db = open_db(build_settings(data_dir, database_url))
    try:
        with db.session() as s:
            tenant = revoke_token(s, ref)
            out.print(f"Revoked token sf_{tenant.token_prefix}_… (tenant {tenant.id})")
    except LookupError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    finally:
        db.dispose()
