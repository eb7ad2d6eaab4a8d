"""Train the learned separator (`songforge.engines.separation.learned`) and write its weights.

Data: multitracks rendered by our own code (`benchmarks/separation_mixtures.training_conditions`, seeds
50000+): MIDI drums/bass/keys through the two TUNING SoundFonts and vocals from the three TUNING voices.
The held-out SoundFont (TimGM6mb) and voice (piper) of `benchmarks/separation.py` are never rendered here.
Each training example remixes random 3 s excerpts of the stems (a stem may come from another track), with
random gains, random vocal panning, left/right swaps and mono downmixes, so the model cannot learn one
song's balance.

Deterministic: torch, NumPy and the data order are seeded (--seed), the step count is fixed; on the same
PyTorch build and thread count the weights are rebuilt bit for bit (float16 on disk).

Needs the `neural` extra (torch) at training time only; the server runs the weights with NumPy.

Run:  nice -n 10 .venv/bin/python scripts/train_separator.py [--tracks 32] [--steps 3000] [--seed 14]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import separation_mixtures as mixtures  # noqa: E402
from songforge.engines.separation import learned  # noqa: E402
from songforge.engines.separation.classical import STEMS  # noqa: E402

SR = learned.SAMPLE_RATE
SEGMENT_S = 3.0


class Net(nn.Module):
    """Mirrors `learned.Model.masks`: conv -> ReLU (+ residual) ... -> 1x1 conv -> softmax over sources."""

    def __init__(self, n_in: int, n_bands: int, hidden: int, n_res: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Conv1d(n_in, hidden, 3, padding=1)])
        self.dilations = [1]
        for i in range(n_res):
            d = 2 ** (i + 1)
            self.layers.append(nn.Conv1d(hidden, hidden, 3, padding=d, dilation=d))
            self.dilations.append(d)
        self.layers.append(nn.Conv1d(hidden, len(STEMS) * n_bands, 1))
        self.dilations.append(1)
        self.residual = [False] + [True] * n_res + [False]
        self.n_bands = n_bands

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            y = layer(x)
            if i < last:
                y = torch.relu(y)
                if self.residual[i]:
                    y = y + x
            x = y
        b, _, t = x.shape
        return torch.softmax(x.reshape(b, len(STEMS), self.n_bands, t), dim=1)


class Features(nn.Module):
    """`learned.features` in torch, on a batch of (batch, channels, samples) mixes."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("window", torch.hann_window(learned.N_FFT, periodic=True))
        self.register_buffer("pool", torch.from_numpy(learned._pooling()))  # (bins, bands)

    def stft(self, x: torch.Tensor) -> torch.Tensor:
        b, c, n = x.shape
        spec = torch.stft(
            x.reshape(b * c, n),
            learned.N_FFT,
            learned.HOP,
            window=self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        return spec.reshape(b, c, *spec.shape[1:])

    def bands(self, spec: torch.Tensor) -> torch.Tensor:
        mid = spec.abs().mean(dim=1)  # (b, bins, frames)
        return torch.einsum("kb,nkt->nbt", self.pool, mid)

    def forward(self, spec: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        mag = spec.abs()
        bands = torch.einsum("kb,nkt->nbt", self.pool, mag.mean(dim=1))
        logmag = torch.log(bands / (ref[:, None, None] * learned.N_FFT * 0.5 + learned.EPS) + 1e-4)
        cross = (spec[:, 0] * spec[:, 1].conj()).real
        power = (mag[:, 0] ** 2 + mag[:, 1] ** 2) * 0.5
        sim = torch.einsum("kb,nkt->nbt", self.pool, cross) / (
            torch.einsum("kb,nkt->nbt", self.pool, power) + learned.EPS**2
        )
        return torch.cat([logmag, sim.clamp(-1, 1)], dim=1)


def load_tracks(count: int) -> list[dict[str, np.ndarray]]:
    tracks = []
    for cond in mixtures.training_conditions(count):
        _, stems = mixtures.build(cond)
        tracks.append(
            {k: (np.repeat(v, 2, axis=1) if v.shape[1] == 1 else v).T.copy() for k, v in stems.items()}
        )
    return tracks


def make_batch(tracks: list[dict[str, np.ndarray]], rng: np.random.Generator, batch: int) -> tuple:
    """(mix (b, 2, n), stems (b, sources, 2, n), mono flags) of remixed excerpts."""
    n = int(SEGMENT_S * SR)
    mixes = np.zeros((batch, 2, n), np.float32)
    stems = np.zeros((batch, len(STEMS), 2, n), np.float32)
    mono = np.zeros(batch, bool)
    for b in range(batch):
        same = rng.random() < 0.5
        base = int(rng.integers(len(tracks)))
        for s, name in enumerate(STEMS):
            track = tracks[base if same else int(rng.integers(len(tracks)))][name]
            start = int(rng.integers(0, max(1, track.shape[1] - n)))
            seg = track[:, start : start + n]
            seg = np.pad(seg, ((0, 0), (0, n - seg.shape[1])))
            gain_db = rng.uniform(-12, 4) if name == "vocals" else rng.uniform(-6, 3)
            if name == "vocals" and rng.random() < 0.1:
                gain_db = -80.0
            seg = seg * 10 ** (gain_db / 20)
            if name == "vocals" and rng.random() < 0.5:
                mid = seg.mean(axis=0)
                angle = (rng.uniform(-0.4, 0.4) + 1) * np.pi / 4
                seg = np.stack([mid * np.cos(angle), mid * np.sin(angle)]) * np.sqrt(2)
            stems[b, s] = seg
        if rng.random() < 0.5:
            stems[b] = stems[b, :, ::-1]
        if rng.random() < 0.4:
            mono[b] = True
            stems[b] = np.repeat(stems[b].mean(axis=1, keepdims=True), 2, axis=1)
        scale = rng.uniform(0.3, 1.0) / (np.max(np.abs(stems[b].sum(axis=0))) + 1e-6)
        stems[b] *= scale
        mixes[b] = stems[b].sum(axis=0)
    return mixes, stems, mono


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tracks", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--hidden", type=int, default=320)
    ap.add_argument("--res", type=int, default=4)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=learned.WEIGHTS)
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    tracks = load_tracks(args.tracks)
    print(f"{len(tracks)} training tracks loaded in {time.time() - t0:.0f} s", flush=True)
    feat = Features()
    nb = learned.n_bands()
    net = Net(2 * nb, nb, args.hidden, args.res)
    # Input normalisation from a few batches, fixed before training.
    with torch.no_grad():
        samples = []
        for _ in range(8):
            mix, _, _ = make_batch(tracks, rng, args.batch)
            x = torch.from_numpy(mix)
            ref = x.pow(2).mean(dim=(1, 2)).sqrt()
            samples.append(feat(feat.stft(x), ref))
        allf = torch.cat(samples, dim=2)
        in_mean, in_std = allf.mean(dim=(0, 2)), allf.std(dim=(0, 2)).clamp_min(1e-3)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.1)
    running = None
    for step in range(args.steps):
        mix, stems, _ = make_batch(tracks, rng, args.batch)
        x, s = torch.from_numpy(mix), torch.from_numpy(stems)
        with torch.no_grad():
            ref = x.pow(2).mean(dim=(1, 2)).sqrt()
            spec = feat.stft(x)
            inp = (feat(spec, ref) - in_mean[None, :, None]) / in_std[None, :, None]
            b, k, c, n = s.shape
            targets = feat.bands(feat.stft(s.reshape(b * k, c, n))).reshape(b, k, nb, -1)
            mix_bands = feat.bands(spec)
            norm = ref[:, None, None, None] * learned.N_FFT * 0.5 + 1e-6
        masks = net(inp)
        est = masks * mix_bands[:, None]
        loss = ((est - targets).abs() / norm).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        sched.step()
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if step % 100 == 0 or step == args.steps - 1:
            print(f"step {step:5d} loss {running:.5f} ({time.time() - t0:.0f} s)", flush=True)
    arrays: dict[str, np.ndarray] = {
        "feature_version": np.array(learned.FEATURE_VERSION),
        "n_bands": np.array(nb),
        "n_layers": np.array(len(net.layers)),
        "in_mean": in_mean.numpy().astype(np.float32),
        "in_std": in_std.numpy().astype(np.float32),
        "seed": np.array(args.seed),
        "steps": np.array(args.steps),
        "tracks": np.array(args.tracks),
    }
    for i, layer in enumerate(net.layers):
        arrays[f"w{i}"] = layer.weight.detach().numpy().astype(np.float16)
        arrays[f"b{i}"] = layer.bias.detach().numpy().astype(np.float16)
        arrays[f"d{i}"] = np.array(net.dilations[i])
        arrays[f"r{i}"] = np.array(net.residual[i])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, **arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) after {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
