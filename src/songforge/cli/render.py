"""`songforge instrumental|song|stems`: the same engines the server runs, without a server.

One progress bar for every command, and the output format follows the file extension (.wav,
.flac, .mp3, or .zip for stems), through the same encoders the downloads use.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from songforge.cli.common import engine_problem, err, out
from songforge.config import DEFAULT_ENGINE, DEFAULT_MODELS, ModelKind, model_names
from songforge.engines.base import SAMPLE_RATE, GenerationRequest, GenerationResult

__all__ = ["app", "new_seed", "output_format", "render", "split"]

app = typer.Typer()

AUDIO_FORMATS = ("wav", "flac", "mp3")
CONTENT_TYPES = {".mp3": "audio/mpeg", ".wav": "audio/wav", ".flac": "audio/flac", ".m4a": "audio/mp4"}


@contextmanager
def progress_bar(first_stage: str) -> Iterator[Callable[[int, str], None]]:
    with Progress(
        TextColumn("[bold]{task.description:<12}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
    ) as bar:
        task = bar.add_task(first_stage, total=100)

        def report(pct: int, stage: str) -> None:
            bar.update(task, completed=pct, description=stage)

        yield report
        bar.update(task, completed=100, description="done")


def output_format(path: Path, allowed: tuple[str, ...] = AUDIO_FORMATS) -> str:
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in allowed:
        raise ValueError(f"Output file must end in one of: {', '.join('.' + f for f in allowed)}")
    return fmt


def render(request: GenerationRequest, out_path: Path) -> GenerationResult:
    """Generates with the default engine (the server's, for accounts that name none) and writes
    the mix (or a stems zip for .zip)."""
    from songforge.audio.encode import write_audio, write_stems_zip
    from songforge.engines.registry import get_engine

    fmt = output_format(out_path, (*AUDIO_FORMATS, "zip"))
    with progress_bar("composing") as report:
        result = get_engine(DEFAULT_ENGINE).generate(request, report)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "zip":
        write_stems_zip(out_path, result.stems, SAMPLE_RATE)
    else:
        write_audio(out_path, result.mix, SAMPLE_RATE, fmt, title=result.title)
    return result


def new_seed(seed: int | None) -> int:
    return seed if seed is not None else secrets.randbelow(2**31)


def split(source: Path, out_zip: Path, method: str = "auto", two_stems: bool = False) -> dict[str, Any]:
    """Splits a local file into a stems zip, with the same checks an upload gets."""
    from songforge.engines.separation.split import split_file

    content_type = CONTENT_TYPES.get(source.suffix.lower())
    if content_type is None:
        raise ValueError(f"Input must be one of: {', '.join(CONTENT_TYPES)}")
    output_format(out_zip, ("zip",))
    with progress_bar("decoding") as report:
        return split_file(source, content_type, out_zip, method=method, two_stems=two_stems, progress=report)


def _models_help(kind: ModelKind) -> str:
    """The catalogue's names for `kind`, as help text: "v3, v3.5, v4.5 or v4.8"."""
    *first, last = model_names(kind)
    return f"{', '.join(first)} or {last}" if first else last


def _render_locally(request: GenerationRequest, output: Path) -> None:
    """Shared by `instrumental` and `song`: engine readiness, rendering, errors as messages."""
    problem = engine_problem()
    if problem:
        err.print(f"[red]{problem}[/red]")
        raise typer.Exit(1)
    try:
        result = render(request, output)
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
    model: str = typer.Option(DEFAULT_MODELS["instrumental"], "--model", help=_models_help("instrumental")),
    seed: int | None = typer.Option(None, "--seed", help="Same seed, same request: identical audio"),
    midi: Path | None = typer.Option(None, "--midi", help="A MIDI file to build on"),
) -> None:
    """Render an instrumental to a file without the server."""
    _render_locally(
        GenerationRequest(
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
    model: str = typer.Option(DEFAULT_MODELS["song"], "--model", help=_models_help("song")),
    seed: int | None = typer.Option(None, "--seed", help="Same seed, same request: identical audio"),
    midi: Path | None = typer.Option(None, "--midi", help="A MIDI file whose melody is sung"),
) -> None:
    """Render a song with sung vocals to a file without the server."""
    from songforge.engines.singing.voices import artist_voice

    text = lyrics.read_text(encoding="utf-8") if lyrics else None
    profile = None
    if voice:
        profile = artist_voice(voice)
        if profile is None:
            err.print(f"[red]Unknown artist voice {voice!r}[/red]")
            raise typer.Exit(1)
    _render_locally(
        GenerationRequest(
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
    method: str = typer.Option(
        "auto",
        "--method",
        help="auto, spleeter (bundled model, the neural extra), harmonic, centre, repet, repet-centre, "
        "learned, demucs, htdemucs, htdemucs_ft or htdemucs_6s (Demucs needs SONGFORGE_DEMUCS_WEIGHTS)",
    ),
    two_stems: bool = typer.Option(False, "--two-stems", help="vocals and accompaniment only (karaoke)"),
) -> None:
    """Split a recording into vocals, drums, bass and other (or vocals and accompaniment)."""
    try:
        info = split(source, output, method=method, two_stems=two_stems)
    except Exception as exc:  # noqa: BLE001 - reported as the command's error
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    out.print(
        f"Wrote {output}: {', '.join(info.get('detail', []))} ({info.get('audioType')}), "
        f"by {info.get('method')}"
    )
    if info.get("methodNote"):
        err.print(f"[yellow]{info['methodNote']}[/yellow]")
