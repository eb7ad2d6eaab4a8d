"""Extending a stored work with ACE-Step's repaint task: the source's own audio up to the splice, then
what ACE-Step paints after it with the source as its context.

Why repaint and not a new generation: the model hears the source (its latents are kept outside the
repainted region, and its audio is the timbre reference), so the continuation goes on in the same
sound, tempo and voice. diffusers' `AceStepPipeline` takes the source as `src_audio` (padded with
silence to the new length), `task_type="repaint"` and `repainting_start` / `repainting_end`; the
region runs from `CROSSFADE_S` before the splice to the end (`-1`), so the crossfade is painted too.

Why the stored audio is spliced in afterwards: the pipeline decodes the whole track through the VAE,
so even the kept region comes back only close to the source. The new work holds the stored files
sample for sample up to the splice (as the embedded engine's extension does, with its crossfade:
`embedded.extend.splice_audio`), and the continuation is levelled to the source over the seconds
before the repainted region (the pipeline normalises every output's peak).

Where the splice falls: at the bar line at or before `start_time` when the record has a tempo (the
embedded extension's rule, `splice_point`), else at `start_time` itself. The continuation is as long
as a new work of the source's request would be, within the cap of the whole work. Its stems come from
the separation engine and are spliced onto the stored stems the same way, so they still add up. A
song's continuation sings the lyrics given, else the source's chorus again; ACE-Step gets the whole
work's lyrics (those sung before the splice, then the new ones), and the new lines are spread over
the continuation by section (`lyrics_timing` "source+even"), as the engine's untimed lines are.

A pipeline without the repaint task (`pipeline.can_repaint`) makes a new track from the source's
request instead, and the record says so (`extension.method` "new-track", with the reason).
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

import numpy as np

from songforge.engines.acestep.engine import (
    INSTRUMENTAL_LYRICS,
    MAX_SECONDS,
    AceStepEngine,
    _Decisions,
    _fit,
    _resample,
    even_spans,
    keyscale_of,
    latent_frames,
    length_cap,
    timed_lines,
)
from songforge.engines.acestep.pipeline import Loaded, get_pipeline
from songforge.engines.base import SAMPLE_RATE, EngineError, GenerationRequest, GenerationResult, ProgressFn
from songforge.engines.embedded.extend import (
    CROSSFADE_S,
    SourceWork,
    Splice,
    continuation_lyrics,
    lyrics_of_lines,
    splice_audio,
    splice_point,
    splice_stems,
    start_within,
)

__all__ = ["MIN_CONTINUATION_S", "extend"]

MIN_CONTINUATION_S = 2.0  # an extension adds at least this much, whatever the cap
LEVEL_WINDOW_S = 3.0  # the seconds before the repainted region the continuation is levelled over
MAX_LEVEL_STEP_DB = 12.0
CEILING_DB = -1.0  # the pipeline's own peak normalisation target
REFERENCE_MIN_S = 1.0  # a shorter prefix is no timbre reference


def extend(
    source: SourceWork,
    start_time: float,
    *,
    lyrics: str | None = None,
    max_seconds: float | None = None,
    progress: ProgressFn | None = None,
) -> GenerationResult:
    """The source up to the splice, then ACE-Step's repaint of the rest, as the whole new work."""
    report = progress or (lambda _pct, _stage: None)
    t0 = time.perf_counter()
    report(1, "loading")
    engine = AceStepEngine()
    engine.check_ready()
    loaded = get_pipeline(engine.settings)
    request = _request(source, lyrics, max_seconds)
    if not loaded.repaint:
        return _new_track(engine, loaded, source, start_time, request, report)

    splice = _splice_at(source, start_within(source, start_time))
    total_s = _total_seconds(request, splice.seconds)
    d, sections, prefix_lines = _decisions(source, request, splice.seconds, total_s)

    # The source at the pipeline's rate, in whole latent frames, silence past its end; the region
    # from a crossfade before the splice to the end is painted, the rest is kept.
    import torch

    rate = loaded.latent_rate
    frames = latent_frames(total_s, rate)
    native = _resample(source.mix, SAMPLE_RATE, loaded.sample_rate)
    src = _fit(native, int(round(frames * loaded.sample_rate / rate)))
    repaint_from = round(max(0.0, splice.seconds - CROSSFADE_S), 4)
    inputs: dict[str, Any] = {
        "src_audio": torch.from_numpy(np.ascontiguousarray(src.T)),
        "repainting_start": repaint_from,
        "repainting_end": -1.0,  # to the end
    }
    reference = native[: int(round(splice.seconds * loaded.sample_rate))]
    if reference.shape[0] >= REFERENCE_MIN_S * loaded.sample_rate:
        inputs["reference_audio"] = torch.from_numpy(np.ascontiguousarray(reference.T))
    if source.bar_chords:
        inputs["timesignature"] = "4"  # a guided source: the embedded engine's 4/4 bar grid
    report(20, "generating")
    t_gen = time.perf_counter()
    seed = int(source.basis.seed) & 0x7FFFFFFF
    audio = engine._run(loaded, d, [seed], report, inputs)[0]
    gen_seconds = time.perf_counter() - t_gen

    n = int(round(total_s * SAMPLE_RATE))
    cont = _fit(_resample(audio, loaded.sample_rate, SAMPLE_RATE), n)
    xf = max(1, int(round(CROSSFADE_S * SAMPLE_RATE)))
    report(80, "mastering")
    cont, gain_db = _levelled(source.mix, cont, splice.sample - xf)

    report(82, "separating")
    # The separator gets a second before the splice as context; only the part from the splice is kept.
    context = max(0, splice.sample - SAMPLE_RATE)
    new_stems, stems_method = engine._stems(cont[context:], request.kind)
    tail = cont[splice.sample :]
    out_mix = splice_audio(source.mix, tail, splice.sample, xf)
    out_stems = splice_stems(source.stems, new_stems, splice.sample - context, len(tail), splice.sample, xf)
    report(100, "mastering")

    spans = even_spans(sections, splice.seconds, total_s)
    lines = prefix_lines + [(float(a), float(b), str(t)) for a, b, t in timed_lines(sections, spans)]
    extension = {
        "method": "repaint",
        "item_id": source.item_id,
        "root_item_id": source.root_item_id or source.item_id,
        "start_time": start_time,
        "splice_at": splice.seconds,
        "splice_bar": splice.bar or None,
        "splice_sample": splice.sample,
        "crossfade_s": CROSSFADE_S,
        "level_db": round(gain_db, 2),
    }
    extra: dict[str, Any] = {
        "engine": engine.name,
        "acestep": {
            "task": "repaint",
            "repainting_start": repaint_from,
            "repainting_end": round(frames / rate, 4),
            "reference_audio": "source" if "reference_audio" in inputs else None,
            "variant": loaded.variant,
            "device": loaded.device,
            "dtype": loaded.dtype,
            "offload": loaded.offload,
            "steps": engine._steps(loaded),
            "guidance": engine._guidance(loaded),
            "shift": engine.settings.shift,
            "native_sample_rate": loaded.sample_rate,
            "caption": d.caption,
            "keyscale": d.keyscale,
            "generate_seconds": round(gen_seconds, 3),
            "batch": 1,
        },
        "stems_method": stems_method,
        "lyrics_timing": "source+even" if request.kind == "song" else "none",
        "extension": extension,
        "render_seconds": time.perf_counter() - t0,
    }
    if request.kind == "song":
        extra["lyrics_lines"] = [list(line) for line in lines]
    return GenerationResult(
        sample_rate=SAMPLE_RATE,
        mix=out_mix,
        stems=out_stems,
        title=source.title or _title(request),
        material=_material(source, start_time, splice.seconds, len(out_mix)),
        lyrics=(lyrics_of_lines(lines) or d.lyrics) if request.kind == "song" else None,
        extra=extra,
    )


