"""`songforge prune`: deletes finished jobs past the retention period, with their files.

Why a command as well as the server's hourly round: an operator bounds disk now (or from cron,
with the server stopped), and `--dry-run` shows what a setting would delete before it is set.
"""

from __future__ import annotations

from pathlib import Path

import typer

from songforge.cli.common import DataDir, DbUrl, build_settings, err, open_db, out

__all__ = ["app"]

app = typer.Typer()


@app.command("prune")
def prune(
    days: int | None = typer.Option(
        None, "--days", min=1, help="Keep finished jobs this many days [default: $SONGFORGE_RETENTION_DAYS]"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count what would be deleted"),
    data_dir: Path | None = DataDir,
    database_url: str | None = DbUrl,
) -> None:
    """Delete completed and failed jobs older than the retention period: rows, files, callbacks."""
    from songforge.store.factory import open_blob_store
    from songforge.workers.retention import prune_finished

    settings = build_settings(data_dir, database_url)
    keep = days if days is not None else settings.retention_days
    if keep is None:
        err.print("[red]no retention period: pass --days N or set SONGFORGE_RETENTION_DAYS[/red]")
        raise typer.Exit(2)
    db = open_db(settings)
    try:
        pruned = prune_finished(db, open_blob_store(settings), keep, dry_run=dry_run)
    finally:
        db.dispose()
    verb = "would delete" if dry_run else "deleted"
    out.print(
        f"{verb} {pruned.jobs} finished job(s) older than {keep} day(s), with their files "
        f"and {pruned.deliveries} callback row(s)"
    )
