"""Speed and memory of the embedded engine: seconds of audio per wall second, and peak RSS.

Each request runs in a fresh child process so that peak RSS (ru_maxrss of the child, and of the
FluidSynth processes it waited for, via RUSAGE_CHILDREN) is per job. Besides wall time each job
reports the CPU seconds it used (its own threads plus its FluidSynth processes): on a machine
that other work keeps busy, wall time says how long a user waited, CPU time says what the engine
costs, and `cpu-bound rate` (audio seconds per CPU second, times the 2 cores a job can use) is
what the job would reach on an idle machine. Every line carries the 1-minute load average.

With `--baseline REF` the same requests also run with the engine as it is at git REF (exported
with `git archive` into a temporary folder), alternating with the working tree, so that before and
after share the machine's load. Then two jobs run at once, as a worker with two slots would.

Run: .venv/bin/python benchmarks/engine_speed.py [--baseline HEAD] [--repeat 1] [--songs]

With --songs: songs with vocals (six tagged lines; 2 and 3 minutes asked through the length field),
the singing and song-form issues' speed and memory figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from songforge.engines.base import GenerationRequest
from songforge.engines.embedded import EmbeddedEngine
try:  # the worker's measurement of the rendered track (musicMaterial.measured), as a job pays it
    from songforge.workers.measure import measure_result, warm_up
    warm_up()  # a worker pays this once at start, not per job
except ImportError:
    measure_result = None
lyrics = sys.argv[5] if len(sys.argv) > 5 else None
seconds = float(sys.argv[6]) if len(sys.argv) > 6 else None
req = GenerationRequest(kind="song" if lyrics else "instrumental", prompt=sys.argv[2], model=sys.argv[3],
                        seed=int(sys.argv[4]), lyrics=lyrics, seconds=seconds)
engine = EmbeddedEngine()
s0, c0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
t = time.perf_counter()
res = engine.generate(req, lambda p, s: None)
gen = time.perf_counter() - t
analysis = (measure_result(res) or 0.0) if measure_result is not None else 0.0
wall = time.perf_counter() - t
s1, c1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
cpu_py = s1.ru_utime + s1.ru_stime - s0.ru_utime - s0.ru_stime
cpu_fs = c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime
print(json.dumps({"audio": len(res.mix) / res.sample_rate, "wall": wall, "gen": gen, "analysis": analysis,
                  "cpu_py": cpu_py, "cpu_fs": cpu_fs,
                  "rss_mb": s1.ru_maxrss / 1024, "fluidsynth_rss_mb": c1.ru_maxrss / 1024}))
"""

CASES = [
    ("upbeat pop song", "i3"),
    ("epic orchestral trailer", "i3"),
    ("deep house", "i3.5 beta"),
    ("chill lo-fi hip hop", "i3.5 beta"),
]


# Songs with vocals (the singing issue's 2 minutes in 15 s, the song-form issue's 3 minutes in 20 s):
# six tagged lines, the length asked through the API's length field, as the Open API's #duration does.
SONG_LYRICS = (
    "[Verse]\nThe river runs beside the road\nI carry what I cannot hold\n"
    "[Chorus]\nHold on, hold on to the night\nWe are burning, burning bright\n"
    "Hold on, hold on, we will be fine\nUntil the morning comes in time\n"
)
SONG_CASES = [
    ("upbeat pop song", 120.0),
    ("driving rock song", 120.0),
    ("slow piano ballad", 180.0),
    ("pop song", 180.0),
]


def spawn(
    src: Path, prompt: str, model: str, seed: int, lyrics: str | None = None, seconds: float | None = None
) -> subprocess.Popen:
    song = [lyrics, str(seconds)] if lyrics else []
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(src), prompt, model, str(seed), *song],
        stdout=subprocess.PIPE,
        text=True,
    )


