"""Local rendering for the CLI: the same engines the server runs, without a server.

One progress bar for every command, and the output format follows the file extension (.wav,
.flac, .mp3, or .zip for stems), through the same encoders the downloads use.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from songforge.engines.base import SAMPLE_RATE, GenerationRequest, GenerationResult

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
    """Generates with the embedded engine and writes the mix (or a stems zip for .zip)."""
    from songforge.audio.encode import write_audio, write_stems_zip
    from songforge.engines.embedded import EmbeddedEngine

    fmt = output_format(out_path, (*AUDIO_FORMATS, "zip"))
    with progress_bar("composing") as report:
        result = EmbeddedEngine().generate(request, report)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "zip":
        write_stems_zip(out_path, result.stems, SAMPLE_RATE)
    else:
        write_audio(out_path, result.mix, SAMPLE_RATE, fmt, title=result.title)
    return result


def new_seed(seed: int | None) -> int:
    return seed if seed is not None else secrets.randbelow(2**31)


def split(source: Path, out_zip: Path, method: str = "auto") -> dict[str, Any]:
    """Splits a local file into a stems zip, with the same checks an upload gets."""
    from songforge.engines.separation.split import split_file

    content_type = CONTENT_TYPES.get(source.suffix.lower())
    if content_type is None:
        raise ValueError(f"Input must be one of: {', '.join(CONTENT_TYPES)}")
    output_format(out_zip, ("zip",))
    with progress_bar("decoding") as report:
        return split_file(source, content_type, out_zip, method=method, progress=report)
