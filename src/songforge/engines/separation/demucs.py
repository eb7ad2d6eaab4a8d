"""htdemucs separation, used only when the operator points SONGFORGE_DEMUCS_WEIGHTS at a model file.

The file is a Demucs model package as the `demucs` project publishes them (for htdemucs,
`955717e8-8726e21a.th`: a dict of klass/args/kwargs/state). Nothing is downloaded: no path, no Demucs.

Only the `demucs` package's model classes and `apply_model` are imported; none of its modules that
need torchaudio (audio I/O, training) are touched, so PyTorch CPU plus `demucs` (no dependencies beyond
einops, julius, tqdm, pyyaml) is enough. The package is unpickled with `weights_only=True` and an
allow-list of the Demucs model classes, so a tampered weights file cannot run code when loaded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from songforge import config
from songforge.errors import Unavailable

SAMPLE_RATE = 44100
_cache: dict[tuple[str, float], Any] = {}
_lock = threading.Lock()


class DemucsUnavailable(Unavailable):
    """Demucs cannot run here (PyTorch or demucs missing, weights unreadable); the message says which."""


def configured_weights() -> Path | None:
    return config.engine_settings().demucs_weights


def _imports() -> tuple[Any, Any, Any]:
    try:
        import torch
        from demucs.apply import apply_model
        from demucs.demucs import Demucs
        from demucs.hdemucs import HDemucs
        from demucs.htdemucs import HTDemucs
        from demucs.states import set_state
    except ImportError as exc:
        raise DemucsUnavailable(
            f"Demucs needs PyTorch and the demucs package ({exc}); "
            "install them with: pip install torch==2.13.0 demucs==4.1.0 einops julius tqdm pyyaml --no-deps"
        ) from exc
    return torch, apply_model, (Demucs, HDemucs, HTDemucs, set_state)


def load_model(weights: Path) -> Any:
    """Load (once per file version) a Demucs model package; raises DemucsUnavailable with the reason."""
    torch, _, (demucs_cls, hdemucs_cls, htdemucs_cls, set_state) = _imports()
    weights = Path(weights)
    try:
        key = (str(weights.resolve()), weights.stat().st_mtime)
    except OSError as exc:
        raise DemucsUnavailable(f"Demucs weights {weights} are not readable: {exc.strerror}") from exc
    with _lock:
        if key in _cache:
            return _cache[key]
        allowed = [demucs_cls, hdemucs_cls, htdemucs_cls, Fraction]
        try:
            with torch.serialization.safe_globals(allowed):
                package = torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as exc:  # pickle, zip and torch errors all mean "not a usable package"
            raise DemucsUnavailable(f"{weights} is not a Demucs model package: {exc}") from exc
        if not isinstance(package, dict) or package.get("klass") not in allowed[:3]:
            raise DemucsUnavailable(f"{weights} is not a Demucs model package (no known model class)")
        try:
            model = package["klass"](*package.get("args", ()), **package.get("kwargs", {}))
            set_state(model, package["state"])
        except Exception as exc:
            raise DemucsUnavailable(f"{weights} does not match its model class: {exc}") from exc
        model.eval()
        _cache.clear()  # one model in memory at a time: they are hundreds of MB
        _cache[key] = model
        return model


def separate_demucs(
    audio: np.ndarray,
    weights: Path,
    *,
    progress: Callable[[int, str], None] | None = None,
    device: str | None = None,
) -> dict[str, np.ndarray]:
    """Separate float32 (n, 2) 44.1 kHz audio with a Demucs model; returns vocals/drums/bass/other.

    Models with more sources (htdemucs_6s: guitar, piano) have the extra sources folded into "other".
    """
    report = progress or (lambda _pct, _stage: None)
    torch, apply_model, _ = _imports()
    report(2, "loading model")
    model = load_model(weights)
    if getattr(model, "samplerate", SAMPLE_RATE) != SAMPLE_RATE or getattr(model, "audio_channels", 2) != 2:
        raise DemucsUnavailable("only 44.1 kHz stereo Demucs models are supported")
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    report(10, "separating")
    mix = torch.from_numpy(np.ascontiguousarray(audio.T, dtype=np.float32))
    # The normalisation Demucs' own CLI applies: models were trained on standardised mixes.
    ref = mix.mean(0)
    mean, std = ref.mean(), ref.std().clamp_min(1e-8)
    with torch.inference_mode():
        out = apply_model(
            model, ((mix - mean) / std)[None], shifts=0, split=True, overlap=0.25, progress=False,
            device=dev, num_workers=0,
        )[0]
    out = (out * std + mean).cpu().numpy()
    report(95, "collecting")
    stems = {name: np.zeros_like(audio, dtype=np.float32) for name in ("vocals", "drums", "bass", "other")}
    for index, name in enumerate(model.sources):
        target = name if name in stems else "other"
        stems[target] += out[index].T.astype(np.float32)
    report(100, "done")
    return stems