# ------------------------------------------------------------------------------------ decisions


def _request(source: SourceWork, lyrics: str | None, max_seconds: float | None) -> GenerationRequest:
    """The source's request (its basis) with the key and tempo its record says and the extension's
    own lyrics and cap: what the continuation is asked for."""
    material = source.material
    bpm = material.get("bpm")
    return replace(
        source.basis,
        tonality=str(material.get("key") or source.basis.tonality or "") or None,
        bpm=int(bpm) if isinstance(bpm, int | float) and bpm > 0 else source.basis.bpm,
        lyrics=lyrics,
        max_seconds=max_seconds,
    )


def _splice_at(source: SourceWork, start_time: float) -> Splice:
    """The bar line at or before `start_time` when the record has a tempo, else `start_time`."""
    bpm = source.material.get("bpm")
    if isinstance(bpm, int | float) and 50 <= bpm <= 190:
        splice = splice_point(start_time, float(bpm))
        if splice.sample <= len(source.mix):
            return splice
    sample = int(round(start_time * SAMPLE_RATE))
    return Splice(float(start_time), 0, round(sample / SAMPLE_RATE, 3), sample)


def _total_seconds(request: GenerationRequest, splice_s: float) -> float:
    """The new work's length: the splice, then as long as a new work of the request would be (its
    length field does not repeat), within the cap of the whole work."""
    from songforge.engines.embedded.prompt import parse_prompt
    from songforge.engines.embedded.prompt_plan import target_length

    brief = parse_prompt(request.prompt)
    cap = length_cap(request)
    more, _source = target_length(brief, replace(request, seconds=None), cap, brief.style.dur)
    total = max(splice_s + MIN_CONTINUATION_S, min(cap, splice_s + more))
    if total > MAX_SECONDS:
        raise EngineError(f"An extension from {splice_s:g} s would pass ACE-Step's {MAX_SECONDS:g} seconds")
    return total


