"""Does the rendered audio do what the request said, to ears the engine was not tuned on?

Each case of a table (``benchmarks/adherence_cases.py``: TUNING to tune against, HELD-OUT never
looked at while tuning) is rendered by the embedded engine, written as the worker stores it (16-bit
WAV and 320 kbps MP3, ``songforge.audio.encode``) and judged on those files:

* key: a panel of six. librosa ``chroma_cqt`` (22050 Hz) averaged over the track against the
  Krumhansl-Kessler profiles in 24 rotations, and essentia's ``KeyExtractor(profileType=P,
  sampleRate=44100)`` on the mono WAV for P in edma, temperley, krumhansl, bgate, shaath. A case
  passes when at least 4 of the 6 name the requested key;
* tempo: ``librosa.beat.beat_track`` (22050 Hz, hop 256, start_bpm = the request) and essentia's
  ``RhythmExtractor2013(method="multifeature")``. A case passes when both are within 4 % of the
  request; a miss is labelled with the nearest simple ratio (2/3, 3/2, 1/2, 2x ...). The judge is
  calibrated too: essentia also reads four plain pulse tracks at each asked tempo, and the summary
  gives, beside the strict figure, the one with essentia excused where it misreads all four;
* chords: per bar of the engine's bar grid (written tempo, t=0), mean ``chroma_cqt`` against 24
  triad templates; a bar passes when the best triad's notes all belong to the chord played
  (``songforge.audio.analysis.chord_hits``). The chords the engine reports playing are also checked
  against the request (the user's chords are never to be changed);
* loudness: pyloudnorm integrated loudness within 1 LU of -14 LUFS and true peak (4x
  ``resample_poly``) at most -1 dBTP, both on every channel of the WAV and of the decoded MP3 at
  their native rate.

The worker's own cheap measurement (``songforge.audio.analysis.measure``) is run on the same mix
and compared, with its cost.

essentia is AGPL-3.0: it is in the ``bench`` extra only and imported here, never by the server.

Run: nice -n 10 .venv/bin/python benchmarks/adherence.py --table tuning --out results.json
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import librosa
import numpy as np
import pyloudnorm as pyln
import soundfile as sf
from scipy.signal import resample_poly

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import adherence_cases  # noqa: E402
from songforge.audio.analysis import chord_hits, measure  # noqa: E402
from songforge.audio.encode import write_mp3, write_wav  # noqa: E402
from songforge.engines.base import GenerationRequest  # noqa: E402
from songforge.engines.embedded import EmbeddedEngine  # noqa: E402

NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
PC = {n: i for i, n in enumerate(NAMES)} | {"Db": 1, "D#": 3, "Gb": 6, "G#": 8, "A#": 10, "Cb": 11, "E#": 5}
KK_MAJ = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MIN = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
PANEL = ("librosa-kk", "edma", "temperley", "krumhansl", "bgate", "shaath")
KEY_VOTES_NEEDED = 4
TEMPO_TOL = 0.04
RATIOS = {"2/3": 2 / 3, "3/2": 1.5, "1/2": 0.5, "2x": 2.0, "3/4": 0.75, "4/3": 4 / 3, "1/3": 1 / 3, "3x": 3.0}
LUFS_TARGET, LUFS_TOL, TP_MAX = -14.0, 1.0, -1.0
INTERVALS = (
    "unison",
    "m2 up",
    "M2 up",
    "m3 up",
    "M3 up",
    "4th up",
    "tritone",
    "5th up",
    "m6 up",
    "M6 up",
    "m7 up",
    "M7 up",
)


def norm_key(tonic: str, mode: str) -> str:
    return f"{NAMES[PC[tonic]]}:{mode}"


def kk_key(chroma_mean: np.ndarray) -> str:
    best, best_r = "", -2.0
    for t in range(12):
        for mode, prof in (("major", KK_MAJ), ("minor", KK_MIN)):
            r = float(np.corrcoef(chroma_mean, np.roll(prof, t))[0, 1])
            if r > best_r:
                best, best_r = f"{NAMES[t]}:{mode}", r
    return best


def key_relation(asked: str, heard: str) -> str:
    """How a heard key sits against the asked one: 'relative major', '4th up major', ..."""
    if heard == asked:
        return "asked"
    (at, am), (ht, hm) = asked.split(":"), heard.split(":")
    step = (PC[ht] - PC[at]) % 12
    if am == "minor" and hm == "major" and step == 3 or am == "major" and hm == "minor" and step == 9:
        return f"relative {hm}"
    if step == 0:
        return f"parallel {hm}"
    return f"{INTERVALS[step]} {hm}"


def rival(votes: dict[str, str], asked: str) -> tuple[str, int] | None:
    """The key most judges named other than the asked one, and how many named it."""
    others = collections.Counter(v for v in votes.values() if v != asked)
    return others.most_common(1)[0] if others else None


def tempo_label(est: float | None, asked: float) -> str:
    if not est:
        return "none"
    if abs(est - asked) / asked <= TEMPO_TOL:
        return "ok"
    for name, r in RATIOS.items():
        if abs(est - asked * r) / (asked * r) <= TEMPO_TOL:
            return name
    return "other"


def true_peak_db(x: np.ndarray) -> float:
    """4x oversampled peak of every channel (an implementation separate from the engine's)."""
    up = resample_poly(np.asarray(x, dtype=np.float64), 4, 1, axis=0)
    peak = max(float(np.abs(up).max()), float(np.abs(x).max()))
    return 20 * np.log10(peak) if peak > 0 else float("-inf")


def read_mp3(path: Path) -> tuple[np.ndarray, int]:
    from pedalboard.io import AudioFile

    with AudioFile(str(path)) as f:
        data = f.read(f.frames)
        return data.T.astype(np.float64), int(f.samplerate)


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=20).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "src").splitlines()
    untracked = git("ls-files", "--others", "--exclude-standard", "--", "src").split()
    state = hashlib.sha256(git("diff", "HEAD", "--", "src").encode())
    for name in untracked:  # new modules the engine may import count as much as edits
        state.update(name.encode() + b"\0" + (ROOT / name).read_bytes())
    return {
        "commit": git("rev-parse", "--short", "HEAD").strip(),
        "uncommitted_src": [line[3:] for line in dirty],
        "untracked_src": untracked,
        "uncommitted_src_sha": state.hexdigest()[:12] if dirty or untracked else None,
    }


