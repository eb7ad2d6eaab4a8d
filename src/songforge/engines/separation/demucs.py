"""Demucs separation, used only with weights the operator has on disk (SONGFORGE_DEMUCS_WEIGHTS).

The setting is either one model file (a Demucs model package as the `demucs` project publishes them, for
htdemucs `955717e8-8726e21a.th`: a dict of klass/args/kwargs/state) or a folder of them, laid out as
Demucs' own `--repo` folders are: `<signature>-<checksum>.th` files, so that `htdemucs`, `htdemucs_ft`
(a bag of four source-specialised models) and `htdemucs_6s` (guitar and piano too) can be asked for by
name. Nothing is downloaded: no weights, no Demucs.

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
_cache: dict[tuple[tuple[str, float], ...], Any] = {}
# The published signatures of the operator-installable models (Demucs' remote_ref list); htdemucs_ft is a
# bag whose i-th model is used for the i-th source only.
MODELS: dict[str, tuple[str, ...]] = {
    "htdemucs": ("955717e8",),
    "htdemucs_ft": ("f7e0c4bc", "d12395a8", "92cfc3b6", "04573f0d"),
    "htdemucs_6s": ("5c90dfd2",),
}
_lock = threading.Lock()


class DemucsUnavailable(Unavailable):
    """Demucs cannot run here (PyTorch or demucs missing, weights unreadable); the message says which."""


def configured_weights() -> Path | None:
    return config.engine_settings().demucs_weights


def model_files(weights: Path, name: str = "htdemucs") -> list[Path]:
    """The weight files for model `name` under the setting: the file itself, or the folder's
    `<signature>*.th` files; raises DemucsUnavailable naming what is missing."""
    weights = Path(weights)
    if not weights.is_dir():
        return [weights]
    files = []
    for sig in MODELS[name]:
        found = sorted(weights.glob(f"{sig}*.th"))
        if not found:
            raise DemucsUnavailable(
                f"{name} weights ({sig}-*.th) are not in SONGFORGE_DEMUCS_WEIGHTS={weights}"
            )
        files.append(found[0])
    return files


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


def load_model(weights: Path, name: str = "htdemucs") -> Any:
    """Load (once per file version) a Demucs model, or for htdemucs_ft the bag of models; raises
    DemucsUnavailable with the reason."""
    files = model_files(weights, name)
    try:
        key = tuple((str(f.resolve()), f.stat().st_mtime) for f in files)
    except OSError as exc:
        raise DemucsUnavailable(f"Demucs weights {exc.filename} are not readable: {exc.strerror}") from exc
    with _lock:
        if key in _cache:
            return _cache[key]
        models = [_load_one(f) for f in files]
        if len(models) == 1:
            model = models[0]
        else:
            from demucs.apply import BagOfModels

            eye = [[1.0 if i == j else 0.0 for j in range(len(models))] for i in range(len(models))]
            model = BagOfModels(models, eye)
        _cache.clear()  # one model in memory at a time: they are hundreds of MB
        _cache[key] = model
        return model


def _load_one(weights: Path) -> Any:
    torch, _, (demucs_cls, hdemucs_cls, htdemucs_cls, set_state) = _imports()
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
    return model


def separate_demucs(
    audio: np.ndarray,
    weights: Path,
    *,
    name: str = "htdemucs",
    progress: Callable[[int, str], None] | None = None,
    device: str | None = None,
) -> dict[str, np.ndarray]:
    """Separate float32 (n, 2) 44.1 kHz audio with a Demucs model; returns vocals/drums/bass/other.

    Models with more sources (htdemucs_6s: guitar, piano) have the extra sources folded into "other".
    """
    report = progress or (lambda _pct, _stage: None)
    torch, apply_model, _ = _imports()
    report(2, "loading model")
    model = load_model(weights, name)
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
            model,
            ((mix - mean) / std)[None],
            shifts=0,
            split=True,
            overlap=0.25,
            progress=False,
            device=dev,
            num_workers=0,
        )[0]
    out = (out * std + mean).cpu().numpy()
    report(95, "collecting")
    stems = {name: np.zeros_like(audio, dtype=np.float32) for name in ("vocals", "drums", "bass", "other")}
    for index, name in enumerate(model.sources):
        target = name if name in stems else "other"
        stems[target] += out[index].T.astype(np.float32)
    report(100, "done")
    return stems
