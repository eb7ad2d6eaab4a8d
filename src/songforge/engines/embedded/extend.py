"""Extending a stored work: the source's own audio up to a bar line, then more of the same song.

Why the stored audio and not a re-render: the files a user heard are the work, whatever engine
version made them, so the new work holds them sample for sample up to the splice (16-bit files read
back as `int16 / 32767`, which `write_wav` turns into the same integers). What follows is composed
from the request and seed the source's score came from (its *basis*; an extension of an extension
keeps its root's), with the key and tempo the record says, so the continuation has the same brief,
instruments, progressions, voice and bar grid. The composer sees the whole form (the source's
sections up to the splice, then new ones that end the song), but only the bars from the splice on
(and a short pre-roll that lets the mix chains settle) are rendered and sung.

At the splice the continuation is levelled to the source (the bar before it, measured against the
same bar of the pre-roll; then moved further if the bar after the splice would still differ from
the bar before by more than `LEVEL_SLACK_LU`), and an equal-power crossfade of `CROSSFADE_S`
runs from the splice point on, the source's own next bar fading out under the new one. Every stem
is spliced the same way, so the stems still sum to the mix.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np

from songforge.audio.analysis import integrated_loudness
from songforge.audio.mixing import limiter_curve
from songforge.engines.base import SAMPLE_RATE, EngineError, GenerationRequest, GenerationResult, ProgressFn
from songforge.engines.embedded import form as forms
from songforge.engines.embedded.composer import BEATS_PER_BAR, Note, Part, Score, build_form

CROSSFADE_S = 0.08
PREROLL_BARS = 2  # rendered before the splice and dropped: compressors and reverbs settle in it
MAX_LEVEL_STEP_DB = 12.0
LEVEL_SLACK_LU = 2.0  # the bar after the splice may differ from the bar before by this much
_BREAK_NAMES = ("bridge", "solo", "break", "drop")
_CLIMAX_NAMES = ("chorus", "drop", "head")

__all__ = [
    "CROSSFADE_S",
    "SourceWork",
    "Splice",
    "continuation_lyrics",
    "extend",
    "lyrics_of_lines",
    "splice_audio",
    "splice_point",
    "splice_stems",
    "start_within",
]


@dataclass
class SourceWork:
    """What an extension continues: the stored files of a completed work and what its record says."""

    item_id: str
    mix: np.ndarray  # float32 (n, 2), as stored
    stems: dict[str, np.ndarray]  # as stored; each (n, 2)
    material: dict[str, Any]
    basis: GenerationRequest  # the request (and seed) its score follows from
    title: str = ""
    lyrics: str | None = None
    lines: list[tuple[float, float, str]] = field(default_factory=list)  # timed lyric lines and markers
    sections: list[tuple[str, int, int]] = field(default_factory=list)  # (name, start bar, bars)
    bar_chords: list[str] = field(default_factory=list)
    root_item_id: str | None = None  # the first work of an extension chain (this one when None)


@dataclass(frozen=True)
class Splice:
    start_time: float  # as asked, seconds into the source
    bar: int  # the bar line it moved back to
    seconds: float
    sample: int


def bar_seconds(bpm: float, beats_per_bar: int = BEATS_PER_BAR) -> float:
    return beats_per_bar * 60.0 / float(bpm)


def splice_point(start_time: float, bpm: float, beats_per_bar: int = BEATS_PER_BAR) -> Splice:
    """`start_time` moved back to the bar line at or before it (never before bar 1)."""
    bar_s = bar_seconds(bpm, beats_per_bar)
    bar = max(1, math.floor(float(start_time) / bar_s + 1e-6))
    seconds = bar * bar_s
    return Splice(float(start_time), bar, round(seconds, 3), int(round(seconds * SAMPLE_RATE)))


# ------------------------------------------------------------------------------------ the form


def _prefix_sections(source: SourceWork, bar: int) -> list[tuple[str, int]]:
    """The source's sections up to the splice (the one it falls in cut there)."""
    out: list[tuple[str, int]] = []
    for name, start, bars in source.sections:
        if start >= bar:
            break
        out.append((str(name), min(int(bars), bar - int(start))))
    covered = sum(b for _, b in out)
    if covered < bar:
        out.append(("verse", bar - covered))
    return out


