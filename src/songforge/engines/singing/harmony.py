"""Chorus backing parts: a double of the lead and a harmony line, both in the `vocals` stem.

- The harmony sings each chorus note a diatonic third (or, where the chord asks for it, a sixth) away
  from the lead, on the lead's side of the voice's range: above while that stays within the voice's
  top, else below. Of the two pitch classes a third either side of the lead's scale degree (which a
  sixth on the other side shares), the one in the bar's chord is taken; when both or neither are,
  the one nearer the previous harmony note, so the line moves smoothly. A lead note outside the key
  (a borrowed chord's tone) is harmonised by the next tone of its chord, a third away in the chord.
- The double is a second take of the lead: the same words and notes, a few cents off (5-10, up or
  down), 10-25 ms early or late, with a vibrato of its own.

Levels and placement: the double `DOUBLE_DB` under the lead, the harmony `HARMONY_DB`, panned
`PARTS_PAN` to either side (the lead stays in the middle); on a mono mix they simply add.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from songforge.engines.singing.common import hash_int
from songforge.engines.singing.melody import Note, chord_pcs, key_scale

__all__ = [
    "DOUBLE_DB",
    "HARMONY_DB",
    "PARTS_PAN",
    "double_take",
    "harmony_line",
    "pan_gains",
]

DOUBLE_DB = -5.0  # a few dB under the lead
HARMONY_DB = -9.0  # quieter still
PARTS_PAN = 0.3  # the double this far right, the harmony this far left (-1 .. 1)
DOUBLE_DELAY_S = (0.010, 0.025)
DOUBLE_CENTS = (5.0, 10.0)
HARMONY_SECTIONS = ("chorus",)
THIRDS = (3, 4)
SIXTHS = (8, 9)


def pan_gains(pan: float) -> tuple[float, float]:
    """(left, right) gains for a pan in -1..1 under a constant-power law, 1 each in the middle."""
    angle = (pan + 1.0) * math.pi / 4
    return math.sqrt(2) * math.cos(angle), math.sqrt(2) * math.sin(angle)


def _up(pc_from: int, pc_to: int) -> int:
    """Semitones up from one pitch class to another (1..12)."""
    return (pc_to - pc_from) % 12 or 12


def harmony_line(
    notes: list[Note],
    key: str,
    bar_chords: list[str],
    beats_per_bar: int,
    high_midi: int,
) -> list[Note]:
    """A note a diatonic third or sixth from each of a line's lead notes (see the module's doc)."""
    if not notes:
        return []
    tonic, scale = key_scale(key)
    degrees = [(tonic + s) % 12 for s in scale]
    above = max(n.midi for n in notes) + 4 <= high_midi + 2
    out: list[Note] = []
    prev: int | None = None
    for n in notes:
        bar = int(n.start // beats_per_bar)
        chord = chord_pcs(bar_chords[bar % len(bar_chords)], tonic, scale) if bar_chords else set(degrees)
        pc = n.midi % 12
        if pc in degrees:
            i = degrees.index(pc)
            upper, lower = degrees[(i + 2) % len(degrees)], degrees[(i - 2) % len(degrees)]
        else:  # outside the key: its chord's next tones either side
            tones = sorted(chord, key=lambda t: _up(pc, t))
            upper = next((t for t in tones if _up(pc, t) in THIRDS), tones[0])
            lower = next((t for t in reversed(tones) if _up(t, pc) in THIRDS), tones[-1])
        # Each pitch class as a pitch on the harmony's side: a third or a sixth away.
        if above:
            options = [n.midi + _up(pc, upper), n.midi + _up(pc, lower)]
        else:
            options = [n.midi - _up(lower, pc), n.midi - _up(upper, pc)]
        options = [h for h in options if abs(h - n.midi) in THIRDS + SIXTHS]
        options = [h for h in options if not above or h <= high_midi + 2] or options
        if not options:
            continue
        in_chord = [h for h in options if h % 12 in chord]
        pool = in_chord if len(in_chord) == 1 else options
        if prev is not None and len(pool) > 1:
            last = prev
            pick = min(pool, key=lambda h: (abs(h - last), abs(h - n.midi)))
        else:
            pick = min(pool, key=lambda h: abs(h - n.midi))  # a third when nothing else decides
        out.append(replace(n, midi=pick))
        prev = pick
    return out


def double_take(seed: int, line: int) -> tuple[float, float]:
    """(timing offset s, pitch offset cents) of a line's double: fixed by the seed and the line."""
    rng = np.random.default_rng([seed & 0xFFFFFFFF, hash_int("double"), line])
    delay = float(rng.uniform(*DOUBLE_DELAY_S)) * (1 if rng.random() < 0.5 else -1)
    cents = float(rng.uniform(*DOUBLE_CENTS)) * (1 if rng.random() < 0.5 else -1)
    return delay, cents
