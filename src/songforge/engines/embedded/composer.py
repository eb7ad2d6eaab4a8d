"""From a plan (style, key, tempo, chords, length) to notes per stem.

The composer works in beats. A `Score` holds one list of `Part`s per stem; `render` turns parts
into MIDI. Everything random draws from one seeded generator, in a fixed order, so the same
request and seed always give the same notes.

Two things every part serves, whatever the style. The requested key must be heard, even over
chords that fit its relative key as well (i-VI-III-VII is also a major-key progression): the bass
takes the tonic at phrase starts and cadences, the melody leans on the tonic and cadences on it,
tonic bars are accented and the piece ends on the tonic. And the requested beat must be the one a
listener taps: a timekeeper on every beat, off-beats quieter than beats, and no off-beat onsets
at slow tempos, where beat trackers otherwise hear the eighths as the beat.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from songforge.engines.embedded import feel as feels
from songforge.engines.embedded import patterns as pat
from songforge.engines.embedded.styles import Style
from songforge.music.chords import Chord
from songforge.music.modes import SCALES, choose_mode
from songforge.music.theory import Key, nearest_pitch, roman_to_chord

BEATS_PER_BAR = 4
_TONIC_ACCENT, _RIVAL_ACCENT = 1.12, 0.9  # velocity factors of tonic-chord and relative-key-chord bars
# below this kick and backbeat take turns: a beat that sounds alike each time is heard doubled
ALTERNATE_BPM = 72
_TOMS = (pat.TOM_LO, pat.TOM_MID, pat.TOM_HI)
SLOW_BPM = 80  # below this an off-beat onset is heard as a beat of its own (double-tempo readings)
# Styles whose idiom allows a tonic pedal in the bass under chords that contain the tonic.
PEDAL_STYLES = frozenset({"ambient", "lofi", "cinematic", "synthwave"})


@dataclass
class Note:
    start: float  # beats
    dur: float  # beats
    pitch: int
    vel: int


@dataclass
class Part:
    name: str
    program: int
    is_drum: bool = False
    pan: int = 64  # MIDI CC10
    notes: list[Note] = field(default_factory=list)


@dataclass
class Section:
    name: str
    start: int  # bar
    bars: int
    energy: float  # 0..1


@dataclass
class Plan:
    """Everything decided before composing (the engine fills it from request, prompt and MIDI)."""

    style: Style
    key: Key
    bpm: int
    bars: int
    seed: int
    energy: float = 0.6
    progression: list[list[Chord]] | None = None  # explicit: repeated over the whole form
    lead_prog: int | None = None
    keys_prog: int | None = None
    bass_prog: int | None = None
    pad_prog: int | None = None
    # (name, bars) or (name, bars, energy) when a lyric plan fixes the form (a last chorus lifts)
    sections: list[tuple[str, int] | tuple[str, int, float]] | None = None
    melody: list[Note] | None = None  # seeded melody (beats from bar 0), looped over melodic sections
    melody_bars: int = 0
    feel: str | None = None  # the feel the prompt names ("6/8", "half-time", "shuffle"), if any


@dataclass
class Score:
    bpm: int
    key: Key
    bars: int
    sections: list[Section]
    bar_chords: list[list[Chord]]  # chords per bar (a bar may hold several)
    stems: dict[str, list[Part]]
    swing: float
    progression_text: str
    mode: str = "ionian"  # the modal colour heard in the key (see `songforge.music.modes`)
    feel: str = "straight"  # see `feel.FEELS`

    @property
    def seconds(self) -> float:
        return self.bars * BEATS_PER_BAR * 60.0 / self.bpm


_ENERGY = {
    "intro": 0.45,
    "verse": 0.65,
    "head": 0.75,
    "chorus": 0.95,
    "drop": 1.0,
    "solo": 0.85,
    "bridge": 0.6,
    "break": 0.4,
    "build": 0.75,
    "outro": 0.45,
    "pre-chorus": 0.75,
}
_MELODIC = {"verse", "chorus", "head", "solo", "drop", "bridge", "pre-chorus"}


def section_energy(name: str) -> float:
    return _ENERGY.get(name.lower().split()[0] if name else "verse", 0.7)


# ---------------------------------------------------------------- form


def build_form(style: Style, bars: int, unit: int) -> list[Section]:
    """Fit the style's section sequence into `bars`, in whole units (a unit is one progression pass
    or a 4-bar phrase). Short pieces keep intro, a main section and the outro; long ones cycle
    verse/chorus before the outro."""
    if bars <= 0:
        return []
    names = list(style.sections)
    if bars < unit * 3:
        # too short for a full form: intro (if room) + chorus + outro remainder
        secs: list[tuple[str, int]] = []
        if bars >= 8:
            intro = 2 if bars < 16 else 4
            secs.append(("intro", intro))
            rest = bars - intro
            outro = 2 if rest >= 6 else 0
            secs.append(("chorus" if "chorus" in names else names[1], rest - outro))
            if outro:
                secs.append(("outro", outro))
        else:
            secs.append(("chorus" if "chorus" in names else names[-2], bars))
        return _place(secs)
    main = [n for n in names if n not in ("intro", "outro")]
    intro_bars = unit if unit <= 4 else 4
    outro_bars = unit if unit <= 4 else 4
    if bars - intro_bars - outro_bars < unit * 2:
        intro_bars = outro_bars = max(2, unit // 2)
    remaining = bars - intro_bars - outro_bars
    per = unit * (2 if unit <= 4 else 1)
    secs = [("intro", intro_bars)]
    i = 0
    while remaining > 0:
        n = main[i] if i < len(main) else ("chorus" if "chorus" in main else main[i % len(main)])
        length = min(per, remaining)
        if remaining - length < unit and remaining - length > 0:
            length = remaining  # fold a short tail into the last section
        secs.append((n, length))
        remaining -= length
        i += 1
    secs.append(("outro", outro_bars))
    return _place(secs)


def _place(secs: list[tuple[str, int]] | list[tuple[str, int] | tuple[str, int, float]]) -> list[Section]:
    out, bar = [], 0
    for name, n, *energy in secs:
        if n <= 0:
            continue
        out.append(Section(name, bar, n, float(energy[0]) if energy else section_energy(name)))
        bar += n
    return out


# ---------------------------------------------------------------- harmony


def choose_progressions(style: Style, key: Key, rng: np.random.Generator) -> dict[str, list[list[Chord]]]:
    """A progression per section kind; verse and chorus differ when the style offers two."""
    progs = style.minor_progs if key.mode == "minor" else style.major_progs
    order = rng.permutation(len(progs))
    verse = progs[order[0]]
    chorus = progs[order[1 % len(progs)]]
    bridge = progs[order[2 % len(progs)]]

    def bars(text: str) -> list[list[Chord]]:
        return [[roman_to_chord(r, key)] for r in text.split()]

    return {"verse": bars(verse), "chorus": bars(chorus), "bridge": bars(bridge)}


_SECTION_PROG = {
    "intro": "chorus",
    "verse": "verse",
    "head": "verse",
    "chorus": "chorus",
    "drop": "chorus",
    "solo": "verse",
    "bridge": "bridge",
    "break": "bridge",
    "build": "verse",
    "outro": "chorus",
    "pre-chorus": "bridge",
}


def is_tonic_chord(chord: Chord, key: Key) -> bool:
    """The key's own tonic chord (any extension): the chord that names the key when it sounds."""
    return chord.root == key.tonic and chord.is_minor == (key.mode == "minor")