class Judges:
    """The independent estimators, built once (essentia algorithms are reusable)."""

    def __init__(self) -> None:
        import essentia  # AGPL: the bench extra only

        essentia.log.infoActive = False
        essentia.log.warningActive = False
        import essentia.standard as es

        self.essentia_version = essentia.__version__
        self.keys = {p: es.KeyExtractor(profileType=p, sampleRate=44100) for p in PANEL[1:]}
        self.rhythm = es.RhythmExtractor2013(method="multifeature")

    def judge(self, wav: np.ndarray, sr: int, asked_bpm: float) -> dict[str, Any]:
        assert sr == 44100, sr
        mono = wav.mean(axis=1).astype(np.float32)
        y = librosa.resample(mono, orig_sr=sr, target_sr=22050)
        chroma = librosa.feature.chroma_cqt(y=y, sr=22050, hop_length=512)
        votes = {"librosa-kk": kk_key(chroma.mean(axis=1))}
        strengths: dict[str, float] = {}
        for name, algo in self.keys.items():
            tonic, scale, strength = algo(mono)
            votes[name] = norm_key(tonic, scale)
            strengths[name] = round(float(strength), 3)
        lib_tempo, _ = librosa.beat.beat_track(y=y, sr=22050, hop_length=256, start_bpm=asked_bpm)
        ess_tempo = float(self.rhythm(mono)[0])
        return {
            "votes": votes,
            "strengths": strengths,
            "tempo": {"librosa": float(np.atleast_1d(lib_tempo)[0]), "essentia": ess_tempo},
            "chroma": chroma,
            "chroma_frame_s": 512 / 22050,
        }


