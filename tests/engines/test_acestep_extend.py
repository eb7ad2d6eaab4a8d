"""Extending an acestep work: ACE-Step's repaint task over the new region, on a tiny random checkpoint
loaded through the engine's real loader, on the CPU.

The source is a work the tiny model made, written to a 16-bit WAV and read back the way the worker
reads stored files. What is checked: the extension the worker picks for the engine, the repaint call
the (third-party) pipeline received (a recorder around its __call__), that the new work holds the
source sample for sample up to the splice, its length, rate, stems and record; and that a pipeline
without the repaint task makes a new track and says so. The audio is noise.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from acestep_tiny import TINY_SAMPLE_RATE, Recorder, save_tiny_checkpoint  # noqa: E402
from songforge.audio.encode import to_int16, write_wav  # noqa: E402
from songforge.engines.acestep import pipeline as ace_pipeline  # noqa: E402
from songforge.engines.acestep.engine import AceStepEngine  # noqa: E402
from songforge.engines.acestep.extend import extend as acestep_extend  # noqa: E402
from songforge.engines.acestep.pipeline import can_repaint, get_pipeline  # noqa: E402
from songforge.engines.base import SAMPLE_RATE, GenerationRequest, GenerationResult  # noqa: E402
from songforge.engines.embedded.extend import CROSSFADE_S, SourceWork  # noqa: E402
from songforge.engines.embedded.extend import extend as embedded_extend  # noqa: E402
from songforge.workers.extend import extender_for, read_stored_audio  # noqa: E402

BPM = 120  # a bar is 2 s


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield save_tiny_checkpoint(tmp_path_factory.mktemp("acestep-extend") / "tiny-turbo")
    ace_pipeline.unload()


@pytest.fixture
def engine(checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> AceStepEngine:
    monkeypatch.setenv("SONGFORGE_ACESTEP_WEIGHTS", str(checkpoint))
    monkeypatch.setenv("SONGFORGE_ACESTEP_STEPS", "2")
    monkeypatch.setenv("SONGFORGE_ACESTEP_DEVICE", "cpu")
    return AceStepEngine()


@pytest.fixture
def recorder(engine: AceStepEngine) -> Iterator[Recorder]:
    loaded = get_pipeline(engine.settings)
    real = loaded.pipe
    rec = Recorder(real)
    loaded.pipe = rec
    try:
        yield rec
    finally:
        loaded.pipe = real


def _stored(audio: np.ndarray, tmp_path: Path, name: str) -> np.ndarray:
    """The audio as a stored 16-bit WAV reads back in the worker (`read_stored_audio`)."""
    path = tmp_path / f"{name}.wav"
    write_wav(path, audio, SAMPLE_RATE)
    return read_stored_audio(path)


def _request(kind: str = "song", **fields: Any) -> GenerationRequest:
    base: dict[str, Any] = {
        "kind": kind,
        "prompt": "an upbeat pop song about summer",
        "model": "v4.8",
        "seed": 31,
        "bpm": BPM,
        "tonality": "A:minor",
        "seconds": 6.0,
        "max_seconds": 6.0,
    }
    if kind == "song":
        base["lyrics"] = "[Verse]\nsun on the water\nwe ride the wave\n\n[Chorus]\noh summer stay"
    base.update(fields)
    return GenerationRequest(**base)


def _source(engine: AceStepEngine, request: GenerationRequest, tmp_path: Path) -> SourceWork:
    made: GenerationResult = engine.generate(request)
    return SourceWork(
        item_id="src-1",
        mix=_stored(made.mix, tmp_path, "mix"),
        stems={name: _stored(stem, tmp_path, name) for name, stem in made.stems.items()},
        material=dict(made.material),
        basis=request,
        title=made.title,
        lyrics=made.lyrics,
        lines=[(float(s), float(e), str(t)) for s, e, t in made.extra.get("lyrics_lines", [])],
    )


def test_the_worker_picks_each_engines_own_extension() -> None:
    assert extender_for("acestep") is acestep_extend
    assert extender_for("embedded") is embedded_extend
    assert extender_for("tempolor") is None


def test_an_extension_of_an_acestep_work_is_queued_for_acestep() -> None:
    """Whatever the account's own engine: the embedded engine would splice other instruments on."""
    from songforge.core.jobs import JobRequest, extend_block
    from songforge.core.scheduler import engine_for
    from songforge.store.models import Account

    account = Account(tenant_id="t", user_id="u", engine="embedded")
    extension = JobRequest(kind="song", prompt="p", model="v4.8", extra={"extend": extend_block("src", 3.0)})
    assert engine_for(account, extension, ready=lambda _name: False, source_engine="acestep") == "acestep"
    assert engine_for(account, extension, source_engine="embedded") == "embedded"


