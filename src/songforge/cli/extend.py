"""`songforge extend ITEM_ID --at SECONDS [--lyrics FILE] -o out.mp3`: a stored work, continued.

Why without a server: the work's files and record are in the local data dir, and an extension is
the same engine call the worker makes (`songforge.workers.extend`), so the command reads them the
same way and writes only the output file; no job is created.
"""

from __future__ import annotations

from pathlib import Path

import typer

from songforge.cli.common import DataDir, DbUrl, build_settings, engine_problem, err, open_db, out
from songforge.cli.render import AUDIO_FORMATS, output_format, progress_bar

__all__ = ["app"]

app = typer.Typer()


@app.command()
def extend(
    item_id: str = typer.Argument(..., help="The completed work to extend (its item id)"),
    at: float = typer.Option(..., "--at", min=0.0, help="Seconds into the work (moved back to its bar line)"),
    output: Path = typer.Option(..., "-o", "--output", help="Output file: .wav, .flac, .mp3 or .zip (stems)"),
    lyrics: Path | None = typer.Option(None, "--lyrics", help="A text file the continuation sings (songs)"),
    data_dir: Path | None = DataDir,
    database_url: str | None = DbUrl,
) -> None:
    """The work up to --at, then more of the same song, written to a file (no job is created)."""
    from songforge.audio.encode import write_audio, write_stems_zip
    from songforge.engines.base import SAMPLE_RATE
    from songforge.engines.embedded.extend import extend as extend_work
    from songforge.store.factory import open_blob_store
    from songforge.store.models import Job
    from songforge.workers.context import WorkerContext
    from songforge.workers.extend import extender_for, source_work
    from songforge.workers.generate import build_request

    try:
        fmt = output_format(output, (*AUDIO_FORMATS, "zip"))
        sung = lyrics.read_text(encoding="utf-8") if lyrics is not None else None
    except (ValueError, OSError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    problem = engine_problem()
    if problem:
        err.print(f"[red]{problem}[/red]")
        raise typer.Exit(1)
    settings = build_settings(data_dir, database_url)
    db = open_db(settings)
    ctx = WorkerContext(db=db, blobs=open_blob_store(settings), settings=settings)
    with db.session() as s:
        job = s.get(Job, item_id.strip())
        if job is None:
            err.print(f"[red]No work {item_id} in {settings.data_dir}[/red]")
            raise typer.Exit(1)
        s.expunge(job)
    length = float((job.material or {}).get("dur") or 0)
    if at > length:
        err.print(f"[red]--at {at:g} s is past the end of {item_id} ({length:.0f} s)[/red]")
        raise typer.Exit(1)
    try:
        source, _ = source_work(ctx, job, {"item_id": job.item_id, "start_time": at}, build_request)
        with progress_bar("composing") as report:
            # The engine that made the work continues it (acestep: its repaint), as in a worker.
            extend_with = extender_for(job.engine or "embedded") or extend_work
            result = extend_with(source, at, lyrics=sung if job.kind == "song" else None, progress=report)
        output.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "zip":
            write_stems_zip(output, result.stems, SAMPLE_RATE)
        else:
            write_audio(output, result.mix, SAMPLE_RATE, fmt, title=result.title)
    except Exception as exc:  # noqa: BLE001 - reported as the command's error
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    info = result.extra["extension"]
    if info.get("splice_at") is None:  # acestep without the repaint task: a new track
        out.print(f"Wrote {output}: a new track, not a continuation of {item_id} ({info.get('reason')})")
        return
    out.print(
        f"Wrote {output}: {item_id} up to {info['splice_at']:.2f} s (the bar line at or before {at:g} s), "
        f"then {len(result.mix) / SAMPLE_RATE - info['splice_at']:.1f} s more; "
        f"{result.material.get('key')}, {result.material.get('bpm')} BPM"
    )
