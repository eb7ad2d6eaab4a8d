"""What a finished track measures as, so that a record can show it beside what was asked.

The worker runs this on every completed track, so it has to be cheap next to the render (a
two-minute track renders in about three seconds; this aims at 5 % of that). Everything musical is
read from one mono downmix at 11025 Hz: a short-window STFT for onsets (tempo) and one long-window
STFT for chroma (key and chords), each computed once. Loudness and true peak need the full band and
every channel, so they are measured on the audio as given, at its native rate.

The estimators are deliberately plain and named in `Measured.estimator`: they tell a user what a
generic listener-model hears, and the benchmark (``benchmarks/adherence.py``) judges the engine
with a panel of other, independent ones.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.fft
import scipy.signal
from scipy.signal import sosfreqz

from songforge.audio.jit import librosa
from songforge.audio.loudness import KWeighted, _k_sos, true_peak
from songforge.music.chords import parse_chord
from songforge.music.theory import KK_MAJOR, KK_MINOR, PC_NAMES

ANALYSIS_SR = 11025
ONSET_N_FFT, ONSET_HOP = 512, 256  # 46 ms windows every 23 ms (librosa's hop at half its rate)
# chroma from a further halved rate (nothing above 2.7 kHz is needed to tell pitch classes):
# 370 ms windows every 93 ms, 2.7 Hz bins resolve semitones from ~100 Hz up
CHROMA_SR, CHROMA_N_FFT, CHROMA_HOP = ANALYSIS_SR / 2, 2048, 512
MAX_BPM = 320.0  # librosa's default ceiling
TEMPOGRAM_STEP = 8  # tempogram frames kept: one every 186 ms
TRUE_PEAK_FLOOR = 10 ** (-3 / 20)
SEGMENTS_PER_FFT = 256  # 100 ms loudness segments transformed at a time
# frames centred this close to a chord change are left out; wider margins (up to half the window)
# matched fewer bars of the engine's tracks: the bar's edges carry its chord as much as its middle
EDGE_S = 0.05

ESTIMATORS = {
    "bpm": (
        "librosa onset strength (64 mel, 11025 Hz, hop 256), mean 8 s tempogram, librosa.feature.tempo "
        "with its log-normal prior centred on the requested BPM (std 1 octave), peak refined by "
        "parabolic interpolation; librosa.beat.beat_track at that tempo, the BPM then read from a "
        "least-squares line through the beat times"
    ),
    "key": (
        "librosa chroma_stft (5512.5 Hz, n_fft 2048, A440) averaged over the track, Pearson "
        "correlation with Krumhansl-Kessler profiles in all 24 rotations; keyConfidence = best "
        "correlation minus the runner-up's"
    ),
    "chordsMatched": (
        "per bar (grid from the requested tempo, track starting at t=0, last bar skipped), mean "
        "chroma vs 24 major/minor triad templates (plus the chord's own triad when it is neither): "
        "a chord matches when the best template's notes all belong to it (Am7 read as C matches)"
    ),
    "lufs": (
        "BS.1770-4 integrated loudness: pyloudnorm's K-weighting (applied per 100 ms segment in the "
        "frequency domain) and gating, all channels, native rate"
    ),
    "truePeak": "BS.1770 true peak, 4x polyphase oversampling, all channels, native rate",
}


@dataclass
class Measured:
    """What the audio measured as. Fields are None where nothing could be measured (silence, a
    track shorter than a loudness block, no chords asked)."""

    bpm: float | None
    beats: int
    key: str | None  # the API's spelling, "F#:minor"
    keyConfidence: float | None  # camelCase: the record's field names
    chordsMatched: float | None
    chordsCounted: int
    lufs: float | None
    truePeak: float | None
    seconds: float
    estimator: dict[str, str] = field(default_factory=lambda: dict(ESTIMATORS))

    def as_record(self) -> dict[str, Any]:
        """The JSON-safe form for `musicMaterial.measured` (rounded, no infinities)."""
        out = asdict(self)
        for name, digits in (("bpm", 2), ("keyConfidence", 3), ("chordsMatched", 3), ("lufs", 2)):
            if out[name] is not None:
                out[name] = round(float(out[name]), digits)
        if out["truePeak"] is not None:
            out["truePeak"] = round(float(out["truePeak"]), 2)
        out["seconds"] = round(self.seconds, 2)
        return out


def measure(
    audio: np.ndarray,
    sr: int,
    *,
    bpm_hint: float | None = None,
    chords_per_bar: list[str] | None = None,
    bar_seconds: float | None = None,
) -> Measured:
    """Measure tempo, key, chord adherence, loudness and true peak of `audio` (samples x channels,
    or mono). `chords_per_bar` holds one string per bar ("Am7" or "C F" for a split bar), the chords
    the track was asked to play from t=0 on; `bar_seconds` is its bar length (defaults to four beats
    of `bpm_hint`)."""
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or sr <= 0:
        raise ValueError("audio must be (samples,) or (samples, channels) with a positive rate")
    seconds = len(x) / sr
    # Loudness needs the full-rate stereo, the rest a mono copy at a quarter of the rate: they share
    # nothing, and their FFTs, resampling and matrix products release the GIL, so the loudness runs
    # on the second core while this thread does the rest (the render that came before used both).
    loudness = _Beside(_loudness, x, sr)
    # one matrix-vector product: several times faster than a sum over axis 1 or column by column
    mono = x @ np.full(x.shape[1], 1.0 / x.shape[1], dtype=np.float32)
    if not np.any(mono) or len(mono) < sr // 4:
        lufs, peak = loudness.join()
        return Measured(None, 0, None, None, None, 0, lufs, peak, seconds)
    y = librosa.resample(mono, orig_sr=sr, target_sr=ANALYSIS_SR, res_type="soxr_hq")
    bpm, beats = _tempo(y, bpm_hint)
    chroma = _chroma(y)
    key, confidence = key_from_chroma(chroma.mean(axis=1))
    matched, counted = None, 0
    if chords_per_bar:
        if bar_seconds is None and bpm_hint:
            bar_seconds = 240.0 / float(bpm_hint)
        if bar_seconds:
            hits, counted = chord_hits(chroma, CHROMA_HOP / CHROMA_SR, bar_seconds, chords_per_bar)
            matched = hits / counted if counted else None
    lufs, peak = loudness.join()
    return Measured(bpm, beats, key, confidence, matched, counted, lufs, peak, seconds)


class _Beside(threading.Thread):
    """A call run on its own thread, its result (or exception) handed back by `join`. A thread per
    track rather than a shared pool, so nothing is left half-alive in a process forked later."""

    def __init__(self, fn: Any, *args: Any) -> None:
        super().__init__(name="songforge-analysis", daemon=True)
        self._call = (fn, args)
        self._out: Any = None
        self._err: BaseException | None = None
        self.start()

    def run(self) -> None:
        fn, args = self._call
        try:
            self._out = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            self._err = exc

    def join(self, timeout: float | None = None) -> Any:
        super().join(timeout)
        if self._err is not None:
            raise self._err
        return self._out


def _loudness(x: np.ndarray, sr: int) -> tuple[float | None, float | None]:
    lufs = integrated_loudness(x, sr)
    # interpolate only within 3 dB of the sample peak: a quieter stretch would need a 3 dB
    # overshoot between samples to matter, which music does not make (a third of the cost of -6)
    linear = true_peak(x, TRUE_PEAK_FLOOR)
    peak = float(20 * np.log10(linear)) if linear > 0 else None
    return (lufs if np.isfinite(lufs) else None), peak


@lru_cache(maxsize=4)
def _k_power(sr: int, seg: int) -> np.ndarray:
    """|H|^2 of pyloudnorm's K-weighting at the bins of a `seg`-point real FFT, with the one-sided
    spectrum's Parseval factors (2 for every bin but DC and Nyquist, 1/seg overall) folded in."""
    freqs = np.fft.rfftfreq(seg, 1.0 / sr)
    _, h = sosfreqz(_k_sos(sr), worN=freqs, fs=sr)
    w = np.abs(h) ** 2 * 2.0
    w[0] /= 2.0
    if seg % 2 == 0:
        w[-1] /= 2.0
    return (w / seg).astype(np.float32)