def run_case(case: adherence_cases.Case, engine: EmbeddedEngine, judges: Judges, tmp: Path) -> dict[str, Any]:
    req = GenerationRequest(
        kind="instrumental",
        prompt=case.prompt,
        model=case.model,
        seed=case.seed,
        tonality=case.tonality,
        bpm=case.bpm,
        chords=case.chords,
        max_seconds=case.seconds,
    )
    t0 = time.perf_counter()
    res = engine.generate(req, lambda p, s: None)
    render_s = time.perf_counter() - t0
    wav_path, mp3_path = tmp / f"{case.id}.wav", tmp / f"{case.id}.mp3"
    write_wav(wav_path, res.mix, res.sample_rate)
    write_mp3(mp3_path, res.mix, res.sample_rate, title=case.id)
    wav, wav_sr = sf.read(wav_path, dtype="float64", always_2d=True)
    mp3, mp3_sr = read_mp3(mp3_path)

    j = judges.judge(wav, wav_sr, case.bpm)
    votes = j["votes"]
    n_votes = sum(v == case.tonality for v in votes.values())
    majority, majority_n = collections.Counter(votes.values()).most_common(1)[0]
    labels = {name: tempo_label(t, case.bpm) for name, t in j["tempo"].items()}

    played_bpm = float(res.material.get("bpm", case.bpm))
    bar_s = 240.0 / played_bpm
    bar_chords = list(res.extra.get("bar_chords") or [])
    hits, counted = chord_hits(j["chroma"], j["chroma_frame_s"], bar_s, bar_chords)
    kept = None
    if case.chords:
        asked = set(case.chords.replace("|", " ").split())
        kept = all(set(b.split()) <= asked for b in bar_chords)

    loud = {}
    for name, (data, sr) in {"wav": (wav, wav_sr), "mp3": (mp3, mp3_sr)}.items():
        loud[name] = {
            "lufs": float(pyln.Meter(sr).integrated_loudness(data)),
            "true_peak": true_peak_db(data),
        }
    lufs_ok = all(abs(v["lufs"] - LUFS_TARGET) <= LUFS_TOL for v in loud.values())
    tp_ok = all(v["true_peak"] <= TP_MAX + 1e-6 for v in loud.values())

    t1 = time.perf_counter()
    m = measure(res.mix, res.sample_rate, bpm_hint=case.bpm, chords_per_bar=bar_chords, bar_seconds=bar_s)
    measure_s = time.perf_counter() - t1
    for p in (wav_path, mp3_path):
        p.unlink(missing_ok=True)
    return {
        "case": asdict(case),
        "render_s": round(render_s, 3),
        "audio_s": round(len(res.mix) / res.sample_rate, 2),
        "engine": json.loads(json.dumps(res.material, default=str)),  # what the record would say
        "key": {
            "votes": votes,
            "strengths": j["strengths"],
            "for_asked": n_votes,
            "pass": n_votes >= KEY_VOTES_NEEDED,
            "majority": majority,
            "majority_votes": majority_n,
            "majority_relation": key_relation(case.tonality, majority),
        },
        "tempo": {
            "readings": {k: round(v, 2) for k, v in j["tempo"].items()},
            "labels": labels,
            "pass": all(v == "ok" for v in labels.values()),
        },
        "chords": {"matched": hits, "counted": counted, "requested": bool(case.chords), "kept": kept},
        "loudness": {
            **{k: {kk: round(vv, 2) for kk, vv in v.items()} for k, v in loud.items()},
            "lufs_pass": lufs_ok,
            "true_peak_pass": tp_ok,
        },
        "worker_measure": {**m.as_record(), "elapsed_s": round(measure_s, 4)},
    }


def short(key: str) -> str:
    tonic, mode = key.split(":")
    return tonic + ("m" if mode == "minor" else "")


def case_line(r: dict[str, Any]) -> str:
    c, k, t, ch, ld = r["case"], r["key"], r["tempo"], r["chords"], r["loudness"]
    other = rival(k["votes"], c["tonality"])
    rival_text = (
        "" if k["pass"] or other is None else f"{key_relation(c['tonality'], other[0])[:16]} x{other[1]}"
    )
    votes = " ".join(f"{short(v):>3}" for v in k["votes"].values())
    tempo = " ".join(
        f"{t['readings'][n]:6.1f}{'' if t['labels'][n] == 'ok' else '(' + t['labels'][n] + ')':7}"
        for n in ("librosa", "essentia")
    )
    chords = f"{ch['matched']:>3}/{ch['counted']:<3}" + ("" if ch["kept"] in (None, True) else "!")
    flags = "".join(
        f if ok else "-"
        for f, ok in (
            ("K", k["pass"]),
            ("T", t["pass"]),
            ("L", ld["lufs_pass"]),
            ("P", ld["true_peak_pass"]),
        )
    )
    return (
        f"{c['id']} {c['group'][:9]:9} {c['feel'][:13]:13} {c['tonality']:9} {c['bpm']:>3} | "
        f"{votes} {k['for_asked']}/6 {rival_text:19} | {tempo} | "
        f"{chords:8} | {ld['wav']['lufs']:6.1f} {ld['wav']['true_peak']:5.1f} "
        f"{ld['mp3']['true_peak']:5.1f} | {flags}"
    )


