"""The acestep engine on a tiny random ACE-Step checkpoint, through its real loader, on the CPU.

The checkpoint is built in the test and saved with `save_pretrained` (tests/acestep_tiny.py); the engine
loads it from SONGFORGE_ACESTEP_WEIGHTS with local files only. The audio is noise: what is checked is
what the engine asked the pipeline for (a recorder around the third-party pipeline's __call__), and the
shapes, lengths, rates and records it made of the answer.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mido
import numpy as np
import pytest

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from acestep_tiny import TINY_SAMPLE_RATE, Recorder, save_tiny_checkpoint  # noqa: E402
from songforge.engines.acestep import pipeline as ace_pipeline  # noqa: E402
from songforge.engines.acestep.engine import AceStepEngine  # noqa: E402
from songforge.engines.acestep.pipeline import EngineNotReady, get_pipeline  # noqa: E402
from songforge.engines.acestep.weights import check_weights  # noqa: E402
from songforge.engines.base import SAMPLE_RATE, GenerationRequest  # noqa: E402
from songforge.engines.registry import get_engine, readiness, refusal  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield save_tiny_checkpoint(tmp_path_factory.mktemp("acestep") / "acestep-tiny-turbo")
    ace_pipeline.unload()


@pytest.fixture
def engine(checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> AceStepEngine:
    monkeypatch.setenv("SONGFORGE_ACESTEP_WEIGHTS", str(checkpoint))
    monkeypatch.setenv("SONGFORGE_ACESTEP_STEPS", "2")
    monkeypatch.setenv("SONGFORGE_ACESTEP_DEVICE", "cpu")
    monkeypatch.setenv("SONGFORGE_ACESTEP_COVER_STRENGTH", "0.5")
    made = get_engine("acestep")
    assert isinstance(made, AceStepEngine)
    return made


@pytest.fixture
def recorder(engine: AceStepEngine) -> Iterator[Recorder]:
    loaded = get_pipeline()
    real = loaded.pipe
    rec = Recorder(real)
    loaded.pipe = rec
    try:
        yield rec
    finally:
        loaded.pipe = real


def _song(seed: int, **fields: Any) -> GenerationRequest:
    base: dict[str, Any] = {
        "kind": "song",
        "prompt": "an upbeat pop song about summer",
        "model": "v4.8",
        "seed": seed,
        "lyrics": "[Verse]\nsun on the water\nwe ride the wave\n\n[Chorus]\noh summer stay",
        "seconds": 6.0,
        "max_seconds": 6.0,
    }
    base.update(fields)
    return GenerationRequest(**base)


def _sums_to_mix(result: Any) -> None:
    total = sum(result.stems.values())
    assert np.allclose(total, result.mix, atol=2e-3), np.abs(total - result.mix).max()


# ------------------------------------------------------------------------------------------ weights
def test_weights_check_names_the_setting_and_every_missing_file(checkpoint: Path, tmp_path: Path) -> None:
    assert check_weights(checkpoint).ready and check_weights(checkpoint).variant == "turbo"
    unset = check_weights(None)
    assert not unset.ready and "SONGFORGE_ACESTEP_WEIGHTS" in unset.message()
    empty = check_weights(tmp_path)
    message = empty.message()
    assert "SONGFORGE_ACESTEP_WEIGHTS" in message and "model_index.json is missing" in message
    assert "transformer/ is missing" in message and "text_encoder/ is missing" in message
    broken = tmp_path / "broken"
    shutil.copytree(checkpoint, broken)
    (broken / "vae" / "diffusion_pytorch_model.safetensors").unlink()
    (broken / "tokenizer" / "tokenizer.json").unlink()
    (broken / "tokenizer" / "tokenizer_config.json").unlink()
    problems = check_weights(broken).problems
    assert problems == [
        "vae/ has no weights (*.safetensors or *.bin)",
        "tokenizer/tokenizer.json or tokenizer_config.json is missing",
    ]


def test_a_hub_id_is_never_downloaded_and_refusals_name_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SONGFORGE_ACESTEP_WEIGHTS", "ACE-Step/acestep-v15-turbo-diffusers")
    ace_pipeline.unload()
    reason = readiness("acestep")
    assert reason is not None and "SONGFORGE_ACESTEP_WEIGHTS" in reason and "not a directory" in reason
    assert "not ready" in (refusal("acestep", "song", "v4.8") or "")
    with pytest.raises(EngineNotReady, match="SONGFORGE_ACESTEP_WEIGHTS"):
        AceStepEngine().generate(_song(1))
    monkeypatch.delenv("SONGFORGE_ACESTEP_WEIGHTS")
    assert "needs SONGFORGE_ACESTEP_WEIGHTS" in (readiness("acestep") or "")


def test_the_loader_reads_local_files_in_fp32_on_cpu_once_per_process(engine: AceStepEngine) -> None:
    assert readiness("acestep") is None and refusal("acestep", "song", "v4.8") is None
    first = engine.warm()
    assert first.device == "cpu" and first.dtype == "float32" and not first.offload
    assert first.variant == "turbo" and first.cover and first.sample_rate == TINY_SAMPLE_RATE
    assert str(first.pipe.transformer.dtype) == "torch.float32"
    assert AceStepEngine().warm() is first  # kept warm: a new engine object, the same pipeline


# ------------------------------------------------------------------------------------------ text2music
def test_two_variations_are_one_batch_with_the_controls_mapped(
    engine: AceStepEngine, recorder: Recorder
) -> None:
    stages: list[str] = []
    requests = [_song(11, tonality="A:minor", bpm=100), _song(12, tonality="A:minor", bpm=100)]
    results = engine.generate_batch(requests, lambda _pct, stage: stages.append(stage))
    assert len(recorder.calls) == 1
    call = recorder.calls[0]
    assert call["prompt"] == [requests[0].prompt] * 2
    assert call["lyrics"] == [requests[0].lyrics.strip()] * 2  # type: ignore[union-attr]
    assert call["keyscale"] == "A minor" and call["bpm"] == 100 and call["audio_duration"] == 6.0
    assert call["task_type"] == "text2music" and call["num_inference_steps"] == 2
    assert call["guidance_scale"] == 1.0  # turbo
    assert [g.initial_seed() for g in call["generator"]] == [11, 12]
    assert "generating" in stages and "separating" in stages
    for request, result in zip(requests, results, strict=True):
        assert result.sample_rate == SAMPLE_RATE
        assert result.mix.shape == (6 * SAMPLE_RATE, 2) and result.mix.dtype == np.float32
        assert np.isfinite(result.mix).all() and np.abs(result.mix).max() > 0
        assert set(result.stems) == {"vocals", "drums", "bass", "other"}
        _sums_to_mix(result)
        assert result.material["engine"] == "acestep" and result.material["seed"] == request.seed
        assert result.material["key"] == "A:minor" and result.material["bpm"] == 100
        assert result.material["dur"] == 6
        assert result.extra["acestep"]["task"] == "text2music" and result.extra["acestep"]["batch"] == 2
        assert result.lyrics == requests[0].lyrics.strip()  # type: ignore[union-attr]
        assert result.extra["lyrics_timing"] == "even"
        lines = result.extra["lyrics_lines"]
        assert [t for _s, _e, t in lines] == [
            "[verse]",
            "sun on the water",
            "we ride the wave",
            "[chorus]",
            "oh summer stay",
        ]
        assert all(0 <= s < e <= 6.0 + 0.5 for s, e, _t in lines)
    assert not np.allclose(results[0].mix, results[1].mix)  # two seeds, two variations
    again = engine.generate(_song(11, tonality="A:minor", bpm=100))
    assert np.allclose(again.mix, results[0].mix, atol=1e-4)  # a seed makes the same track alone


def test_an_instrumental_sings_nothing_and_its_stems_still_add_up(
    engine: AceStepEngine, recorder: Recorder
) -> None:
    request = GenerationRequest(
        kind="instrumental", prompt="lo-fi beat, 90 bpm, in D minor", model="i4", seed=5, max_seconds=5.0
    )
    result = engine.generate(request)
    call = recorder.calls[0]
    assert call["lyrics"] == ["[Instrumental]"] and call["keyscale"] == "D minor" and call["bpm"] == 90
    assert call["audio_duration"] == 5.0  # the cap, the prompt saying no length
    assert result.mix.shape == (5 * SAMPLE_RATE, 2) and "vocals" not in result.stems
    _sums_to_mix(result)
    assert result.lyrics is None and "lyrics_lines" not in result.extra


def test_a_song_without_lyrics_gets_written_ones(engine: AceStepEngine, recorder: Recorder) -> None:
    result = engine.generate(_song(3, lyrics=None))
    sung = recorder.calls[0]["lyrics"][0]
    assert sung == result.lyrics and "[" in sung and len(sung.splitlines()) > 2
    assert result.extra["lyrics_lines"]


# ------------------------------------------------------------------------------------------ cover
def test_chords_are_a_guide_the_cover_task_re_renders(engine: AceStepEngine, recorder: Recorder) -> None:
    requests = [_song(21, chords="C G Am F", bpm=120), _song(22, chords="C G Am F", bpm=120)]
    results = engine.generate_batch(requests)
    call = recorder.calls[0]
    assert call["task_type"] == "cover" and call["audio_cover_strength"] == 0.5
    assert call["keyscale"] == "C major" and call["bpm"] == 120 and call["timesignature"] == "4"
    src = call["src_audio"]
    # the guide, at the VAE's rate, in whole latent frames
    assert tuple(src.shape) == (2, round(call["audio_duration"] * TINY_SAMPLE_RATE))
    assert call["lyrics"][0].startswith("[") and "sun on the water" in call["lyrics"][0]
    for result in results:
        guide = result.extra["guide"]
        assert 0 <= call["audio_duration"] - guide["seconds"] < 1 / 25  # whole latent frames of it
        assert result.mix.shape == (round(guide["seconds"] * SAMPLE_RATE), 2)
        assert result.sample_rate == SAMPLE_RATE
        assert guide["engine"] == "embedded" and guide["chord"] == "C G Am F" and guide["bpm"] == 120
        assert guide["seed"] == 21  # one guide for the batch
        assert result.material["chord"] == "C G Am F" and result.material["key"] == "C:major"
        assert all(bar in ("C", "G", "Am", "F") for bar in result.extra["bar_chords"])
        assert result.extra["acestep"]["task"] == "cover"
        assert result.extra["lyrics_timing"] == "guide-form"
        markers = [t for _s, _e, t in result.extra["lyrics_lines"] if t.startswith("[")]
        assert markers and all(t[1:-1] in call["lyrics"][0] for t in markers)
        _sums_to_mix(result)


def test_noise_is_not_aligned_and_the_timing_falls_back_to_the_guide_form(engine: AceStepEngine) -> None:
    """The tiny model sings noise: its separated vocals carry no lyrics, so the alignment is rejected
    and the lines keep the guide's form, as they would without an aligner."""
    pytest.importorskip("pocketsphinx")
    from songforge.audio.align import align_lines

    result = engine.generate(_song(31, chords="C G Am F", bpm=120))
    sung = [t for _s, _e, t in result.extra["lyrics_lines"] if not t.startswith("[")]
    assert sung and "vocals" in result.stems
    assert align_lines(result.stems["vocals"], result.sample_rate, sung) is None
    assert result.extra["lyrics_timing"] == "guide-form" and "lyrics_alignment" not in result.extra
    plain = engine.generate(_song(32))
    assert plain.extra["lyrics_timing"] == "even" and "lyrics_alignment" not in plain.extra


