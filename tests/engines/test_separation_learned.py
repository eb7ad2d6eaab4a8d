"""The learned separator's NumPy runtime with a small random weights file of the trained layout: it must
run without PyTorch, keep the input's shape, add back up to the input, join its chunks seamlessly, and be
refused (then fallen back from, with a note) when its weights are missing or of another layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from songforge.engines.separation import STEMS, SeparationError, learned, separate, separate_reporting

SR = 44100


def tiny_weights(path: Path, hidden: int = 16, n_res: int = 2, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    nb = learned.n_bands()
    shapes = [(hidden, 2 * nb, 3)] + [(hidden, hidden, 3)] * n_res + [(len(STEMS) * nb, hidden, 1)]
    arrays: dict[str, np.ndarray] = {
        "feature_version": np.array(learned.FEATURE_VERSION),
        "n_bands": np.array(nb),
        "n_layers": np.array(len(shapes)),
        "in_mean": np.zeros(2 * nb, np.float32),
        "in_std": np.ones(2 * nb, np.float32),
    }
    for i, shape in enumerate(shapes):
        arrays[f"w{i}"] = (rng.standard_normal(shape) * 0.2).astype(np.float16)
        arrays[f"b{i}"] = np.zeros(shape[0], np.float16)
        arrays[f"d{i}"] = np.array(1 if i in (0, len(shapes) - 1) else 2**i)
        arrays[f"r{i}"] = np.array(0 < i < len(shapes) - 1)
    np.savez(path, **arrays)
    return path


def music(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(1)
    t = np.arange(int(seconds * SR)) / SR
    tone = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 55 * t)
    clicks = rng.standard_normal(len(t)) * ((t % 0.5) < 0.02) * 0.1
    return np.stack([tone + clicks, 0.7 * tone + clicks], axis=1).astype(np.float32)


def test_runs_in_numpy_and_adds_up(tmp_path: Path) -> None:
    model = learned.Model(tiny_weights(tmp_path / "w.npz"))
    mix = music(3.0)
    stems = learned.separate_learned(mix, SR, model=model)
    assert list(stems) == list(STEMS)
    assert all(s.shape == mix.shape and s.dtype == np.float32 for s in stems.values())
    assert np.max(np.abs(sum(stems.values()) - mix)) < 1e-5
    masks = model.masks(learned.features(learned._transform().stft(mix.T), 0.1))
    assert np.allclose(masks.sum(axis=0), 1.0, atol=1e-5) and masks.min() >= 0


def test_chunks_join_seamlessly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = learned.Model(tiny_weights(tmp_path / "w.npz"))
    mix = music(8.0)
    whole = learned.separate_learned(mix, SR, model=model)
    monkeypatch.setattr(learned, "CHUNK_S", 2.0)
    chunked = learned.separate_learned(mix, SR, model=model)
    assert np.max(np.abs(sum(chunked.values()) - mix)) < 1e-5
    for name in STEMS:
        ref, est = whole[name].astype(np.float64), chunked[name].astype(np.float64)
        assert 10 * np.log10(np.sum(ref**2) / (np.sum((ref - est) ** 2) + 1e-20)) > 40.0, name


def test_silence_and_short_input(tmp_path: Path) -> None:
    model = learned.Model(tiny_weights(tmp_path / "w.npz"))
    silent = learned.separate_learned(np.zeros((SR, 2), np.float32), SR, model=model)
    assert all(not s.any() for s in silent.values())
    tiny = learned.separate_learned(np.full((100, 2), 0.1, np.float32), SR, model=model)
    assert all(s.shape == (100, 2) for s in tiny.values())
    assert np.allclose(sum(tiny.values()), 0.1, atol=1e-5)


def test_weights_of_another_layout_or_missing_are_refused(tmp_path: Path, monkeypatch) -> None:
    path = tiny_weights(tmp_path / "w.npz")
    data = dict(np.load(path))
    data["n_bands"] = np.array(7)
    np.savez(tmp_path / "other.npz", **data)
    with pytest.raises(learned.WeightsMissing, match="another feature layout"):
        learned.Model(tmp_path / "other.npz")
    monkeypatch.setattr(learned, "WEIGHTS", tmp_path / "absent.npz")
    with pytest.raises(SeparationError, match="not readable"):
        separate(music(1.0), SR, method="learned")
    result = separate_reporting(music(1.0), SR, method="learned")
    assert result.method == "harmonic" and "learned unavailable" in result.note