def harmonise(plan: Plan, sections: list[Section], rng: np.random.Generator) -> list[list[Chord]]:
    """Chords per bar. The user's progression is cycled unchanged. Otherwise the style's
    progressions are laid over the form, and every section starts and ends on the tonic chord, a
    minor key cadencing through the harmonic-minor dominant: the natural-minor progressions the
    styles favour (i-VI-III-VII) sound in the relative major without that."""
    if plan.progression:
        prog = plan.progression
        return [prog[b % len(prog)] for b in range(plan.bars)]
    progs = choose_progressions(plan.style, plan.key, rng)
    key = plan.key
    own = [c for p in progs.values() for bar in p for c in bar]
    tonic = next(
        (c for c in own if is_tonic_chord(c, key)), roman_to_chord("i" if key.mode == "minor" else "I", key)
    )
    dominant = roman_to_chord("V7" if any("7" in c.symbol for c in own) else "V", key)
    out: list[list[Chord]] = []
    for sec in sections:
        kind = _SECTION_PROG.get(sec.name.split()[0].lower(), "verse")
        prog = progs[kind]
        out.extend(prog[b % len(prog)] for b in range(sec.bars))
    if not out:
        return out
    for sec in sections:
        if sec.name == "intro":
            for b in range(sec.start, sec.start + min(sec.bars, 2)):
                out[b] = [tonic]
    # a twelve-bar form keeps its turnaround into the next chorus; only the last one cadences
    long_form = max(len(p) for p in progs.values()) >= 12
    for si, sec in enumerate(sections):
        if long_form and si < len(sections) - 1:
            continue
        first, last = sec.start, sec.start + sec.bars - 1
        out[first] = [tonic]
        out[last] = [tonic]
        before = out[last - 1][-1]
        if key.mode == "minor" and sec.bars >= 4 and (before.root != dominant.root or before.is_minor):
            out[last - 1] = [dominant]
    return out


def progression_text(plan: Plan, bar_chords: list[list[Chord]]) -> str:
    """The progression the record reports: the explicit one, or the distinct cycle used."""
    if plan.progression:
        from songforge.music.chords import format_bars

        return format_bars(plan.progression)
    seen: list[str] = []
    for bar in bar_chords:
        for c in bar:
            if not seen or seen[-1] != c.symbol:
                seen.append(c.symbol)
    return " ".join(seen[:16])