def _midi_file(path: Path) -> Path:
    mid = mido.MidiFile()
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(96)))
    for note in (57, 60, 64, 65, 64, 60, 57, 55):
        track.append(mido.Message("note_on", note=note, velocity=90, time=0))
        track.append(mido.Message("note_off", note=note, velocity=0, time=480))
    buf = io.BytesIO()
    mid.save(file=buf)
    path.write_bytes(buf.getvalue())
    return path


def test_an_uploaded_midi_is_the_guide(engine: AceStepEngine, recorder: Recorder, tmp_path: Path) -> None:
    request = GenerationRequest(
        kind="instrumental",
        prompt="cinematic strings",
        model="i4",
        seed=8,
        midi_path=_midi_file(tmp_path / "base.mid"),
        max_seconds=6.0,
    )
    result = engine.generate(request)
    call = recorder.calls[0]
    assert call["task_type"] == "cover" and call["bpm"] == 96 and "src_audio" in call
    assert result.extra["guide"]["midi"] is True and result.extra["guide"]["bpm"] == 96
    assert result.mix.shape[0] == round(result.extra["guide"]["seconds"] * SAMPLE_RATE) <= 6 * SAMPLE_RATE


def test_a_checkpoint_without_the_cover_components_refuses_chords_by_name(
    checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    partial = tmp_path / "no-cover"
    shutil.copytree(checkpoint, partial, ignore=shutil.ignore_patterns("audio_token*"))
    index = json.loads((partial / "model_index.json").read_text())
    index["audio_tokenizer"] = index["audio_token_detokenizer"] = [None, None]
    (partial / "model_index.json").write_text(json.dumps(index))
    monkeypatch.setenv("SONGFORGE_ACESTEP_WEIGHTS", str(partial))
    monkeypatch.setenv("SONGFORGE_ACESTEP_STEPS", "1")
    assert check_weights(partial).ready and not check_weights(partial).cover
    engine = AceStepEngine()
    with pytest.raises(EngineNotReady, match="audio_tokenizer"):
        engine.generate(_song(1, chords="Am F C G", seconds=4.0, max_seconds=4.0))
    plain = engine.generate(_song(1, seconds=4.0, max_seconds=4.0))  # text2music needs no cover parts
    assert plain.mix.shape == (4 * SAMPLE_RATE, 2)
