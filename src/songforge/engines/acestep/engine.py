"""AceStepEngine: a request -> ACE-Step 1.5's named inputs -> audio at 44.1 kHz, stems, a record.

How the controls map (diffusers' `AceStepPipeline.__call__`):

- prompt -> `prompt` (ACE-Step's caption), as written.
- lyrics -> `lyrics` with their section tags as written; a song without lyrics gets lyrics the
  embedded engine's writer makes from the prompt (the same ones the embedded engine would sing); an
  instrumental gets `[Instrumental]`. The prompt's language (when it names one) -> `vocal_language`.
- tonality -> `keyscale` ("F#:minor" -> "F# minor"); bpm -> `bpm`; a key or tempo said in the prompt
  counts when the fields are empty; otherwise the model chooses, and the record says what was measured.
- length: the request's field, else the prompt's ("about 90 seconds"), else the style's habit, always
  within the model profile's cap and ACE-Step's own 10 minutes -> `audio_duration`.
- seed -> one `torch.Generator` per variation, on the CPU (the same noise on any device).
- the two variations of a request -> one batch of two (`generate_batch`), one prompt encoding and one
  denoising loop for both.
- chords or an uploaded MIDI file: ACE-Step has no chord input. The embedded engine renders a guide
  arrangement with the exact chords, key, tempo and form (the MIDI's notes when there is one, and for a
  song the form its lyrics give, unsung), and ACE-Step's `cover` task re-renders that guide with the
  caption and lyrics, `audio_cover_strength` = SONGFORGE_ACESTEP_COVER_STRENGTH. Both variations
  re-render the one guide (made with the first variation's seed), so they share its chords and form.
- stems: the separation engine on the output (Demucs when SONGFORGE_DEMUCS_WEIGHTS is set, else its
  weight-free default); an instrumental's vocal stem is folded into `other` so the stems still add up.
- lyric timing (`lyrics_lines`, read by the dialects as `lrcTimestamp` / `lyrics_sections`): the sung
  lines are aligned to the separated vocals stem by `songforge.audio.align` (pocketsphinx's US English
  model: recognition with a language model of the lyrics, anchors, forced alignment between them), and
  each section's marker goes at its first line; `extra.lyrics_timing` is "aligned:pocketsphinx" and
  `extra.lyrics_alignment` says how much was placed. When the stem does not carry the lyrics well enough
  (too few words recognised in order; or pocketsphinx is not installed), the timing is not measured:
  with a guide the lines are placed in the guide's form sections (each section's lines spread evenly
  over its bars, "guide-form"); without one they are spread over the track by section ("even").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from songforge import config
from songforge.audio.align import METHOD as ALIGN_METHOD
from songforge.audio.align import align_lines
from songforge.engines.acestep.pipeline import EngineNotReady, Loaded, get_pipeline
from songforge.engines.acestep.weights import check_weights
from songforge.engines.base import (
    SAMPLE_RATE,
    EngineError,
    GenerationRequest,
    GenerationResult,
    ProgressFn,
)

log = logging.getLogger(__name__)

__all__ = ["MAX_SECONDS", "AceStepEngine", "keyscale_of"]

MAX_SECONDS = 600.0  # ACE-Step 1.5 generates up to 10 minutes
MIN_SECONDS = 4.0
INSTRUMENTAL_LYRICS = "[Instrumental]"
MARKER_S = 0.5  # a section marker's span in lyrics_lines, as the embedded singer writes them


@dataclass
class _Decisions:
    """What one batch is asked for: shared by its variations, which differ only by seed."""

    caption: str
    lyrics: str
    lyric_sections: list[tuple[str, list[str]]]  # (tag, lines) as sung, for the timing
    keyscale: str | None
    key_name: str | None  # the API form, "F#:minor"
    bpm: int | None
    seconds: float
    length_source: str
    language: str
    task: str  # "text2music" or "cover"
    guide: GenerationResult | None = None


def keyscale_of(tonality: str) -> tuple[str, str]:
    """("F# minor", "F#:minor") for the API's tonality (the forms `parse_tonality` accepts)."""
    from songforge.music.theory import parse_tonality

    key = parse_tonality(tonality)
    return key.label, key.name


def _resample(audio: np.ndarray, sr: int, target: int) -> np.ndarray:
    """(n, 2) float32 at `target`."""
    if sr == target:
        return np.ascontiguousarray(audio, dtype=np.float32)
    import soxr

    return np.asarray(soxr.resample(audio.astype(np.float32), sr, target, quality="HQ"), dtype=np.float32)


