"""`songforge serve`, `songforge worker` and `songforge db`: running the server and its schema."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from songforge.cli.common import (
    BlobStoreOpt,
    DataDir,
    DbUrl,
    QueueUrl,
    S3Endpoint,
    apply_scale_out,
    build_settings,
    engine_problem,
    err,
    open_db,
    out,
)
from songforge.cli.deployment import join_deployment
from songforge.config import Settings, deployment_problem
from songforge.store.private import private_dir

__all__ = ["app", "db_app"]

app = typer.Typer()
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on"),
    port: int = typer.Option(8000, "--port", help="Port to listen on"),
    data_dir: Path | None = DataDir,
    workers: int | None = typer.Option(None, "--workers", help="Worker processes [default: one per core]"),
    api_processes: int | None = typer.Option(
        None,
        "--api-processes",
        help="Processes answering HTTP on the one socket: the first also runs the workers and callbacks, "
        "the others the API alone [default: $SONGFORGE_API_PROCESSES, else 1]",
    ),
    allow_private_callbacks: bool | None = typer.Option(
        None,
        "--allow-private-callbacks/--no-allow-private-callbacks",
        help="Allow replyUrl targets on private/loopback addresses, for every API and worker of the "
        "deployment (stored in the database) [default: what is stored, else only on a loopback --host]",
    ),
    database_url: str | None = DbUrl,
    queue: str | None = QueueUrl,
    blob_store: str | None = BlobStoreOpt,
    s3_endpoint: str | None = S3Endpoint,
    log_level: str = typer.Option("info", "--log-level"),
) -> None:
    """Run the HTTP API and its generation workers (with --queue: the API only; run `songforge
    worker` processes for generation)."""
    from songforge.cli.api_processes import serve as serve_api

    settings = build_settings(data_dir, database_url, host=host, port=port)
    apply_scale_out(settings, queue, blob_store, s3_endpoint)
    refuse_unworkable(settings)
    if workers is not None:
        if workers < 0:
            err.print("[red]--workers must be 0 or more[/red]")
            raise typer.Exit(2)
        settings.workers = workers
    if api_processes is not None:
        settings.api_processes = api_processes
    if settings.api_processes < 1:
        err.print("[red]--api-processes must be 1 or more[/red]")
        raise typer.Exit(2)
    settings.allow_private_callbacks = allow_private_callbacks
    if settings.workers > 0 and not settings.queue_url:
        problem = engine_problem()
        if problem:
            err.print(f"[red]Cannot start: {problem}[/red]")
            raise typer.Exit(1)
    logging.basicConfig(level=getattr(logging, log_level.upper(), logging.INFO))
    join_deployment(settings, "serve", allow_private_callbacks)
    where = f"queue: {settings.queue_url}" if settings.queue_url else f"workers: {settings.workers}"
    if settings.api_processes > 1:
        where += f"  API processes: {settings.api_processes}"
    err.print(f"Songforge on http://{host}:{port}  data: {settings.data_dir.resolve()}  {where}")
    serve_api(settings, log_level)


@app.command()
def worker(
    queue: str | None = QueueUrl,
    database_url: str | None = DbUrl,
    blob_store: str | None = BlobStoreOpt,
    s3_endpoint: str | None = S3Endpoint,
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        help="Local scratch and S3 download cache [default: ./data or $SONGFORGE_DATA_DIR]",
    ),
    worker_id: str | None = typer.Option(None, "--id", help="Worker id [default: host-pid-random]"),
    callbacks: bool = typer.Option(
        True, "--callbacks/--no-callbacks", help="Also deliver replyUrl callbacks from the outbox"
    ),
    allow_private_callbacks: bool | None = typer.Option(
        None,
        "--allow-private-callbacks/--no-allow-private-callbacks",
        help="Workers follow the deployment's callback-target policy (set by `songforge serve` or "
        "`songforge deployment private-callbacks`); a flag that contradicts it is refused [default: the "
        "stored policy]",
    ),
    processes: int | None = typer.Option(
        None,
        "--processes",
        help="Run N worker processes and restart any that exits (one per core or GPU) [default: this "
        "process is the one worker]",
    ),
    engines: str | None = typer.Option(
        None,
        "--engines",
        help="Comma-separated engines whose jobs this worker takes, e.g. acestep on a GPU machine "
        "[default: $SONGFORGE_WORKER_ENGINES, else every engine ready here]",
    ),
    log_level: str = typer.Option("info", "--log-level"),
) -> None:
    """Run a generation worker fed by the distributed queue (with --processes N: N of them, supervised)."""
    settings = build_settings(data_dir, database_url)
    apply_scale_out(settings, queue, blob_store, s3_endpoint)
    if not settings.queue_url:
        err.print("[red]songforge worker needs --queue redis://... (or $SONGFORGE_QUEUE)[/red]")
        raise typer.Exit(2)
    refuse_unworkable(settings)
    if processes is not None and processes < 1:
        err.print("[red]--processes must be 1 or more[/red]")
        raise typer.Exit(2)
    if engines is not None:
        settings.worker_engines = tuple(name.strip() for name in engines.split(",") if name.strip())
    # A worker's engines decide which jobs it takes: a route to acestep alone is the APIs' concern
    # (CPU workers leave those jobs to the GPU workers), a broken SONGFORGE_ACESTEP_WEIGHTS still is not.
    problem = engine_problem(check_routes=False)
    if problem:
        err.print(f"[red]Cannot start: {problem}[/red]")
        raise typer.Exit(1)
    from songforge.workers.distributed import worker_engines

    try:
        taken = worker_engines(settings)
    except ValueError as exc:
        err.print(f"[red]Cannot start: {exc}[/red]")
        raise typer.Exit(2) from None
    err.print(f"Worker engines: {', '.join(sorted(taken))}")
    join_deployment(settings, "worker", allow_private_callbacks)
    # Used only while nothing is stored (no API has started on this database yet): refused, as before.
    settings.allow_private_callbacks = False
    if processes is None:
        run_worker_process(settings, worker_id, callbacks, log_level)
        return
    from songforge.workers.supervisor import Supervisor

    _configure_logging(log_level)
    private_dir(settings.data_dir)
    err.print(f"Supervising {processes} worker process(es) on {settings.queue_url}")
    Supervisor(
        run_worker_process,
        processes,
        lambda i: (settings, f"{worker_id}-{i}" if worker_id else None, callbacks, log_level),
    ).run_forever()


def _configure_logging(log_level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.INFO),
        format="%(asctime)s %(process)d %(levelname)s %(message)s",
    )


def run_worker_process(settings: Settings, worker_id: str | None, callbacks: bool, log_level: str) -> None:
    """One distributed worker, in this process: `songforge worker` itself, or each child of
    `--processes` (module-level, so a spawned child can be given it)."""
    _configure_logging(log_level)
    from songforge.wiring import install
    from songforge.workers.distributed import DistributedWorker

    install()  # the dialects' callbacks for the job changes this worker writes
    private_dir(settings.data_dir)  # 0700, as the API makes it (songforge.store.private)
    DistributedWorker(settings, worker_id, callbacks=callbacks).run_forever()


def refuse_unworkable(settings: Settings) -> None:
    """Exits with status 2 and the reason when the settings cannot work (`config.deployment_problem`,
    and SONGFORGE_UPSTREAM_VOICES naming a voice we do not have, which only the engine can tell)."""
    problem = deployment_problem(settings) or _upstream_voices_problem()
    if problem:
        err.print(f"[red]Cannot start: {problem}[/red]", soft_wrap=True)
        raise typer.Exit(2)


def _upstream_voices_problem() -> str | None:
    from songforge.engines.tempolor.models import voice_table

    try:
        voice_table()
    except ValueError as exc:
        return str(exc)
    return None


@db_app.command("upgrade")
def db_upgrade(data_dir: Path | None = DataDir, database_url: str | None = DbUrl) -> None:
    """Apply schema migrations (the server also does this when it starts)."""
    from songforge.store.migrate import current_revision

    settings = build_settings(data_dir, database_url)
    open_db(settings).dispose()
    out.print(f"Database at revision {current_revision(settings.db_url)}")