def pct(n: int, d: int) -> str:
    return f"{n}/{d} = {100 * n / d:.1f}%" if d else "n/a"


_METRONOME: dict[int, dict[str, float]] = {}
PULSES = ("click", "kick", "kick-snare", "kick-16ths")


def metronome_reading(bpm: int) -> dict[str, float]:
    """essentia's RhythmExtractor2013 on plain 40 s pulse tracks at `bpm`, one per design: a 1.5 kHz
    click, a synthetic kick on every beat, kick and snare taking turns, and a kick on every beat
    under quiet sixteenth hats. A calibration of the judge, not of the music: where it misreads
    every one of them (below about 62 and above about 185 BPM, by octaves) no arrangement is known
    to pass it, so the summary also reports the tempo figure with essentia excused exactly there,
    beside the strict one."""
    if bpm not in _METRONOME:
        import essentia  # AGPL: the bench extra only

        essentia.log.infoActive = False
        essentia.log.warningActive = False
        import essentia.standard as es

        sr, dur = 44100, 40.0
        rng = np.random.default_rng(bpm)

        def decaying(freq: float | None, seconds: float, rate: float) -> np.ndarray:
            t = np.arange(int(seconds * sr)) / sr
            body = rng.standard_normal(len(t)) if freq is None else np.sin(2 * np.pi * freq * t)
            return (body * np.exp(-t * rate)).astype(np.float32)

        click, kick = decaying(1500, 0.02, 200), decaying(60, 0.3, 12)
        snare, hat = 0.6 * decaying(None, 0.2, 25), 0.1 * decaying(None, 0.05, 120)
        beats = np.arange(0.0, dur - 0.5, 60.0 / bpm)
        sixteenths = np.arange(0.0, dur - 0.5, 15.0 / bpm)
        layouts = {
            "click": [(click, beats)],
            "kick": [(kick, beats)],
            "kick-snare": [(kick, beats[::2]), (snare, beats[1::2])],
            "kick-16ths": [(kick, beats), (hat, sixteenths)],
        }
        readings = {}
        for name in PULSES:
            y = np.zeros(int(dur * sr), np.float32)
            for sound, starts in layouts[name]:
                for start in starts:
                    i = int(start * sr)
                    n = min(len(sound), len(y) - i)
                    y[i : i + n] += sound[:n]
            readings[name] = float(es.RhythmExtractor2013(method="multifeature")(y)[0])
        _METRONOME[bpm] = readings
    return _METRONOME[bpm]


