"""Real synthesis through FluidSynth; short tracks keep the suite quick."""

from pathlib import Path

import numpy as np
import pretty_midi
import pyloudnorm as pyln
import pytest
from scipy.signal import resample_poly

from songforge.engines.base import EngineError, GenerationRequest, get_engine
from songforge.engines.embedded import EmbeddedEngine, check_ready

SECONDS = 14


def _req(**kw):
    base = dict(kind="instrumental", prompt="upbeat pop song", model="i3", seed=7, max_seconds=SECONDS)
    base.update(kw)
    return GenerationRequest(**base)


@pytest.fixture(scope="module")
def engine():
    check_ready()
    return get_engine("embedded")


@pytest.fixture(scope="module")
def pop(engine):
    stages = []
    res = engine.generate(_req(), lambda pct, stage: stages.append((pct, stage)))
    return res, stages


def test_deterministic_and_seed_sensitive(engine, pop):
    res, _ = pop
    again = engine.generate(_req(), lambda p, s: None)
    assert np.array_equal(res.mix, again.mix)
    other = engine.generate(_req(seed=8), lambda p, s: None)
    n = min(len(res.mix), len(other.mix))
    assert not np.allclose(res.mix[:n], other.mix[:n])


def test_stems_sum_to_mix_and_format(pop):
    res, _ = pop
    assert set(res.stems) == {"drums", "bass", "keys", "lead"}
    assert res.mix.dtype == np.float32 and res.mix.ndim == 2 and res.mix.shape[1] == 2
    total = sum(res.stems.values())
    assert float(np.max(np.abs(total - res.mix))) < 1e-5
    assert res.sample_rate == 44100


def test_loudness_and_true_peak(pop):
    res, _ = pop
    lufs = pyln.Meter(44100).integrated_loudness(res.mix.astype(np.float64))
    assert abs(lufs + 14) < 1.0
    tp = 20 * np.log10(np.max(np.abs(resample_poly(res.mix, 4, 1, axis=0))))
    assert tp <= -1.0


def test_progress_and_material(pop):
    res, stages = pop
    names = {s for _, s in stages}
    assert {"composing", "rendering", "mixing", "mastering"} <= names
    assert stages[-1][0] == 100
    m = res.material
    fields = ("style", "mood", "inst", "instInfo", "scene", "key", "bpm", "chord", "dur", "seed", "otherInfo")
    assert all(f in m for f in fields)
    assert m["style"] == "Pop" and isinstance(m["bpm"], int) and ":" in m["key"]
    assert 0 < m["dur"] <= SECONDS
    assert res.title.endswith("Pop")


def test_explicit_controls_win(engine):
    res = engine.generate(
        _req(
            prompt="slow sad song in E major at 70 bpm",
            tonality="F:minor",
            bpm=150,
            chords="Fm Db | Eb C7",
            max_seconds=12,
        ),
        lambda p, s: None,
    )
    m = res.material
    assert m["key"] == "F:minor" and m["bpm"] == 150 and m["chord"] == "Fm Db | Eb C7"
    assert len(res.mix) <= 12 * 44100 and m["dur"] >= 10
    assert res.extra["bar_chords"][:2] == ["Fm Db", "Eb C7"]


def test_bad_chord_is_reported(engine):
    from songforge.engines.base import ChordError

    with pytest.raises(ChordError) as err:
        engine.generate(_req(chords="C Hm G"), lambda p, s: None)
    assert err.value.symbol == "Hm"


def _write_midi(path: Path, notes: list[tuple[int, float, float]], bpm: float = 100) -> None:
    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    inst = pretty_midi.Instrument(0)
    for pitch, start, end in notes:
        inst.notes.append(pretty_midi.Note(90, pitch, start, end))
    pm.instruments.append(inst)
    pm.write(str(path))


def test_midi_seed_carries_tempo_melody_and_key(engine, tmp_path):
    beat = 0.6  # 100 bpm
    # an A minor tune over two bars: A C E C | B G# A A, bass A then E
    tune = [69, 72, 76, 72, 71, 68, 69, 69]
    notes = [(p, i * beat, (i + 1) * beat) for i, p in enumerate(tune)]
    notes += [(45, 0, 4 * beat), (52, 4 * beat, 8 * beat)]
    mid = tmp_path / "seed.mid"
    _write_midi(mid, notes)
    res = engine.generate(_req(prompt="piano", midi_path=mid, max_seconds=12), lambda p, s: None)
    assert res.material["bpm"] == 100
    assert res.material["key"] == "A:minor"
    from songforge.engines.embedded.midi_seed import load_midi

    seed = load_midi(mid)
    assert [n.pitch for n in seed.melody] == tune
    # to another mode by scale degree: the third of A minor (C) becomes the third of C major (E)
    from songforge.engines.embedded.midi_seed import transpose_seed
    from songforge.engines.embedded.theory import Key

    assert transpose_seed(seed, Key(0, "major")).melody[1].pitch % 12 == 4
    moved = engine.generate(
        _req(prompt="piano", midi_path=mid, tonality="C:major", max_seconds=12), lambda p, s: None
    )
    assert moved.material["key"] == "C:major"


def test_midi_without_notes(engine, tmp_path):
    mid = tmp_path / "empty.mid"
    pretty_midi.PrettyMIDI(initial_tempo=120).write(str(mid))
    with pytest.raises(EngineError, match="no notes"):
        engine.generate(_req(midi_path=mid), lambda p, s: None)


def test_missing_soundfont(monkeypatch, tmp_path):
    missing = tmp_path / "nope.sf2"
    monkeypatch.setenv("SONGFORGE_SOUNDFONT", str(missing))
    with pytest.raises(EngineError) as err:
        check_ready()
    assert str(missing) in str(err.value) and "make setup" in str(err.value)
    with pytest.raises(EngineError):
        EmbeddedEngine().generate(_req(), lambda p, s: None)


def test_song_without_singer_falls_back(engine, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "songforge.engines.singing", None)  # as if not installed
    req = _req(kind="song", lyrics="[Verse]\nhello there\n", max_seconds=12)
    res = engine.generate(req, lambda p, s: None)
    assert "vocals" not in res.stems
    assert "drums" in res.stems
    total = sum(res.stems.values())
    assert float(np.max(np.abs(total - res.mix))) < 1e-5
