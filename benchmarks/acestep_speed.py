"""Speed and GPU memory of the acestep engine: seconds of generation per minute of audio, peak memory.

Runs the engine as a worker does (the real loader, `generate_batch` with the two variations of a
request as one batch) for a plain text2music song and for a song with chords (the embedded engine's
guide re-rendered by the cover task). Reports, per run: the pipeline's own seconds (`generate`), the
whole engine call (guide, pipeline, resampling, stems on the CPU), seconds per minute of audio of each,
the load time, and on CUDA the peak GPU memory (torch.cuda.max_memory_allocated) since the load.

It needs SONGFORGE_ACESTEP_WEIGHTS (a real checkpoint) for figures worth quoting; `--tiny` builds the
tests' tiny random checkpoint instead, which times the code path only. Every line carries the device,
dtype, checkpoint variant and the 1-minute load average.

Run: SONGFORGE_ACESTEP_WEIGHTS=/models/acestep-v15-turbo-diffusers \
     .venv/bin/python benchmarks/acestep_speed.py [--seconds 60] [--runs 2] [--tiny] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "an upbeat indie pop song with bright guitars"
LYRICS = (
    "[Verse]\nwalking down the empty street\nthe city hums a quiet beat\n\n"
    "[Chorus]\nwe are alive tonight\nunder the neon light\n\n"
    "[Verse]\nevery window tells a story\nevery corner holds a memory\n\n"
    "[Chorus]\nwe are alive tonight\nunder the neon light\n"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each track")
    parser.add_argument("--runs", type=int, default=2, help="timed runs of each case after a warm-up")
    parser.add_argument("--tiny", action="store_true", help="the tests' tiny checkpoint (code path only)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    if args.tiny:
        sys.path.insert(0, str(ROOT / "tests"))
        from acestep_tiny import save_tiny_checkpoint

        weights = save_tiny_checkpoint(Path(tempfile.mkdtemp(prefix="acestep-tiny-")) / "ckpt")
        os.environ["SONGFORGE_ACESTEP_WEIGHTS"] = str(weights)
        os.environ.setdefault("SONGFORGE_ACESTEP_STEPS", "8")
    import torch

    from songforge.engines.acestep.engine import AceStepEngine
    from songforge.engines.base import GenerationRequest

    engine = AceStepEngine()
    engine.check_ready()
    loaded = engine.warm()
    cuda = loaded.device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    common = {"model": "v4.8", "seconds": args.seconds, "max_seconds": args.seconds, "lyrics": LYRICS}
    cases: dict[str, dict[str, Any]] = {
        "text2music": {"prompt": PROMPT, "bpm": 120, "tonality": "A:minor"},
        "cover (chords)": {"prompt": PROMPT, "chords": "Am F C G"},
    }
    rows = []
    head = {
        "device": loaded.device,
        "dtype": loaded.dtype,
        "variant": loaded.variant,
        "offload": loaded.offload,
        "load_seconds": round(loaded.load_seconds, 2),
        "weights": str(loaded.path),
        "tiny": bool(args.tiny),
    }
    print(json.dumps(head))
    for name, fields in cases.items():
        for run in range(args.runs + 1):  # run 0 warms up (kernels, allocator) and is not reported
            requests = [
                GenerationRequest(kind="song", seed=100 * run + i, **common, **fields)  # type: ignore[arg-type]
                for i in range(2)
            ]
            t0 = time.perf_counter()
            results = engine.generate_batch(requests)
            if cuda:
                torch.cuda.synchronize()
            wall = time.perf_counter() - t0
            if run == 0:
                continue
            audio_minutes = sum(r.mix.shape[0] / r.sample_rate for r in results) / 60.0
            generate = float(results[0].extra["acestep"]["generate_seconds"])
            row = {
                "case": name,
                "run": run,
                "tracks": len(results),
                "track_seconds": round(results[0].mix.shape[0] / results[0].sample_rate, 2),
                "steps": results[0].extra["acestep"]["steps"],
                "generate_seconds": round(generate, 3),
                "engine_seconds": round(wall, 3),
                "generate_s_per_audio_minute": round(generate / audio_minutes, 3),
                "engine_s_per_audio_minute": round(wall / audio_minutes, 3),
                "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3) if cuda else None,
                "load_1min": round(os.getloadavg()[0], 2),
            }
            rows.append(row)
            print(json.dumps(row))
    if args.json:
        args.json.write_text(json.dumps({**head, "runs": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