def _decisions(
    source: SourceWork, request: GenerationRequest, splice_s: float, total_s: float
) -> tuple[_Decisions, list[tuple[str, list[str]]], list[tuple[float, float, str]]]:
    """What the pipeline is asked for, the continuation's lyric sections, and the source's timed
    lines before the splice (cut there)."""
    from songforge.engines.embedded.prompt import parse_prompt

    brief = parse_prompt(request.prompt)
    keyscale = key_name = None
    if request.tonality:
        keyscale, key_name = keyscale_of(request.tonality)
    prefix: list[tuple[float, float, str]] = []
    sections: list[tuple[str, list[str]]] = []
    text = INSTRUMENTAL_LYRICS
    if request.kind == "song":
        from songforge.engines.singing.lyrics import LyricsError, has_words, lyrics_text

        for line in source.lines:
            start, end, said = float(line[0]), float(line[1]), str(line[2])
            if start < splice_s - 0.05:
                prefix.append((start, round(min(end, splice_s), 3), said))
        new = continuation_lyrics(source, request.lyrics, request.prompt, int(request.seed))
        if not any(has_words(line) for s in new for line in s.lines):
            raise LyricsError("The lyrics hold no words to sing (only emoji or symbols)")
        sections = [(s.name, list(s.lines)) for s in new]
        sung_before = lyrics_of_lines(prefix) if prefix else (source.lyrics or "").strip()
        text = "\n\n".join(part for part in (sung_before, lyrics_text(new).strip()) if part)
    decisions = _Decisions(
        caption=request.prompt.strip() or brief.style.name,
        lyrics=text,
        lyric_sections=sections,
        keyscale=keyscale,
        key_name=key_name,
        bpm=request.bpm,
        seconds=total_s,
        length_source="extension",
        language=brief.language or "en",
        task="repaint",
    )
    return decisions, sections, prefix


# ------------------------------------------------------------------------------------ after


def _loudness(audio: np.ndarray) -> float:
    from songforge.audio.analysis import integrated_loudness

    if len(audio) < SAMPLE_RATE // 2 or not np.any(audio):
        return float("-inf")
    return float(integrated_loudness(audio, SAMPLE_RATE))


def _levelled(source: np.ndarray, cont: np.ndarray, kept_end: int) -> tuple[np.ndarray, float]:
    """`cont` at the source's loudness over the seconds before the repainted region (where it holds
    the source, through the VAE), kept under the ceiling; and the gain applied, in dB."""
    from songforge.audio.mixing import limiter_curve

    lo = max(0, kept_end - int(LEVEL_WINDOW_S * SAMPLE_RATE))
    before, again = _loudness(source[lo:kept_end]), _loudness(cont[lo:kept_end])
    gain_db = before - again if math.isfinite(before) and math.isfinite(again) else 0.0
    gain_db = max(-MAX_LEVEL_STEP_DB, min(MAX_LEVEL_STEP_DB, gain_db))
    out = cont * np.float32(10 ** (gain_db / 20))
    out *= limiter_curve(out, SAMPLE_RATE, CEILING_DB)[:, None]
    return out.astype(np.float32, copy=False), gain_db


def _title(request: GenerationRequest) -> str:
    from songforge.engines.embedded.prompt import make_title, parse_prompt

    return make_title(request.prompt, parse_prompt(request.prompt))


def _material(source: SourceWork, start_time: float, splice_at: float, frames: int) -> dict[str, Any]:
    """The source's record for the whole new work (less what the new audio is measured for again),
    with where and how it was extended."""
    material = {k: v for k, v in source.material.items() if k not in ("measured", "seed")}
    material.update(
        {
            "engine": AceStepEngine.name,
            "dur": int(frames // SAMPLE_RATE),
            "lengthSource": "extension",
            "extendedFrom": _extended_from(source, start_time, splice_at, "repaint"),
        }
    )
    return material


def _extended_from(
    source: SourceWork, start_time: float, splice_at: float | None, method: str
) -> dict[str, Any]:
    return {"item_id": source.item_id, "start_time": start_time, "splice_at": splice_at, "method": method}


def _new_track(
    engine: AceStepEngine,
    loaded: Loaded,
    source: SourceWork,
    start_time: float,
    request: GenerationRequest,
    report: ProgressFn,
) -> GenerationResult:
    """A pipeline without the repaint task: a new track from the source's request (what an
    extension of an acestep work made before there was this module), saying so in the record."""
    reason = (
        f"the pipeline of {loaded.path} ({type(loaded.pipe).__name__}) has no repaint task, so this "
        "extension is a new track from the source's request"
    )
    asked = replace(request, lyrics=request.lyrics or source.basis.lyrics, seconds=None)
    result = engine.generate(asked, report)
    result.material["extendedFrom"] = _extended_from(source, start_time, None, "new-track")
    result.extra["extension"] = {
        "method": "new-track",
        "reason": reason,
        "item_id": source.item_id,
        "root_item_id": source.root_item_id or source.item_id,
        "start_time": start_time,
        "splice_at": None,
    }
    return result
