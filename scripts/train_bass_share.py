"""Rebuild `src/songforge/engines/separation/bass_share.npz`, the bass's low-band share model of
`bass.split_accompaniment` (why it exists: the comment above `SHARE_MODEL` there).

Data recipe: `benchmarks/separation_mixtures.training_conditions(96)`: drums, bass and keys rendered from
MIDI with the two tuning SoundFonts (MuseScore General, FluidR3), seven GM bass programs including slap,
eight grooves, seeds 50000+ (never a benchmark mixture; the held-out SoundFont and voice are never used).
The input is what `split_accompaniment` gets in use: each mixture (voice included, stereo) less Spleeter's
vocal (`--input true`: the true drums + bass + other instead), analysed exactly as `split_accompaniment`
does, into the (26 features, low bins, frames) map `bass.feature_map` gives the net; the target per bin
and frame is the ideal ratio mask's bass share |B|^2 / (|B|^2 + |D|^2 + |O|^2 + |R|^2) of the
channel-mean magnitudes, R being what the input holds beyond the three (the vocal's leftovers), weighted
by that bin's energy over the mixture's bass energy (each mixture's SDR counts alike). The net is
`bass.ShareNet`'s: a 1x1 convolution to 16 channels, three residual tanh convolutions (`SHARE_CONVS`), a
1x1 convolution and a sigmoid; weighted MSE on random 128-frame crops, 8 per step, Adam with a one-cycle
schedule to 3e-3, 30 epochs, torch and NumPy seed 0: the same file from the same renders (the shipped
file was trained with `--threads 2`; one thread gave the same loss to 5 digits over the epochs
compared). 96 mixtures rather than 48 (as many steps: 30 epochs rather than 60) scored better
leave-one-SoundFont-out: 5.67 -> 5.72 dB on FluidR3 (10 -> 11 of 12 won), 6.12 -> 6.27 on MuseScore.
`--soundfonts musescore` (or fluidr3) trains on one tuning SoundFont's mixtures only, for a
leave-one-SoundFont-out check on the other's tuning mixtures (`--evaluate` runs it: the bass SDR of the
default pipeline with the new model on those 12 mixtures). `--augment` passes each mixture's drums, bass
and other through random smooth EQs first (`eq_augmented`); measured on MuseScore -> FluidR3 it did not
help (5.72 -> 5.64 dB, 11 -> 10 of 12 won), so the shipped model is trained without it.

Run:  .venv/bin/python scripts/train_bass_share.py [--mixtures 96] [--epochs 30] [--channels 16]
        [--input spleeter|true] [--soundfonts musescore,fluidr3] [--vocal-cache DIR] [--threads N]
        [--augment] [--evaluate] [--out PATH]
(renders missing mixtures with fluidsynth and the voices first, ~6 s each, and runs Spleeter on each,
~3 s).
"""

from __future__ import annotations

import argparse
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
CHANNELS = 16
CROP, BATCH = 128, 8  # frames per training crop, crops per step


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


