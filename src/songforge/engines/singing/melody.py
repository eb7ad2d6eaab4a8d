"""The vocal line: rhythm from the syllables' stress, pitches from the bar's chord and the voice's range.

Rhythm keeps a sung syllable near speech rate (about 0.2-0.45 s per syllable whatever the tempo):
the field notes measured that long stretched syllables are what makes synthetic singing
unintelligible, so slow songs get subdivided rhythms and long notes only where a line ends.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from songforge.engines.base import ChordError, EngineError


@dataclass
class Note:
    start: float  # beats from the song's start
    dur: float  # beats
    midi: int
    syllable: int  # index of the syllable within its line
    line: int  # index of the line in the song (over all sections)


@dataclass
class SyllableInfo:
    stress: int
    word_start: bool
    word_syllables: int
    spoken_onset: float | None = None  # when festival's speech reaches this syllable's vowel (s)


# Where each section sits relative to the voice's comfortable middle (semitones): the chorus lifts.
_SECTION_LIFT = {"verse": -1, "pre-chorus": 1, "chorus": 3, "bridge": 1, "intro": 0, "outro": -1, "inst": 0}
TARGET_SYLLABLE_S = 0.22  # festival speaks about 4.5 syllables a second
# The longest a line's last syllable is held. Measured on the benchmark's 12 songs (pocketsphinx): a
# 1.0 s held vowel made the recognizer insert words into it (sung WER 55%); 0.5 s gave 47%, and with
# GRID = 0, 0.5 s gave 40% and 0.35 s 38%. The rest of the line's slot is a rest (a breath).
MAX_HOLD_S = 0.35
LENGTHEN_P = 0.25  # chance that a stressed syllable inside a line takes two grid steps
# A line is sung at most this much slower than festival speaks it: with GRID = 0 and a 0.5 s hold,
# 1.5 gave 40.4% sung WER and 1.3 gave 36.9% (33.8% with the 0.35 s hold).
SPEECH_PACE = 1.3
MIN_GRID_S = 0.09  # a finer rhythmic grid than this is not heard as rhythm
# "speech": the speech's own rhythm, slowed and snapped to the grid; "grid": syllables on a grid of
# their own with stressed syllables pushed onto beats (the first version).
RHYTHM = "speech"
# Beats the syllables inside a line snap to; 0 keeps the speech's own (slowed) timing inside the line,
# with only its first stressed syllable on a beat. Snapping to quarter beats cost 6 points of sung WER
# on the benchmark (46.8% vs 40.4% with MAX_HOLD_S = 0.5); eighths were no better than quarters.
GRID = 0.0
TESSITURA = 0.1  # where in the voice's range (0 bottom, 1 top) a line's centre sits
ARCH = 2.5  # semitones a line rises towards its middle


def key_scale(key: str) -> tuple[int, tuple[int, ...]]:
    from songforge.music.theory import parse_tonality

    k = parse_tonality(key)
    return k.tonic, k.scale


def chord_pcs(symbol: str, tonic: int, scale: tuple[int, ...]) -> set[int]:
    from songforge.music.chords import parse_chord

    try:
        ch = parse_chord(symbol)
    except (EngineError, ChordError):
        return {(tonic + scale[i]) % 12 for i in (0, 2, 4)}
    # Melody notes sit on the triad (plus the seventh if present), not on the slash bass.
    return {(ch.root + i) % 12 for i in ch.intervals}


def _strong(syl: SyllableInfo) -> bool:
    """Stressed syllables of words, and one-syllable words other than the commonest function words,
    want the strong beats."""
    if syl.word_syllables > 1:
        return syl.stress > 0
    return syl.stress > 0


def speech_rhythm(
    syls: list[SyllableInfo], phrase_beats: float, bpm: float
) -> list[tuple[float, float]] | None:
    """(start, duration) in beats, following the speech's own rhythm, slowed by up to SPEECH_PACE (and
    snapped to a GRID of beats when GRID > 0), with the first stressed syllable on a beat; syllables
    stay at least MIN_GRID_S apart.

    The benchmark measured why: re-timing speech to a rhythm of its own choosing loses most words even
    at speech pace, while the spoken rhythm, slowed (with festival speaking slower to match) and
    snapped to the grid, keeps most of them. None when the speech timings are unknown.
    """
    n = len(syls)
    onsets = [s.spoken_onset for s in syls]
    if n == 0 or any(o is None for o in onsets):
        return None
    beat_s = 60.0 / bpm
    rest = 1.0 if phrase_beats >= 4 else 0.5
    avail = max(phrase_beats - rest, 0.5)
    grid = GRID if GRID > 0 else MIN_GRID_S / beat_s  # with GRID = 0, only the shortest gap
    while GRID > 0 and grid * beat_s < MIN_GRID_S:
        grid *= 2
    rel = [(o - onsets[0]) / beat_s for o in onsets]  # type: ignore[operator]
    span = rel[-1] + grid
    pace = min(SPEECH_PACE, avail / span) if span > 0 else 1.0
    starts: list[float] = []
    for r in rel:
        q = round(r * pace / grid) * grid if GRID > 0 else r * pace
        starts.append(max(q, starts[-1] + grid) if starts else q)
    if starts[-1] + grid > avail:  # a crowded line: squeeze evenly
        step = avail / n
        starts = [i * step for i in range(n)]
    first_strong = next((st for st, sy in zip(starts, syls, strict=True) if _strong(sy)), starts[0])
    shift = (math.ceil(first_strong - 1e-9) - first_strong) % 1.0
    if starts[-1] + shift + grid > avail:
        shift = 0.0
    starts = [st + shift for st in starts]
    out = []
    for i, st in enumerate(starts):
        end = starts[i + 1] if i + 1 < n else min(avail, st + max(grid, MAX_HOLD_S / beat_s))
        out.append((st, max(end - st, min(grid, avail / n))))
    return out


def line_rhythm(
    syls: list[SyllableInfo], phrase_beats: float, bpm: float, rng: random.Random
) -> list[tuple[float, float]]:
    """(start, duration) in beats, relative to the phrase start, one per syllable."""
    spoken = speech_rhythm(syls, phrase_beats, bpm) if RHYTHM == "speech" else None
    if spoken is not None:
        return spoken
    n = len(syls)
    beat_s = 60.0 / bpm
    rest = 1.0 if phrase_beats >= 4 else 0.5
    avail = max(phrase_beats - rest, 0.5)
    # The grid step nearest a spoken syllable's length that still fits the line.
    fitting = [u for u in (1.0, 0.5, 0.25) if n * u <= avail]
    unit = min(fitting, key=lambda u: abs(math.log(u * beat_s / TARGET_SYLLABLE_S))) if fitting else None
    if unit is None:
        unit = avail / n  # crowded line: squeeze evenly
    spare = int(round((avail - n * unit) / unit)) if unit >= 0.25 else 0
    # Lines start on the downbeat, or after one slot when there is plenty of room (a little breath).
    pos = 0.0
    if spare > n // 2 + 2 and rng.random() < 0.5:
        pos = unit
        spare -= 1
    starts: list[float] = []
    # Room to hold the last syllable, up to MAX_HOLD_S: a longer held vowel is where the words get lost.
    keep_for_end = min(spare, max(1, int(MAX_HOLD_S / (unit * beat_s))))
    spare_mid = spare - keep_for_end
    for i, s in enumerate(syls):
        on_beat = abs(pos - round(pos)) < 1e-6
        if i > 0 and _strong(s) and not on_beat and spare_mid > 0:
            step = (1.0 - (pos % 1.0)) / unit
            k = int(round(step))
            if k <= spare_mid:
                pos += k * unit
                spare_mid -= k
        starts.append(pos)
        pos += unit
        if spare_mid > 0 and i < n - 1 and _strong(s) and rng.random() < LENGTHEN_P:
            pos += unit  # lengthen a stressed syllable now and then
            spare_mid -= 1
    out = []
    for i, st in enumerate(starts):
        end = starts[i + 1] if i + 1 < n else min(avail, st + max(unit, MAX_HOLD_S / beat_s))
        out.append((st, max(end - st, min(unit, 0.25))))
    return out


def _candidates(pcs: set[int], lo: int, hi: int) -> list[int]:
    return [p for p in range(lo, hi + 1) if p % 12 in pcs]


def compose(
    *,
    lines: list[tuple[str, int, list[SyllableInfo]]],  # (section name, line index in section, syllables)
    line_slots: list[tuple[float, float]],  # (start beat, length in beats) per line
    key: str,
    bpm: float,
    bar_chords: list[str],
    beats_per_bar: int,
    low_midi: int,
    high_midi: int,
    seed: int,
) -> list[Note]:
    """Notes for every line. A line's notes depend only on its section, index and syllables (and the
    seed), so every chorus is sung to the same tune."""
    tonic, scale = key_scale(key)
    scale_pcs = {(tonic + s) % 12 for s in scale}
    lo, hi = low_midi + 1, high_midi - 1
    if hi - lo < 7:
        lo, hi = low_midi, high_midi
    # The tune sits low in the range, nearer the pitch festival's voices speak at: measured on one
    # line set, WER went from ~30% at MIDI 62 to ~67% at 69 and ~86% at 74 (slt), and from ~38% at
    # 48 to ~59% at 60 (kal); centring at 0.1 instead of 0.25 of the range cut three songs' WER 88% -> 66%.
    mid = lo + TESSITURA * (hi - lo)
    notes: list[Note] = []
    for li, ((section, idx, syls), (start, length)) in enumerate(zip(lines, line_slots, strict=True)):
        if not syls:
            continue
        rng = random.Random(f"{seed}:{section}:{idx}:{len(syls)}")
        rhythm = line_rhythm(syls, length, bpm, rng)
        centre = mid + _SECTION_LIFT.get(section, 0) + (1 if idx % 2 else 0)
        centre = min(max(centre, lo + 2), hi - 3)
        prev = int(round(centre)) - rng.choice((0, 2, 3))
        prev2 = -1
        n = len(syls)
        for si, ((rs, rd), syl) in enumerate(zip(rhythm, syls, strict=True)):
            t = start + rs
            bar = int(t // beats_per_bar)
            chord = chord_pcs(bar_chords[bar % len(bar_chords)], tonic, scale) if bar_chords else scale_pcs
            # Arch: rise towards the middle of the line, settle at its end.
            x = si / max(n - 1, 1)
            settle = 2.0 if si == n - 1 and section != "chorus" else 0.0
            target = centre + ARCH * (1 - (2 * x - 1) ** 2) - settle
            strong = _strong(syl) or abs(rs - round(rs)) < 1e-6 or si == n - 1
            pool = _candidates(chord if strong else (scale_pcs | chord), lo, hi)
            pool = pool or _candidates(scale_pcs, lo, hi)
            best, best_score = pool[0], 1e9
            for p in pool:
                leap = abs(p - prev)
                score = 0.35 * leap + 0.5 * abs(p - target) + (3.0 if leap > 5 else 0.0) + rng.random() * 1.5
                if p == prev:
                    score += 3.0 if p == prev2 else 1.2  # avoid droning on one pitch
                if score < best_score:
                    best, best_score = p, score
            beat_s = 60.0 / bpm
            if si == n - 1 and rd * beat_s > 1.2 and rng.random() < 0.6:
                # Hold the last syllable over two notes: a step into the chord tone (a melisma).
                first = max(0.5, round(rd / 3 * 2) / 2)
                approach = [p for p in _candidates(scale_pcs, lo, hi) if 0 < abs(p - best) <= 2]
                if approach and first < rd:
                    a = rng.choice(approach)
                    notes.append(Note(t, first, a, si, li))
                    notes.append(Note(t + first, rd - first, best, si, li))
                    prev2, prev = a, best
                    continue
            notes.append(Note(t, rd, best, si, li))
            prev2, prev = prev, best
    return notes


def line_slots(n_lines: int, start_bar: int, n_bars: int, beats_per_bar: int) -> list[tuple[float, float]]:
    """Spread a section's lines over its bars: whole bars per line when there are enough bars, else
    equal shares of the section's beats."""
    if n_lines <= 0:
        return []
    total = n_bars * beats_per_bar
    if n_lines <= n_bars:
        bars = [start_bar + (i * n_bars) // n_lines for i in range(n_lines)] + [start_bar + n_bars]
        return [(bars[i] * beats_per_bar, (bars[i + 1] - bars[i]) * beats_per_bar) for i in range(n_lines)]
    share = total / n_lines
    return [(start_bar * beats_per_bar + i * share, share) for i in range(n_lines)]
