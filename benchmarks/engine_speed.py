"""Speed and memory of the embedded engine: seconds of audio per wall second, and peak RSS.

Each request runs in a fresh child process so that peak RSS (ru_maxrss of the child, which
includes the FluidSynth processes it waited for via RUSAGE_CHILDREN) is per job. Then two jobs
run at once to show how the speed holds up when a worker runs two jobs on this machine.

Run: .venv/bin/python benchmarks/engine_speed.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from songforge.engines.base import GenerationRequest
from songforge.engines.embedded import EmbeddedEngine
req = GenerationRequest(kind="instrumental", prompt=sys.argv[2], model=sys.argv[3], seed=int(sys.argv[4]))
t = time.perf_counter()
res = EmbeddedEngine().generate(req, lambda p, s: None)
wall = time.perf_counter() - t
self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"audio": len(res.mix) / res.sample_rate, "wall": wall, "rss_mb": self_kb / 1024,
                  "fluidsynth_rss_mb": child_kb / 1024}))
"""

CASES = [
    ("upbeat pop song", "i3"),
    ("epic orchestral trailer", "i3"),
    ("deep house", "i3.5 beta"),
    ("chill lo-fi hip hop", "i3.5 beta"),
]


def spawn(prompt: str, model: str, seed: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(ROOT / "src"), prompt, model, str(seed)],
        stdout=subprocess.PIPE,
        text=True,
    )


def result(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate()
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    print(f"Embedded engine speed on {os.cpu_count()} cores (load average before: {os.getloadavg()[0]:.1f})")
    print(
        "rate = seconds of audio per wall second of generate() (composition, FluidSynth, mixing, mastering)"
    )
    print(
        f"{'prompt':28} {'model':10} {'audio s':>8} {'wall s':>7} {'rate':>6} "
        f"{'py RSS MB':>10} {'fs RSS MB':>10}"
    )
    for i, (prompt, model) in enumerate(CASES):
        r = result(spawn(prompt, model, i))
        print(
            f"{prompt:28} {model:10} {r['audio']:>8.1f} {r['wall']:>7.2f} {r['audio'] / r['wall']:>6.1f} "
            f"{r['rss_mb']:>10.0f} {r['fluidsynth_rss_mb']:>10.0f}"
        )
    print("two jobs at once (i3):")
    t = time.perf_counter()
    procs = [spawn("upbeat pop song", "i3", 10), spawn("driving rock", "i3", 11)]
    rs = [result(p) for p in procs]
    total = time.perf_counter() - t
    for r in rs:
        print(
            f"  job: {r['audio']:.1f} s audio in {r['wall']:.2f} s = {r['audio'] / r['wall']:.1f}x, "
            f"py RSS {r['rss_mb']:.0f} MB"
        )
    print(f"  both finished in {total:.2f} s wall; load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