def chord_at(bar_chords: list[list[Chord]], beat: float) -> Chord:
    bar = min(int(beat // BEATS_PER_BAR), len(bar_chords) - 1)
    chords = bar_chords[bar]
    pos = (beat - bar * BEATS_PER_BAR) / BEATS_PER_BAR
    return chords[min(int(pos * len(chords)), len(chords) - 1)]


def voice(chord: Chord, prev: list[int] | None, lo: int = 52, hi: int = 76, size: int = 4) -> list[int]:
    """A close voicing of the chord within [lo, hi] that moves least from the previous voicing."""
    pcs = [(chord.root + i) % 12 for i in chord.intervals]
    pcs = list(dict.fromkeys(pcs))
    if len(pcs) > size:
        # drop the fifth first (least defining), then upper extensions
        fifth = (chord.root + 7) % 12
        if fifth in pcs and len(pcs) > size:
            pcs.remove(fifth)
        pcs = pcs[:size]
    candidates = []
    for inv in range(len(pcs)):
        order = pcs[inv:] + pcs[:inv]
        for base in range(lo, lo + 12):
            if base % 12 != order[0]:
                continue
            notes = [base]
            for pc in order[1:]:
                n = notes[-1] + ((pc - notes[-1]) % 12 or 12)
                notes.append(n)
            if notes[-1] <= hi:
                candidates.append(notes)
    if not candidates:
        base = nearest_pitch(pcs[0], lo + 4)
        return [nearest_pitch(pc, base + 4) for pc in pcs]
    if prev is None:
        centre = (lo + hi) / 2
        return min(candidates, key=lambda c: abs(np.mean(c) - centre))
    pm = float(np.mean(prev))
    return min(
        candidates, key=lambda c: sum(min(abs(n - p) for p in prev) for n in c) + 0.3 * abs(np.mean(c) - pm)
    )


# ---------------------------------------------------------------- parts


class Composer:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.style = plan.style
        self.key = plan.key
        self.rng = np.random.default_rng(plan.seed)
        self.feel = feels.resolve_feel(plan.style, plan.feel)
        given = [c for bar in plan.progression for c in bar] if plan.progression else None
        self.mode = choose_mode(plan.key, given)
        self.scale = SCALES[self.mode]
        self.scale_pcs = {(plan.key.tonic + i) % 12 for i in self.scale}
        self.slow = plan.bpm < SLOW_BPM
        self.pedal = plan.style.key in PEDAL_STYLES or plan.style.bass == "drone"

    def compose(self) -> Score:
        plan, style = self.plan, self.style
        tag = self._tag_chord()
        if plan.sections:
            sections = _place(list(plan.sections))
        else:
            unit = len(plan.progression) if plan.progression else 4
            if not plan.progression and any(
                len(p.split()) == 12 for p in style.major_progs + style.minor_progs
            ):
                unit = 12
            if plan.melody_bars:
                unit = max(unit, min(plan.melody_bars, 8))
            unit = max(2, min(unit, 16))
            sections = build_form(style, plan.bars - (1 if tag else 0), unit)
        bars = sum(s.bars for s in sections)
        plan.bars = bars
        bar_chords = harmonise(plan, sections, self.rng)
        if tag is not None and sections and not is_tonic_chord(bar_chords[-1][-1], self.key):
            # the user's progression stops away from home: a one-bar tag on their own tonic chord
            bar_chords.append([tag])
            sections[-1].bars += 1
            plan.bars = bars = bars + 1
        self.bar_chords = bar_chords
        self.sections = sections
        self.tonic_chord = tag or next(
            (c for bar in bar_chords for c in bar if is_tonic_chord(c, self.key)),
            roman_to_chord("i" if self.key.mode == "minor" else "I", self.key),
        )
        self.accent = [self._bar_accent(bar) for bar in bar_chords]  # see _BASS_ACCENT too
        # A low tonic's overtones sound its major third, which a minor key must outweigh. Where no
        # relative-major chord competes (a dorian or aeolian vamp) the minor third is safe to
        # stress: the bass answers the tonic with it and the melody leans on it.
        relative = (self.key.tonic + 3) % 12
        self.third_is_safe = self.key.mode == "minor" and not any(
            c.root == relative and not c.is_minor for bar in bar_chords for c in bar
        )
        self.tonic_bass = self._tonic_bass_bars()
        energy_scale = 0.75 + 0.35 * plan.energy
        for s in sections:
            s.energy = min(1.0, s.energy * energy_scale)
        stems = {
            "drums": self.drums(),
            "bass": self.bass(),
            "keys": self.keys(),
            "lead": self.lead(),
        }
        swing = feels.swing_amount(style, self.feel, plan.feel)
        if swing:
            for parts in stems.values():
                for part in parts:
                    _apply_swing(part.notes, swing)
        for parts in stems.values():
            for part in parts:
                self._humanise(part)
        return Score(
            bpm=plan.bpm,
            key=self.key,
            bars=bars,
            sections=sections,
            bar_chords=bar_chords,
            stems=stems,
            swing=swing,
            progression_text=progression_text(plan, bar_chords),
            mode=self.mode,
            feel=self.feel,
        )

    def _tag_chord(self) -> Chord | None:
        """The user's own tonic chord, for a closing tag bar when their progression ends elsewhere
        (None without a progression, without a tonic chord in it, or when the form is fixed)."""
        plan = self.plan
        if not plan.progression or plan.sections or plan.bars < 8:
            return None
        return next((c for bar in plan.progression for c in bar if is_tonic_chord(c, self.key)), None)

    def _bar_accent(self, chords: list[Chord]) -> float:
        """Velocity factor of a bar: the tonic chord a little louder, the relative key's tonic chord
        (the rival reading of the same notes) a little softer."""
        first = chords[0]
        if is_tonic_chord(first, self.key):
            return _TONIC_ACCENT
        relative = (self.key.tonic + (3 if self.key.mode == "minor" else 9)) % 12
        if first.root == relative and first.is_minor != (self.key.mode == "minor"):
            return _RIVAL_ACCENT
        return 1.0

    def _tonic_bass_bars(self) -> set[int]:
        """Bars whose bass holds the tonic under a chord that is not the tonic chord: in styles
        built on a pedal (drones and pads), every bar whose chords have the tonic as their root or
        third, a first inversion at most. Elsewhere the bass keeps the chords' roots and arrives
        on the tonic with the tonic chord and at the end: measured on the tuning table, a first
        inversion at phrase starts and cadences added nothing to the key the panel hears and cost
        chord readings (C over E is E minor to the ear), and a tonic that is the chord's fifth or
        seventh would change the chord outright (Am over E, F7 over Eb)."""
        if not self.pedal:
            return set()
        tonic = self.key.tonic
        return {
            bar for bar, chords in enumerate(self.bar_chords) if all(_root_or_third(tonic, c) for c in chords)
        }

    # ---- drums
    def drums(self) -> list[Part]:
        style = self.style
        if style.drums is None:
            return []
        if self.feel == "6/8":
            fam = pat.DRUMS["six8"]
        else:
            fam = pat.DRUMS[style.drums]
            if self.feel == "half-time":
                fam = pat.half_time(fam)
        part = Part("drums", style.kit, is_drum=True)
        fills: list[Note] = []  # kept whole at slow tempos, unlike toms the groove itself plays
        n_sections = len(self.sections)
        for si, sec in enumerate(self.sections):
            kind = sec.name.split()[0].lower()
            if kind in ("intro", "outro", "break"):
                grids = dict(fam["light"])
            elif kind in ("chorus", "drop", "solo") or sec.energy > 0.85:
                grids = {**fam["base"], **fam["full"]}
            else:
                grids = dict(fam["base"])
            vel_scale = 0.6 + 0.4 * sec.energy
            for b in range(sec.bars):
                bar = sec.start + b
                last = b == sec.bars - 1 and si < n_sections - 1
                for drum, grid in grids.items():
                    steps = len(grid)
                    for step, ch in enumerate(grid):
                        if ch == "-":
                            continue
                        if last and 2 * step >= steps and drum not in pat.KEEPERS:
                            continue
                        beat = bar * 4 + step * 4 / steps
                        part.notes.append(Note(beat, 0.25, drum, int(pat.VEL[ch] * vel_scale)))
                if b == 0 and (si > 0 and kind not in ("break", "outro")):
                    part.notes.append(Note(bar * 4, 1.0, pat.CRASH, int(105 * vel_scale)))
                if last:
                    fills += self._fill(bar, vel_scale)
        self._clarify_beat(part, fills)
        end = self.plan.bars * 4
        part.notes.append(Note(end, 1.0, pat.KICK, 90))
        part.notes.append(Note(end, 2.0, pat.CRASH, 90))
        return [part]

    def _clarify_beat(self, part: Part, fills: list[Note]) -> None:
        """Make the written beat the strongest periodicity. Slow tempos lose their off-beat hits
        (otherwise they are heard at double tempo; triplets under a 6/8 pulse stay, softly); fast
        ones get a kick or snare on every beat and quieter off-beats (otherwise they are heard at
        half tempo), except in half-time, whose pulse the hats carry. Every beat has a timekeeper
        (hat, shaker, ride...) or a kick, louder than anything the timekeepers play between beats."""
        bpm = self.plan.bpm
        triplet = self.feel == "6/8"

        def on_beat(n: Note) -> bool:
            return abs(n.start - round(n.start)) < 1e-6

        if bpm < 85:
            part.notes = [
                n for n in part.notes if on_beat(n) or (triplet and n.pitch in pat.KEEPERS and n.vel < 70)
            ]
            fills = [n for n in fills if on_beat(n) or n.pitch in _TOMS]
        if (bpm < 85 or bpm >= 130) and self.feel != "half-time":
            strong = {
                int(round(n.start))
                for n in (*part.notes, *fills)  # a fill's snare on the beat is that beat's hit
                if n.pitch in (pat.KICK, pat.SNARE, pat.CLAP, pat.RIM) and on_beat(n)
            }
            for beat in range(self.plan.bars * 4):
                if beat not in strong:
                    part.notes.append(Note(float(beat), 0.25, pat.KICK, 96 if bpm >= 130 else 80))
        if bpm < ALTERNATE_BPM:
            backbeat = {
                int(round(n.start))
                for n in part.notes
                if n.pitch in (pat.SNARE, pat.CLAP, pat.RIM) and on_beat(n)
            }
            part.notes = [
                n for n in part.notes if not (n.pitch == pat.KICK and int(round(n.start)) in backbeat)
            ]
        if bpm >= 130:
            for n in part.notes:
                if not on_beat(n) and n.pitch != pat.SNARE:
                    n.vel = int(n.vel * 0.6)
        part.notes += fills
        self._keep_time(part)

    def _keep_time(self, part: Part) -> None:
        """A timekeeper hit on every beat (or a kick where the kit keeps time with it), louder than
        what the timekeepers play inside that beat: the beat a listener taps is the loudest tick."""
        n_beats = self.plan.bars * 4
        on: dict[int, Note] = {}
        kick: set[int] = set()
        off = [0] * n_beats
        for n in part.notes:
            beat = int(round(n.start))
            if abs(n.start - beat) < 1e-6 and 0 <= beat < n_beats:
                if n.pitch in pat.KEEPERS and (beat not in on or n.vel > on[beat].vel):
                    on[beat] = n
                elif n.pitch == pat.KICK:
                    kick.add(beat)
            elif n.pitch in pat.KEEPERS and 0 <= int(n.start) < n_beats:
                off[int(n.start)] = max(off[int(n.start)], n.vel)
        keeper = pat.TAMB if self.style.kit == 48 else pat.PEDAL  # the orchestral kit's 44 is a timpani
        for beat in range(n_beats):
            want = min(127, off[beat] + 12) if off[beat] else 0
            if beat in on:
                on[beat].vel = max(on[beat].vel, want)
            elif want or beat not in kick:
                part.notes.append(Note(float(beat), 0.25, keeper, max(want, 60)))

    def _fill(self, bar: int, vel_scale: float) -> list[Note]:
        kind = int(self.rng.integers(0, 3))
        base = bar * 4 + 2
        step = 1 / 3 if self.feel == "6/8" else 0.25
        if kind == 0:  # snare run
            steps = [(i, pat.SNARE) for i in range(8 if step == 0.25 else 6)]
        elif kind == 1:  # toms down
            drums = (
                pat.TOM_HI,
                pat.TOM_HI,
                pat.TOM_MID,
                pat.TOM_MID,
                pat.TOM_LO,
                pat.TOM_LO,
                pat.SNARE,
                pat.SNARE,
            )
            steps = [(i, drums[i if step == 0.25 else i + 2]) for i in range(8 if step == 0.25 else 6)]
        else:  # snare on 8ths then 16ths
            steps = [
                (0, pat.SNARE),
                (2, pat.SNARE),
                (4, pat.SNARE),
                (5, pat.SNARE),
                (6, pat.TOM_MID),
                (7, pat.TOM_LO),
            ]
            if step != 0.25:
                steps = [(0, pat.SNARE), (1, pat.SNARE), (3, pat.SNARE), (4, pat.TOM_MID), (5, pat.TOM_LO)]
        return [
            Note(base + i * step, 0.25, drum, min(127, int((70 + 6 * i) * vel_scale))) for i, drum in steps
        ]

    # ---- bass
    def bass(self) -> list[Part]:
        style = self.style
        prog = self.plan.bass_prog if self.plan.bass_prog is not None else style.bass_prog
        part = Part("bass", prog)
        family = "six8" if self.feel == "6/8" and style.bass not in ("drone", "sub") else style.bass
        rhythm = pat.BASS.get(family, pat.BASS["pop"])
        if self.slow:
            rhythm = _on_beats(rhythm)
        lo, hi = (28, 52) if prog not in (42, 0) else (36, 60)
        third_bass = self.third_is_safe
        if style.bass == "lh":
            lo, hi = 36, 55
        for sec in self.sections:
            kind = sec.name.split()[0].lower()
            vel = int(70 + 40 * sec.energy)
            for b in range(sec.bars):
                bar = sec.start + b
                bar_vel = int(vel * _BASS_ACCENT.get(self.accent[bar], 0.85))
                if family == "walking":
                    self._walk(part, bar, bar_vel, lo, hi)
                    continue
                use = rhythm
                if kind in ("intro", "outro", "break") and len(rhythm) > 2:
                    use = [(0, 2, "R"), (2, 2, "R")] if kind != "outro" else [(0, 4, "R")]
                home = bar in self.tonic_bass
                for i, (start, dur, role) in enumerate(use):
                    beat = bar * 4 + start
                    if i == len(use) - 1 and i and start >= 2 and role == "R":
                        # the bar's last note: the minor third on the tonic chord (see third_is_safe),
                        # in minor the chord's fifth where that is the tonic (iv and a dorian IV go
                        # home through it; in major, I over IV's fifth is heard as I)
                        chord = chord_at(self.bar_chords, beat)
                        if third_bass and is_tonic_chord(chord, self.key):
                            role = "3"
                        elif (
                            self.key.mode == "minor"
                            and (chord.root + 7) % 12 == self.key.tonic
                            and 7 in chord.intervals
                        ):
                            role = "5"
                    # the bar's first note on the tonic, or all its roots where the style holds a pedal
                    pitch = self._bass_pitch(beat, role, lo, hi, home and (self.pedal or start == 0))
                    part.notes.append(
                        Note(beat, dur * 0.95, pitch, bar_vel if start % 1 == 0 else bar_vel - 12)
                    )
        # the last word: the tonic, under the ringing tonic chord
        end = self.plan.bars * 4
        part.notes.append(Note(end, 2.0, nearest_pitch(self.key.tonic, lo + 7, lo, hi), 90))
        return [part]

    def _bass_pitch(self, beat: float, role: str, lo: int, hi: int, home: bool = False) -> int:
        chord = chord_at(self.bar_chords, beat)
        centre = lo + 7
        if role == "R":
            return nearest_pitch(self.key.tonic if home else chord.bass, centre, lo, hi)
        if (
            role == "5"
            and self.third_is_safe
            and chord.root == self.key.tonic
            and chord.is_minor
            and int(beat) % 2 == 1
        ):
            role = "3"  # root-third lines on the tonic chord: the mode is heard in the bass too
        if role == "5":
            fifth = (
                7
                if 7 in chord.intervals
                else (6 if 6 in chord.intervals else (8 if 8 in chord.intervals else 7))
            )
            pc = (chord.root + fifth) % 12
            if pc not in (self.key.tonic, (self.key.tonic + 7) % 12):
                # A fifth that is neither the key's tonic nor its fifth feeds a rival key: over VI
                # and III in A minor it would be C and G, the relative major's tonic and dominant.
                # The root's octave takes its place.
                return min(hi + 12, nearest_pitch(chord.bass, centre, lo, hi) + 12)
            return nearest_pitch(pc, centre + 3, lo, hi)
        if role == "3":
            third = 3 if chord.is_minor else 4
            return nearest_pitch((chord.root + third) % 12, centre + 2, lo, hi)
        if role == "8":
            return min(hi + 12, nearest_pitch(chord.bass, centre, lo, hi) + 12)
        # approach: a scale step above or below the next bar's bass
        nxt = chord_at(self.bar_chords, min((beat // 4 + 1) * 4, len(self.bar_chords) * 4 - 0.01))
        target = nearest_pitch(nxt.bass, centre, lo, hi)
        direction = 1 if self.rng.random() < 0.5 else -1
        first = 2 if self.rng.random() < 0.6 else 1
        step = next((d for d in (first, 3 - first) if (target + direction * d) % 12 in self.scale_pcs), first)
        return target + direction * step

    def _walk(self, part: Part, bar: int, vel: int, lo: int, hi: int) -> None:
        chords = self.bar_chords[bar]
        chord = chords[0]
        home = bar in self.tonic_bass
        root = nearest_pitch(self.key.tonic if home else chord.bass, lo + 8, lo, hi)
        pcs = sorted({(chord.root + i) % 12 for i in chord.intervals})
        third = nearest_pitch(pcs[1] if len(pcs) > 1 else chord.root, root + 4, lo, hi + 5)
        fifth = nearest_pitch((chord.root + 7) % 12, root + 7, lo, hi + 5)
        nxt = self.bar_chords[min(bar + 1, len(self.bar_chords) - 1)][0]
        target = nearest_pitch(nxt.bass, root, lo, hi)
        approach = target + (1 if self.rng.random() < 0.5 else -1)
        line = [
            root,
            third if self.rng.random() < 0.5 else fifth,
            fifth if self.rng.random() < 0.6 else third,
            approach,
        ]
        if self.key.tonic in pcs and chord.root != self.key.tonic:
            line[2] = nearest_pitch(self.key.tonic, root + 5, lo, hi + 5)  # pass through the tonic
        if len(chords) > 1:
            second = nearest_pitch(chords[1].bass, root, lo, hi)
            line[2] = second
        for i, p in enumerate(line):
            part.notes.append(Note(bar * 4 + i, 0.9, int(p), vel - (0 if i % 2 == 0 else 10)))

    # ---- keys
    def keys(self) -> list[Part]:
        style = self.style
        prog = self.plan.keys_prog if self.plan.keys_prog is not None else style.keys_prog
        family = style.keys
        if 24 <= prog <= 31 and family in ("block", "pulse8", "comp", "alberti", "arp"):
            family = "strum8" if prog < 29 else "power"
        if prog < 24 and family in ("power", "strum", "strum8"):
            family = "pulse8"
        if self.feel == "6/8" and family not in ("block", "quartet", "skank", "power"):
            family = "arp"  # the 6/8 accompaniment: chords broken into triplet eighths
        part = Part("keys", prog, pan=54)
        parts = [part]
        prev: list[int] | None = None
        lo, hi = (52, 76)
        if family == "power":
            lo, hi = (40, 62)
        for sec in self.sections:
            kind = sec.name.split()[0].lower()
            for b in range(sec.bars):
                bar = sec.start + b
                vel_base = (55 + 45 * sec.energy) * self.accent[bar]
                if family in ("arp", "arp16", "alberti", "montuno", "ostinato"):
                    prev = self._arp_bar(part, bar, family, vel_base, kind)
                    continue
                rhythm = pat.KEYS_RHYTHM.get(family, pat.KEYS_RHYTHM["block"])
                if kind in ("intro", "outro", "break") and family not in ("skank",):
                    rhythm = pat.KEYS_RHYTHM["block"] if family != "quartet" else rhythm
                if self.slow:
                    rhythm = _on_beats(rhythm, legato=False)
                for start, dur, acc in rhythm:
                    beat = bar * 4 + start
                    chord = chord_at(self.bar_chords, beat)
                    if family == "power":
                        root = nearest_pitch(chord.root, 45, lo, hi)
                        fifth = 7 if 7 in chord.intervals else 6
                        notes = [root, root + fifth, root + 12]
                        third = 3 if chord.is_minor else (4 if 4 in chord.intervals else None)
                        if third is not None:
                            # a bare power chord leaves the mode to the overtones, whose fifth
                            # harmonic is a major third: the tenth makes minor chords sound minor
                            notes.append(root + 12 + third)
                    else:
                        notes = voice(chord, prev, lo, hi)
                        prev = notes
                    spread = 0.02 if family.startswith("strum") else 0.0
                    for i, p in enumerate(notes):
                        part.notes.append(Note(beat + i * spread, dur, p, int(vel_base * acc)))
        pad = self.plan.pad_prog if self.plan.pad_prog is not None else style.pad_prog
        if style.key in ("cinematic",) and pad is None:
            pad = 48
        if pad is not None:
            pad_part = Part("pad", pad, pan=74)
            prev = None
            for sec in self.sections:
                kind = sec.name.split()[0].lower()
                if kind not in (
                    "chorus",
                    "drop",
                    "bridge",
                    "intro",
                    "outro",
                    "break",
                    "build",
                    "solo",
                ) and style.key not in ("ambient", "cinematic", "rnb", "trance"):
                    continue
                for b in range(sec.bars):
                    bar = sec.start + b
                    vel = int((40 + 35 * sec.energy) * self.accent[bar])
                    for chord_i, chord in enumerate(self.bar_chords[bar]):
                        n = len(self.bar_chords[bar])
                        notes = voice(chord, prev, 55, 79, size=3)
                        prev = notes
                        for p in notes:
                            pad_part.notes.append(Note(bar * 4 + chord_i * 4 / n, 4 / n, p, vel))
            parts.append(pad_part)
        parts.append(self._tonic_anchor())
        # the tonic chord ringing over the tail, whatever chord the last bar held
        end = self.plan.bars * 4
        for p in voice(self.tonic_chord, prev, 52, 76):
            part.notes.append(Note(end, 3.0, p, 70))
        return parts

    def _tonic_anchor(self) -> Part:
        """A quiet inner voice that holds the tonic and the key's third whenever the chord of the moment
        contains them (common tones, so it never clashes), plus a low tonic pedal in minor keys.
        Without it a progression that lingers on IV or V, or a minor one whose low notes ring with
        major-third overtones, is easily heard in the dominant or the relative key."""
        low_pad = self.style.key in ("house", "techno", "trance", "dnb", "dubstep", "synthwave", "trap")
        part = Part("anchor", 89 if low_pad else 48, pan=64)
        # Tonic and third, and in major keys the fourth degree: rich tones add their fifth (third
        # harmonic) to the chroma, which pulls a major key toward its dominant, and the fourth is
        # the note that tells them apart. The key's fifth is left out for the same reason. In
        # mixolydian the fourth is the tonic of the key a fourth up, the rival reading of I-bVII.
        degrees = (0, 3) if self.key.mode == "minor" else ((0, 4) if self.mode == "mixolydian" else (0, 4, 5))
        triad = [(self.key.tonic + i) % 12 for i in degrees]
        low = nearest_pitch(self.key.tonic, 50, 45, 56)
        for sec in self.sections:
            base = (52 if self.key.mode == "major" else 40) + 30 * sec.energy
            for b in range(sec.bars):
                bar = sec.start + b
                chords = self.bar_chords[bar]
                vel = int(base * self.accent[bar])
                if self.key.mode == "minor":
                    part.notes.append(Note(bar * 4, 3.98, low, vel))
                for ci, chord in enumerate(chords):
                    start, dur = bar * 4 + ci * 4 / len(chords), 4 / len(chords) - 0.02
                    for k, pc in enumerate(triad):
                        if pc not in chord.pitch_classes:
                            continue
                        weight = (1.0, 0.95, 0.8)[k]
                        part.notes.append(Note(start, dur, nearest_pitch(pc, 64, 58, 71), int(vel * weight)))
        return part

    def _arp_bar(self, part: Part, bar: int, family: str, vel_base: float, kind: str) -> list[int]:
        chords = self.bar_chords[bar]
        step = 0.25 if family in ("arp16",) else 0.5
        if self.feel == "6/8":
            step = 1 / 3
        elif self.slow:
            step = 1.0
        elif self.plan.bpm < 85:
            step = 1.0 if family != "arp16" else 0.5
        n = int(round(4 / step))
        out: list[int] = []
        for i in range(n):
            beat = bar * 4 + i * step
            chord = chord_at(self.bar_chords, beat)
            if family == "alberti":
                v = voice(chord, None, 48, 67, size=3)
                order = [v[0], v[2], v[1], v[2]]
                p = order[i % 4]
            elif family == "ostinato":
                root = nearest_pitch(chord.root, 50, 45, 60)
                p = (
                    [root, root + 12, root + 7, root + 12][i % 4]
                    if 7 in chord.intervals
                    else root + 12 * (i % 2)
                )
            elif family == "montuno":
                v = voice(chord, None, 60, 79, size=3)
                p = [v[0], v[2], v[1], v[2] + 0, v[0] + 12, v[2], v[1], v[2]][i % 8]
            else:
                v = voice(chord, None, 57, 81, size=4) if family == "arp16" else voice(chord, None, 55, 79, 3)
                seq = v + v[-2:0:-1]
                p = seq[i % len(seq)]
            out.append(p)
            on = abs(i * step - round(i * step)) < 1e-6
            acc = 1.0 if on else (0.65 if self.feel == "6/8" else 0.8)
            part.notes.append(
                Note(
                    beat,
                    step * (1.6 if family in ("arp", "alberti") else 0.9),
                    int(p),
                    int(vel_base * acc * (0.85 if kind in ("intro", "outro") else 1.0)),
                )
            )
        if len(chords) and family in ("ostinato",):
            for p in voice(chords[0], None, 60, 79, 3):
                part.notes.append(Note(bar * 4, 4, p, int(vel_base * 0.6)))
        return out[-4:]

    # ---- lead
    def lead(self) -> list[Part]:
        style = self.style
        prog = self.plan.lead_prog if self.plan.lead_prog is not None else style.lead_prog
        part = Part("lead", prog, pan=70)
        lo, hi = _lead_range(prog)
        motifs: dict[str, list[tuple[float, float, int]]] = {}
        for sec in self.sections:
            kind = sec.name.split()[0].lower()
            if kind not in _MELODIC and kind != "build":
                if kind == "intro" and sec.bars >= 4 and style.lead_density > 0.3:
                    pass  # fall through: a thin statement of the chorus motif
                else:
                    continue
            if self.plan.melody:
                self._seeded_melody(part, sec)
                continue
            key_name = "chorus" if kind in ("chorus", "drop", "intro") else kind
            density = style.lead_density + (0.15 if key_name in ("chorus", "drop", "solo") else 0.0)
            if kind == "intro":
                density *= 0.5
            if key_name not in motifs:
                motifs[key_name] = self._rhythm(min(0.95, density), sec.bars)
            rhythm = motifs[key_name]
            shift = 4 if key_name in ("chorus", "drop") else (2 if key_name == "bridge" else 0)
            vel = int(70 + 40 * sec.energy)
            self._melody(part, sec, rhythm, lo + shift, hi + shift, vel, key_name)
        return [part]

    def _rhythm(self, density: float, bars: int) -> list[tuple[float, float, int]]:
        """A two-bar rhythm (onset beat, length, contour step) reused through the section. Slow
        tempos keep their notes on the beat; 6/8 keeps eighth pairs, which the triplet swing turns
        into its long-short figure."""
        cells = [
            ((0.0,), 0.15),
            ((0.0, 0.5), 0.3),
            ((0.0, 0.75), 0.12),
            ((0.0, 0.5, 0.75), 0.12),
            ((0.5,), 0.1),
            ((), 0.12),
            ((0.0, 0.25, 0.5, 0.75), 0.09 * density),
        ]
        probs = np.array([w for _, w in cells])
        # density moves weight from rests and long notes to busier cells
        probs = probs * np.array([1.2 - density, 0.6 + density, 1, 0.5 + density, 1, 1.3 - density, density])
        if self.feel == "6/8":
            probs *= np.array([1, 1, 0, 0, 0, 1, 0])
        elif self.slow:
            probs *= np.array([1, 0, 0, 0, 0, 1, 0])
        probs = np.clip(probs, 0.001, None)
        probs /= probs.sum()
        onsets: list[float] = []
        for beat in range(8):
            if beat == 7:
                continue  # breathe at the end of the phrase
            idx = self.rng.choice(len(cells), p=probs) if beat != 0 else 0
            onsets.extend(beat + o for o in cells[idx][0])
        if not onsets:
            onsets = [0.0]
        out = []
        steps = self.rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3], size=len(onsets))
        for i, o in enumerate(onsets):
            nxt = onsets[i + 1] if i + 1 < len(onsets) else 8.0
            out.append((o, min(nxt - o, 2.0), int(steps[i])))
        return out

    def _melody(
        self,
        part: Part,
        sec: Section,
        rhythm: list[tuple[float, float, int]],
        lo: int,
        hi: int,
        vel: int,
        kind: str,
    ) -> None:
        scale = self.scale
        centre = (lo + hi) / 2

        # absolute scale-degree index; degree 0 = tonic
        def pitch_of(d: int) -> int:
            return self.key.tonic + 12 * (d // 7) + scale[d % 7] + 12 * 5

        def degree_near(p: float) -> int:
            best = min(range(-14, 28), key=lambda d: abs(pitch_of(d) - p))
            return best

        d = degree_near(centre)
        tonic = self.key.tonic
        third, fifth = (tonic + (3 if self.key.mode == "minor" else 4)) % 12, (tonic + 7) % 12
        # Strong beats lean on the notes that name the key. In minor that is the tonic and the fifth,
        # not the third: the minor third is the relative major's tonic. In major, the fourth tells
        # the key from its dominant, except in mixolydian and lydian where it is the rival tonic.
        if self.key.mode == "minor":
            anchor_bonus = {tonic: 3.0, fifth: 1.5, third: 1.5 if self.third_is_safe else 0.5}
        elif self.mode == "ionian":
            anchor_bonus = {tonic: 2.5, third: 1.5, (tonic + 5) % 12: 1.0}
        else:
            anchor_bonus = {tonic: 2.5, third: 1.5, fifth: 1.0}
        home = {tonic, third, fifth}

        def colour_ok(pc: int, pcs: frozenset[int]) -> bool:
            """A key note added over a chord that lacks it: in the scale, rubbing against no chord
            tone, completing no other triad with the chord's notes (A over G7 spells D minor, E over
            G spells E minor), and not over a chord that shares two notes with the tonic triad (the
            tonic over III, or over vi in major, would turn it into the tonic's seventh chord)."""
            return (
                pc in self.scale_pcs and _consonant(pc, pcs) and len(home & pcs) < 2 and _keeps_chord(pc, pcs)
            )

        phrase_bars = 2
        n_phr = max(1, sec.bars // phrase_bars)
        for ph in range(n_phr):
            base = (sec.start + ph * phrase_bars) * 4
            last_phrase = ph == n_phr - 1
            variation = ph % 4 == 2  # the third phrase answers with an inverted contour
            for i, (onset, dur, step) in enumerate(rhythm):
                beat = base + onset
                if beat >= (sec.start + sec.bars) * 4:
                    break
                d += -step if variation else step
                p = pitch_of(d)
                if p > hi:
                    d -= 3
                elif p < lo:
                    d += 3
                p = pitch_of(d)
                chord = chord_at(self.bar_chords, beat)
                pcs = chord.pitch_classes
                strong = onset % 2 == 0 or (i == len(rhythm) - 1)
                if strong:
                    # the nearest chord tone, or the tonic as a colour tone (a sixth or a ninth over
                    # the chord) where it rubs against none: the notes that name the key preferred
                    # by up to three semitones of extra distance
                    choices = set(pcs) | {pc for pc in anchor_bonus if colour_ok(pc, pcs)}
                    p = min(
                        (nearest_pitch(pc, p, lo - 2, hi + 2) for pc in sorted(choices)),
                        key=lambda q: abs(q - p) - anchor_bonus.get(q % 12, 0.0),
                    )
                    d = degree_near(p)
                else:
                    pc = p % 12
                    if pc not in pcs:
                        for alt in (pc + 1, pc - 1):
                            if alt % 12 in pcs and alt % 12 not in self.scale_pcs:
                                p = p + (alt - pc)
                                break
                length = dur * 0.92
                if i == len(rhythm) - 1:
                    # phrases cadence: on the tonic wherever it does not grate against the chord
                    # (the fifth answers it in the first phrase of a pair), the section's last on 1
                    goals = (tonic, fifth) if (ph % 2 == 1 or last_phrase) else (fifth, tonic)
                    goal = next((g for g in goals if g in pcs or colour_ok(g, pcs)), chord.root)
                    p = nearest_pitch(goal, p, lo - 2, hi + 2)
                    d = degree_near(p)
                    if last_phrase:
                        length = max(length, 1.5)
                part.notes.append(Note(beat, length, int(p), vel if strong else vel - 10))

    def _seeded_melody(self, part: Part, sec: Section) -> None:
        melody = self.plan.melody or []
        m_bars = max(1, self.plan.melody_bars)
        vel_scale = 0.8 + 0.2 * sec.energy
        for b in range(sec.bars):
            src_bar = b % m_bars
            for n in melody:
                if src_bar * 4 <= n.start < (src_bar + 1) * 4:
                    start = (sec.start + b) * 4 + (n.start - src_bar * 4)
                    part.notes.append(Note(start, n.dur, n.pitch, int(min(127, n.vel * vel_scale))))

    # ---- humanising
    def _humanise(self, part: Part) -> None:
        if not part.notes:
            return
        n = len(part.notes)
        jitter = self.rng.normal(0, 0.006, size=n)
        vj = self.rng.integers(-5, 6, size=n)
        for note, j, v in zip(part.notes, jitter, vj, strict=True):
            if not part.is_drum or note.pitch not in (pat.KICK, pat.SNARE, pat.CLAP):
                note.start = max(0.0, note.start + float(j))
            note.vel = int(max(20, min(127, note.vel + int(v))))


def _lead_range(program: int) -> tuple[int, int]:
    if program in (32, 33, 34, 35, 36, 37, 38, 42, 43, 57, 58, 70):
        return 48, 67
    if 8 <= program <= 15 or program in (72, 73, 74, 75, 78, 79, 108):
        return 69, 88
    if 64 <= program <= 67 or program in (56, 60, 61, 71, 68):
        return 60, 79
    return 64, 83


def _apply_swing(notes: list[Note], swing: float) -> None:
    """Delay off-beat eighths (swing >= .2, jazz feel) or off-beat sixteenths (lighter hip-hop feel)."""
    for n in notes:
        frac = n.start % 1.0
        if swing >= 0.2:
            if abs(frac - 0.5) < 0.02:
                n.start += swing * 0.5
        else:
            q = n.start % 0.5
            if abs(q - 0.25) < 0.02:
                n.start += swing * 0.25


# The bass's own accents, keyed by the bar's accent: stronger, because estimators normalise every
# analysis frame (chroma, HPCP) and only the balance inside it counts; a bass a little softer on the
# other chords lets the tonic that the anchor and melody hold outweigh those chords' roots and fifths.
_BASS_ACCENT = {_TONIC_ACCENT: 1.1, _RIVAL_ACCENT: 0.75}


def _on_beats(rhythm: list[tuple], legato: bool = True) -> list[tuple]:
    """A bar pattern of (start, length, ...) without its off-beat onsets, each note held (legato)
    up to the next one: what slow tempos play, so that the half-beat is not heard as the beat."""
    kept = [r for r in rhythm if float(r[0]).is_integer()]
    if not kept:
        return [(0, 4, *rhythm[0][2:])]
    out = []
    for i, (start, dur, *rest) in enumerate(kept):
        nxt = kept[i + 1][0] if i + 1 < len(kept) else 4
        out.append((start, (nxt - start) if legato else min(dur, nxt - start), *rest))
    return out


def _consonant(pc: int, chord_pcs: frozenset[int]) -> bool:
    """A chord tone, or a note no chord tone rubs against by a semitone (a ninth or a sixth over
    the chord, not a minor ninth)."""
    return pc in chord_pcs or not ({(pc + 1) % 12, (pc - 1) % 12} & chord_pcs)


def _root_or_third(pc: int, chord: Chord) -> bool:
    """`pc` is the chord's root or its third: in the bass it makes a root position or a first
    inversion, which still sound as the chord."""
    return pc == chord.root or (pc - chord.root) % 12 in {3, 4} & set(chord.intervals)


_TRIADS = tuple(frozenset({r, (r + t) % 12, (r + 7) % 12}) for r in range(12) for t in (3, 4))


def _keeps_chord(pc: int, chord_pcs: frozenset[int]) -> bool:
    """Adding `pc` to the chord completes no major or minor triad that the chord did not hold."""
    if pc in chord_pcs:
        return True
    grown = chord_pcs | {pc}
    return not any(pc in t and t <= grown for t in _TRIADS)