def integrated_loudness(x: np.ndarray, sr: int) -> float:
    """BS.1770-4 integrated loudness (LUFS, -inf for silence) as pyloudnorm measures it, with the
    K-weighting applied in the frequency domain: each 100 ms segment's weighted energy is its
    spectrum's power times the filter's |H|^2 (Parseval), 400 ms blocks are four segments, and the
    gates are pyloudnorm's. The filters' memory across segment edges (a few ms at 38 Hz) is all that
    differs from filtering in time, well under 0.05 LU on music, at half the cost of the two biquads
    over every channel. Rates whose 100 ms is not a whole number of samples are filtered in time."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    seg = int(round(0.1 * sr))
    if abs(seg - 0.1 * sr) > 1e-9:
        return KWeighted(x, sr).loudness()
    n = len(x)
    if n < int(0.4 * sr) + 1:
        return float("-inf")
    n_blocks = int(np.round((n / sr - 0.4) / 0.1)) + 1
    m = n_blocks + 3  # segments; the blocks' last three run past the end (zeros, as in pyloudnorm)
    chans = min(3, x.shape[1])  # L, R, C weigh 1.0; surrounds are not produced here
    weight = _k_power(sr, seg)
    power = np.zeros(m)
    whole = min(m, n // seg)
    for a in range(0, whole, SEGMENTS_PER_FFT):  # chunks of segments keep the temporaries small
        b = min(whole, a + SEGMENTS_PER_FFT)
        spec = scipy.fft.rfft(x[a * seg : b * seg, :chans].reshape(b - a, seg, chans), axis=1)
        parts = spec.view(np.float32).reshape(b - a, spec.shape[1], 2 * chans)  # re, im interleaved
        parts *= parts
        power[a:b] = (weight @ parts).sum(axis=1)  # a batched BLAS product: 7x einsum's speed
    if whole < m and whole * seg < n:  # a last, partial segment, zero-padded
        tail = np.zeros((seg, chans), dtype=np.float32)
        tail[: n - whole * seg] = x[whole * seg : (whole + 1) * seg, :chans]
        spec = scipy.fft.rfft(tail, axis=0)
        power[whole] = float(np.einsum("kc,k->", spec.real**2 + spec.imag**2, weight))
    z = (power[:-3] + power[1:-2] + power[2:-1] + power[3:]) / (0.4 * sr)
    with np.errstate(divide="ignore"):
        blocks = -0.691 + 10 * np.log10(z)
        above = blocks >= -70.0
        if not np.any(above):
            return float("-inf")
        rel = -0.691 + 10 * np.log10(z[above].mean()) - 10.0
        gated = (blocks > rel) & above
        if not np.any(gated):
            return float("-inf")
        return float(-0.691 + 10 * np.log10(z[gated].mean()))


def _power(y: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """|STFT|^2 as librosa.stft computes it (centred, zero-padded, periodic Hann), frames x bins:
    transforming rows of a strided view is over twice as fast as librosa's column layout."""
    padded = np.pad(np.asarray(y, dtype=np.float32), n_fft // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    spec = scipy.fft.rfft(frames * _hann(n_fft), axis=1)
    return spec.real**2 + spec.imag**2


@lru_cache(maxsize=4)
def _hann(n: int) -> np.ndarray:
    return scipy.signal.get_window("hann", n, fftbins=True).astype(np.float32)


@lru_cache(maxsize=4)
def _mel_basis(sr: int, n_fft: int) -> np.ndarray:
    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=64).astype(np.float32)


