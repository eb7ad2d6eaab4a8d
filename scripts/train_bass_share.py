"""Rebuild `src/songforge/engines/separation/bass_share.json`, the bass's low-band share model of
`bass.split_accompaniment` (why it exists: the comment above `SHARE_MODEL` there).

Data recipe: `benchmarks/separation_mixtures.training_conditions(48)`: drums, bass and keys rendered from
MIDI with the two tuning SoundFonts (MuseScore General, FluidR3), seven GM bass programs including slap,
eight grooves, seeds 50000+ (never a benchmark mixture; the held-out SoundFont and voice are never used).
The input is each mixture's true accompaniment (drums + bass + other, stereo), analysed exactly as
`split_accompaniment` does; the target per low-band bin and frame is the ideal ratio mask's bass share
|B|^2 / (|B|^2 + |D|^2 + |O|^2) of the channel-mean magnitudes, weighted by that bin's energy over the
mixture's bass energy (each mixture's SDR counts alike; the least-squares complex-mask target
Re(B X*)/|X|^2 scored the same on the tuning set: bass 5.67 dB, drums 7.47). Two tanh layers of 24,
sigmoid output, MSE, Adam 3e-3, 30 epochs of 4096-row batches, torch seed 0 on one thread: the same
file from the same renders.

Run:  .venv/bin/python scripts/train_bass_share.py [--mixtures 48] [--epochs 30] [--out PATH]
(renders missing mixtures with fluidsynth and the voices first, ~6 s each; training ~8 min on one core).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "src"))

import separation_mixtures as mixtures  # noqa: E402
from songforge.engines.separation import bass  # noqa: E402
from songforge.engines.separation.classical import DEFAULT_PARAMS, _stft  # noqa: E402

SR = 44100
HIDDEN = 24


def stereo(x: np.ndarray) -> np.ndarray:
    return np.repeat(x, 2, axis=1) if x.shape[1] == 1 else x


def mixture_rows(stems: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p, bp = DEFAULT_PARAMS, bass.DEFAULT_BASS
    acc = stereo(stems["drums"] + stems["bass"] + stems["other"]).astype(np.float32)
    mag, frac, f0 = bass.analyse(_stft(acc, p), SR, p, bp)
    inputs = bass.share_inputs(mag, frac, f0, SR, p, bp)
    low = inputs[1].shape[0]
    power = {
        k: np.mean(np.abs(_stft(stereo(stems[k]), p)), axis=0)[:low] ** 2 for k in ("bass", "drums", "other")
    }
    total = power["bass"] + power["drums"] + power["other"]
    xs, ys, ws = [], [], []
    frames = mag.shape[1]
    for a in range(0, frames, bass.SHARE_BLOCK):
        sel = np.arange(a, min(frames, a + bass.SHARE_BLOCK))
        xs.append(bass.share_features(*inputs, sel, bp))
        ys.append((power["bass"][:, sel] / (total[:, sel] + 1e-12)).ravel())
        ws.append((total[:, sel] / power["bass"].sum()).ravel())
    return np.concatenate(xs), np.concatenate(ys).astype(np.float32), np.concatenate(ws).astype(np.float32)


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, epochs: int) -> list[np.ndarray]:
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(1)
    net = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], HIDDEN),
        torch.nn.Tanh(),
        torch.nn.Linear(HIDDEN, HIDDEN),
        torch.nn.Tanh(),
        torch.nn.Linear(HIDDEN, 1),
    )
    xt, yt, wt = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(w / w.mean())
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for epoch in range(epochs):
        perm = torch.randperm(len(yt))
        total = 0.0
        for i in range(0, len(yt), 4096):
            idx = perm[i : i + 4096]
            out = torch.sigmoid(net(xt[idx])[:, 0])
            loss = (wt[idx] * (out - yt[idx]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        print(f"epoch {epoch + 1}: loss {total / len(yt):.5f}", flush=True)
    return [t.detach().numpy().astype(np.float64) for t in net.parameters()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mixtures", type=int, default=48)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--out", type=Path, default=bass.SHARE_MODEL)
    args = ap.parse_args(argv)
    xs, ys, ws = [], [], []
    for cond in mixtures.training_conditions(args.mixtures):
        if not mixtures.voice_available(cond.voice):
            raise SystemExit(f"voice {cond.voice!r} is not installed: the recipe needs every tuning voice")
        _, stems = mixtures.build(cond)
        x, y, w = mixture_rows(stems)
        xs.append(x)
        ys.append(y)
        ws.append(w)
        print(f"mixture {cond.index} ({cond.soundfont}): {len(y)} rows", flush=True)
    params = fit(np.concatenate(xs), np.concatenate(ys), np.concatenate(ws), args.epochs)
    model = {
        "layout": bass.SHARE_LAYOUT,
        "features": bass.SHARE_FEATURES,
        "recipe": f"training_conditions({args.mixtures}), {args.epochs} epochs, seed 0",
        "weights": [np.round(params[i], 6).tolist() for i in range(0, len(params), 2)],
        "biases": [np.round(params[i], 6).tolist() for i in range(1, len(params), 2)],
    }
    args.out.write_text(json.dumps(model, separators=(",", ":")) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