def essentia_reaches(bpm: int) -> bool:
    """True when essentia reads at least one of the plain pulse designs at `bpm` right."""
    return any(tempo_label(v, bpm) == "ok" for v in metronome_reading(bpm).values())


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(results)
    key_pass = sum(r["key"]["pass"] for r in results)
    tempo_pass = sum(r["tempo"]["pass"] for r in results)
    by_est = {e: sum(r["tempo"]["labels"][e] == "ok" for r in results) for e in ("librosa", "essentia")}
    either = sum(any(v == "ok" for v in r["tempo"]["labels"].values()) for r in results)
    reach = {r["case"]["id"]: essentia_reaches(int(r["case"]["bpm"])) for r in results}
    in_reach = [r for r in results if reach[r["case"]["id"]]]
    calibrated = sum(
        r["tempo"]["labels"]["librosa"] == "ok"
        and (r["tempo"]["labels"]["essentia"] == "ok" or not reach[r["case"]["id"]])
        for r in results
    )
    misses = {
        e: dict(
            collections.Counter(r["tempo"]["labels"][e] for r in results if r["tempo"]["labels"][e] != "ok")
        )
        for e in ("librosa", "essentia")
    }
    per_judge = {p: sum(r["key"]["votes"][p] == r["case"]["tonality"] for r in results) for p in PANEL}
    by_group: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    relations = collections.Counter()
    for r in results:
        by_group[r["case"]["group"]][0] += r["key"]["pass"]
        by_group[r["case"]["group"]][1] += 1
        other = rival(r["key"]["votes"], r["case"]["tonality"])
        if not r["key"]["pass"] and other is not None:
            relations[key_relation(r["case"]["tonality"], other[0])] += 1
    req = [r for r in results if r["chords"]["requested"]]
    req_hits, req_total = sum(r["chords"]["matched"] for r in req), sum(r["chords"]["counted"] for r in req)
    all_hits = sum(r["chords"]["matched"] for r in results)
    all_total = sum(r["chords"]["counted"] for r in results)
    kept = sum(bool(r["chords"]["kept"]) for r in req)
    lufs_pass = sum(r["loudness"]["lufs_pass"] for r in results)
    tp_pass = sum(r["loudness"]["true_peak_pass"] for r in results)
    wm = [r["worker_measure"] for r in results]
    wm_key = sum(w["key"] == r["case"]["tonality"] for w, r in zip(wm, results, strict=True))
    wm_key_panel = sum(w["key"] == r["key"]["majority"] for w, r in zip(wm, results, strict=True))
    wm_bpm = sum(
        w["bpm"] is not None and abs(w["bpm"] - r["case"]["bpm"]) / r["case"]["bpm"] <= TEMPO_TOL
        for w, r in zip(wm, results, strict=True)
    )
    audio_s = sum(r["audio_s"] for r in results)
    measure_s = sum(w["elapsed_s"] for w in wm)
    render_s = sum(r["render_s"] for r in results)
    return {
        "cases": n,
        "key_pass": key_pass,
        "key_pass_rate": key_pass / n,
        "key_pass_by_group": {g: {"pass": v[0], "cases": v[1]} for g, v in sorted(by_group.items())},
        "key_fail_relations": dict(relations),
        "key_judge_agreement": per_judge,
        "tempo_pass": tempo_pass,
        "tempo_pass_rate": tempo_pass / n,
        "tempo_ok_by_estimator": by_est,
        "tempo_ok_either": either,
        "tempo_misses": misses,
        "tempo_essentia_out_of_reach": sorted(
            {int(r["case"]["bpm"]) for r in results if not reach[r["case"]["id"]]}
        ),
        "tempo_in_reach": {"pass": sum(r["tempo"]["pass"] for r in in_reach), "cases": len(in_reach)},
        "tempo_calibrated_pass": calibrated,
        "chords_requested_bars": {"matched": req_hits, "counted": req_total},
        "chords_requested_rate": req_hits / req_total if req_total else None,
        "chords_all_bars": {"matched": all_hits, "counted": all_total},
        "chords_kept": {"kept": kept, "cases": len(req)},
        "lufs_pass": lufs_pass,
        "true_peak_pass": tp_pass,
        "worker_measure": {
            "key_equals_asked": wm_key,
            "key_equals_panel_majority": wm_key_panel,
            "bpm_within_4pct": wm_bpm,
            "seconds_per_audio_minute": 60 * measure_s / audio_s if audio_s else None,
            "share_of_render_time": measure_s / render_s if render_s else None,
        },
        "render_seconds_per_audio_minute": 60 * render_s / audio_s if audio_s else None,
    }


