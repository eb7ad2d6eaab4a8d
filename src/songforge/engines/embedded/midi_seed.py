"""An uploaded MIDI file as the base of a composition: its melody, harmony and tempo.

The melody is the skyline (highest sounding note) of the highest non-drum instrument, harmony
is one chord per bar matched against chord templates, the key comes from a duration-weighted
pitch-class profile. Moving to a requested key of the other mode remaps scale degrees.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from songforge.engines.base import EngineError
from songforge.engines.embedded.composer import Note
from songforge.music.chords import Chord, parse_chord
from songforge.music.theory import PC_NAMES, Key, estimate_key, remap_pitch

_TEMPLATES = {
    "": (0, 4, 7),
    "m": (0, 3, 7),
    "7": (0, 4, 7, 10),
    "m7": (0, 3, 7, 10),
    "maj7": (0, 4, 7, 11),
    "dim": (0, 3, 6),
    "sus4": (0, 5, 7),
}
_PRIOR = {"": 0.06, "m": 0.05, "7": 0.0, "m7": 0.0, "maj7": 0.0, "dim": -0.05, "sus4": -0.05}


@dataclass
class MidiSeed:
    bpm: float
    key: Key
    melody: list[Note]  # beats from the first bar
    bars: int
    chords: list[list[Chord]]


def _bar_chord(weights: np.ndarray, bass_pc: int | None) -> Chord:
    best, best_score = ("C", ""), -1e9
    total = weights.sum() or 1.0
    w = weights / total
    for root in range(12):
        for q, ivs in _TEMPLATES.items():
            pcs = {(root + i) % 12 for i in ivs}
            inside = sum(w[p] for p in pcs)
            score = inside - 0.6 * (1 - inside) - 0.04 * len(ivs) + _PRIOR[q]
            if bass_pc is not None and bass_pc == root:
                score += 0.15
            if score > best_score:
                best, best_score = (PC_NAMES[root], q), score
    return parse_chord(best[0] + best[1])


def load_midi(path: Path) -> MidiSeed:
    import pretty_midi

    try:
        pm = pretty_midi.PrettyMIDI(str(path))
    except Exception as exc:  # pretty_midi raises many kinds for a malformed file
        raise EngineError(f"The MIDI file could not be read: {exc}") from exc
    pitched = [i for i in pm.instruments if not i.is_drum and i.notes]
    if not pitched:
        raise EngineError("The MIDI file has no notes to build on (no pitched notes found)")
    times, tempos = pm.get_tempo_changes()
    bpm = float(tempos[0]) if len(tempos) else 120.0
    beats = pm.get_beats()
    spb = 60.0 / bpm

    def to_beat(t: float) -> float:
        if len(beats) > 1:
            return float(
                np.interp(t, beats, np.arange(len(beats)), right=(t - beats[-1]) / spb + len(beats) - 1)
            )
        return t / spb

    all_notes = [n for i in pitched for n in i.notes]
    first = min(n.start for n in all_notes)
    origin = np.floor(to_beat(first) / 4) * 4  # start of the bar holding the first note
    end_beat = max(to_beat(n.end) for n in all_notes) - origin
    bars = max(1, int(np.ceil(end_beat / 4 - 1e-6)))
    # melody: skyline of the instrument with the highest mean pitch
    lead = max(pitched, key=lambda i: np.mean([n.pitch for n in i.notes]))
    notes = sorted(lead.notes, key=lambda n: (n.start, -n.pitch))
    melody: list[Note] = []
    for n in notes:
        s, e = to_beat(n.start) - origin, to_beat(n.end) - origin
        if melody and abs(melody[-1].start - s) < 1e-3:
            continue  # a chord in the lead: keep the top note
        if melody and melody[-1].start + melody[-1].dur > s:
            melody[-1].dur = max(0.05, s - melody[-1].start)
        melody.append(Note(s, max(0.05, e - s), n.pitch, n.velocity))
    # harmony: a weighted pitch-class profile per bar
    prof = np.zeros((bars, 12))
    bass = [None] * bars
    low = [128] * bars
    for n in all_notes:
        s, e = to_beat(n.start) - origin, to_beat(n.end) - origin
        for b in range(int(s // 4), min(bars, int(np.ceil(e / 4)))):
            overlap = min(e, (b + 1) * 4) - max(s, b * 4)
            if overlap > 0:
                prof[b, n.pitch % 12] += overlap * (1.5 if n.pitch < 55 else 1.0)
                if n.pitch < low[b]:
                    low[b], bass[b] = n.pitch, n.pitch % 12
    chords: list[list[Chord]] = []
    for b in range(bars):
        if prof[b].sum() == 0:
            chords.append(chords[-1] if chords else [parse_chord("C")])
        else:
            chords.append([_bar_chord(prof[b], bass[b])])
    key = estimate_key(prof.sum(axis=0))
    return MidiSeed(bpm=bpm, key=key, melody=melody, bars=bars, chords=chords)


def transpose_seed(seed: MidiSeed, dst: Key) -> MidiSeed:
    """The same tune in another key: pitches by scale degree, chords root by degree with the
    destination key's diatonic quality where the source chord was diatonic."""
    src = seed.key
    if src == dst:
        return seed
    melody = [Note(n.start, n.dur, remap_pitch(n.pitch, src, dst), n.vel) for n in seed.melody]
    chords: list[list[Chord]] = []
    for bar in seed.chords:
        out = []
        for c in bar:
            root = remap_pitch(60 + (c.root - src.tonic) % 12 + src.tonic - 60 + 60, src, dst) % 12
            pcs = sorted({remap_pitch(60 + ((c.root + i) % 12), src, dst) % 12 for i in c.intervals})
            ivs = {(p - root) % 12 for p in pcs}
            if {3, 7} <= ivs or ({3} <= ivs and 6 not in ivs):
                q = "m7" if 10 in ivs else "m"
            elif {3, 6} <= ivs:
                q = "dim"
            elif 4 in ivs:
                q = "maj7" if 11 in ivs else ("7" if 10 in ivs else "")
            else:
                q = ""
            if dst.mode == "minor" and (root - dst.tonic) % 12 == 7 and q in ("m", "m7"):
                q = "7" if q == "m7" else ""  # harmonic-minor dominant keeps the key audible
            out.append(parse_chord(PC_NAMES[root] + q))
        chords.append(out)
    return MidiSeed(bpm=seed.bpm, key=dst, melody=melody, bars=seed.bars, chords=chords)