def mixture_maps(
    stems: dict[str, np.ndarray], acc: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature map (features, low bins, frames), target and weight maps (low bins, frames) of one mixture;
    `acc` is the accompaniment analysed (default: the true one); whatever it holds beyond drums, bass and
    other (a vocal's leftovers) counts against the bass."""
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
    x = bass.feature_map(inputs, 0, mag.shape[1], bp)
    y = (power["bass"] / (total + 1e-12)).astype(np.float32)
    w = (total / power["bass"].sum()).astype(np.float32)
    return x, y, w


def eq_augmented(
    stems: dict[str, np.ndarray], acc: np.ndarray | None, seed: int
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """The mixture with drums, bass and other each through its own random smooth EQ (up to +-6 dB, a
    few broad bumps over log frequency, zero phase), drawn from `seed`: another SoundFont's timbres are
    what the net meets beyond the two it learns on. `acc` (the mix less Spleeter's vocal) changes by
    what the stems changed; the vocal's leftovers in it stay as they were."""
    rng = np.random.default_rng(seed)
    out = dict(stems)
    delta = None
    for name in ("drums", "bass", "other"):
        x = stems[name].astype(np.float64)
        freqs = np.fft.rfftfreq(x.shape[0], 1.0 / SR)
        octave = np.log2(np.maximum(freqs, 20.0) / 20.0) / np.log2(20000.0 / 20.0)  # 0..1
        gain_db = np.zeros_like(octave)
        for k in range(1, 4):
            gain_db += rng.uniform(-1, 1) * np.cos(np.pi * k * octave + rng.uniform(0, 2 * np.pi))
        gain_db *= 6.0 / max(1.0, float(np.max(np.abs(gain_db))))
        y = np.fft.irfft(np.fft.rfft(x, axis=0) * (10 ** (gain_db / 20))[:, None], n=x.shape[0], axis=0)
        out[name] = y.astype(np.float32)
        change = stereo(out[name]) - stereo(stems[name])
        delta = change if delta is None else delta + change
    return out, (None if acc is None else (acc + delta).astype(np.float32))


def evaluate(model: Path, fonts: set[str]) -> tuple[float, int, int]:
    """Bass SDR of the whole default pipeline (`separate(..., method="spleeter")`) with `model` on the
    tuning mixtures of the SoundFonts not trained on: (mean dB, mixtures won by 3 dB over mix/4, count)."""
    import separation as bench  # benchmarks/separation.py

    with np.load(model, allow_pickle=False) as data:
        net = bass.ShareNet({k: data[k] for k in data.files if k not in ("layout", "features", "recipe")})
    bass.load_share_model = lambda path=bass.SHARE_MODEL: net  # type: ignore[assignment]
    scores, won = [], 0
    for cond in mixtures.conditions():
        if cond.held_out or cond.soundfont in fonts:
            continue
        mix, stems = mixtures.build(cond)
        est = bench.separate(mix, SR, method="spleeter")["bass"]
        ref = stems["bass"]
        score = bench.sdr(ref, est[:, : ref.shape[1]])
        base = bench.sdr(ref, mix / 4)
        won += score >= base + 3.0
        scores.append(score)
        print(f"  {cond.label}: bass {score:.2f} dB (mix/4 {base:.2f})", flush=True)
    return float(np.mean(scores)), won, len(scores)


def share_net(channels: int):  # -> torch.nn.Module whose parameters bass.share_forward reads
    import torch

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inp = torch.nn.Conv2d(bass.SHARE_FEATURES, channels, 1)
            for name, kernel, _ in bass.SHARE_CONVS:
                setattr(self, name, torch.nn.Conv2d(channels, channels, kernel))
            self.out = torch.nn.Conv2d(channels, 1, 1)

        def forward(self, x):  # type: ignore[no-untyped-def]
            return bass.share_forward(dict(self.named_parameters()), x)

    return Net()


def fit(
    data: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    epochs: int,
    channels: int = CHANNELS,
    crop: int = CROP,
    batch: int = BATCH,
    threads: int = 1,
) -> dict[str, np.ndarray]:
    """Weighted MSE of the sigmoid share on random (all bins x `crop` frames) crops; Adam with a one-cycle
    schedule peaking at 3e-3; an epoch is as many crops as the data has frames."""
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    w_mean = float(np.mean(np.concatenate([w.ravel() for _, _, w in data])))
    net = share_net(channels)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    steps = sum(x.shape[2] for x, _, _ in data) // (crop * batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps * epochs)
    for epoch in range(epochs):
        total = 0.0
        for _ in range(steps):
            xb, yb, wb = [], [], []
            for _ in range(batch):
                x, y, w = data[int(rng.integers(len(data)))]
                a = int(rng.integers(0, x.shape[2] - crop))
                xb.append(x[:, :, a : a + crop])
                yb.append(y[:, a : a + crop])
                wb.append(w[:, a : a + crop] / w_mean)
            xt, yt, wt = (torch.from_numpy(np.stack(v).astype(np.float32)) for v in (xb, yb, wb))
            loss = (wt * (torch.sigmoid(net(xt)) - yt) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
            total += float(loss.detach())
        print(f"epoch {epoch + 1}: loss {total / steps:.5f}", flush=True)
    return {k: v.detach().numpy().astype(np.float32) for k, v in net.state_dict().items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mixtures", type=int, default=96)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--channels", type=int, default=CHANNELS, help="channels of the net's convolutions")
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
    ap.add_argument("--threads", type=int, default=1, help="torch threads while training")
    ap.add_argument("--out", type=Path, default=bass.SHARE_MODEL)
    ap.add_argument("--augment", action="store_true", help="each mixture's stems through a random EQ")
    ap.add_argument(
        "--evaluate",
        action="store_true",
        help="then score the bass on the tuning mixtures of the SoundFonts not trained on",
    )
    args = ap.parse_args(argv)
    fonts = set(args.soundfonts.split(","))
    data = []
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
        if args.augment:
            stems, acc = eq_augmented(stems, acc, cond.seed)
        data.append(mixture_maps(stems, acc))
        print(f"mixture {cond.index} ({cond.soundfont}): {data[-1][1].size} bins x frames", flush=True)
    params = fit(data, args.epochs, args.channels, threads=args.threads)
    recipe = (
        f"training_conditions({args.mixtures}), {args.input} accompaniment, {args.channels} channels, "
        f"{args.epochs} epochs, seed 0"
    )
    if args.augment:
        recipe += ", random EQ per stem"
    if fonts != set(mixtures.TUNING_SOUNDFONTS):
        recipe += f", SoundFonts {','.join(sorted(fonts))} only"
    np.savez(
        args.out,
        layout=np.array(bass.SHARE_LAYOUT),
        features=np.array(bass.SHARE_FEATURES),
        recipe=np.array(recipe),
        **params,
    )
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    if args.evaluate:
        mean, won, count = evaluate(args.out, fonts)
        print(f"bass on the other SoundFonts' tuning mixtures: {mean:.2f} dB, {won} of {count} won")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