def _first_of(names: tuple[str, ...], options: tuple[str, ...], default: str) -> str:
    return next((n for n in options if n in names), default)


def _instrumental_form(style: Any, goal: int, unit: int) -> list[tuple[str, int]]:
    """The style's own form for `goal` bars, its intro turned into the style's break or bridge: the
    piece goes on from the splice to a climax and its outro."""
    if goal <= 0:
        return []
    secs = [(s.name, s.bars) for s in build_form(style, goal, unit)]
    names = tuple(style.sections)
    if len(secs) > 1 and secs[0][0] == "intro":
        secs[0] = (_first_of(names, _BREAK_NAMES, "verse"), secs[0][1])
    elif len(secs) == 1 and secs[0][0] != "outro":
        secs = [("outro", secs[0][1])]
    return secs


def continuation_lyrics(source: SourceWork, lyrics: str | None, prompt: str, seed: int) -> list[Any]:
    """The lyrics the continuation sings: the ones given, else the source's refrain (its chorus, or
    the last sung section), so the song comes back to its own theme."""
    from songforge.engines.singing import plan_lyrics
    from songforge.engines.singing.lyrics import parse_lyrics

    if lyrics and lyrics.strip():
        return plan_lyrics(lyrics, prompt, seed)
    sections = parse_lyrics(source.lyrics) if source.lyrics and source.lyrics.strip() else []
    if not any(s.lines for s in sections):
        sections = plan_lyrics(None, prompt, seed)
    sung = [s for s in sections if s.lines]
    choruses = [s for s in sung if str(s.name).lower() == "chorus"]
    return [choruses[0] if choruses else sung[-1]] if sung else []


def _song_form(
    style: Any, bpm: int, lyric_sections: list[Any], goal: int, room: int
) -> list[forms.FormSection]:
    """The form built around the continuation's lyrics, its instrumental intro replaced by a short
    lead-in in the style's break (the song is already under way)."""
    from songforge.engines.embedded.song import _usable

    built = forms.build(lyric_sections, style, bpm, goal, room, False, _usable)
    secs = list(built.sections)
    if secs and secs[0].name == "intro" and not secs[0].lines:
        lead = min(secs[0].bars, forms.edge_bars(bpm))
        secs[0] = forms.FormSection(forms.habits(style, bpm).break_name, lead)
    return [s for s in secs if s.bars > 0]


# ------------------------------------------------------------------------------------ rendering


def _window(parts: list[Part], from_beat: float) -> list[Part]:
    """The parts from `from_beat` on, moved to start at 0 (notes sounding across it are cut)."""
    out = []
    for part in parts:
        notes = []
        for n in part.notes:
            end = n.start + n.dur
            if end <= from_beat:
                continue
            start = n.start - from_beat
            dur = n.dur if start >= 0 else end - from_beat
            notes.append(Note(max(0.0, start), dur, n.pitch, n.vel))
        out.append(replace(part, notes=notes))
    return out


def _bar_loudness(audio: np.ndarray, start: int, bar: int) -> float:
    seg = audio[max(0, start) : max(0, start + bar)]
    if len(seg) < SAMPLE_RATE // 2 or not np.any(seg):
        return float("-inf")
    return float(integrated_loudness(seg, SAMPLE_RATE))


def _fit(audio: np.ndarray, n: int) -> np.ndarray:
    if len(audio) >= n:
        return audio[:n]
    out = np.zeros((n, 2), dtype=np.float32)
    out[: len(audio)] = audio
    return out


def splice_audio(src: np.ndarray, cont: np.ndarray, at: int, xf: int) -> np.ndarray:
    """`src` up to `at`, then `cont` (`cont[0]` is the sample at `at`), an equal-power crossfade of
    `xf` samples from `at` on (the source's own audio there fading out; silence past its end)."""
    out = np.empty((at + len(cont), 2), dtype=np.float32)
    out[:at] = _fit(src, at)
    tail = np.zeros((xf, 2), dtype=np.float32)
    have = src[at : at + xf]
    tail[: len(have)] = have
    theta = (np.arange(xf, dtype=np.float32) + 0.5) / xf * np.float32(np.pi / 2)
    out[at : at + xf] = tail * np.cos(theta)[:, None] + cont[:xf] * np.sin(theta)[:, None]
    out[at + xf :] = cont[xf:]
    return out


