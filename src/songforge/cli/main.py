"""The `songforge` command: serve the API, manage tokens and the database, render from a shell."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from songforge.config import Settings, default_data_dir

app = typer.Typer(help="Songforge: self-hosted music generation with the TemPolor API.", no_args_is_help=True)
token_app = typer.Typer(
    help="Create, list and revoke API tokens (one tenant per token).", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(db_app, name="db")
# (added by the Open API engineer) `songforge key create|list|revoke` for /open-apis/v1.
from songforge.cli.keys import key_app  # noqa: E402

app.add_typer(key_app, name="key")

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


def _scale_out(
    settings: Settings, queue: str | None, blob_store: str | None, s3_endpoint: str | None
) -> None:
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


def _settings(data_dir: Path | None, database_url: str | None = None, **kw: object) -> Settings:
    settings = Settings(data_dir=data_dir or default_data_dir(), **kw)  # type: ignore[arg-type]
    if database_url:
        settings.database_url = database_url
    return settings


def _open_db(settings: Settings):  # type: ignore[no-untyped-def]
    from songforge.store.db import Database
    from songforge.store.migrate import upgrade_database

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_database(settings.db_url)
    return Database(settings.db_url)


def _engine_ready() -> str | None:
    """None when the embedded engine can render; otherwise what is missing."""
    try:
        from songforge.engines.embedded import check_ready
    except ImportError as exc:
        return f"the embedded engine is not installed: {exc}"
    try:
        check_ready()
    except Exception as exc:  # noqa: BLE001 - any failure is reported as the reason
        return str(exc) or type(exc).__name__
    return None


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on"),
    port: int = typer.Option(8000, "--port", help="Port to listen on"),
    data_dir: Path | None = DataDir,
    workers: int | None = typer.Option(None, "--workers", help="Worker processes [default: one per core]"),
    allow_private_callbacks: bool | None = typer.Option(
        None,
        "--allow-private-callbacks/--no-allow-private-callbacks",
        help="Allow replyUrl targets on private/loopback addresses [default: only on a loopback --host]",
    ),
    database_url: str | None = DbUrl,
    queue: str | None = QueueUrl,
    blob_store: str | None = BlobStoreOpt,
    s3_endpoint: str | None = S3Endpoint,
    log_level: str = typer.Option("info", "--log-level"),
) -> None:
    """Run the HTTP API and its generation workers (with --queue: the API only; run `songforge
    worker` processes for generation)."""
    import uvicorn

    from songforge.server import create_app

    settings = _settings(data_dir, database_url, host=host, port=port)
    _scale_out(settings, queue, blob_store, s3_endpoint)
    if workers is not None:
        if workers < 0:
            err.print("[red]--workers must be 0 or more[/red]")
            raise typer.Exit(2)
        settings.workers = workers
    settings.allow_private_callbacks = allow_private_callbacks
    if settings.workers > 0 and not settings.queue_url:
        problem = _engine_ready()
        if problem:
            err.print(f"[red]Cannot start: {problem}[/red]")
            raise typer.Exit(1)
    logging.basicConfig(level=getattr(logging, log_level.upper(), logging.INFO))
    where = f"queue: {settings.queue_url}" if settings.queue_url else f"workers: {settings.workers}"
    err.print(f"Songforge on http://{host}:{port}  data: {settings.data_dir.resolve()}  {where}")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
    )


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
    allow_private_callbacks: bool = typer.Option(
        False,
        "--allow-private-callbacks/--no-allow-private-callbacks",
        help="Allow replyUrl targets on private/loopback addresses",
    ),
    log_level: str = typer.Option("info", "--log-level"),
) -> None:
    """Run one generation worker fed by the distributed queue (run one per core or GPU)."""
    settings = _settings(data_dir, database_url)
    _scale_out(settings, queue, blob_store, s3_endpoint)
    if not settings.queue_url:
        err.print("[red]songforge worker needs --queue redis://... (or $SONGFORGE_QUEUE)[/red]")
        raise typer.Exit(2)
    if not settings.database_url:
        err.print("[yellow]No --database-url: using SQLite under the data dir (one machine only)[/yellow]")
    settings.allow_private_callbacks = allow_private_callbacks
    problem = _engine_ready()
    if problem:
        err.print(f"[red]Cannot start: {problem}[/red]")
        raise typer.Exit(1)
    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(message)s",
    )
    from songforge.workers.distributed import DistributedWorker

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    DistributedWorker(settings, worker_id, callbacks=callbacks).run_forever()


@token_app.command("create")
def token_create(
    data_dir: Path | None = DataDir,
    name: str = typer.Option("", "--name", help="A label to recognise the token by"),
    database_url: str | None = DbUrl,
) -> None:
    """Create a token. The token is printed alone on the last line; keep it, it is not stored."""
    from songforge.core.tenants import create_token

    db = _open_db(_settings(data_dir, database_url))
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
    from songforge.core.clock import iso_utc
    from songforge.core.tenants import list_tokens

    db = _open_db(_settings(data_dir, database_url))
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

    db = _open_db(_settings(data_dir, database_url))
    try:
        with db.session() as s:
            tenant = revoke_token(s, ref)
            out.print(f"Revoked token sf_{tenant.token_prefix}_… (tenant {tenant.id})")
    except LookupError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    finally:
        db.dispose()


@db_app.command("upgrade")
def db_upgrade(data_dir: Path | None = DataDir, database_url: str | None = DbUrl) -> None:
    """Apply schema migrations (the server also does this when it starts)."""
    from songforge.store.migrate import current_revision

    settings = _settings(data_dir, database_url)
    _open_db(settings).dispose()
    out.print(f"Database at revision {current_revision(settings.db_url)}")


def _render_locally(request_kwargs: dict, output: Path) -> None:
    """Shared by `instrumental` and `song`: engine readiness, rendering, errors as messages."""
    from songforge.cli.render import render
    from songforge.engines.base import GenerationRequest

    problem = _engine_ready()
    if problem:
        err.print(f"[red]{problem}[/red]")
        raise typer.Exit(1)
    try:
        result = render(GenerationRequest(**request_kwargs), output)
    except Exception as exc:  # noqa: BLE001 - reported as the command's error
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    m = result.material
    out.print(
        f"Wrote {output}: {result.title!r}, {m.get('style')}, {m.get('key')}, {m.get('bpm')} BPM, "
        f"{m.get('dur')} s, seed {m.get('seed')}"
    )


@app.command()
def instrumental(
    prompt: str = typer.Argument(..., help="What the music should be"),
    output: Path = typer.Option(..., "-o", "--output", help="Output file: .wav, .flac, .mp3 or .zip (stems)"),
    key: str | None = typer.Option(None, "--key", help="Tonality, e.g. C:major, F#:minor"),
    bpm: int | None = typer.Option(None, "--bpm", min=50, max=190),
    chords: str | None = typer.Option(None, "--chords", help='e.g. "C F G Am"'),
    model: str = typer.Option("i4", "--model", help="i3, i3.5 beta or i4"),
    seed: int | None = typer.Option(None, "--seed", help="Same seed, same request: identical audio"),
    midi: Path | None = typer.Option(None, "--midi", help="A MIDI file to build on"),
) -> None:
    """Render an instrumental to a file without the server."""
    from songforge.cli.render import new_seed

    _render_locally(
        dict(
            kind="instrumental",
            prompt=prompt,
            model=model,
            seed=new_seed(seed),
            tonality=key,
            bpm=bpm,
            chords=chords,
            midi_path=midi,
        ),
        output,
    )


@app.command()
def song(
    prompt: str = typer.Argument(..., help="What the song should be about and sound like"),
    output: Path = typer.Option(..., "-o", "--output", help="Output file: .mp3, .wav, .flac or .zip (stems)"),
    lyrics: Path | None = typer.Option(None, "--lyrics", help="A text file of lyrics ([Verse], [Chorus]...)"),
    voice: str | None = typer.Option(None, "--voice", help="An artist voice itemId (see the API's list)"),
    model: str = typer.Option("v4.8", "--model", help="v3, v3.5, v4.5 or v4.8"),
    seed: int | None = typer.Option(None, "--seed", help="Same seed, same request: identical audio"),
    midi: Path | None = typer.Option(None, "--midi", help="A MIDI file whose melody is sung"),
) -> None:
    """Render a song with sung vocals to a file without the server."""
    from songforge.cli.render import new_seed
    from songforge.engines.singing.voices import artist_voice

    text = lyrics.read_text(encoding="utf-8") if lyrics else None
    profile = None
    if voice:
        profile = artist_voice(voice)
        if profile is None:
            err.print(f"[red]Unknown artist voice {voice!r}[/red]")
            raise typer.Exit(1)
    _render_locally(
        dict(
            kind="song",
            prompt=prompt,
            model=model,
            seed=new_seed(seed),
            lyrics=text,
            voice=profile,
            midi_path=midi,
        ),
        output,
    )


@app.command()
def stems(
    source: Path = typer.Argument(..., exists=True, dir_okay=False, help="mp3, wav, m4a or flac"),
    output: Path = typer.Option(..., "-o", "--output", help="The stems zip to write"),
    method: str = typer.Option("auto", "--method", help="auto, a classical method, or demucs"),
) -> None:
    """Split a recording into vocals, drums, bass and other."""
    from songforge.cli.render import split

    try:
        info = split(source, output, method=method)
    except Exception as exc:  # noqa: BLE001 - reported as the command's error
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    out.print(f"Wrote {output}: {', '.join(info.get('detail', []))} ({info.get('audioType')})")


def main() -> None:
    app(prog_name="songforge")


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