def test_a_song_is_repainted_after_the_splice_and_keeps_the_source_sample_for_sample(
    engine: AceStepEngine, recorder: Recorder, tmp_path: Path
) -> None:
    source = _source(engine, _request(), tmp_path)
    assert source.mix.shape == (6 * SAMPLE_RATE, 2)
    recorder.calls.clear()
    stages: list[str] = []
    extender = extender_for("acestep")
    assert extender is not None
    result = extender(source, 4.7, lyrics=None, max_seconds=9.0, progress=lambda _p, s: stages.append(s))

    # One pipeline call: the repaint task over [splice - crossfade, end], the source as its context.
    assert len(recorder.calls) == 1
    call = recorder.calls[0]
    splice_s = 4.0  # 4.7 s moved back to its bar line (2 s bars)
    assert call["task_type"] == "repaint"
    assert call["repainting_start"] == pytest.approx(splice_s - CROSSFADE_S)
    assert call["repainting_end"] == -1.0  # to the end
    assert call["audio_duration"] == 9.0  # the cap of the whole work, in whole latent frames
    src = call["src_audio"].numpy()
    assert src.shape == (2, 9 * TINY_SAMPLE_RATE)  # the pipeline's rate, the new length
    assert np.abs(src[:, : 5 * TINY_SAMPLE_RATE]).max() > 0  # the source's audio ...
    assert not np.any(src[:, 6 * TINY_SAMPLE_RATE + 8 :])  # ... and silence past its end
    assert tuple(call["reference_audio"].shape) == (2, int(splice_s) * TINY_SAMPLE_RATE)
    assert call["keyscale"] == "A minor" and call["bpm"] == BPM and call["num_inference_steps"] == 2
    assert [g.initial_seed() for g in call["generator"]] == [31]
    sung = call["lyrics"][0]
    assert "sun on the water" in sung and sung.rstrip().endswith("oh summer stay")  # then the chorus again
    # The pipeline itself takes that for a repaint of those latent frames and nothing before them.
    mask = get_pipeline(engine.settings).pipe._build_chunk_mask(
        task_type="repaint",
        latent_length=9 * 25,
        batch_size=1,
        device="cpu",
        dtype=call["src_audio"].dtype,
        acoustic_dim=1,
        repainting_start=call["repainting_start"],
        repainting_end=call["repainting_end"],
        has_src_audio=True,
    )[0, :, 0]
    frame = int(splice_s * 25)  # latent frames of the splice
    assert not mask[: frame - 2].any() and bool(mask[frame - 2 :].all())  # kept before, painted after

    # The new work: the stored source up to the splice exactly, then the continuation.
    at = int(splice_s * SAMPLE_RATE)
    assert result.sample_rate == SAMPLE_RATE and result.mix.dtype == np.float32
    assert result.mix.shape == (9 * SAMPLE_RATE, 2)
    assert np.array_equal(result.mix[:at], source.mix[:at])
    assert np.array_equal(to_int16(result.mix[:at]), to_int16(source.mix[:at]))  # and so the stored file
    assert not np.allclose(result.mix[at + 4410 : 6 * SAMPLE_RATE], source.mix[at + 4410 :])  # repainted
    assert np.isfinite(result.mix).all() and np.abs(result.mix[at:]).max() > 0
    assert set(result.stems) == set(source.stems) == {"vocals", "drums", "bass", "other"}
    for name, stem in result.stems.items():
        assert stem.shape == result.mix.shape and np.array_equal(stem[:at], source.stems[name][:at])
    total = sum(result.stems.values())
    assert np.allclose(total, result.mix, atol=2e-3), np.abs(total - result.mix).max()
    assert "generating" in stages and "separating" in stages

    # The record: made by acestep, by repainting, spliced where and how.
    assert result.material["engine"] == "acestep" and result.material["dur"] == 9
    assert result.material["extendedFrom"] == {
        "item_id": "src-1",
        "start_time": 4.7,
        "splice_at": splice_s,
        "method": "repaint",
    }
    assert result.material["key"] == "A:minor" and result.material["bpm"] == BPM
    assert "measured" not in result.material
    info = result.extra["extension"]
    assert info["method"] == "repaint" and info["splice_at"] == splice_s and info["splice_bar"] == 2
    assert info["splice_sample"] == at and info["root_item_id"] == "src-1"
    ace = result.extra["acestep"]
    assert ace["task"] == "repaint" and ace["repainting_start"] == pytest.approx(splice_s - CROSSFADE_S)
    assert ace["repainting_end"] == 9.0 and ace["reference_audio"] == "source"
    assert result.extra["engine"] == "acestep" and result.title == source.title
    lines = result.extra["lyrics_lines"]
    before = [t for s, _e, t in lines if s < splice_s]
    after = [t for s, _e, t in lines if s >= splice_s]
    assert before == [t for s, _e, t in source.lines if s < splice_s - 0.05]
    assert after and after[0].startswith("[") and "oh summer stay" in after
    assert all(e <= 9.0 + 0.5 for _s, e, _t in lines)
    assert result.lyrics and result.lyrics.rstrip().endswith("oh summer stay")


