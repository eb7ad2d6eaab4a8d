"""Separation quality, speed and memory on mixtures with known stems, built so as not to flatter us.

Sets (mixtures are the exact sum of their stems):

* "tuning" and "held-out" (`benchmarks/separation_mixtures.py`, recipe v2, fixed seeds): 32 mixtures of
  drums/bass/keys rendered from MIDI with three SoundFonts and vocals from four other synthesizers, spoken
  and sung, mono / dual-mono / panned, loud / quiet vocals, 20-40 s. The 8 held-out mixtures use a
  SoundFont (TimGM6mb) and a voice (piper/joe) that tuning and training never touch: quote those.
* "embedded" (the product's own songs, a separate column): songs from `EmbeddedEngine` (kind="song") at
  tempos from 72 to 174 bpm, 20 s windows starting a second before the singing; stems vocals/drums/bass as
  rendered, keys+lead -> other. Cached under benchmarks/out/separation-embedded/.

Per stem the plain SDR, 10*log10(|s|^2 / |s - s_hat|^2) over the whole stem, computed here (no
mir_eval). Beside every method: the trivial baseline (mix / 4) and the ideal ratio mask (Wiener masks from
the true stems on the classical STFT: the ceiling of masking there). "win%" is the share of mixtures in
which a stem beats the baseline by at least 3 dB. Speed is seconds of audio per wall second of
`separate(...)` in this process, every method run on the same mixture back to back; "peak memory" runs
`split_file` on a 10-minute FLAC in a fresh process per method and reports its maximum resident set.

Run:  nice -n 10 .venv/bin/python benchmarks/separation.py [--sets tuning,held-out,embedded]
        [--methods harmonic,...] [--embedded-cases 6] [--memory-minutes 10] [--json PATH] [--quiet]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import separation_mixtures as mixtures  # noqa: E402
from songforge.engines.separation import separate  # noqa: E402
from songforge.engines.separation.classical import STEMS, ideal_ratio_masks  # noqa: E402

SR = 44100
OUT_EMBEDDED = Path(__file__).resolve().parent / "out" / "separation-embedded"
BASELINE, IRM = "baseline(mix/4)", "ideal-ratio-mask"
TARGET_STEMS = ("vocals", "drums", "bass")

Case = tuple[str, np.ndarray, dict[str, np.ndarray], dict[str, str]]


# (prompt, bpm): one genre each, tempos spread from slow to fast.
EMBEDDED_SONGS = [
    ("upbeat pop song", 112),
    ("rock song with electric guitars", 132),
    ("slow soul ballad", 72),
    ("funk song", 104),
    ("country song", 144),
    ("jazz song", 126),
    ("reggae song", 80),
    ("hip hop song", 92),
    ("house song", 124),
    ("synthwave song", 100),
    ("folk song", 96),
    ("drum and bass song", 174),
    ("metal song", 156),
    ("blues song", 88),
]


def build_embedded_case(index: int, seconds: float) -> tuple[str, np.ndarray, dict[str, np.ndarray]]:
    prompt, bpm = EMBEDDED_SONGS[index % len(EMBEDDED_SONGS)]
    seed = 2000 + index
    name = prompt.split(" song")[0].replace(" ", "-")
    folder = OUT_EMBEDDED / f"{index:02d}-{name}-{bpm}bpm-{seconds:g}s"
    paths = {stem: folder / f"{stem}.flac" for stem in STEMS}
    if not all(p.exists() for p in paths.values()):
        from songforge.engines.base import GenerationRequest
        from songforge.engines.embedded import EmbeddedEngine

        # A slow song's first lyric section may not fit a short cap; allow longer renders until one does.
        for extra_s in (12, 24, 40):
            request = GenerationRequest(
                kind="song", prompt=prompt, seed=seed, bpm=bpm, max_seconds=seconds + extra_s
            )
            result = EmbeddedEngine().generate(request)
            raw = result.stems
            if "vocals" in raw and np.max(np.abs(raw["vocals"])) > 1e-3:
                break
        else:
            raise RuntimeError(f"{prompt!r} (seed {seed}) came back without vocals")
        voiced = np.flatnonzero(np.max(np.abs(raw["vocals"]), axis=1) > 1e-3)
        n = int(seconds * SR)
        total = len(result.mix)
        start = max(0, min(int(voiced[0]) - SR, total - n))
        parts = {
            "vocals": raw["vocals"],
            "drums": raw["drums"],
            "bass": raw["bass"],
            "other": raw["keys"] + raw["lead"],
        }
        folder.mkdir(parents=True, exist_ok=True)
        for stem, audio in parts.items():
            clip = audio[start : start + n]
            clip = np.pad(clip, ((0, n - len(clip)), (0, 0)))
            sf.write(paths[stem], clip, SR, subtype="PCM_24")
    stems = {stem: sf.read(paths[stem], dtype="float32", always_2d=True)[0] for stem in STEMS}
    mix = sum(stems.values()).astype(np.float32)
    return f"{index:02d} {name} {bpm}bpm", mix, stems


def sdr(ref: np.ndarray, est: np.ndarray) -> float:
    ref, est = ref.astype(np.float64), est.astype(np.float64)
    return float(10 * np.log10((np.sum(ref**2) + 1e-12) / (np.sum((ref - est) ** 2) + 1e-12)))


def run_method(method: str, mix: np.ndarray, stems: dict[str, np.ndarray]) -> tuple[dict[str, float], float]:
    start = time.perf_counter()
    if method == BASELINE:
        est = {name: mix / 4 for name in STEMS}
    elif method == IRM:
        est = ideal_ratio_masks(
            np.repeat(mix, 2, axis=1) if mix.shape[1] == 1 else mix,
            {k: np.repeat(v, 2, axis=1) if v.shape[1] == 1 else v for k, v in stems.items()},
        )
    else:
        est = separate(mix, SR, method=method)
    wall = time.perf_counter() - start
    if mix.shape[1] == 1:  # a mono upload: the stems' two channels are one signal; score it once
        est = {k: v.mean(axis=1, keepdims=True) for k, v in est.items()}
    return {name: sdr(stems[name], est[name]) for name in STEMS}, wall


def tuned_cases(held_out: bool) -> list[Case]:
    conds, notes = mixtures.available_conditions(held_out)
    for note in notes:
        print(f"note: {note}")
    out = []
    for c in conds:
        mix, stems = mixtures.build(c)
        meta = {
            "soundfont": c.soundfont,
            "voice": c.voice,
            "style": c.style,
            "stereo": c.stereo,
            "level": c.level,
        }
        out.append((c.label, mix, stems, meta))
    return out


def embedded_cases(count: int, seconds: float = 20.0) -> list[Case]:
    return [(*build_embedded_case(i, seconds), {"set": "embedded"}) for i in range(count)]


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f}/{five:.2f} (1/5 min)"


def run_set(title: str, cases: list[Case], methods: list[str], quiet: bool) -> dict:
    rows: list[dict] = []
    walls = {m: 0.0 for m in methods}
    audio_s = sum(len(c[1]) / SR for c in cases)
    load_before = _load()
    if not quiet:
        print(f"[{title}] per mixture: SDR dB per stem (vocals drums bass other)")
    for label, mix, stems, meta in cases:
        row = {"label": label, "meta": meta, "seconds": round(len(mix) / SR, 2), "sdr": {}}
        for method in methods:
            scores, wall = run_method(method, mix, stems)
            walls[method] += wall
            row["sdr"][method] = scores
        rows.append(row)
        if not quiet:
            print(f"  {label}")
            for method in methods:
                sc = row["sdr"][method]
                print(f"    {method:<18} " + " ".join(f"{sc[s]:6.1f}" for s in STEMS))
    summary = summarise(rows, methods)
    for m in methods:
        summary[m]["speed_x"] = round(audio_s / walls[m], 1) if walls[m] > 0 else None
    print()
    print(f"[{title}] {len(cases)} mixtures, {audio_s:.0f} s; {load_before} before, {_load()} after")
    print_summary(summary, methods)
    return {"title": title, "mixtures": rows, "summary": summary, "audio_s": round(audio_s, 1)}


def summarise(rows: list[dict], methods: list[str]) -> dict:
    out: dict = {}
    for m in methods:
        entry: dict = {"mean": {}, "win3_pct": {}, "min": {}}
        for s in STEMS:
            vals = np.array([r["sdr"][m][s] for r in rows])
            base = np.array([r["sdr"][BASELINE][s] for r in rows])
            entry["mean"][s] = round(float(vals.mean()), 2)
            entry["min"][s] = round(float(vals.min()), 2)
            entry["win3_pct"][s] = round(100.0 * float(np.mean(vals >= base + 3.0)), 1)
        out[m] = entry
    return out


def print_summary(summary: dict, methods: list[str]) -> None:
    print(f"  {'method':<18} " + " ".join(f"{s:>7}" for s in STEMS) + "   win%(>=base+3 dB) v/d/b   speed")
    for m in methods:
        e = summary[m]
        win = "/".join(f"{e['win3_pct'][s]:.0f}" for s in TARGET_STEMS)
        speed = f"{e['speed_x']:.1f}x" if e.get("speed_x") else "-"
        print(f"  {m:<18} " + " ".join(f"{e['mean'][s]:7.2f}" for s in STEMS) + f"   {win:>20}   {speed:>7}")
    print()


def breakdown(rows: list[dict], methods: list[str]) -> None:
    """Mean SDR per factor level, so a method that only wins on one kind of mixture shows it."""
    for factor in ("soundfont", "voice", "style", "stereo", "level"):
        levels = sorted({r["meta"][factor] for r in rows})
        print(f"  by {factor}:")
        for level in levels:
            sub = [r for r in rows if r["meta"][factor] == level]
            for m in methods:
                means = [np.mean([r["sdr"][m][s] for r in sub]) for s in STEMS]
                print(
                    f"    {level:<10} {m:<18} " + " ".join(f"{v:6.1f}" for v in means) + f"  (n={len(sub)})"
                )
    print()


MEMORY_SCRIPT = r"""
import resource, sys, time
from pathlib import Path
from songforge.engines.separation.split import split_file
src, out, method, two = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
kw = {"two_stems": True} if two else {}
t = time.perf_counter()
split_file(Path(src), "audio/flac", Path(out), method=method, **kw)
wall = time.perf_counter() - t
# VmHWM, not ru_maxrss: Linux carries the forking parent's peak across exec into ru_maxrss, so a child
# of this (large) benchmark process reported the parent's peak; VmHWM belongs to this process's own memory.
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")]
peak = int(hwm[0].split()[1]) / 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(peak, wall)
"""


def peak_memory(method: str, minutes: float, two_stems: bool = False) -> tuple[float, float]:
    """Maximum resident MB and wall seconds of split_file on a `minutes`-long music-like FLAC."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "long.flac"
        rng = np.random.default_rng(0)
        n = int(minutes * 60 * SR)
        with sf.SoundFile(src, "w", SR, 2, subtype="PCM_16") as fh:
            block = SR * 10
            for start in range(0, n, block):
                t = (np.arange(start, min(n, start + block)) / SR)[:, None]
                tone = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 55 * t)
                clicks = rng.standard_normal((len(t), 1)) * ((t % 0.5) < 0.02) * 0.2
                fh.write(np.clip(np.repeat(tone + clicks, 2, axis=1), -1, 1))
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
        res = subprocess.run(
            [
                sys.executable,
                "-c",
                MEMORY_SCRIPT,
                str(src),
                str(Path(tmp) / "o.zip"),
                method,
                "1" if two_stems else "0",
            ],
            capture_output=True,
            text=True,
            env=env,
        )
        if res.returncode != 0:
            raise RuntimeError(res.stderr[-2000:])
        rss, wall = res.stdout.split()[-2:]
        return float(rss), float(wall)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", default="tuning,held-out,embedded")
    ap.add_argument("--methods", default="harmonic")
    ap.add_argument("--embedded-cases", type=int, default=6)
    ap.add_argument("--memory-minutes", type=float, default=0.0, help="0: skip the long-upload memory run")
    ap.add_argument("--json", type=Path, default=None, help="write every figure here")
    ap.add_argument("--quiet", action="store_true", help="totals only")
    args = ap.parse_args(argv)
    named = [m for m in args.methods.split(",") if m]
    methods = [BASELINE, *named, IRM]
    report: dict = {
        "recipe": mixtures.RECIPE_VERSION,
        "methods": named,
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "sets": {},
    }
    builders: dict[str, Callable[[], list[Case]]] = {
        "tuning": lambda: tuned_cases(False),
        "held-out": lambda: tuned_cases(True),
        "embedded": lambda: embedded_cases(args.embedded_cases),
    }
    for name in filter(None, args.sets.split(",")):  # --sets "" : the memory run only
        cases = builders[name]()  # render/cache before timing anything
        result = run_set(name, cases, methods, args.quiet)
        if name != "embedded":
            breakdown(result["mixtures"], methods)
        report["sets"][name] = result
    if args.memory_minutes > 0:
        report["memory"] = {}
        for m in named:
            for two in (False, True):
                rss, wall = peak_memory(m, args.memory_minutes, two)
                key = f"{m}{' two-stems' if two else ''}"
                report["memory"][key] = {
                    "peak_rss_mb": round(rss),
                    "wall_s": round(wall, 1),
                    "minutes": args.memory_minutes,
                }
                print(
                    f"peak memory, split_file on {args.memory_minutes:g} min FLAC, {key}: {rss:.0f} MB "
                    f"resident, {wall:.1f} s ({args.memory_minutes * 60 / wall:.1f}x real time)"
                )
    print(
        f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"self peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
