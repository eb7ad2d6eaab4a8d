"""`songforge upstream add|list|remove|resume`: the TemPolor Open API keys the `tempolor` engine sends.

Why the key is read from stdin (or a hidden prompt) and never taken as an argument: arguments end
up in shell history and in every user's `ps`. It is stored Fernet-encrypted (see
songforge.store.upstream) and never printed again: `list` shows its first and last characters.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from songforge.cli.common import DataDir, DbUrl, build_settings, err, open_db, out

__all__ = ["upstream_app"]

DEFAULT_BASE_URL = "https://api.tempolor.com"

upstream_app = typer.Typer(
    help="Manage the upstream TemPolor Open API keys of the `tempolor` engine.", no_args_is_help=True
)


def _read_key() -> str:
    if sys.stdin.isatty():
        return str(typer.prompt("API key (Tempo-...)", hide_input=True))
    return sys.stdin.readline().strip()


@upstream_app.command("add")
def upstream_add(
    base_url: str = typer.Option(
        DEFAULT_BASE_URL, "--base-url", help="The upstream's base URL (China: https://api.tianpuyue.cn)"
    ),
    max_jobs: int = typer.Option(1, "--max-jobs", help="Parallel tasks this key may have on the upstream"),
    label: str = typer.Option("", "--label", help="A name to recognise the key by"),
    data_dir: Path | None = DataDir,
    database_url: str | None = DbUrl,
) -> None:
    """Add a key, read from stdin (or a hidden prompt). Prints the key's id."""
    from songforge.store.upstream import add_key, key_box

    settings = build_settings(data_dir, database_url)
    api_key = _read_key()
    db = open_db(settings)
    try:
        with db.session() as s:
            row = add_key(
                s,
                key_box(settings.data_dir),
                base_url=base_url,
                api_key=api_key,
                max_jobs=max_jobs,
                label=label,
            )
            key_id, hint, url = row.id, row.hint, row.base_url
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    out.print(f"Added upstream key {key_id} ({hint}) for {url}, {max_jobs} parallel task(s)")
    print(key_id, flush=True)


@upstream_app.command("list")
def upstream_list(data_dir: Path | None = DataDir, database_url: str | None = DbUrl) -> None:
    """List the keys: base URL, limit, slots in use, state (and why a key is paused or disabled)."""
    from songforge.store.upstream import list_keys

    db = open_db(build_settings(data_dir, database_url))
    try:
        with db.session() as s:
            rows = [
                (k.id, k.label, k.hint, k.base_url, k.max_jobs, busy, k.state, k.reason)
                for k, busy in list_keys(s)
            ]
    finally:
        db.dispose()
    # Plain lines, not a table: a reason must never be cut to the terminal's width.
    out.print("id\tstate\tbusy/max\tkey\tbase url\tlabel\treason", highlight=False)
    for key_id, label, hint, url, limit, busy, state, reason in rows:
        out.print(
            f"{key_id}\t{state}\t{busy}/{limit}\t{hint}\t{url}\t{label}\t{reason or ''}",
            highlight=False,
            soft_wrap=True,
        )


def _change(key_id: int, data_dir: Path | None, database_url: str | None, *, remove: bool) -> None:
    from songforge.store.upstream import ACTIVE, remove_key, set_key_state

    db = open_db(build_settings(data_dir, database_url))
    try:
        with db.session() as s:
            found = remove_key(s, key_id) if remove else set_key_state(s, key_id, ACTIVE, None)
    finally:
        db.dispose()
    if not found:
        err.print(f"[red]no upstream key {key_id}[/red]")
        raise typer.Exit(1)
    out.print(f"{'Removed' if remove else 'Resumed'} upstream key {key_id}")


@upstream_app.command("remove")
def upstream_remove(
    key_id: int = typer.Argument(..., help="The key's id (see `upstream list`)"),
    data_dir: Path | None = DataDir,
    database_url: str | None = DbUrl,
) -> None:
    """Remove a key. Tasks it already sent are still polled with it until they end."""
    _change(key_id, data_dir, database_url, remove=True)


@upstream_app.command("resume")
def upstream_resume(
    key_id: int = typer.Argument(..., help="The key's id (see `upstream list`)"),
    data_dir: Path | None = DataDir,
    database_url: str | None = DbUrl,
) -> None:
    """Make a paused (out of points) or disabled (refused) key active again."""
    _change(key_id, data_dir, database_url, remove=False)