@lru_cache(maxsize=4)
def _chroma_basis(sr: float, n_fft: int) -> np.ndarray:
    return librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=0.0).astype(np.float32)


def _mean_tempogram(oenv: np.ndarray, win: int, step: int) -> np.ndarray:
    """librosa.feature.tempogram averaged over time (what librosa.feature.tempo does with
    aggregate=np.mean), computed on every `step`-th frame only: consecutive 8 s windows overlap
    almost wholly, so the mean is the same and the cost a fraction."""
    n = len(oenv)
    padded = np.pad(oenv, (win // 2, win // 2), mode="linear_ramp", end_values=(0, 0))
    frames = librosa.util.frame(padded, frame_length=win, hop_length=step)[:, : (n + step - 1) // step]
    window = scipy.signal.get_window("hann", win, fftbins=True)[:, None]
    tg = librosa.util.normalize(librosa.autocorrelate(frames * window, axis=0), norm=np.inf, axis=0)
    return np.nan_to_num(tg).mean(axis=1)


def _tempo(y: np.ndarray, bpm_hint: float | None) -> tuple[float | None, int]:
    """Global tempo by librosa's estimator (mean 8 s tempogram, log-normal prior around the
    requested tempo), its peak refined by parabolic interpolation: the lag grid alone quantises
    tempo by 2-4 % at these rates, as much as the tolerance the benchmark allows."""
    mel = librosa.power_to_db(
        (_power(y, ONSET_N_FFT, ONSET_HOP) @ _mel_basis(ANALYSIS_SR, ONSET_N_FFT).T).T, ref=np.max
    )
    oenv = librosa.onset.onset_strength(S=mel, sr=ANALYSIS_SR, hop_length=ONSET_HOP)
    win = int(librosa.time_to_frames(8.0, sr=ANALYSIS_SR, hop_length=ONSET_HOP))
    if len(oenv) < 8 or not np.any(oenv):
        return None, 0
    tg = _mean_tempogram(oenv, win, TEMPOGRAM_STEP)
    if not np.any(tg[1:]):
        return None, 0
    start = float(bpm_hint) if bpm_hint and bpm_hint > 0 else 120.0
    tempo = float(
        librosa.feature.tempo(
            tg=tg[:, None],
            sr=ANALYSIS_SR,
            hop_length=ONSET_HOP,
            start_bpm=start,
            max_tempo=MAX_BPM,
            aggregate=None,
        ).ravel()[0]
    )
    k = int(round(60.0 * ANALYSIS_SR / (ONSET_HOP * tempo)))
    if 1 <= k < len(tg) - 1:
        a, b, c = tg[k - 1], tg[k], tg[k + 1]
        denom = a - 2 * b + c
        if denom < 0:
            offset = float(np.clip(0.5 * (a - c) / denom, -0.5, 0.5))
            tempo = 60.0 * ANALYSIS_SR / (ONSET_HOP * (k + offset))
    _, beats = librosa.beat.beat_track(onset_envelope=oenv, sr=ANALYSIS_SR, hop_length=ONSET_HOP, bpm=tempo)
    return _fit_beats(beats * (ONSET_HOP / ANALYSIS_SR), tempo), int(len(beats))


def _fit_beats(times: np.ndarray, tempo: float) -> float:
    """The tempo the tracked beats keep: a least-squares line through beat time against beat
    number. A peak of the tempogram sits on a lag grid of 23 ms, which is still 1 % at 170 BPM after
    interpolation; a line through a minute of beats is not limited by the grid. Beats are numbered
    by the tempogram's period, so a beat the tracker skipped does not tilt the line; a fit that
    disagrees with the tempogram by more than 3 % (a tracker that wandered) is not used."""
    if len(times) < 8:
        return tempo
    period = 60.0 / tempo
    steps = np.maximum(1.0, np.round(np.diff(times) / period))  # interval by interval: no drift
    index = np.concatenate(([0.0], np.cumsum(steps)))
    slope = float(np.polyfit(index, times, 1)[0])
    if slope <= 0 or abs(slope - period) > 0.03 * period:
        return tempo
    return 60.0 / slope


def _chroma(y: np.ndarray) -> np.ndarray:
    half = librosa.resample(y, orig_sr=ANALYSIS_SR, target_sr=CHROMA_SR, res_type="soxr_hq")
    raw = (_power(half, CHROMA_N_FFT, CHROMA_HOP) @ _chroma_basis(CHROMA_SR, CHROMA_N_FFT).T).T
    return librosa.util.normalize(raw, norm=np.inf, axis=0)


def key_from_chroma(profile: np.ndarray) -> tuple[str | None, float | None]:
    """Krumhansl-Kessler key of a 12-bin pitch-class profile and the margin of its correlation over
    the runner-up (0 means a tie; relative major/minor pairs are the usual runners-up)."""
    c = np.asarray(profile, dtype=np.float64)
    if c.shape != (12,) or not np.any(c) or np.ptp(c) == 0:
        return None, None
    scores = []
    for tonic in range(12):
        for mode, prof in (("major", KK_MAJOR), ("minor", KK_MINOR)):
            scores.append((float(np.corrcoef(c, np.roll(prof, tonic))[0, 1]), f"{PC_NAMES[tonic]}:{mode}"))
    scores.sort(reverse=True)
    return scores[0][1], scores[0][0] - scores[1][0]


def _template(pcs: frozenset[int]) -> np.ndarray:
    v = np.zeros(12)
    v[list(pcs)] = 1.0
    return v / np.linalg.norm(v)


TRIADS: list[frozenset[int]] = [
    pcs
    for r in range(12)
    for pcs in (frozenset({r, (r + 4) % 12, (r + 7) % 12}), frozenset({r, (r + 3) % 12, (r + 7) % 12}))
]
TRIAD_MATRIX = np.array([_template(p) for p in TRIADS])  # (24, 12)

_OWN_TRIAD = {"dim": (0, 3, 6), "aug": (0, 4, 8), "5": (0, 7)}


@lru_cache(maxsize=512)
def _chord_candidates(symbol: str) -> tuple[np.ndarray, tuple[bool, ...]] | None:
    """Templates a bar playing `symbol` is scored against, and which of them count as a match (their
    notes all belong to the chord). A chord that no major/minor triad fits inside (dim, aug, sus,
    power chords) adds its own triad as a template: otherwise it could never match."""
    try:
        chord = parse_chord(symbol)
    except ValueError:
        return None
    pcs = chord.pitch_classes
    templates, ok = [TRIAD_MATRIX], [t <= pcs for t in TRIADS]
    root, quality = chord.triad
    if quality not in ("maj", "min"):
        ivs = _OWN_TRIAD.get(quality) or ((0, 5, 7) if 5 in chord.intervals else (0, 2, 7))
        templates.append(_template(frozenset((root + i) % 12 for i in ivs))[None, :])
        ok.append(True)
    return np.vstack(templates), tuple(ok)


def chord_hits(
    chroma: np.ndarray,
    frame_seconds: float,
    bar_seconds: float,
    chords_per_bar: list[str],
    edge_seconds: float = EDGE_S,
) -> tuple[int, int]:
    """(matched, counted) chord slots: each chord of each bar but the last (which rings into the
    fade), where the audio lasts long enough to hold it. Frames are centred at k * frame_seconds;
    a slot's mean chroma matches when the best-scoring template belongs to the chord (so Am7 read
    as C matches: a chroma cannot tell them apart). Frames centred within `edge_seconds` of a
    chord change are left out (at most a quarter of the slot each side): their windows hear both."""
    n_frames = chroma.shape[1]
    hits = counted = 0
    for b, symbols in enumerate(chords_per_bar[:-1]):
        parts = symbols.split()
        slot = bar_seconds / max(1, len(parts))
        for i, symbol in enumerate(parts):
            cand = _chord_candidates(symbol)
            if cand is None:
                continue
            t0 = b * bar_seconds + i * slot
            edge = min(edge_seconds, 0.25 * slot)
            lo = max(0, int(np.ceil((t0 + edge) / frame_seconds)))
            hi = min(n_frames, int(np.ceil((t0 + slot - edge) / frame_seconds)))
            if hi <= lo:
                continue
            v = chroma[:, lo:hi].mean(axis=1)
            if not np.any(v):
                continue
            templates, ok = cand
            counted += 1
            hits += int(ok[int(np.argmax(templates @ v))])
    return hits, counted


__all__ = ["ESTIMATORS", "Measured", "chord_hits", "key_from_chroma", "measure"]
