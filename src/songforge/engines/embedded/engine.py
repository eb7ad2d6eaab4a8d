"""EmbeddedEngine: request -> plan -> score -> stems -> master, with progress as it goes."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import numpy as np

from songforge.config import model_profile
from songforge.engines.base import (
    SAMPLE_RATE,
    EngineError,
    GenerationRequest,
    GenerationResult,
    ProgressFn,
)
from songforge.engines.embedded import mix as mixing
from songforge.engines.embedded import prompt_plan, render
from songforge.engines.embedded.composer import BEATS_PER_BAR, Composer, Plan, Score
from songforge.engines.embedded.feel import requested_feel
from songforge.engines.embedded.form import TAIL_SECONDS
from songforge.engines.embedded.prompt import Brief, make_title, parse_prompt
from songforge.engines.embedded.styles import STYLES
from songforge.music.chords import Chord, parse_bars
from songforge.music.theory import Key, parse_tonality

log = logging.getLogger(__name__)


def check_ready() -> None:
    """Raise EngineError naming what is missing (SoundFont, fluidsynth, the singer's voice wheels) and
    how to install it."""
    from songforge.engines.singing.bases import check_ready as singer_ready

    render.check_ready()
    singer_ready()


def key_from_chords(bars: list[list[Chord]]) -> Key:
    """The key a progression most plausibly sits in: chords inside the scale, weighted toward the
    first and last chord being the tonic chord."""
    chords = [c for bar in bars for c in bar]
    best, best_score = Key(chords[0].root, "minor" if chords[0].is_minor else "major"), -1e9
    for tonic in range(12):
        for mode in ("major", "minor"):
            k = Key(tonic, mode)
            scale = k.pitch_classes()
            if mode == "minor":
                scale = scale | {(tonic + 11) % 12}  # the raised leading tone of V
            score = 0.0
            for c in chords:
                score += sum(1 for p in c.pitch_classes if p in scale) / len(c.pitch_classes)
                if c.root == tonic:
                    score += 0.35 if c.is_minor == (mode == "minor") else -0.2
            for c, w in ((chords[0], 1.0), (chords[-1], 0.6)):
                if c.root == tonic and c.is_minor == (mode == "minor"):
                    score += w
            if score > best_score:
                best, best_score = k, score
    return best


@dataclass
class _Decisions:
    brief: Brief
    key: Key
    bpm: int
    seconds_cap: float
    target_seconds: float
    progression: list[list[Chord]] | None
    length_source: str = "style"  # where target_seconds came from: "request", "prompt" or "style"


class EmbeddedEngine:
    name = "embedded"

    def check_ready(self) -> None:
        check_ready()

    # ---------------------------------------------------------------- decisions
    def _decide(self, request: GenerationRequest, rng: np.random.Generator, seed_midi: Any) -> _Decisions:
        brief = parse_prompt(request.prompt)
        style = brief.style
        profile = model_profile(request.model)
        cap = profile.max_seconds if profile is not None else 180.0
        if request.max_seconds is not None:
            cap = min(cap, float(request.max_seconds)) if profile is not None else float(request.max_seconds)
        if cap < 4:
            raise EngineError(f"A track needs at least 4 seconds; {cap:g} s were allowed")

        progression = None
        if request.chords and request.chords.strip():
            progression = parse_bars(request.chords)  # ChordError names a bad symbol
        elif seed_midi is not None:
            progression = None  # set after a possible transposition below

        # key: explicit > MIDI > prompt words > the chords > the style's habits
        if request.tonality:
            key = parse_tonality(request.tonality)
        elif seed_midi is not None:
            key = seed_midi.key
        elif brief.key is not None:
            key = brief.key
        elif progression:
            key = key_from_chords(progression)
        else:
            p_minor = style.minor - 0.25 * brief.mode_bias
            mode = "minor" if rng.random() < min(0.97, max(0.03, p_minor)) else "major"
            key = Key(int(rng.integers(0, 12)), mode)

        # tempo: explicit > MIDI > "128 bpm" > tempo words within the genre's range
        lo, hi = prompt_plan.tempo_range(brief)
        if request.bpm is not None:
            bpm = int(request.bpm)
            if not 50 <= bpm <= 190:
                raise EngineError(f"bpm must be between 50 and 190, got {bpm}")
        elif seed_midi is not None:
            bpm = int(round(seed_midi.bpm))
        elif brief.bpm is not None:
            bpm = brief.bpm
        else:
            if brief.tempo_word == "slow":
                lo, hi = int(lo * 0.8), int(lo + (hi - lo) * 0.3)
            elif brief.tempo_word == "fast":
                lo, hi = int(hi - (hi - lo) * 0.3), int(hi * 1.1)
            bpm = int(rng.integers(lo, hi + 1))
        bpm = max(50, min(190, bpm))

        # length: an API field > the prompt ("about 60 seconds") > the test/CLI cap > the style's habit
        typical = style.dur * (0.9 + 0.2 * rng.random())
        target, source = prompt_plan.target_length(brief, request, cap, typical)
        return _Decisions(brief, key, bpm, cap, target, progression, source)

    def _plan(self, request: GenerationRequest, d: _Decisions, seed_midi: Any, seed: int) -> Plan:
        brief = d.brief
        bar_s = BEATS_PER_BAR * 60.0 / d.bpm
        bars = max(1, int(round((d.target_seconds - TAIL_SECONDS) / bar_s)))  # the nearest whole bar
        while bars > 1 and bars * bar_s + TAIL_SECONDS > d.seconds_cap:
            bars -= 1
        plan = Plan(
            style=brief.style,
            key=d.key,
            bpm=d.bpm,
            bars=bars,
            seed=seed,
            energy=brief.energy,
            progression=d.progression,
            feel=requested_feel(request.prompt),
        )
        for _name, program, role in brief.instruments:
            if role == "lead" and plan.lead_prog is None:
                plan.lead_prog = program
            elif role == "keys" and plan.keys_prog is None:
                plan.keys_prog = program
            elif role == "bass" and plan.bass_prog is None:
                plan.bass_prog = program
            elif role == "pad" and plan.pad_prog is None:
                plan.pad_prog = program
        prompt_plan.apply_to_plan(plan, brief)
        if seed_midi is not None:
            from songforge.engines.embedded.midi_seed import transpose_seed

            seeded = transpose_seed(seed_midi, d.key)
            plan.melody = seeded.melody
            plan.melody_bars = seeded.bars
            if plan.progression is None:
                plan.progression = seeded.chords
        return plan

    # ---------------------------------------------------------------- generate
    def generate(
        self, request: GenerationRequest, progress: ProgressFn | None = None, *, sing: bool = True
    ) -> GenerationResult:
        """The track for `request`. With `sing=False` a song keeps the form its lyrics give it but has
        no vocals, and its extra carries `form_lines` (where each section of the form is, what it
        sings): the guide arrangement another engine (acestep) re-renders and sings over."""
        report = progress or (lambda pct, stage: None)
        t0 = time.perf_counter()
        report(1, "composing")
        check_ready()
        seed = int(request.seed) & 0xFFFFFFFF
        rng = np.random.default_rng([seed, 1])
        seed_midi = None
        if request.midi_path is not None:
            from songforge.engines.embedded.midi_seed import load_midi

            seed_midi = load_midi(request.midi_path)
        d = self._decide(request, rng, seed_midi)
        plan = self._plan(request, d, seed_midi, seed)

        song = None
        if request.kind == "song":
            from songforge.engines.embedded import song as song_mod

            song = song_mod.plan_song(
                request, plan, seed, seconds_cap=d.seconds_cap, length_source=d.length_source
            )
        score = Composer(plan).compose()
        prompt_plan.apply_to_score(score, d.brief)
        report(12, "composing")

        bar_s = BEATS_PER_BAR * 60.0 / score.bpm
        n_samples = int(round((score.bars * bar_s + TAIL_SECONDS) * SAMPLE_RATE))
        n_samples = min(n_samples, int(d.seconds_cap * SAMPLE_RATE))
        report(15, "rendering")
        style_key = plan.style.key
        done: list[str] = []

        def mix_stem(name: str, audio: np.ndarray) -> np.ndarray:
            out = mixing.process_stem(name, audio, style_key)
            done.append(name)
            return out

        with ThreadPoolExecutor(max_workers=1) as side:
            # Rendering runs in FluidSynth processes and pedalboard threads; the singer (Python)
            # works meanwhile. Each stem is mixed as soon as it is rendered. Progress is reported
            # from this thread only: the callback may raise to cancel the job.
            rendered = side.submit(
                render.render_then,
                score.stems,
                score.bpm,
                score.bars * BEATS_PER_BAR + TAIL_SECONDS * score.bpm / 60.0,
                n_samples,
                mix_stem,
                render.parallelism(),
            )
            vocal_info = None
            if song is not None and sing:
                from songforge.engines.embedded import song as song_mod

                vocal_info = song_mod.sing_song(song, request, score, seed, n_samples)
            reported = 0
            while not wait([rendered], timeout=0.25).done:
                if len(done) != reported:
                    reported = len(done)
                    report(15 + 55 * reported // max(1, len(score.stems)), "rendering")
            stems = rendered.result()
        report(70, "mixing")
        if vocal_info is not None:
            vocals = mixing.process_stem("vocals", vocal_info.audio, style_key)
            stems = {"vocals": vocals, **stems}
            mixing.duck_under(vocals, stems)
        fade_out = min(TAIL_SECONDS, 0.1 * n_samples / SAMPLE_RATE)
        if song is not None:
            fade_out = song_mod.fade_out_seconds(song, score, fade_out)  # a fading style fades its outro
        mixing.fade(stems, 0.005, fade_out)
        report(85, "mastering")
        mix, stems, loud = mixing.master(stems)
        report(100, "mastering")
        elapsed = time.perf_counter() - t0
        material = self._material(request, d, score, seed, len(mix))
        material["loudness"] = round(loud, 2)
        if song is not None:
            material.update(song_mod.material(song))
        if vocal_info is not None and vocal_info.voice:
            material["voice"] = vocal_info.voice
        result = GenerationResult(
            sample_rate=SAMPLE_RATE,
            mix=mix,
            stems=stems,
            title=make_title(request.prompt, d.brief),
            material=material,
            extra={
                "sections": [(s.name, s.start, s.bars) for s in score.sections],
                "render_seconds": elapsed,
                "bar_chords": [" ".join(c.symbol for c in bar) for bar in score.bar_chords],
            },
        )
        if vocal_info is not None:
            result.lyrics = vocal_info.lyrics
            result.extra["lyrics_lines"] = vocal_info.lines
        elif song is not None:
            result.extra["form_lines"] = song_mod.form_lines(song, score, len(mix) / SAMPLE_RATE)
        return result

    def _material(self, request: GenerationRequest, d: _Decisions, score: Score, seed: int, n: int) -> dict:
        brief = d.brief
        style = brief.style
        plan_insts = _instrument_names(score)
        return {
            "style": style.name,
            "genre": brief.genre or style.name.lower(),
            "mood": brief.mood,
            "energy": round(brief.energy, 2),
            "inst": plan_insts,
            "instInfo": ", ".join(plan_insts),
            "scene": brief.scene or style.scene,
            "key": d.key.name,
            "bpm": int(score.bpm),
            "chord": score.progression_text,
            "dur": int(n // SAMPLE_RATE),
            "seed": int(request.seed),
            "otherInfo": request.prompt,
            "form": " ".join(s.name for s in score.sections),
            "model": request.model,
            "mode": score.mode,
            "feel": score.feel,
            **prompt_plan.material(brief, request, d.length_source, d.target_seconds),
        }


_GM_NAMES = {
    0: "piano",
    4: "electric piano",
    6: "harpsichord",
    7: "clavinet",
    8: "celesta",
    9: "glockenspiel",
    10: "music box",
    11: "vibraphone",
    12: "marimba",
    16: "organ",
    21: "accordion",
    22: "harmonica",
    24: "nylon guitar",
    25: "acoustic guitar",
    26: "jazz guitar",
    27: "electric guitar",
    28: "muted guitar",
    29: "overdriven guitar",
    30: "distorted guitar",
    32: "upright bass",
    33: "bass guitar",
    34: "picked bass",
    35: "fretless bass",
    36: "slap bass",
    38: "synth bass",
    40: "violin",
    41: "viola",
    42: "cello",
    46: "harp",
    48: "strings",
    52: "choir",
    56: "trumpet",
    57: "trombone",
    60: "french horn",
    61: "brass",
    65: "alto saxophone",
    66: "tenor saxophone",
    68: "oboe",
    70: "bassoon",
    71: "clarinet",
    72: "piccolo",
    73: "flute",
    75: "pan flute",
    78: "whistle",
    80: "square lead",
    81: "saw lead",
    88: "new age pad",
    89: "warm pad",
    90: "polysynth pad",
    91: "choir pad",
    98: "crystal",
    104: "sitar",
    105: "banjo",
    108: "kalimba",
    109: "bagpipes",
    110: "fiddle",
    114: "steel drums",
}


def _instrument_names(score: Score) -> list[str]:
    names: list[str] = []
    for stem, parts in score.stems.items():
        for part in parts:
            if not part.notes:
                continue
            name = "drums" if part.is_drum else _GM_NAMES.get(part.program, f"GM program {part.program}")
            if name not in names:
                names.append(name)
        del stem
    return names


__all__ = ["EmbeddedEngine", "check_ready", "STYLES"]
