"""The Demucs path with a tiny randomly initialised htdemucs saved the way Demucs packages are, so the
loading, the allow-listed unpickling, apply_model and the stem mapping all run for real."""

from __future__ import annotations

import pickle
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed (pip install torch==2.13.0)")
pytest.importorskip("demucs.htdemucs", reason="demucs not installed (pip install demucs==4.1.0 --no-deps)")

from demucs.htdemucs import HTDemucs  # noqa: E402

from songforge.engines.separation import SeparationError, separate  # noqa: E402
from songforge.engines.separation.demucs import DemucsUnavailable, load_model  # noqa: E402

pytestmark = pytest.mark.slow  # PyTorch import and CPU inference: ~30 s on 2 cores

SR = 44100
TINY = dict(
    sources=["drums", "bass", "other", "vocals"],
    audio_channels=2,
    channels=4,
    depth=2,
    t_layers=1,
    t_heads=1,
    bottom_channels=0,
    dconv_comp=2,
    segment=Fraction(2),
    samplerate=SR,
)


def save_package(path: Path, sources: list[str] | None = None) -> Path:
    torch.manual_seed(0)
    kwargs = dict(TINY, sources=sources or TINY["sources"])
    model = HTDemucs(**kwargs)
    package = {
        "klass": HTDemucs,
        "args": (),
        "kwargs": kwargs,
        "state": {k: v.half() for k, v in model.state_dict().items()},
        "training_args": {"note": "plain container, as Demucs publishes"},
    }
    torch.save(package, path)
    return path


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_package(tmp_path_factory.mktemp("demucs") / "tiny.th")


def test_demucs_path_returns_four_stems_of_input_length(weights: Path, monkeypatch) -> None:
    monkeypatch.setenv("SONGFORGE_DEMUCS_WEIGHTS", str(weights))
    t = np.arange(int(2.5 * SR)) / SR
    left, right = np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)
    mix = (0.3 * np.stack([left, right], axis=1)).astype(np.float32)
    seen: list[int] = []
    stems = separate(mix, SR, method="auto", progress=lambda p, _s: seen.append(p))
    assert list(stems) == ["vocals", "drums", "bass", "other"]
    for audio in stems.values():
        assert audio.shape == mix.shape and audio.dtype == np.float32 and np.isfinite(audio).all()
    # A random model separates nothing useful, but it did run: the stems differ from each other.
    assert not np.allclose(stems["vocals"], stems["drums"])
    assert seen[-1] == 100
    explicit = separate(mix, SR, method="demucs")
    assert np.allclose(explicit["bass"], stems["bass"], atol=1e-5)  # deterministic (shifts=0)


def test_six_source_models_fold_extras_into_other(tmp_path: Path, monkeypatch) -> None:
    path = save_package(tmp_path / "six.th", ["drums", "bass", "other", "vocals", "guitar", "piano"])
    monkeypatch.setenv("SONGFORGE_DEMUCS_WEIGHTS", str(path))
    stems = separate(np.zeros((SR, 2), np.float32), SR, method="demucs")
    assert list(stems) == ["vocals", "drums", "bass", "other"]


def test_a_pickle_that_runs_code_is_refused(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "pwned",))

    bad = tmp_path / "evil.th"
    with open(bad, "wb") as fh:
        pickle.dump({"klass": Evil()}, fh)
    with pytest.raises(DemucsUnavailable, match="not a Demucs model package"):
        load_model(bad)
    assert not (tmp_path / "pwned").exists()


def test_misconfiguration_is_explicit_or_falls_back(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SONGFORGE_DEMUCS_WEIGHTS", str(tmp_path / "missing.th"))
    mix = np.zeros((SR // 2, 2), np.float32)
    with pytest.raises(SeparationError, match="not readable"):
        separate(mix, SR, method="demucs")
    stems = separate(mix, SR, method="auto")  # falls back to the classical method, logged
    assert stems["vocals"].shape == mix.shape


def test_a_folder_of_weights_serves_models_by_name(tmp_path: Path, monkeypatch) -> None:
    """SONGFORGE_DEMUCS_WEIGHTS may be a folder laid out like Demucs' --repo: htdemucs and the
    htdemucs_ft bag (one specialised model per source) by their published signatures."""
    save_package(tmp_path / "955717e8-8726e21a.th")
    for sig in ("f7e0c4bc-ba3fe64a", "d12395a8-e57c48e6", "92cfc3b6-ef3bcb9c", "04573f0d-f3cf25b2"):
        save_package(tmp_path / f"{sig}.th")
    monkeypatch.setenv("SONGFORGE_DEMUCS_WEIGHTS", str(tmp_path))
    mix = (0.1 * np.random.default_rng(0).standard_normal((SR * 2, 2))).astype(np.float32)
    for method in ("demucs", "htdemucs", "htdemucs_ft"):
        stems = separate(mix, SR, method=method)
        assert list(stems) == ["vocals", "drums", "bass", "other"] and stems["bass"].shape == mix.shape
    two = separate(mix, SR, method="htdemucs_ft", two_stems=True)
    assert list(two) == ["vocals", "accompaniment"]
    with pytest.raises(SeparationError, match="htdemucs_6s weights"):
        separate(mix, SR, method="htdemucs_6s")
