"""Rebuild `src/songforge/engines/separation/bass_share.json`, the bass's low-band share model of
`bass.split_accompaniment` (why it exists: the comment above `SHARE_MODEL` there).

Data recipe: `benchmarks/separation_mixtures.training_conditions(48)`: drums, bass and keys rendered from
MIDI with the two tuning SoundFonts (MuseScore General, FluidR3), seven GM bass programs including slap,
eight grooves, seeds 50000+ (never a benchmark mixture; the held-out SoundFont and voice are never used).
The input is what `split_accompaniment` gets in use: each mixture (voice included, stereo) less Spleeter's
vocal (`--input true`: the true drums + bass + other instead), analysed exactly as `split_accompaniment`
does; the target per low-band bin and frame is the ideal ratio mask's bass share
|B|^2 / (|B|^2 + |D|^2 + |O|^2 + |R|^2) of the channel-mean magnitudes, R being what the input holds
beyond the three (the vocal's leftovers), weighted by that bin's energy over the mixture's bass energy
(each mixture's SDR counts alike; the least-squares complex-mask target Re(B X*)/|X|^2 scored the same
on the tuning set: bass 5.67 dB, drums 7.47). Two tanh layers of 32, sigmoid output, MSE, Adam 3e-3,
30 epochs of 4096-row batches, torch seed 0 on one thread: the same file from the same renders.
`--soundfonts musescore` (or fluidr3) trains on one tuning SoundFont's mixtures only, for a
leave-one-SoundFont-out check on the other's tuning mixtures.

Run:  .venv/bin/python scripts/train_bass_share.py [--mixtures 48] [--epochs 30] [--hidden 32]
        [--input spleeter|true] [--soundfonts musescore,fluidr3] [--vocal-cache DIR] [--out PATH]
(renders missing mixtures with fluidsynth and the voices first, ~6 s each, and runs Spleeter on each,
~3 s; training ~5-10 min on one core).
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
HIDDEN = 32


def stereo(x: np.ndarray) -> np.ndarray:
    return np.repeat(x, 2, axis=1) if x.shape[1] == 1 else x


def spleeter_accompaniment(mix: np.ndarray, cache: Path | None = None) -> np.ndarray:
    """What `spleeter.separate_spleeter` hands `bass.split_accompaniment`: the stereo mix less Spleeter's
    vocal (so the share model learns on the vocal's leftovers it meets in use)."""
    from songforge.engines.separation import spleeter

    x = stereo(mix).astype(np.float32)
    if cache is not None and cache.exists():
        return x - np.load(cache)
    vocals = spleeter.separate_vocals(x, 0)
    if cache is not None:
        np.save(cache, vocals)
    return x - vocals


def mixture_rows(
    stems: dict[str, np.ndarray], acc: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, targets and weights of one mixture; `acc` is the accompaniment analysed (default: the true
    one); whatever it holds beyond drums, bass and other (a vocal's leftovers) counts against the bass."""
    p, bp = DEFAULT_PARAMS, bass.DEFAULT_BASS
    true_acc = stereo(stems["drums"] + stems["bass"] + stems["other"]).astype(np.float32)
    if acc is None:
        acc = true_acc
    mag, frac, f0 = bass.analyse(_stft(acc, p), SR, p, bp)
    inputs = bass.share_inputs(mag, frac, f0, SR, p, bp)
    low = inputs[1].shape[0]
    power = {
        k: np.mean(np.abs(_stft(stereo(stems[k]), p)), axis=0)[:low] ** 2 for k in ("bass", "drums", "other")
    }
    total = power["bass"] + power["drums"] + power["other"]
    total += np.mean(np.abs(_stft(acc - true_acc, p)), axis=0)[:low] ** 2
    xs, ys, ws = [], [], []
    frames = mag.shape[1]
    for a in range(0, frames, bass.SHARE_BLOCK):
        sel = np.arange(a, min(frames, a + bass.SHARE_BLOCK))
        xs.append(bass.share_features(*inputs, sel, bp))
        ys.append((power["bass"][:, sel] / (total[:, sel] + 1e-12)).ravel())
        ws.append((total[:, sel] / power["bass"].sum()).ravel())
    return np.concatenate(xs), np.concatenate(ys).astype(np.float32), np.concatenate(ws).astype(np.float32)


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, epochs: int, hidden: int = HIDDEN) -> list[np.ndarray]:
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(1)
    net = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], hidden),
        torch.nn.Tanh(),
        torch.nn.Linear(hidden, hidden),
        torch.nn.Tanh(),
        torch.nn.Linear(hidden, 1),
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
            total += float(loss.detach()) * len(idx)
        print(f"epoch {epoch + 1}: loss {total / len(yt):.5f}", flush=True)
    return [t.detach().numpy().astype(np.float64) for t in net.parameters()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mixtures", type=int, default=48)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--hidden", type=int, default=HIDDEN, help="units in each of the two tanh layers")
    ap.add_argument(
        "--soundfonts",
        default=",".join(mixtures.TUNING_SOUNDFONTS),
        help="train on these tuning SoundFonts' mixtures only (a leave-one-SoundFont-out check)",
    )
    ap.add_argument(
        "--input",
        choices=("spleeter", "true"),
        default="spleeter",
        help="accompaniment to learn on: the mix less Spleeter's vocal (as in use) or the true one",
    )
    ap.add_argument("--vocal-cache", type=Path, default=None, help="keep Spleeter's vocals here (.npy)")
    ap.add_argument("--out", type=Path, default=bass.SHARE_MODEL)
    args = ap.parse_args(argv)
    fonts = set(args.soundfonts.split(","))
    xs, ys, ws = [], [], []
    for cond in mixtures.training_conditions(args.mixtures):
        if cond.soundfont not in fonts:
            continue
        if not mixtures.voice_available(cond.voice):
            raise SystemExit(f"voice {cond.voice!r} is not installed: the recipe needs every tuning voice")
        mix, stems = mixtures.build(cond)
        acc = None
        if args.input == "spleeter":
            cache = None
            if args.vocal_cache is not None:
                args.vocal_cache.mkdir(parents=True, exist_ok=True)
                cache = args.vocal_cache / f"{cond.index:04d}.npy"
            acc = spleeter_accompaniment(mix, cache)
        x, y, w = mixture_rows(stems, acc)
        xs.append(x)
        ys.append(y)
        ws.append(w)
        print(f"mixture {cond.index} ({cond.soundfont}): {len(y)} rows", flush=True)
    params = fit(np.concatenate(xs), np.concatenate(ys), np.concatenate(ws), args.epochs, args.hidden)
    model = {
        "layout": bass.SHARE_LAYOUT,
        "features": bass.SHARE_FEATURES,
        "recipe": f"training_conditions({args.mixtures}), {args.input} accompaniment, hidden {args.hidden}, "
        f"{args.epochs} epochs, seed 0"
        + (
            "" if fonts == set(mixtures.TUNING_SOUNDFONTS) else f", SoundFonts {','.join(sorted(fonts))} only"
        ),
        "weights": [np.round(params[i], 6).tolist() for i in range(0, len(params), 2)],
        "biases": [np.round(params[i], 6).tolist() for i in range(1, len(params), 2)],
    }
    args.out.write_text(json.dumps(model, separators=(",", ":")) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
