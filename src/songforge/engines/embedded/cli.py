"""Command-line rendering with a progress bar (the lead wires this into the `songforge` CLI)."""

from __future__ import annotations

from pathlib import Path

import soundfile as sf
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from songforge.engines.base import SAMPLE_RATE, GenerationRequest, GenerationResult


def render_instrumental(
    prompt: str,
    key: str | None = None,
    bpm: int | None = None,
    chords: str | None = None,
    model: str = "i3.5 beta",
    seed: int = 0,
    midi: Path | str | None = None,
    out_path: Path | str = "out.wav",
    max_seconds: float | None = None,
) -> GenerationResult:
    """Render one instrumental to a 16-bit WAV at `out_path`, showing progress; returns the result."""
    from songforge.engines.embedded import EmbeddedEngine

    request = GenerationRequest(
        kind="instrumental",
        prompt=prompt,
        model=model,
        seed=seed,
        tonality=key,
        bpm=bpm,
        chords=chords,
        midi_path=Path(midi) if midi else None,
        max_seconds=max_seconds,
    )
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
    ) as bar:
        task = bar.add_task("composing", total=100)

        def progress(pct: int, stage: str) -> None:
            bar.update(task, completed=pct, description=stage)

        result = EmbeddedEngine().generate(request, progress)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(out), result.mix, SAMPLE_RATE, subtype="PCM_16")
    return result
