"""What every command group shares: the consoles, the storage options and opening the storage.

Why a module of its own: the command modules (`serve`, `tokens`, `keys`, `render`) all need these,
and `main` imports all of them to assemble the app; with the helpers in `main`, the groups had to
import `main` back (the old `cli_keys` -> `cli` circle).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from songforge.config import Settings, default_data_dir

if TYPE_CHECKING:  # imported where used: `songforge --help` should not load SQLAlchemy
    from songforge.store.db import Database

__all__ = [
    "BlobStoreOpt",
    "DataDir",
    "DbUrl",
    "QueueUrl",
    "S3Endpoint",
    "apply_scale_out",
    "build_settings",
    "engine_problem",
    "err",
    "open_db",
    "out",
]

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

DataDir = typer.Option(
    None, "--data-dir", help="Where everything is kept [default: ./data or $SONGFORGE_DATA_DIR]"
)
DbUrl = typer.Option(
    None,
    "--database-url",
    help="SQLAlchemy URL, e.g. postgresql://user@host/db [default: $SONGFORGE_DATABASE_URL, else SQLite "
    "under the data dir]",
)
QueueUrl = typer.Option(
    None,
    "--queue",
    help="Redis URL of the distributed job queue (Dramatiq), e.g. redis://host:6379/0 [default: "
    "$SONGFORGE_QUEUE; unset: in-process workers]",
)
BlobStoreOpt = typer.Option(
    None,
    "--blob-store",
    help="s3://bucket/prefix to keep files in S3 [default: $SONGFORGE_BLOB_STORE; unset: the data dir]",
)
S3Endpoint = typer.Option(
    None, "--s3-endpoint", help="S3 endpoint URL (MinIO, Ceph...) [default: $AWS_ENDPOINT_URL, else AWS]"
)


def build_settings(data_dir: Path | None, database_url: str | None = None, **overrides: Any) -> Settings:
    """Settings from the environment, with the command line's values on top."""
    settings = Settings(data_dir=data_dir or default_data_dir(), **overrides)
    if database_url:
        settings.database_url = database_url
    return settings


def apply_scale_out(
    settings: Settings, queue: str | None, blob_store: str | None, s3_endpoint: str | None
) -> None:
    """Puts the scale-out options on `settings`; exits with status 2 for a malformed one."""
    if queue:
        settings.queue_url = queue
    if blob_store:
        settings.blob_store = blob_store
    if s3_endpoint:
        settings.s3_endpoint = s3_endpoint
    if settings.queue_url and not settings.queue_url.startswith(("redis://", "rediss://", "unix://")):
        err.print("[red]--queue must be a redis:// (or rediss://) URL[/red]")
        raise typer.Exit(2)
    if settings.blob_store and not settings.blob_store.startswith("s3://"):
        err.print("[red]--blob-store must be s3://bucket/prefix[/red]")
        raise typer.Exit(2)


def open_db(settings: Settings) -> Database:
    """The settings' database, migrated to the newest schema (every command may be the first)."""
    from songforge.store.factory import open_database

    return open_database(settings, migrate=True)


def engine_problem(*, check_routes: bool = True) -> str | None:
    """None when the embedded engine can render; otherwise what is missing (and `acestep_problem`)."""
    try:
        from songforge.engines.embedded import check_ready
    except ImportError as exc:
        return f"the embedded engine is not installed: {exc}"
    try:
        check_ready()
    except Exception as exc:  # noqa: BLE001 - any failure is reported as the reason
        return str(exc) or type(exc).__name__
    return acestep_problem(check_routes=check_routes)


def acestep_problem(*, check_routes: bool = True) -> str | None:
    """Why this process must not start for the acestep engine, or None: SONGFORGE_ACESTEP_WEIGHTS set
    but not a complete checkpoint (a typo must not quietly route every song to the fallback), or (with
    `check_routes`) a model routed to acestep alone while it is not ready."""
    from songforge import config
    from songforge.engines.registry import readiness

    try:
        settings = config.acestep_settings()
        routes = config.model_engines()
    except ValueError as exc:
        return str(exc)
    reason = readiness(config.ACESTEP_ENGINE)
    if reason is None:
        return None
    if settings.weights is not None:
        return reason
    if not check_routes:
        return None
    alone = sorted(model for model, chain in routes.items() if chain == (config.ACESTEP_ENGINE,))
    if alone:
        return f"SONGFORGE_MODEL_ENGINES routes {', '.join(alone)} to acestep only, but {reason}"
    return None
