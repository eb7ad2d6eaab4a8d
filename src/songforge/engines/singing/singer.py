"""Speech to singing with the WORLD vocoder: re-time each syllable to its notes and impose their pitch.

The melody follows festival's own speech rhythm (see `melody.speech_rhythm`), so each line is then
spoken again, slowed by the factor it is sung slower than speech (festival's Duration_Stretch for
the diphone voices, hts_engine's speech rate for the HTS voice). For every syllable the onset
consonants are placed just before the note (so the vowel, where the pitch is heard, starts on the
beat), the coda consonants at the end of the note, and only the vowel's middle is stretched to fill
the note. Consonants keep their spoken length unless the next note comes too soon, in which case they
are shortened together. F0 is the written melody (smoothed over about 40 ms at note changes, with
delayed vibrato on long notes); the spectral envelope is optionally warped along the frequency axis
and tilted to give each voice its timbre. benchmarks/vocals.py compares this with the first version
("stretch": speech at its own pace, vowels squeezed into >= 40% of each note).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfilt

from songforge.config import chorus_parts
from songforge.engines.base import EngineError, VoiceProfile
from songforge.engines.singing import harmony
from songforge.engines.singing import lyrics as lyrics_mod
from songforge.engines.singing.bases import default_base, is_neural, speak
from songforge.engines.singing.common import LyricSection, SungVocals
from songforge.engines.singing.melody import Note, SyllableInfo, compose, line_slots
from songforge.engines.singing.neural import SONORANTS
from songforge.engines.singing.speech import (
    SpokenLine,
    SungWord,
    Syllable,
    sanitize,
    sing_scores,
)
from songforge.engines.singing.world import pw

WORK_SR = 24000
FRAME_MS = 5.0
FRAME_S = FRAME_MS / 1000.0
GLIDE_FRAMES = 8  # ~40 ms moving average of the pitch step function
MIN_VOWEL_S = 0.06  # a vowel shorter than this is not heard as a sung note
MAX_STRETCH = 1.3  # slower than this, festival's speech loses words (matches melody.SPEECH_PACE)
STRETCH_STEP = 0.1  # lines are re-spoken at a few speeds only, so repeated lines share one analysis
# "slowed": festival speaks each line at the pace it is sung, consonants keep their spoken length.
# "stretch": speech at its own pace, vowels squeezed to >= 40% of each note (the first version).
# "festival": festival's singing mode sings each line to the notes' durations (diphone voices only),
# then WORLD re-times its vowel onsets onto the notes and imposes their pitch. Measured on the
# benchmark's 12 songs (same melodies): sung WER 77% with kal for every voice (female voices warped
# up by 1.18) and 87% with ked, against 55% for "slowed"; so "slowed" ships for both voice families.
METHOD = "slowed"
FESTIVAL_MAX_HZ = 180.0
# Choruses get a double of the lead and a harmony line (`harmony`); a voice's extra may turn them off.
CHORUS_PARTS = True  # festival's diphone voices are asked for notes an octave down above this


@dataclass
class _Analysed:
    f0: np.ndarray
    sp: np.ndarray
    ap: np.ndarray
    syllables: list[Syllable]


def _resample(x: np.ndarray, sr: int, target: int) -> np.ndarray:
    """`x` (samples first) at `target` Hz, float64. soxr rather than scipy's `resample_poly`: at joe's
    22,050 Hz against the 24 kHz work rate (160/147) and at the 24 -> 44.1 kHz output (147/80),
    polyphase filtering took 2.8 s of the 14.6 s that two 2-minute songs' singing took (one hibari,
    one joe; cProfile); soxr does the same 48 calls in 0.29 s."""
    if sr == target:
        return np.asarray(x, dtype=np.float64)
    import soxr

    return np.asarray(soxr.resample(np.asarray(x, dtype=np.float64), sr, target, quality="HQ"), np.float64)


def _at_work_sr(audio: np.ndarray, sr: int) -> np.ndarray:
    """Mono speech as float64 at WORK_SR, where WORLD and the parts are worked."""
    return _resample(audio, sr, WORK_SR)


def _analyse(line: SpokenLine) -> _Analysed:
    x = _at_work_sr(line.audio, line.sr)
    f0, t = pw.dio(x, WORK_SR, f0_floor=60.0, f0_ceil=600.0, frame_period=FRAME_MS)
    f0 = pw.stonemask(x, f0, t, WORK_SR)
    sp = pw.cheaptrick(x, f0, t, WORK_SR)
    ap = pw.d4c(x, f0, t, WORK_SR)
    return _Analysed(f0=f0, sp=sp, ap=ap, syllables=line.syllables)


def _nucleus(syl: Syllable) -> int:
    for i, p in enumerate(syl.phones):
        if p.vowel:
            return i
    return len(syl.phones) // 2


@dataclass
class _Seg:
    out0: float
    out1: float
    src0: float
    src1: float
    vowel: bool


def _plan_segments(syls: list[Syllable], spans: list[tuple[float, float]]) -> list[_Seg]:
    """Map source (speech) time to output (song) time for one line. `spans` is each syllable's
    (first note start, last note end) in seconds.

    Consonants keep their spoken length; only when the gap between two vowel onsets cannot hold the
    consonants between them plus a short vowel are those consonants compressed (together). The vowel's
    first and last quarters (its transitions, which carry most of the consonants' cues) keep their
    spoken speed and only its middle is stretched to fill the note.
    """
    n = len(syls)
    onset_d, coda_d, vowel = [], [], []
    for s in syls:
        v = s.phones[_nucleus(s)]
        onset_d.append(max(v.start - s.start, 0.0))
        coda_d.append(max(s.end - v.end, 0.0))
        vowel.append((v.start, v.end))
    on_o = list(onset_d)
    co_o = list(coda_d)
    on_o[0] = min(on_o[0], spans[0][0])
    for i in range(n):
        t0, t1 = spans[i]
        dv = vowel[i][1] - vowel[i][0]
        if i + 1 < n:
            gap = spans[i + 1][0] - t0
            vmin = min(max(dv, MIN_VOWEL_S), 0.5 * gap)
            need = co_o[i] + on_o[i + 1]
            room = max(gap - vmin, 0.0)
            if need > room:
                scale = room / need if need > 0 else 0.0
                co_o[i] *= scale
                on_o[i + 1] *= scale
        else:
            vmin = min(max(dv, MIN_VOWEL_S), 0.5 * (t1 - t0))
            co_o[i] = min(co_o[i], max(t1 - t0 - vmin, 0.0))
    segs: list[_Seg] = []
    for i, s in enumerate(syls):
        t0, t1 = spans[i]
        v0, v1 = vowel[i]
        if on_o[i] > 0:
            segs.append(_Seg(t0 - on_o[i], t0, s.start, v0, False))
        vend = t1 - co_o[i]
        if i + 1 < n:
            vend = min(vend, spans[i + 1][0] - on_o[i + 1] - co_o[i])
        vend = max(vend, t0 + 0.02)
        length, dv = vend - t0, v1 - v0
        h = min(0.25 * dv, 0.25 * length)
        if length > dv * 1.2 and h > 0.005:
            segs.append(_Seg(t0, t0 + h, v0, v0 + h, True))
            segs.append(_Seg(t0 + h, vend - h, v0 + h, v1 - h, True))
            segs.append(_Seg(vend - h, vend, v1 - h, v1, True))
        else:
            segs.append(_Seg(t0, vend, v0, v1, True))
        if co_o[i] > 0:
            segs.append(_Seg(vend, vend + co_o[i], v1, s.end, False))
    return segs


def _plan_stretch(syls: list[Syllable], spans: list[tuple[float, float]]) -> list[_Seg]:
    """The first engineer's planner, kept as the benchmark's baseline: every vowel gets at least 40%
    of its note, and the consonants around it are squeezed into the rest."""
    n = len(syls)
    onset_d, coda_d, vowel = [], [], []
    for s in syls:
        k = _nucleus(s)
        v = s.phones[k]
        onset_d.append(max(v.start - s.start, 0.0))
        coda_d.append(max(s.end - v.end, 0.0))
        vowel.append((v.start, v.end))
    on_o = list(onset_d)
    co_o = list(coda_d)
    for i in range(n):
        t0, t1 = spans[i]
        keep = max(0.05, 0.4 * (t1 - t0))
        co_o[i] = min(co_o[i], max(t1 - t0 - keep, 0.0))
        if i + 1 < n:
            budget = max(spans[i + 1][0] - t0 - keep, 0.0)
            need = co_o[i] + on_o[i + 1]
            if need > budget > 0 or budget == 0:
                scale = budget / need if need > 0 else 0.0
                co_o[i] *= scale
                on_o[i + 1] *= scale
    on_o[0] = min(on_o[0], spans[0][0])
    segs: list[_Seg] = []
    for i, s in enumerate(syls):
        t0, t1 = spans[i]
        v0, v1 = vowel[i]
        if on_o[i] > 0:
            segs.append(_Seg(t0 - on_o[i], t0, s.start, v0, False))
        vend = t1 - co_o[i]
        if i + 1 < n:
            vend = min(vend, spans[i + 1][0] - on_o[i + 1] - co_o[i])
        vend = max(vend, t0 + 0.03)
        length, dv = vend - t0, v1 - v0
        if length > dv * 1.2 and dv > 0.02:
            h = 0.3 * dv
            segs.append(_Seg(t0, t0 + h, v0, v0 + h, True))
            segs.append(_Seg(t0 + h, vend - h, v0 + h, v1 - h, True))
            segs.append(_Seg(vend - h, vend, v1 - h, v1, True))
        else:
            segs.append(_Seg(t0, vend, v0, v1, True))
        if co_o[i] > 0:
            segs.append(_Seg(vend, vend + co_o[i], v1, s.end, False))
    return segs


def _f0_track(
    notes: list[Note], times: np.ndarray, bpm: float, vib_rate: float, vib_cents: float
) -> tuple[np.ndarray, np.ndarray]:
    """(midi per frame, vibrato cents per frame) for a line: a step function of the notes,
    held before the first and after each note, smoothed at note changes."""
    spb = 60.0 / bpm
    starts = np.array([n.start * spb for n in notes])
    ends = np.array([(n.start + n.dur) * spb for n in notes])
    idx = np.clip(np.searchsorted(starts, times, side="right") - 1, 0, len(notes) - 1)
    midi = np.array([notes[i].midi for i in idx], dtype=np.float64)
    kernel = np.ones(GLIDE_FRAMES) / GLIDE_FRAMES
    padded = np.pad(midi, (GLIDE_FRAMES // 2, GLIDE_FRAMES - GLIDE_FRAMES // 2 - 1), mode="edge")
    smooth = np.convolve(padded, kernel, mode="valid")
    vib = np.zeros_like(times)
    for s, e in zip(starts, ends, strict=True):
        if e - s < 0.45:
            continue
        m = (times >= s + 0.2) & (times < e)
        ramp = np.clip((times[m] - s - 0.2) / 0.25, 0, 1)
        vib[m] = vib_cents * ramp * np.sin(2 * np.pi * vib_rate * (times[m] - s - 0.2))
    return smooth, vib


def _f0_hz(notes: list[Note], times: np.ndarray, bpm: float, params: dict) -> np.ndarray:
    """The sung pitch in Hz per frame: the notes, vibrato, and a part's own offset in cents (a
    double's detune; 0 for the lead)."""
    midi, vib = _f0_track(notes, times, bpm, params["vibrato_rate"], params["vibrato_cents"])
    return 440.0 * 2 ** ((midi + (vib + params.get("cents", 0.0)) / 100.0 - 69) / 12)


Part = tuple[list[Note], dict]  # another voice on a lead line: its notes and its params (harmony.py)


def _warp_envelope(sp: np.ndarray, formant: float, tilt_db: float) -> np.ndarray:
    k = sp.shape[1]
    out = sp
    if abs(formant - 1.0) > 1e-3:
        src = np.arange(k) / formant
        lo = np.clip(np.floor(src).astype(int), 0, k - 1)
        hi = np.clip(lo + 1, 0, k - 1)
        frac = np.clip(src - lo, 0, 1)
        out = out[:, lo] * (1 - frac) + out[:, hi] * frac
    if abs(tilt_db) > 1e-3:
        freqs = np.linspace(0, WORK_SR / 2, k)
        octaves = np.log2(np.maximum(freqs, 1000.0) / 1000.0)
        out = out * (10 ** (tilt_db * octaves / 10.0))[None, :]
    return out


def _render_line(
    an: _Analysed, notes: list[Note], syl_notes: list[list[Note]], bpm: float, params: dict
) -> tuple[float, np.ndarray, float, float]:
    """Sing one line. Returns (output start time s, audio at WORK_SR, first sound s, last sound s)."""
    return _render_line_parts(an, notes, syl_notes, bpm, params, ())[0]


def _render_line_parts(
    an: _Analysed,
    notes: list[Note],
    syl_notes: list[list[Note]],
    bpm: float,
    params: dict,
    parts: tuple[Part, ...] | list[Part],
) -> tuple[tuple[float, np.ndarray, float, float], list[np.ndarray]]:
    """`_render_line`, and each part sung on the same words and timing (one more WORLD synthesis
    each, from the same re-timed envelope): their audio starts where the line's does."""
    spb = 60.0 / bpm
    syls = an.syllables
    spans = [(ns[0].start * spb, (ns[-1].start + ns[-1].dur) * spb) for ns in syl_notes]
    segs = (_plan_stretch if params["method"] == "stretch" else _plan_segments)(syls, spans)
    t_first = segs[0].out0
    t_last = max(s.out1 for s in segs)
    out0 = t_first - 0.02
    n_frames = int(math.ceil((t_last - out0 + 0.05) / FRAME_S))
    times = out0 + np.arange(n_frames) * FRAME_S
    src = np.full(n_frames, -1.0)
    is_vowel = np.zeros(n_frames, dtype=bool)
    for s in segs:
        m = (times >= s.out0) & (times < s.out1)
        if not np.any(m) or s.out1 <= s.out0:
            continue
        frac = (times[m] - s.out0) / (s.out1 - s.out0)
        src[m] = (s.src0 + frac * (s.src1 - s.src0)) / FRAME_S
        is_vowel[m] = s.vowel
    n_src = an.sp.shape[0]
    active = src >= 0
    fi = np.clip(src, 0, n_src - 1.001)
    lo = np.floor(fi).astype(int)
    fr = (fi - lo)[:, None]
    sp = an.sp[lo] * (1 - fr) + an.sp[lo + 1] * fr
    ap = an.ap[lo] * (1 - fr) + an.ap[lo + 1] * fr
    src_voiced = (an.f0[lo] > 0) | (an.f0[np.minimum(lo + 1, n_src - 1)] > 0)
    f0 = _f0_hz(notes, times, bpm, params)
    voiced = active & (is_vowel | src_voiced)
    f0 = np.where(voiced, f0, 0.0)
    sp = _warp_envelope(sp, params["formant"], params["tilt_db"])
    breath = params["breathiness"]
    if breath > 0:
        # Air only above ~2 kHz: aperiodicity lower down blurs the formants the words are heard by.
        freqs = np.linspace(0, WORK_SR / 2, ap.shape[1])
        band = np.clip((freqs - 2000.0) / 4000.0, 0.0, 1.0)[None, :]
        ap = np.where(voiced[:, None], ap + (1 - ap) * breath * band * 0.6, ap)
    sp[~active] = 1e-14
    ap[~active] = 1.0
    sp, ap = np.ascontiguousarray(sp), np.ascontiguousarray(ap)
    fade = int(0.01 * WORK_SR)
    outs = []
    for f in [f0] + [np.where(voiced, _f0_hz(pn, times, bpm, pp), 0.0) for pn, pp in parts]:
        audio = pw.synthesize(np.ascontiguousarray(f), sp, ap, WORK_SR, FRAME_MS)
        audio[:fade] *= np.linspace(0, 1, fade)
        audio[-fade:] *= np.linspace(1, 0, fade)
        outs.append(audio)
    return (out0, outs[0], t_first, spans[-1][1]), outs[1:]


# hibari's vocoder loses quality far above the pitch its speech sits at (about MIDI 54): its harmony
# goes below the lead unless a third above stays within this. On tuning song t01 the harmony a third
# above (MIDI 64-67) cost the stem 0.5 DNSMOS OVRL (2.30 against 2.81 with no harmony).
HIBARI_HARMONY_TOP = 60
LEAD_S = 0.03  # silence the neural models get before a line's first consonant


def _render_neural(
    line, notes: list[Note], syl_notes: list[list[Note]], bpm: float, params: dict, seed: int
) -> tuple[float, np.ndarray, float, float]:
    """Sing one line with a neural base: the model renders the phones to durations written from the
    notes (`neural.plan_units`), then the notes' pitch is imposed (hibari: as its vocoder's F0;
    joe: by overlap-add, `REPITCH`, which here only re-pitches). Returns what `_render_line` returns."""
    return _render_neural_parts(line, notes, syl_notes, bpm, params, seed, ())[0]


def _render_neural_parts(
    line,
    notes: list[Note],
    syl_notes: list[list[Note]],
    bpm: float,
    params: dict,
    seed: int,
    parts: tuple[Part, ...] | list[Part],
) -> tuple[tuple[float, np.ndarray, float, float], list[np.ndarray]]:
    """`_render_neural`, and each part sung on the same words and timing, starting where the line does
    (joe: each part a take of its own, re-pitched as the lead is; hibari: voiced by its vocoder at
    the part's F0 from the same model frames)."""
    from songforge.engines.singing import neural

    spb = 60.0 / bpm
    spans = [(ns[0].start * spb, (ns[-1].start + ns[-1].dur) * spb) for ns in syl_notes]
    units, start = neural.plan_units(line, spans, LEAD_S)
    m = neural.model(line.base)
    if line.base == "hibari":

        def voiced_at(pn: list[Note], pp: dict):
            def pitch(model_f0: np.ndarray) -> np.ndarray:
                times = start + np.arange(len(model_f0)) * m.frame_s
                hz = _f0_hz(pn, times, bpm, pp)
                return np.where(model_f0 > 40.0, hz, 0.0).astype(np.float32)

            return pitch

        # Every part is voiced by hibari's own vocoder from the one run of its model (its own F0, its
        # own noise) rather than re-pitched from the lead's audio by WORLD. With the harmony below
        # (HIBARI_HARMONY_TOP), six hibari tuning songs' stems went from 2.42 to 2.52 DNSMOS OVRL on
        # average (t09 lost 0.2, the rest gained 0-0.2; benchmarks/vocals.py, tuning set).
        frames = m.frames(line.ids, units)
        ys = []
        for i, (pn, pp) in enumerate([(notes, params), *parts]):
            audio, _ = m.render(
                line.ids,
                units,
                pitch=voiced_at(pn, pp),
                seed=seed + 7919 * i,
                formant=params["formant"],
                tilt_db=params["tilt_db"],
                breath=params["breathiness"],
                frames=frames,
            )
            ys.append(_at_work_sr(audio, m.sr))
        x, others = ys[0], ys[1:]
    elif params.get("repitch") == "psola":
        # Every part is a take of its own: the model sings the line again with other noise and that
        # take is re-pitched. Parts overlap-added from the lead's own grains cost t02-rock-m's stem
        # 0.55 DNSMOS OVRL (2.16 against 2.71, BAK 2.66 against 3.82). A part keeps only its voiced
        # spans: the double's consonants, 10-25 ms off the lead's, blurred the words (four joe tuning
        # songs: Whisper WER 16.7% -> 12.8%, OVRL the same).
        audio, _ = m.render(line.ids, units, seed=seed)
        x = _psola_parts(audio, m.sr, line, units, start, bpm, params, [(notes, params)], seed)[0]
        others = []
        for i, part in enumerate(parts, start=1):
            take, _ = m.render(line.ids, units, seed=seed + 7919 * i)
            got = _psola_parts(take, m.sr, line, units, start, bpm, params, [part], seed + i, unvoiced=False)
            others.append(got[0])
    else:
        audio, _ = m.render(line.ids, units, seed=seed)
        x, others = _repitch_parts(audio, m.sr, start, bpm, params, [(notes, params), *parts])
    fade = min(int(0.01 * WORK_SR), len(x) // 2)
    for y in [x, *others]:
        if fade:
            y[:fade] *= np.linspace(0, 1, fade)
            y[-fade:] *= np.linspace(1, 0, fade)
    return (start, x, start + LEAD_S, spans[-1][1]), others


def _repitch(
    audio: np.ndarray, sr: int, notes: list[Note], start: float, bpm: float, params: dict
) -> np.ndarray:
    """WORLD on speech that already has the song's timing: the notes' F0 on its voiced frames, and the
    voice's formant warp, tilt and breathiness; no re-timing."""
    return _repitch_parts(audio, sr, start, bpm, params, [(notes, params)])[0]


# dio's voicing threshold for joe's speech (its default is 0.1). At the default, dio called joe's low,
# creaky held vowels unvoiced and WORLD sang them as noise; at 0.3, five joe tuning songs' vocals
# stems went from 2.21 to 2.46 DNSMOS OVRL on average (every song the same or better) and Whisper's
# WER from 21.7% to 17.6% (benchmarks/vocals.py's songs; harvest instead of dio was worse than both).
DIO_ALLOWED_RANGE = 0.3
# How joe's speech takes the notes' pitch: "world" (dio + WORLD resynthesis) or "psola" (overlap-add
# on the phones the model voices, `psola.repitch`). On the 8 joe tuning songs (benchmarks/vocals.py,
# with the parts as below): DNSMOS OVRL 2.50 -> 2.86 (every song up), Whisper WER 15.4% -> 12.2%,
# notes within 50 cents 90% -> 97.5%; the lead alone (no chorus parts) on five of them 2.71 -> 3.06.
# The 2-minute song on joe: 12.0-12.9 s with WORLD, 13.3 s with overlap-add.
REPITCH = "psola"
# The harmony's level under joe's lead when both are overlap-added (harmony.HARMONY_DB elsewhere). At
# -9 dB, pyin heard lead and a harmony a sixth above as one voice at their common fundamental (a
# twelfth down) on some chorus notes (t04-ballad-m: 10 notes off against 3 with WORLD) and DNSMOS rated
# the stem lower; at -12 dB three joe tuning songs kept 93-100% of notes within 50 cents (86-93% with
# WORLD at -9 dB).
PSOLA_HARMONY_DB = -12.0
# hibari's harmony level. Of the chorus parts the harmony is what costs the stem's speech quality: on
# the 8 hibari tuning songs DNSMOS OVRL was 2.57 with both parts, 2.61 without the double, 2.89
# without the harmony; filtering the harmony (low-pass 4 kHz) or softening the parts' consonants
# (their noise -10 or -20 dB) changed nothing, only its level did (-13 dB: 2.69).
HIBARI_HARMONY_DB = -12.0


def _repitch_parts(
    audio: np.ndarray,
    sr: int,
    start: float,
    bpm: float,
    params: dict,
    parts: list[Part] | tuple[Part, ...],
    shape: bool = True,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """`_repitch` for several parts from one analysis: (the audio at WORK_SR, each part's audio).
    With `shape=False` the envelope is kept as it is (audio the voice's timbre is already in)."""
    x = _at_work_sr(audio, sr)
    f0, t = pw.dio(
        x, WORK_SR, f0_floor=60.0, f0_ceil=600.0, frame_period=FRAME_MS, allowed_range=DIO_ALLOWED_RANGE
    )
    f0 = pw.stonemask(x, f0, t, WORK_SR)
    sp = pw.cheaptrick(x, f0, t, WORK_SR)
    ap = pw.d4c(x, f0, t, WORK_SR)
    times = start + t
    voiced = f0 > 0
    breath = params["breathiness"]
    if shape:
        sp = _warp_envelope(sp, params["formant"], params["tilt_db"])
    if shape and breath > 0:
        freqs = np.linspace(0, WORK_SR / 2, ap.shape[1])
        band = np.clip((freqs - 2000.0) / 4000.0, 0.0, 1.0)[None, :]
        ap = np.where(voiced[:, None], ap + (1 - ap) * breath * band * 0.6, ap)
    sp, ap = np.ascontiguousarray(sp), np.ascontiguousarray(ap)
    outs = []
    for pn, pp in parts:
        new_f0 = np.ascontiguousarray(np.where(voiced, _f0_hz(pn, times, bpm, pp), 0.0))
        out = pw.synthesize(new_f0, sp, ap, WORK_SR, FRAME_MS)
        outs.append(out[: len(x)] if len(out) >= len(x) else np.pad(out, (0, len(x) - len(out))))
    return (outs[0] if shape else x), outs[1:] if shape else outs


def _voiced_samples(line, units: np.ndarray, n: int) -> np.ndarray:
    """Per sample at WORK_SR of a neural line rendered to `units`: whether the model is voicing a
    vowel or a sonorant there (from its own phone timings, so voicing is never guessed from audio)."""
    from songforge.engines.singing import neural

    symbols = neural.id_symbols(line.base)
    ends = np.round(np.cumsum(units) * line.unit_s * WORK_SR).astype(int)
    starts = np.concatenate([[0], ends[:-1]])
    mask = np.zeros(n, dtype=bool)
    prev = ""
    for j, (i, (s, role)) in enumerate(zip(line.ids, line.roles, strict=True)):
        sym = symbols.get(i, "")
        if sym == "_":
            sym = prev  # piper's pad after a symbol continues that symbol's sound
        prev = sym
        if s >= 0 and (role in ("main", "vowel") or sym in SONORANTS):
            mask[starts[j] : min(ends[j], n)] = True
    return mask


def _psola_parts(
    audio: np.ndarray,
    sr: int,
    line,
    units: np.ndarray,
    start: float,
    bpm: float,
    params: dict,
    parts: list[Part] | tuple[Part, ...],
    seed: int,
    unvoiced: bool = True,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """What `_repitch_parts` returns, by overlap-add (`psola`) on the voiced phones instead of WORLD."""
    from songforge.engines.singing import psola

    x = _at_work_sr(audio, sr)
    n = len(x)
    voiced = _voiced_samples(line, units, n)
    frames = np.arange(0, n + int(FRAME_S * WORK_SR), int(FRAME_S * WORK_SR))
    f0s = [np.interp(np.arange(n), frames, _f0_hz(pn, start + frames / WORK_SR, bpm, pp)) for pn, pp in parts]
    outs = psola.repitch(
        x,
        WORK_SR,
        voiced,
        f0s,
        formant=params["formant"],
        tilt_db=params["tilt_db"],
        breath=params["breathiness"],
        seed=seed,
        unvoiced=unvoiced,
    )
    return outs[0], outs[1:]


def _breath(rng: np.random.Generator, dur: float) -> np.ndarray:
    n = int(dur * WORK_SR)
    noise = rng.standard_normal(n)
    sos = butter(2, [600, 5000], btype="bandpass", fs=WORK_SR, output="sos")
    b = sosfilt(sos, noise) * np.hanning(n)
    return b * 0.012


def _voice_params(voice: VoiceProfile | None) -> dict:
    extra = dict(voice.extra) if voice else {}
    gender = voice.gender if voice else "female"
    base = extra.get("base") or (default_base(gender))
    return {
        "base": base,
        "formant": float(extra.get("formant", 1.0)),
        "tilt_db": float(extra.get("tilt_db", 0.0)),
        "breathiness": float(extra.get("breathiness", 0.05)),
        "vibrato_rate": float(extra.get("vibrato_rate", 5.5)),
        "vibrato_cents": float(extra.get("vibrato_cents", 20.0)),
        "method": str(extra.get("method") or ("direct" if is_neural(base) else METHOD)),
        "repitch": str(extra.get("repitch") or REPITCH),
        "chorus_parts": bool(extra.get("chorus_parts", CHORUS_PARTS and chorus_parts())),
    }


def _take_params(params: dict, take: int) -> dict:
    """A later take of a line, as a singer warms into a repeated chorus: a little brighter and airier
    (felt on every note) and a faster, deeper vibrato (on the long ones). The first take is the voice's
    own."""
    if take <= 0:
        return params
    t = min(take, 3)
    return {
        **params,
        "vibrato_rate": params["vibrato_rate"] * (1 + 0.04 * t),
        "vibrato_cents": params["vibrato_cents"] * (1 + 0.2 * t),
        "tilt_db": params["tilt_db"] + 0.6 * t,
        "breathiness": params["breathiness"] + 0.02 * t,
    }


def _festival_score(syls: list[Syllable], syl_notes: list[list[Note]], spb: float) -> tuple[SungWord, ...]:
    """The line as festival's singing mode is asked to sing it: each syllable lasts from its first
    note to the next syllable's first note (its vowel onset to the next), at its first note's pitch
    (an octave down while that is above the diphone voice's comfortable range; WORLD imposes the real
    notes afterwards, so this only keeps festival's own re-pitching mild)."""
    words: list[tuple[str, list[tuple[float, float]], float]] = []
    for i, (s, ns) in enumerate(zip(syls, syl_notes, strict=True)):
        start = ns[0].start * spb
        end = (ns[-1].start + ns[-1].dur) * spb
        nxt = syl_notes[i + 1][0].start * spb if i + 1 < len(syls) else end
        dur = max(min(nxt, end) - start, 0.05)
        rest = max(nxt - end, 0.0)
        hz = 440.0 * 2 ** ((ns[0].midi - 69) / 12)
        while hz > FESTIVAL_MAX_HZ:
            hz /= 2
        if s.word_start or not words:
            words.append((s.word, [], 0.0))
        w, sy, _ = words[-1]
        sy.append((round(hz, 2), round(dur, 4)))
        words[-1] = (w, sy, round(rest, 4))
    return tuple((w, tuple(sy), r) for w, sy, r in words)


def _onset_gaps(onsets: list[float]) -> float:
    """Median time from one vowel onset to the next within a line (the last syllable, which is
    usually held, says nothing about the line's pace)."""
    gaps = np.diff(onsets)
    return float(np.median(gaps)) if len(gaps) else 0.0


def _line_stretch(syls: list[Syllable], syl_notes: list[list[Note]], spb: float) -> float:
    """How much slower than festival's speech a line is sung, capped: slowed speech keeps the
    consonant-to-vowel balance of speech at slow tempos instead of ballooning only the vowels."""
    sung = _onset_gaps([ns[0].start * spb for ns in syl_notes])
    spoken = _onset_gaps([s.phones[_nucleus(s)].start for s in syls])
    if sung <= 0 or spoken <= 0:
        return 1.0
    return float(np.clip(round(sung / spoken / STRETCH_STEP) * STRETCH_STEP, 1.0, MAX_STRETCH))


def sing(
    *,
    sections: list[LyricSection],
    key: str,
    bpm: float,
    bar_chords: list[str],
    section_bars: list[tuple[str, int, int]],
    voice: VoiceProfile | None,
    seed: int,
    sample_rate: int = 44100,
    beats_per_bar: int = 4,
) -> SungVocals:
    if len(section_bars) != len(sections):
        raise EngineError("section_bars must list one (name, start bar, bars) per lyric section")
    if not 30 <= bpm <= 300:
        raise EngineError(f"Tempo {bpm} BPM is outside what can be sung (30..300)")
    if voice is None:
        from songforge.engines.singing.voices import pick_voice

        voice = pick_voice("", sections, seed)
    params = _voice_params(voice)
    spb = 60.0 / bpm
    total_bars = max((sb + nb for _, sb, nb in section_bars), default=0)
    total_s = total_bars * beats_per_bar * spb

    # Lines to sing, with their slots in beats.
    sung: list[tuple[str, int, str]] = []  # (section, index in section, text)
    slots: list[tuple[float, float]] = []
    for sec, (_, start_bar, n_bars) in zip(sections, section_bars, strict=True):
        # What fits is sung: at most two lines a bar (more would be gabbled, not sung).
        lines = [ln for ln in sec.lines if sanitize(ln) and lyrics_mod.has_words(ln)][: max(2 * n_bars, 0)]
        if not lines or n_bars <= 0:
            continue
        for i, (ln, slot) in enumerate(
            zip(lines, line_slots(len(lines), start_bar, n_bars, beats_per_bar), strict=True)
        ):
            sung.append((sec.name, i, ln))
            slots.append(slot)

    if not sung and any(ln.strip() for sec in sections for ln in sec.lines):
        raise lyrics_mod.LyricsError("The lyrics hold no words to sing (only emoji or symbols)")
    unique = list(dict.fromkeys(sanitize(t) for _, _, t in sung))
    if params["method"] == "direct" and not is_neural(params["base"]):
        raise EngineError(f"The {params['base']!r} voice cannot sing by dictated durations (method direct)")
    spoken = {s.text: s for s in speak(unique, params["base"])}
    infos = []
    for _, _, text in sung:
        syls = spoken[sanitize(text)].syllables
        infos.append(
            [
                SyllableInfo(s.stress, s.word_start, s.word_syllables, s.phones[_nucleus(s)].start)
                for s in syls
            ]
        )
    notes = compose(
        lines=[(sec, i, inf) for (sec, i, _), inf in zip(sung, infos, strict=True)],
        line_slots=slots,
        key=key,
        bpm=bpm,
        bar_chords=bar_chords,
        beats_per_bar=beats_per_bar,
        low_midi=voice.low_midi,
        high_midi=voice.high_midi,
        seed=seed,
    )
    by_line: dict[int, list[Note]] = {}
    for n in notes:
        by_line.setdefault(n.line, []).append(n)

    def notes_per_syllable(li: int, syls: list[Syllable]) -> list[list[Note]]:
        per: list[list[Note]] = [[] for _ in syls]
        for n in by_line[li]:
            per[n.syllable].append(n)
        return per

    # Each line is spoken again at the pace it is sung, or sung by festival's singing mode to its
    # notes' durations (one more festival run for all of them).
    line_key: dict[int, tuple] = {}
    for li, (_, _, text) in enumerate(sung):
        if li in by_line:
            kt = sanitize(text)
            syls = spoken[kt].syllables
            if params["method"] == "festival":
                line_key[li] = (kt, _festival_score(syls, notes_per_syllable(li, syls), spb))
                continue
            f = 1.0
            if params["method"] == "slowed" and not is_neural(params["base"]):
                f = _line_stretch(syls, notes_per_syllable(li, syls), spb)
            line_key[li] = (kt, f)
    voices: dict[tuple, SpokenLine] = {(t, 1.0): spoken[t] for t in spoken}
    todo = sorted({k for k in line_key.values() if k not in voices}, key=repr)
    if todo and params["method"] == "festival":
        got = sing_scores([score for _, score in todo], params["base"])
    elif todo:
        got = speak([t for t, _ in todo], params["base"], [f for _, f in todo])
    for k, sp in zip(todo, got if todo else [], strict=True):
        # The same words give the same syllables at any speed; if not, keep the normal speech.
        ok = sp is not None and len(sp.syllables) == len(spoken[k[0]].syllables)
        voices[k] = sp if ok and sp is not None else spoken[k[0]]

    buf = np.zeros(int(total_s * WORK_SR) + WORK_SR, dtype=np.float64)
    rng = np.random.default_rng(seed)
    analysed: dict[tuple, _Analysed] = {}
    rendered: dict[tuple, tuple[float, np.ndarray, float, float, list[np.ndarray]]] = {}
    takes: dict[tuple, int] = {}
    timed_lines: list[tuple[float, float, str]] = []
    prev_end = -10.0
    # Choruses add a double of the lead and a harmony line (harmony.py), panned either side: `sides`
    # holds them (left, right) until the end, where they join the lead in the middle.
    sides: np.ndarray | None = None
    harmony_notes: list[Note] = []
    doubles: list[tuple[int, float, float]] = []
    psola_parts = params["base"] == "joe" and params["repitch"] == "psola"
    harmony_db = harmony.HARMONY_DB
    if psola_parts:
        harmony_db = PSOLA_HARMONY_DB
    elif params["base"] == "hibari":
        harmony_db = HIBARI_HARMONY_DB
    gains = {
        "double": [10 ** (harmony.DOUBLE_DB / 20) * g for g in harmony.pan_gains(harmony.PARTS_PAN)],
        "harmony": [10 ** (harmony_db / 20) * g for g in harmony.pan_gains(-harmony.PARTS_PAN)],
    }
    for li, (section_name, _, text) in enumerate(sung):
        line_notes = by_line.get(li)
        if not line_notes:
            continue
        key_text, stretch = line_key[li]
        direct = params["method"] == "direct"
        if direct:
            an = None
            syl_notes = notes_per_syllable(li, voices[(key_text, stretch)].syllables)
        else:
            if (key_text, stretch) not in analysed:
                analysed[(key_text, stretch)] = _analyse(voices[(key_text, stretch)])
            an = analysed[(key_text, stretch)]
            syl_notes = notes_per_syllable(li, an.syllables)
        # The same line sung to the same notes (a repeated chorus) is sung again, not copied: each take
        # is synthesised anew with a vibrato of its own (`_take_params`).
        origin = line_notes[0].start
        shape = (key_text, stretch, tuple((round(n.start - origin, 4), n.dur, n.midi) for n in line_notes))
        take = takes.get(shape, 0)
        takes[shape] = take + 1
        sig = (*shape, take)
        backing = params["chorus_parts"] and section_name in harmony.HARMONY_SECTIONS
        delay = 0.0
        if sig not in rendered:
            p = _take_params(params, take)
            parts: list[Part] = []
            if backing:
                top = voice.high_midi
                if params["base"] == "hibari":
                    top = min(top, HIBARI_HARMONY_TOP)
                h_notes = harmony.harmony_line(line_notes, key, bar_chords, beats_per_bar, top)
                delay, cents = harmony.double_take(seed, li)
                double = {**p, "cents": cents, "vibrato_rate": p["vibrato_rate"] * 1.08}
                parts = [(line_notes, double), (h_notes, {**p, "vibrato_cents": 0.7 * p["vibrato_cents"]})]
                harmony_notes += h_notes
                doubles.append((li, round(delay, 4), round(cents, 2)))
            if an is None:
                (o, a, f, la), others = _render_neural_parts(
                    voices[(key_text, stretch)], line_notes, syl_notes, bpm, p, seed, parts
                )
            else:
                (o, a, f, la), others = _render_line_parts(an, line_notes, syl_notes, bpm, p, parts)
            base_t = origin * spb
            rendered[sig] = (o - base_t, a, f - base_t, la - base_t, others)
        rel0, audio, rel_first, rel_last, others = rendered[sig]
        out0, first, last = rel0 + origin * spb, rel_first + origin * spb, rel_last + origin * spb
        i0 = int(round(out0 * WORK_SR))
        for name, part, shift in zip(("double", "harmony"), others, (delay, 0.0), strict=False):
            if sides is None:
                sides = np.zeros((len(buf), 2), dtype=np.float64)
            j0 = i0 + int(round(shift * WORK_SR))
            cut = max(0, -j0)
            j0 += cut
            j1 = min(j0 + len(part) - cut, len(buf))
            if j1 > j0:
                sides[j0:j1] += part[cut : cut + j1 - j0, None] * np.asarray(gains[name])[None, :]
        if i0 < 0:
            audio = audio[-i0:]
            i0 = 0
        end = min(i0 + len(audio), len(buf))
        buf[i0:end] += audio[: end - i0]
        if first - prev_end > 0.45:
            dur = min(0.3, first - prev_end - 0.1)
            b = _breath(rng, dur)
            bi = int((first - 0.05 - dur) * WORK_SR)
            if bi >= 0:
                buf[bi : bi + len(b)] += b
        timed_lines.append((round(max(first, 0.0), 3), round(last, 3), text))
        prev_end = last

    buf = buf[: int(total_s * WORK_SR)] if total_s > 0 else buf[:0]
    # Levelled by the lead alone, so the parts sit at their own level under it.
    peak = float(np.max(np.abs(buf))) if len(buf) else 0.0
    if peak > 0:
        buf *= 0.7 / peak
    sos = butter(2, 80, btype="highpass", fs=WORK_SR, output="sos")
    target = int(round(total_s * sample_rate))
    if sides is None:
        buf = sosfilt(sos, buf)
        buf = _resample(buf, WORK_SR, sample_rate)
        buf = np.pad(buf, (0, max(0, target - len(buf))))[:target].astype(np.float32)
        stereo = np.stack([buf, buf], axis=1)
    else:
        if peak > 0:
            sides *= 0.7 / peak
        lr = sosfilt(sos, buf[:, None] + sides[: len(buf)], axis=0)
        del sides
        lr = _resample(lr, WORK_SR, sample_rate)
        stereo = np.pad(lr, ((0, max(0, target - len(lr))), (0, 0)))[:target].astype(np.float32)
    melody = [(round(n.start * spb, 4), round(n.dur * spb, 4), n.midi) for n in notes]
    secs = [LyricSection(s.name, list(s.lines), s.voice) for s in sections]
    return SungVocals(
        audio=stereo,
        lyrics=lyrics_mod.lyrics_text(secs),
        lines=timed_lines,
        melody=melody,
        extra={
            "voice": voice.item_id,
            "base": params["base"],
            "notes": notes,
            "syllables": [len(i) for i in infos],
            "method": params["method"],
            "stretch": [
                line_key[li][1] if isinstance(line_key[li][1], float) else None for li in sorted(line_key)
            ],
            "sung_by_festival": sum(voices[k] is not spoken[k[0]] for k in set(line_key.values()))
            if params["method"] == "festival"
            else 0,
            # the chorus parts: the harmony's notes as the melody's are given, each double's offsets
            "harmony": [(round(n.start * spb, 4), round(n.dur * spb, 4), n.midi) for n in harmony_notes],
            "harmony_notes": harmony_notes,
            "doubles": doubles,
        },
    )