def splice_stems(
    old: dict[str, np.ndarray], new: dict[str, np.ndarray], offset: int, length: int, at: int, xf: int
) -> dict[str, np.ndarray]:
    """Every stem spliced as the mix is (`splice_audio` at sample `at`): the stored stem, then
    `length` samples of the continuation's from its sample `offset` on, a stem that one side lacks
    being silence on that side; so the stems still add up to the mix."""
    silent = np.zeros((length, 2), dtype=np.float32)
    out = {}
    for name in dict.fromkeys([*old, *new]):
        cont = _fit(new[name][offset:], length) if name in new else silent
        before = old.get(name)
        if before is None:
            before = np.zeros((at, 2), dtype=np.float32)
        out[name] = splice_audio(before, cont, at, xf)
    return out


def start_within(source: SourceWork, start_time: float) -> float:
    """`start_time` within the source: up to half a second past its end counts as its end (the
    length a record shows is rounded); further is refused, as there is nothing to continue there."""
    source_s = len(source.mix) / SAMPLE_RATE
    if start_time > source_s + 0.5:
        raise EngineError(f"start_time {start_time:g} s is past the end of the source ({source_s:.0f} s)")
    return min(start_time, source_s)


# ------------------------------------------------------------------------------------ extend


def extend(
    source: SourceWork,
    start_time: float,
    *,
    lyrics: str | None = None,
    max_seconds: float | None = None,
    progress: ProgressFn | None = None,
) -> GenerationResult:
    """The source up to `start_time` moved back to its bar line, then a continuation that ends the
    song, as one result (mix, stems, timed lyrics, material) of the whole new work."""
    from songforge.engines.embedded import mix as mixing
    from songforge.engines.embedded import prompt_plan, render
    from songforge.engines.embedded import song as song_mod
    from songforge.engines.embedded.composer import Composer
    from songforge.engines.embedded.engine import TAIL_SECONDS, EmbeddedEngine
    from songforge.engines.embedded.prompt import make_title

    report = progress or (lambda pct, stage: None)
    t0 = time.perf_counter()
    report(1, "composing")
    render.check_ready()
    material = source.material
    bpm = int(material.get("bpm") or source.basis.bpm or 0)
    if not 50 <= bpm <= 190:
        raise EngineError(f"The source's tempo ({bpm} BPM) is not recorded; it cannot be extended")
    splice = splice_point(start_within(source, start_time), bpm)
    request = replace(
        source.basis,
        tonality=str(material.get("key") or source.basis.tonality or "") or None,
        bpm=bpm,
        lyrics=lyrics,
        max_seconds=max_seconds,
        seconds=None,
    )
    engine = EmbeddedEngine()
    seed = int(request.seed) & 0xFFFFFFFF
    seed_midi = None
    if request.midi_path is not None:
        from songforge.engines.embedded.midi_seed import load_midi

        seed_midi = load_midi(request.midi_path)
    d = engine._decide(request, np.random.default_rng([seed, 1]), seed_midi)
    plan = engine._plan(request, d, seed_midi, seed)
    bar_s = bar_seconds(bpm)
    bar_n = int(round(bar_s * SAMPLE_RATE))
    cap_bars = max(splice.bar + 1, math.floor((d.seconds_cap - TAIL_SECONDS) / bar_s + 1e-6))
    room = cap_bars - splice.bar
    goal = max(1, min(room, int(round((d.target_seconds - TAIL_SECONDS) / bar_s))))

    prefix = _prefix_sections(source, splice.bar)
    song = None
    if request.kind == "song":
        lyric_sections = continuation_lyrics(source, lyrics, request.prompt, seed)
        cont_form = _song_form(plan.style, bpm, lyric_sections, goal, room) if lyric_sections else []
        if any(s.lines for s in cont_form):
            every = [forms.FormSection(n, b) for n, b in prefix] + cont_form
            ending = forms.habits(plan.style, bpm).ending
            kept = sorted({s.lyric for s in cont_form if s.lyric is not None})
            song = song_mod.SongPlan(
                sections=lyric_sections,
                form=forms.Form(sections=every, ending=ending, kept=kept, length_goal=goal),
                form_index=[i for i, s in enumerate(every) if s.lines],
            )
            plan.sections = [
                (s.name, s.bars) if s.energy is None else (s.name, s.bars, s.energy) for s in every
            ]
    if song is None:
        unit = len(plan.progression) if plan.progression else 4
        if not plan.progression and any(
            len(p.split()) == 12 for p in plan.style.major_progs + plan.style.minor_progs
        ):
            unit = 12
        form: list[tuple[str, int] | tuple[str, int, float]] = list(prefix)
        form += _instrumental_form(plan.style, goal, max(2, min(unit, 16)))
        plan.sections = form
    plan.bars = sum(int(s[1]) for s in plan.sections or [])
    score: Score = Composer(plan).compose()
    prompt_plan.apply_to_score(score, d.brief)
    report(12, "composing")

    # Only the bars from the pre-roll on are rendered; sample 0 of them is `offset` in the work.
    pre_bar = max(0, splice.bar - PREROLL_BARS)
    offset = int(round(pre_bar * bar_s * SAMPLE_RATE))
    from_beat = pre_bar * BEATS_PER_BAR
    end_beat = score.bars * BEATS_PER_BAR + TAIL_SECONDS * bpm / 60.0
    total = int(round((score.bars * bar_s + TAIL_SECONDS) * SAMPLE_RATE))
    total = max(splice.sample + bar_n, min(total, int(d.seconds_cap * SAMPLE_RATE)))
    n = total - offset
    stems_in = {name: _window(parts, from_beat) for name, parts in score.stems.items()}
    style_key = plan.style.key
    report(15, "rendering")
    rendered = render.render_then(
        stems_in,
        bpm,
        end_beat - from_beat,
        n,
        lambda name, audio: mixing.process_stem(name, audio, style_key),
        render.parallelism(),
    )
    report(60, "singing" if song is not None else "mixing")
    stems = dict(rendered)
    vocal_info = song_mod.sing_song(song, request, score, seed, total) if song is not None else None
    if vocal_info is not None:
        vocals = mixing.process_stem("vocals", vocal_info.audio[offset:], style_key)
        stems = {"vocals": vocals, **stems}
        mixing.duck_under(vocals, stems)
    elif "vocals" in source.stems:
        stems = {"vocals": np.zeros((n, 2), dtype=np.float32), **stems}
    report(75, "mixing")
    fade_out = min(TAIL_SECONDS, 0.1 * total / SAMPLE_RATE)
    fade_out = song_mod.fade_out_seconds(song, score, fade_out)
    mixing.fade(stems, 0.0, min(fade_out, (total - splice.sample) / SAMPLE_RATE))
    cont_mix, stems, _ = mixing.master(stems)

    # Level: the pre-roll's last bar (the source's bar before the splice, composed again) is
    # brought to the source's loudness there; a limiter keeps the raised continuation under the ceiling.
    report(88, "mastering")
    at = splice.sample - offset
    before = _bar_loudness(source.mix, splice.sample - bar_n, bar_n)
    again = _bar_loudness(cont_mix, at - bar_n, bar_n)
    gain_db = 0.0
    if math.isfinite(before) and math.isfinite(again):
        gain_db = before - again
    # A new section may open louder or softer than the bar it follows; past LEVEL_SLACK_LU the
    # whole continuation moves toward the source, so the splice never jumps (a quieter outro, say,
    # stays quieter by the slack).
    xf = max(1, int(round(CROSSFADE_S * SAMPLE_RATE)))
    after = _bar_loudness(cont_mix, at + xf, bar_n)
    if math.isfinite(before) and math.isfinite(after):
        jump = after + gain_db - before
        if abs(jump) > LEVEL_SLACK_LU:
            gain_db -= math.copysign(abs(jump) - LEVEL_SLACK_LU, jump)
    gain_db = max(-MAX_LEVEL_STEP_DB, min(MAX_LEVEL_STEP_DB, gain_db))
    gain = np.float32(10 ** (gain_db / 20))
    cont_mix = cont_mix * gain
    curve = limiter_curve(cont_mix, SAMPLE_RATE, mixing.CEILING_DB)[:, None]
    cont_mix *= curve
    for name in stems:
        stems[name] = stems[name] * gain * curve

    tail = cont_mix[at:]
    if len(tail) < xf:
        tail = _fit(tail, xf)
    out_mix = splice_audio(source.mix, tail, splice.sample, xf)
    out_stems = splice_stems(source.stems, stems, at, len(tail), splice.sample, xf)
    report(100, "mastering")

    seconds = len(out_mix) / SAMPLE_RATE
    lines = _lines(source, vocal_info, splice.seconds)
    cont_sections = score.sections[len(prefix) :]
    sections = [(s[0], s[1], s[2]) for s in source.sections if s[1] < splice.bar]
    if sections:
        name, start, _ = sections[-1]
        sections[-1] = (name, start, splice.bar - start)
    sections += [(s.name, s.start, s.bars) for s in cont_sections]
    chords = list(source.bar_chords[: splice.bar])
    chords += [" ".join(c.symbol for c in bar) for bar in score.bar_chords[splice.bar :]]
    base = engine._material(request, d, score, seed, len(out_mix))
    record = {k: v for k, v in base.items() if k not in ("seed",)}
    record.update(
        {
            "style": material.get("style", record.get("style")),
            "key": d.key.name,
            "bpm": bpm,
            "dur": int(seconds),
            "form": " ".join(s[0] for s in sections),
            "extendedFrom": {
                "item_id": source.item_id,
                "start_time": start_time,
                "splice_at": splice.seconds,
            },
        }
    )
    if song is not None:
        record.update(song_mod.material(song))
    info = {
        "item_id": source.item_id,
        "root_item_id": source.root_item_id or source.item_id,
        "start_time": start_time,
        "splice_at": splice.seconds,
        "splice_bar": splice.bar,
        "splice_sample": splice.sample,
        "crossfade_s": CROSSFADE_S,
        "level_db": round(gain_db, 2),
    }
    result = GenerationResult(
        sample_rate=SAMPLE_RATE,
        mix=out_mix,
        stems=out_stems,
        title=source.title or make_title(request.prompt, d.brief),
        material=record,
        lyrics=lyrics_of_lines(lines) if request.kind == "song" and lines else source.lyrics,
        extra={
            "sections": sections,
            "render_seconds": time.perf_counter() - t0,
            "bar_chords": chords,
            "extension": info,
        },
    )
    if request.kind == "song":
        result.extra["lyrics_lines"] = lines
    return result