def result(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed with status {proc.returncode}")
    return json.loads(out.strip().splitlines()[-1])


def export(ref: str, into: Path) -> Path:
    """The `src` folder as it is at git `ref`, written under `into` (no checkout, no index)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref, "src"], capture_output=True, check=True
    ).stdout
    tar = into / "src.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as t:
        t.extractall(into, filter="data")
    return into / "src"


def line(label: str, prompt: str, model: str, r: dict) -> str:
    cpu = r["cpu_py"] + r["cpu_fs"]
    rate = r["audio"] / r["wall"]
    return (
        f"{label:9} {prompt:24} {model:10} {r['audio']:>6.1f} {r['wall']:>6.2f} {rate:>6.1f}x "
        f"{r['cpu_py']:>6.2f} {r['cpu_fs']:>6.2f} {2 * r['audio'] / cpu:>6.1f}x "
        f"{r['rss_mb']:>6.0f} {r['fluidsynth_rss_mb']:>6.0f} {os.getloadavg()[0]:>5.1f} "
        f"{100 * r.get('analysis', 0.0) / r.get('gen', r['wall']):>5.1f}%"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", help="git ref to compare with (e.g. HEAD)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--songs", action="store_true", help="songs with vocals (model v4.8) instead")
    args = ap.parse_args()
    cases = (
        [(p, "v4.8", SONG_LYRICS, s) for p, s in SONG_CASES]
        if args.songs
        else [(p, m, None, None) for p, m in CASES]
    )
    print(f"Embedded engine speed on {os.cpu_count()} cores (load average before: {os.getloadavg()[0]:.1f})")
    print(
        "rate = audio s / wall s of generate() (composition, FluidSynth, mixing, mastering) plus the "
        "worker's measurement of the result (anal. = its share of generate's time; its one-off warm-up "
        "is left out, as a worker pays it once at start); "
        "cpu py/fs = CPU s of the job's Python threads / its FluidSynth processes; "
        "cpu-bound = audio s / (CPU s / 2 cores)"
    )
    hdr = (
        f"{'code':9} {'prompt':24} {'model':10} {'audio':>6} {'wall':>6} {'rate':>7} {'cpu py':>6} "
        f"{'cpu fs':>6} {'cpu-b':>7} {'py MB':>6} {'fs MB':>6} {'load':>5} {'anal.':>6}"
    )
    with tempfile.TemporaryDirectory(prefix="songforge-bench-") as tmp:
        sources = [("current", ROOT / "src")]
        if args.baseline:
            sources.insert(0, (args.baseline[:9], export(args.baseline, Path(tmp))))
        print(hdr)
        totals: dict[str, list[float]] = {label: [0.0, 0.0, 0.0] for label, _ in sources}
        for _ in range(args.repeat):
            for i, (prompt, model, lyrics, seconds) in enumerate(cases):
                for label, src in sources:
                    r = result(spawn(src, prompt, model, i, lyrics, seconds))
                    print(line(label, prompt, model, r), flush=True)
                    t = totals[label]
                    t[0] += r["audio"]
                    t[1] += r["wall"]
                    t[2] += r["cpu_py"] + r["cpu_fs"]
        for label, (audio, wall, cpu) in totals.items():
            print(
                f"{label:9} all cases: {audio / wall:.1f}x real time by wall clock, "
                f"{cpu / audio * 120:.2f} CPU s per 2 minutes of audio"
            )
        if args.songs:
            return
        print("two jobs at once (i3), current code:")
        t = time.perf_counter()
        procs = [
            spawn(ROOT / "src", "upbeat pop song", "i3", 10),
            spawn(ROOT / "src", "driving rock", "i3", 11),
        ]
        rs = [result(p) for p in procs]
        total = time.perf_counter() - t
        for r in rs:
            print(
                f"  job: {r['audio']:.1f} s audio in {r['wall']:.2f} s = {r['audio'] / r['wall']:.1f}x, "
                f"CPU {r['cpu_py'] + r['cpu_fs']:.2f} s, py RSS {r['rss_mb']:.0f} MB, "
                f"fluidsynth RSS {r['fluidsynth_rss_mb']:.0f} MB"
            )
        print(f"  both finished in {total:.2f} s wall; load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