def test_an_instrumental_without_a_tempo_is_spliced_at_the_time_asked(
    engine: AceStepEngine, recorder: Recorder, tmp_path: Path
) -> None:
    request = _request("instrumental", prompt="lo-fi beat", bpm=None, tonality=None)
    source = _source(engine, request, tmp_path)
    source.material["bpm"] = None  # the model chose the tempo: no bar grid is known
    recorder.calls.clear()
    result = acestep_extend(source, 3.3, max_seconds=7.0)
    call = recorder.calls[0]
    assert call["task_type"] == "repaint" and call["lyrics"] == ["[Instrumental]"]
    assert call["repainting_start"] == pytest.approx(3.3 - CROSSFADE_S)
    at = int(round(3.3 * SAMPLE_RATE))
    assert (
        result.extra["extension"]["splice_sample"] == at and result.extra["extension"]["splice_bar"] is None
    )
    assert np.array_equal(result.mix[:at], source.mix[:at])
    assert result.mix.shape == (7 * SAMPLE_RATE, 2) and "vocals" not in result.stems
    assert result.lyrics is None and "lyrics_lines" not in result.extra


def test_a_pipeline_without_the_repaint_task_makes_a_new_track_and_says_so(
    engine: AceStepEngine, recorder: Recorder, tmp_path: Path
) -> None:
    assert can_repaint(recorder.pipe)
    assert not can_repaint(object())  # no repaint arguments in its __call__
    source = _source(engine, _request(seconds=4.0, max_seconds=4.0), tmp_path)
    loaded = get_pipeline(engine.settings)
    loaded.repaint = False  # what the loader records for such a pipeline
    try:
        recorder.calls.clear()
        result = acestep_extend(source, 3.0, max_seconds=5.0)
    finally:
        loaded.repaint = True
    call = recorder.calls[0]
    assert call["task_type"] == "text2music" and "src_audio" not in call
    info = result.extra["extension"]
    assert info["method"] == "new-track" and "no repaint task" in info["reason"] and info["splice_at"] is None
    assert result.material["extendedFrom"]["method"] == "new-track"
    assert result.material["engine"] == "acestep" and result.mix.shape == (5 * SAMPLE_RATE, 2)