def _lines(source: SourceWork, vocals: Any, splice_s: float) -> list[tuple[float, float, str]]:
    """The source's timed lines before the splice (cut there), then the continuation's."""
    out: list[tuple[float, float, str]] = []
    for line in source.lines:
        start, end, text = (cast(Any, v) for v in tuple(line)[:3])
        if float(start) < splice_s - 0.05:
            out.append((float(start), round(min(float(end), splice_s), 3), str(text)))
    if vocals is not None:
        # The continuation's markers for the source's sections fall at least a bar before the
        # splice; its own (and its sung lines) within the lead-in of its first section.
        out += [(float(s), float(e), str(t)) for s, e, t in vocals.lines if float(s) >= splice_s - 1.0]
    out.sort(key=lambda x: (x[0], 0 if x[2].startswith("[") else 1))
    return out


def lyrics_of_lines(lines: list[tuple[float, float, str]]) -> str:
    """The lyrics of the whole new work as sung, a paragraph per section marker."""
    blocks: list[list[str]] = []
    for _s, _e, text in lines:
        if text.startswith("[") and text.endswith("]"):
            blocks.append([text])
        elif blocks:
            blocks[-1].append(text)
        else:
            blocks.append([text])
    return "\n\n".join("\n".join(b) for b in blocks if len(b) > 1 or not b[0].startswith("["))