def print_summary(s: dict[str, Any]) -> None:
    n = s["cases"]
    print(
        f"key (>= {KEY_VOTES_NEEDED} of 6 judges name the asked key): {pct(s['key_pass'], n)}"
        "  (target >= 95%)"
    )
    print(
        "  by group:",
        ", ".join(f"{g} {pct(v['pass'], v['cases'])}" for g, v in s["key_pass_by_group"].items()),
    )
    print(
        "  each judge names the asked key:",
        ", ".join(f"{p} {v}/{n}" for p, v in s["key_judge_agreement"].items()),
    )
    if s["key_fail_relations"]:
        print(
            "  failed cases, the key most judges named instead:",
            ", ".join(f"{k} x{v}" for k, v in s["key_fail_relations"].items()),
        )
    e = s["tempo_ok_by_estimator"]
    print(f"tempo (librosa AND essentia within 4%): {pct(s['tempo_pass'], n)}  (target >= 95%)")
    print(
        f"  librosa beat_track {pct(e['librosa'], n)}; essentia RhythmExtractor2013 {pct(e['essentia'], n)}; "
        f"either {pct(s['tempo_ok_either'], n)}"
    )
    for est, miss in s["tempo_misses"].items():
        if miss:
            print(f"  {est} misses:", ", ".join(f"{k} x{v}" for k, v in sorted(miss.items())))
    if "tempo_calibrated_pass" in s:
        out, reach = s["tempo_essentia_out_of_reach"], s["tempo_in_reach"]
        print(
            f"  essentia misreads all {len(PULSES)} plain pulse tracks ({', '.join(PULSES)}) "
            f"at {len(out)} of the asked tempos ({out}); "
            f"both estimators on the other cases: {pct(reach['pass'], reach['cases'])}; "
            f"with essentia excused only at those tempos (librosa must pass): "
            f"{pct(s['tempo_calibrated_pass'], n)}"
        )
    cr, ca, ck = s["chords_requested_bars"], s["chords_all_bars"], s["chords_kept"]
    print(
        f"chords per bar, requested progressions: {pct(cr['matched'], cr['counted'])}  (target >= 85%); "
        f"all cases (chords the engine played): {pct(ca['matched'], ca['counted'])}; "
        f"requested chords kept as asked: {ck['kept']}/{ck['cases']}"
    )
    print(
        f"loudness within {LUFS_TOL:g} LU of {LUFS_TARGET:g} LUFS (WAV and MP3): {pct(s['lufs_pass'], n)}; "
        f"true peak <= {TP_MAX:g} dBTP (WAV and MP3): {pct(s['true_peak_pass'], n)}  (target: all)"
    )
    w = s["worker_measure"]
    print(
        f"worker measure(): key = asked {w['key_equals_asked']}/{n}, = panel majority "
        f"{w['key_equals_panel_majority']}/{n}; bpm within 4% {w['bpm_within_4pct']}/{n}; "
        f"{w['seconds_per_audio_minute']:.3f} s per audio minute = {100 * w['share_of_render_time']:.1f}% "
        f"of render time"
    )
    print(f"render: {s['render_seconds_per_audio_minute']:.2f} s per audio minute")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--table", choices=adherence_cases.TABLES, default="tuning")
    ap.add_argument("--limit", type=int, default=0, help="run only the first N cases")
    ap.add_argument("--only", default="", help="comma-separated case ids")
    ap.add_argument("--quiet", action="store_true", help="no per-case table, only the summary")
    ap.add_argument("--out", type=Path, help="write every reading and the summary as JSON")
    ap.add_argument("--summarise", type=Path, help="re-print the table and summary of a saved --out file")
    args = ap.parse_args()
    if args.summarise:
        saved = json.loads(args.summarise.read_text())
        saved["summary"] = summarise(saved["results"])
        meta = saved["meta"]
        print(
            f"{meta['table']} table (digest {meta['table_digest']}) as run at {meta['commit']} "
            f"{meta.get('uncommitted_src_sha') or ''} {meta['started']}"
        )
        if not args.quiet:
            for r in saved["results"]:
                print(case_line(r))
        print_summary(saved["summary"])
        if args.out:
            args.out.write_text(json.dumps(saved, indent=1))
        return

    cases = adherence_cases.build(args.table)
    adherence_cases.check(cases)
    digest = adherence_cases.digest(cases)
    if args.only:
        wanted = set(args.only.split(","))
        cases = [c for c in cases if c.id in wanted]
    if args.limit:
        cases = cases[: args.limit]
    engine = EmbeddedEngine()
    judges = Judges()
    meta = {
        "table": args.table,
        "table_digest": digest,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        **git_state(),
        "python": platform.python_version(),
        "librosa": librosa.__version__,
        "essentia": judges.essentia_version,
        "load_average_start": os.getloadavg(),
    }
    print(
        f"Adherence, {args.table} table (digest {digest}): {len(cases)} cases, embedded engine at "
        f"{meta['commit']}"
        f"{' + uncommitted src ' + meta['uncommitted_src_sha'] if meta['uncommitted_src_sha'] else ''}, "
        f"{meta['started']}"
    )
    print(
        "key votes: librosa-kk edma temperley krumhansl bgate shaath; tempo: librosa essentia; "
        "chords: bars matched/counted (! = chords other than asked); WAV LUFS, WAV/MP3 dBTP; "
        "K key T tempo L loudness P true peak"
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="adherence-") as tmp:
        for case in cases:
            r = run_case(case, engine, judges, Path(tmp))
            results.append(r)
            if not args.quiet:
                print(case_line(r), flush=True)
    summary = summarise(results)
    meta["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    meta["load_average_end"] = os.getloadavg()
    print("-" * 40)
    print_summary(summary)
    if args.out:
        args.out.write_text(json.dumps({"meta": meta, "summary": summary, "results": results}, indent=1))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