def _fit(audio: np.ndarray, frames: int) -> np.ndarray:
    """Exactly `frames` frames: the VAE's latent grid rounds the length up to its frame rate."""
    if audio.shape[0] >= frames:
        return np.ascontiguousarray(audio[:frames])
    pad = np.zeros((frames - audio.shape[0], audio.shape[1]), np.float32)
    return np.concatenate([audio, pad])


def latent_frames(seconds: float, rate: float) -> int:
    """The whole number of latent frames (`rate` a second) for `seconds`, chosen so that the pipeline's
    own rounding finds it again: `AceStepPipeline` turns a frame count back into seconds and takes
    `ceil(seconds * rate)`, which float error can push one frame past the source's latents (112 / 25 *
    25 is 112.00000000000001), and the transformer then refuses the mismatched lengths."""
    import math

    k = max(1, math.ceil(seconds * rate - 1e-9))
    while math.ceil((k / rate) * rate) != k:
        k += 1
    return k


def length_cap(request: GenerationRequest) -> float:
    """The longest work `request` may have: its model profile's cap, its own, ACE-Step's 10 minutes."""
    profile = config.model_profile(request.model)
    cap = min(MAX_SECONDS, profile.max_seconds if profile is not None else MAX_SECONDS)
    if request.max_seconds is not None:
        cap = min(cap, float(request.max_seconds))
    return cap


def even_spans(sections: Sequence[tuple[str, list[str]]], t0: float, t1: float) -> list[tuple[float, float]]:
    """[t0, t1] shared among the sections by their line counts (an untimed section's best guess)."""
    weights = [max(1, len(lines)) for _tag, lines in sections]
    total, t = float(sum(weights)), t0
    spans = []
    for w in weights:
        step = (t1 - t0) * w / total
        spans.append((t, t + step))
        t += step
    return spans


def timed_lines(
    sections: Sequence[tuple[str, list[str]]], spans: Sequence[tuple[float, float]]
) -> list[list[Any]]:
    """lyrics_lines ([start_s, end_s, text]): each section's marker at its start, its sung lines
    spread evenly over its span."""
    out: list[list[Any]] = []
    for (tag, lines), (t0, t1) in zip(sections, spans, strict=True):
        out.append([round(t0, 3), round(t0 + MARKER_S, 3), f"[{tag}]"])
        sung = [line for line in lines if line.strip()]
        if not sung:
            continue
        step = (t1 - t0) / len(sung)
        for i, line in enumerate(sung):
            out.append([round(t0 + i * step, 3), round(t0 + (i + 1) * step, 3), line])
    return out


def aligned_lines(
    sections: Sequence[tuple[str, list[str]]],
    vocals: np.ndarray,
    sr: int,
    guide_spans: Sequence[tuple[float, float]] | None = None,
) -> tuple[list[list[Any]], dict[str, Any]] | None:
    """lyrics_lines from an alignment of the sung lines to `vocals`, each section's marker at its first
    line (a section with no sung line: at the guide's section start when there is a guide, else where
    the line before it ends), and the alignment's record; None when the alignment is rejected or
    pocketsphinx is missing, and the caller times the lines without it."""
    sung = [(i, line) for i, (_tag, lines) in enumerate(sections) for line in lines if line.strip()]
    if not sung:
        return None
    try:
        result = align_lines(vocals, sr, [line for _i, line in sung])
    except ImportError as exc:  # the neural extra carries pocketsphinx
        log.warning("lyrics alignment unavailable (%s); timing the lines without it", exc)
        return None
    except Exception:  # a measurement with a fallback: never the reason a finished track fails
        log.exception("lyrics alignment failed; timing the lines without it")
        return None
    if result is None:
        return None
    out: list[list[Any]] = []
    last_end = 0.0
    for i, (tag, _lines) in enumerate(sections):
        mine = [(line, t) for (owner, line), t in zip(sung, result.lines, strict=True) if owner == i]
        if mine:
            at = mine[0][1].start
        elif guide_spans is not None:
            at = guide_spans[i][0]
        else:
            at = last_end
        out.append([round(at, 3), round(at + MARKER_S, 3), f"[{tag}]"])
        for line, timing in mine:
            out.append([timing.start, timing.end, line])
            last_end = max(last_end, timing.end)
    record = {
        "method": result.method,
        "words": result.words,
        "anchored": result.anchored,
        "placed_words": result.placed,
        "placed_lines": sum(1 for t in result.lines if t.placed),
        "lines": len(result.lines),
        "confidence": [round(t.confidence, 3) for t in result.lines],
        "seconds": result.seconds,
    }
    return out, record


class AceStepEngine:
    name = "acestep"

    def __init__(self, settings: config.AceStepSettings | None = None) -> None:
        self._settings = settings

    @property
    def settings(self) -> config.AceStepSettings:
        if self._settings is None:
            self._settings = config.acestep_settings()
        return self._settings

    def check_ready(self) -> None:
        """Raises EngineNotReady naming SONGFORGE_ACESTEP_WEIGHTS and the files missing (no loading)."""
        check = check_weights(self.settings.weights)
        if not check.ready:
            raise EngineNotReady(check.message())

    def warm(self) -> Loaded:
        """Loads the pipeline now (once per process) and returns it."""
        return get_pipeline(self.settings)

    # ---------------------------------------------------------------- generate
    def generate(self, request: GenerationRequest, progress: ProgressFn | None = None) -> GenerationResult:
        return self.generate_batch([request], progress)[0]

    def generate_batch(
        self, requests: Sequence[GenerationRequest], progress: ProgressFn | None = None
    ) -> list[GenerationResult]:
        """The variations of one request (they differ only by seed) as one batch."""
        if not requests:
            return []
        report = progress or (lambda _pct, _stage: None)
        t0 = time.perf_counter()
        report(1, "loading")
        self.check_ready()
        loaded = get_pipeline(self.settings)
        first = requests[0]
        decisions = self._decide(first, report)
        if decisions.task == "cover" and not loaded.cover:
            raise EngineNotReady(
                "chords and MIDI need ACE-Step's cover task, and this checkpoint has no audio_tokenizer/ "
                "and audio_token_detokenizer/ (SONGFORGE_ACESTEP_WEIGHTS)"
            )
        report(20, "generating")
        t_gen = time.perf_counter()
        audios = self._run(loaded, decisions, [int(r.seed) & 0x7FFFFFFF for r in requests], report)
        gen_seconds = time.perf_counter() - t_gen
        frames = int(round(decisions.seconds * SAMPLE_RATE))
        results = []
        for i, (request, audio) in enumerate(zip(requests, audios, strict=True)):
            mix = _fit(_resample(audio, loaded.sample_rate, SAMPLE_RATE), frames)
            report(80 + 15 * i // len(requests), "separating")
            stems, stems_method = self._stems(mix, request.kind)
            results.append(self._result(request, decisions, loaded, mix, stems, stems_method))
        elapsed = time.perf_counter() - t0
        for result in results:
            result.extra["render_seconds"] = elapsed
            result.extra["acestep"]["generate_seconds"] = round(gen_seconds, 3)
            result.extra["acestep"]["batch"] = len(requests)
        report(100, "mastering")
        return results

    # ---------------------------------------------------------------- decisions
    def _decide(self, request: GenerationRequest, report: ProgressFn) -> _Decisions:
        from songforge.engines.embedded.prompt import parse_prompt
        from songforge.engines.embedded.prompt_plan import target_length

        brief = parse_prompt(request.prompt)
        cap = length_cap(request)
        if cap < MIN_SECONDS:
            raise EngineError(f"A track needs at least {MIN_SECONDS:g} seconds; {cap:g} s were allowed")
        if request.bpm is not None and not 50 <= int(request.bpm) <= 190:
            raise EngineError(f"bpm must be between 50 and 190, got {request.bpm}")
        keyscale = key_name = None
        if request.tonality:
            keyscale, key_name = keyscale_of(request.tonality)
        elif brief.key is not None:
            keyscale, key_name = brief.key.label, brief.key.name
        bpm = int(request.bpm) if request.bpm is not None else brief.bpm
        seconds, source = target_length(brief, request, cap, brief.style.dur)
        language = brief.language or "en"
        caption = request.prompt.strip() or brief.style.name
        guided = bool((request.chords and request.chords.strip()) or request.midi_path is not None)
        if guided:
            return self._guided(request, caption, language, cap, report)
        lyrics, sections = self._lyrics(request)
        return _Decisions(
            caption=caption,
            lyrics=lyrics,
            lyric_sections=sections,
            keyscale=keyscale,
            key_name=key_name,
            bpm=bpm,
            seconds=max(MIN_SECONDS, seconds),
            length_source=source,
            language=language,
            task="text2music",
        )

    def _lyrics(self, request: GenerationRequest) -> tuple[str, list[tuple[str, list[str]]]]:
        """What ACE-Step sings, and its sections for the timing. The user's lyrics go as written."""
        if request.kind != "song":
            return INSTRUMENTAL_LYRICS, []
        from songforge.engines.singing.lyrics import LyricsError, has_words, lyrics_text, plan_lyrics

        sections = plan_lyrics(request.lyrics, request.prompt, int(request.seed))
        if not any(has_words(line) for s in sections for line in s.lines):
            raise LyricsError("The lyrics hold no words to sing (only emoji or symbols)")
        given = request.lyrics if request.lyrics and request.lyrics.strip() else None
        text = given.strip() if given else lyrics_text(sections)
        return text, [(s.name, list(s.lines)) for s in sections]

    def _guided(
        self, request: GenerationRequest, caption: str, language: str, cap: float, report: ProgressFn
    ) -> _Decisions:
        """The embedded engine's guide arrangement (exact chords, key, tempo, form or the MIDI) for the
        cover task. A song's guide is unsung: ACE-Step sings the lyrics over it."""
        from songforge.engines.embedded.engine import EmbeddedEngine

        guide_request = replace(request, voice=None, max_seconds=cap)
        report(2, "guide")
        guide = EmbeddedEngine().generate(
            guide_request, lambda pct, _stage: report(2 + pct * 16 // 100, "guide"), sing=False
        )
        material = guide.material
        key_name = str(material.get("key") or "") or None
        keyscale = keyscale_of(key_name)[0] if key_name else None
        bpm = material.get("bpm")
        form = [entry for entry in guide.extra.get("form_lines") or [] if isinstance(entry, list)]
        if request.kind == "song" and form:
            blocks = [f"[{tag}]\n" + "\n".join(lines) for tag, _t0, _t1, lines in form]
            lyrics = "\n\n".join(block.rstrip() for block in blocks)
            sections = [(str(tag), list(lines)) for tag, _t0, _t1, lines in form]
        else:
            lyrics, sections = self._lyrics(request)
        return _Decisions(
            caption=caption,
            lyrics=lyrics,
            lyric_sections=sections,
            keyscale=keyscale,
            key_name=key_name,
            bpm=int(bpm) if isinstance(bpm, int | float) else None,
            seconds=guide.mix.shape[0] / guide.sample_rate,
            length_source=str(material.get("lengthSource") or "guide"),
            language=language,
            task="cover",
            guide=guide,
        )

    # ---------------------------------------------------------------- the pipeline call
    def _steps(self, loaded: Loaded) -> int:
        if self.settings.steps is not None:
            return self.settings.steps
        return 8 if "turbo" in loaded.variant else 50

    def _guidance(self, loaded: Loaded) -> float:
        """Turbo checkpoints have guidance distilled in: 1 (the pipeline would ignore more, noisily)."""
        return 1.0 if "turbo" in loaded.variant else self.settings.guidance

    def _run(
        self,
        loaded: Loaded,
        d: _Decisions,
        seeds: list[int],
        report: ProgressFn,
        inputs: dict[str, Any] | None = None,
    ) -> list[np.ndarray]:
        """(n, 2) float32 arrays at the pipeline's rate, one per seed. `inputs`: the task's own
        arguments (the repaint's source audio and region, `acestep.extend`)."""
        import torch

        steps = self._steps(loaded)
        batch = len(seeds)
        kwargs: dict[str, Any] = dict(inputs or {})
        rate = loaded.latent_rate
        frames = latent_frames(d.seconds, rate)
        if d.task == "cover" and d.guide is not None:
            guide = _resample(d.guide.mix, d.guide.sample_rate, loaded.sample_rate)
            hop = loaded.sample_rate / rate  # samples per latent frame (1920 at 48 kHz)
            guide = _fit(guide, int(round(frames * hop)))
            kwargs["src_audio"] = torch.from_numpy(np.ascontiguousarray(guide.T))
            kwargs["audio_cover_strength"] = self.settings.cover_strength
            kwargs["timesignature"] = "4"  # the embedded engine's bar grid is 4/4
        done = [0]

        def on_step(_pipe: Any, step: int, _t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            done[0] = step + 1
            report(20 + 58 * done[0] // max(1, steps), "generating")
            return tensors

        out = loaded.pipe(
            prompt=[d.caption] * batch,
            lyrics=[d.lyrics] * batch,
            audio_duration=frames / rate,
            vocal_language=d.language,
            num_inference_steps=steps,
            guidance_scale=self._guidance(loaded),
            shift=self.settings.shift,
            generator=[torch.Generator("cpu").manual_seed(seed) for seed in seeds],
            bpm=d.bpm,
            keyscale=d.keyscale,
            task_type=d.task,
            output_type="np",
            callback_on_step_end=on_step,
            **kwargs,
        )
        audio = np.asarray(out.audios, dtype=np.float32)  # (batch, channels, n)
        if audio.ndim != 3 or audio.shape[0] != batch:
            raise EngineError(f"ACE-Step returned audio shaped {audio.shape}, expected ({batch}, 2, n)")
        if audio.shape[1] == 1:
            audio = np.repeat(audio, 2, axis=1)
        return [np.ascontiguousarray(a[:2].T) for a in audio]

    # ---------------------------------------------------------------- after
    def _stems(self, mix: np.ndarray, kind: str) -> tuple[dict[str, np.ndarray], str]:
        from songforge.engines.separation import resolved_method, separate

        method = resolved_method("auto")
        stems = separate(mix, SAMPLE_RATE, method="auto")
        if kind != "song" and "vocals" in stems and "other" in stems:
            stems["other"] = stems["other"] + stems.pop("vocals")
        return stems, method

    def _timing(
        self, d: _Decisions, vocals: np.ndarray | None
    ) -> tuple[list[list[Any]], str, dict[str, Any] | None]:
        """lyrics_lines ([start_s, end_s, text], section markers included), how they were timed, and the
        alignment's record when they were aligned."""
        if not d.lyric_sections:
            return [], "none", None
        form = (d.guide.extra.get("form_lines") if d.guide is not None else None) or []
        guide_spans = (
            [(float(t0), float(t1)) for _tag, t0, t1, _lines in form]
            if form and len(form) == len(d.lyric_sections)
            else None
        )
        if vocals is not None:
            aligned = aligned_lines(d.lyric_sections, vocals, SAMPLE_RATE, guide_spans)
            if aligned is not None:
                return aligned[0], "aligned:" + ALIGN_METHOD, aligned[1]
        if guide_spans is not None:
            return timed_lines(d.lyric_sections, guide_spans), "guide-form", None
        return timed_lines(d.lyric_sections, even_spans(d.lyric_sections, 0.0, d.seconds)), "even", None

    def _result(
        self,
        request: GenerationRequest,
        d: _Decisions,
        loaded: Loaded,
        mix: np.ndarray,
        stems: dict[str, np.ndarray],
        stems_method: str,
    ) -> GenerationResult:
        from songforge.engines.embedded.prompt import make_title, parse_prompt

        brief = parse_prompt(request.prompt)
        guide = d.guide
        material: dict[str, Any] = {
            "engine": self.name,
            "style": brief.style.name,
            "genre": brief.genre or brief.style.name.lower(),
            "mood": brief.mood,
            "scene": brief.scene or brief.style.scene,
            "key": d.key_name,
            "bpm": d.bpm,
            "chord": guide.material.get("chord") if guide is not None else None,
            "form": guide.material.get("form") if guide is not None else None,
            "dur": int(mix.shape[0] // SAMPLE_RATE),
            "seed": int(request.seed),
            "otherInfo": request.prompt,
            "model": request.model,
            "lengthSource": d.length_source,
        }
        lines, how, alignment = (
            self._timing(d, stems.get("vocals")) if request.kind == "song" else ([], "none", None)
        )
        extra: dict[str, Any] = {
            "engine": self.name,
            "acestep": {
                "task": d.task,
                "variant": loaded.variant,
                "device": loaded.device,
                "dtype": loaded.dtype,
                "offload": loaded.offload,
                "steps": self._steps(loaded),
                "guidance": self._guidance(loaded),
                "shift": self.settings.shift,
                "native_sample_rate": loaded.sample_rate,
                "caption": d.caption,
                "keyscale": d.keyscale,
                "cover_strength": self.settings.cover_strength if d.task == "cover" else None,
            },
            "stems_method": stems_method,
            "lyrics_timing": how,
        }
        if lines:
            extra["lyrics_lines"] = lines
        if alignment is not None:
            extra["lyrics_alignment"] = alignment
        if guide is not None:
            extra["guide"] = {
                "engine": "embedded",
                "seed": int(guide.material.get("seed") or 0),
                "key": guide.material.get("key"),
                "bpm": guide.material.get("bpm"),
                "chord": guide.material.get("chord"),
                "form": guide.material.get("form"),
                "midi": request.midi_path is not None,
                "seconds": round(guide.mix.shape[0] / guide.sample_rate, 4),
            }
            for name in ("bar_chords", "sections"):
                if name in guide.extra:
                    extra[name] = guide.extra[name]
        return GenerationResult(
            sample_rate=SAMPLE_RATE,
            mix=mix,
            stems=stems,
            title=make_title(request.prompt, brief),
            material=material,
            lyrics=d.lyrics if request.kind == "song" else None,
            extra=extra,
        )
