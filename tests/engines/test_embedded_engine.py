"""Real synthesis through FluidSynth; short tracks keep the suite quick."""

from pathlib import Path

import numpy as np
import pretty_midi
import pyloudnorm as pyln
import pytest
from scipy.signal import resample_poly

from songforge.engines.base import EngineError, GenerationRequest
from songforge.engines.embedded import EmbeddedEngine, check_ready
from songforge.engines.registry import get_engine

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
    pcts = [p for p, _ in stages]
    assert pcts == sorted(pcts)  # progress never goes back
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
    from songforge.music.theory import Key

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


# ---------------------------------------------------------------- loudness, limiter, render groups


def test_kweighted_loudness_matches_pyloudnorm(pop):
    from songforge.audio.loudness import KWeighted

    res, _ = pop
    x = res.stems["keys"]
    meter = pyln.Meter(44100)
    kw = KWeighted(x, 44100)
    assert abs(kw.loudness() - meter.integrated_loudness(x.astype(np.float64))) < 0.01
    assert abs(kw.loudness(0.5) - meter.integrated_loudness(0.5 * x.astype(np.float64))) < 0.01
    # a slow gain curve (the limiter's kind) is measured as if it had been applied
    t = np.arange(len(x)) / 44100
    curve = (0.6 + 0.3 * np.sin(2 * np.pi * 0.5 * t)).astype(np.float32)
    ref = meter.integrated_loudness((x * curve[:, None]).astype(np.float64))
    assert abs(kw.loudness(curve) - ref) < 0.05
    # odd rates take the cumulative-sum path and agree as well
    assert (
        abs(
            KWeighted(x[:100_000], 22050).loudness()
            - pyln.Meter(22050).integrated_loudness(x[:100_000].astype(np.float64))
        )
        < 0.01
    )


def test_master_gain_hits_target_under_ceiling():
    from songforge.audio.loudness import true_peak_db
    from songforge.audio.mixing import master_gain

    rng = np.random.default_rng(1)
    n = 44100 * 8
    x = (rng.standard_normal((n, 2)) * 0.02).astype(np.float32)
    x[44100 : 44100 + 400] *= 40  # transients the limiter must catch
    x[5 * 44100 : 5 * 44100 + 200] *= 60
    curve, loud = master_gain(x, 44100, -14.0, -1.5)
    out = x * curve[:, None]
    assert abs(pyln.Meter(44100).integrated_loudness(out.astype(np.float64)) + 14) < 0.2
    assert abs(loud + 14) < 0.2
    assert true_peak_db(out) <= -1.3
    assert float(curve.min()) < 0.5 * float(np.median(curve))  # it did limit the transients


def test_split_render_equals_one_render(tmp_path):
    """The keys stem may be rendered as two FluidSynth jobs and summed: the synthesizer is linear,
    so that must sound like rendering it at once."""
    from songforge.engines.embedded import render
    from songforge.engines.embedded.composer import Note, Part

    a = Part("keys", 0, notes=[Note(i, 0.9, 60 + (i % 5), 90) for i in range(8)])
    b = Part("pad", 48, pan=80, notes=[Note(0, 8, 48, 70), Note(4, 4, 55, 70)])
    n = 44100 * 6
    whole = tmp_path / "whole.mid"
    render.write_midi([a, b], 120, whole, 12)
    one = render._fit(render.render_midi(whole, tmp_path / "whole.wav"), n)
    split = render.render_then({"keys": [a, b]}, 120, 12, n, workers=2)["keys"]
    assert render._groups({"keys": [a, b]}, 2)[0][0] == "keys"
    assert len(render._groups({"keys": [a, b]}, 2)) == 2
    assert np.abs(one).max() > 0.05
    assert float(np.abs(one - split).max()) < 1e-3 * float(np.abs(one).max()) + 1e-4


# ---------------------------------------------------------------- key clarity in the composition


def _score(prompt: str, key: str, chords: str | None = None, bpm: int = 120):
    import numpy as np

    from songforge.engines.embedded.composer import Composer

    eng = EmbeddedEngine()
    req = _req(prompt=prompt, tonality=key, chords=chords, bpm=bpm, max_seconds=30)
    d = eng._decide(req, np.random.default_rng([0, 1]), None)
    plan = eng._plan(req, d, None, 0)
    return Composer(plan).compose()


@pytest.mark.parametrize(
    "prompt, key, chords",
    [
        ("hard rock", "G:minor", "Gm Eb Bb F"),
        ("smooth jazz", "Bb:major", "Bbmaj7 Gm7 Cm7 F7"),
        ("latin salsa", "D:minor", None),
    ],
)
def test_tonic_anchor_plays_only_common_tones(prompt, key, chords):
    from songforge.engines.embedded.composer import chord_at
    from songforge.music.theory import parse_tonality

    score = _score(prompt, key, chords)
    k = parse_tonality(key)
    anchor = next(p for p in score.stems["keys"] if p.name == "anchor")
    third = (k.tonic + (3 if k.mode == "minor" else 4)) % 12
    assert {n.pitch % 12 for n in anchor.notes} >= {k.tonic, third}
    for n in anchor.notes:
        chord = chord_at(score.bar_chords, n.start + 0.01)
        if n.pitch < 57:  # the low pedal of minor keys holds the tonic under everything
            assert k.mode == "minor" and n.pitch % 12 == k.tonic
        else:
            assert n.pitch % 12 in chord.pitch_classes


def test_power_chords_carry_the_third():
    score = _score("heavy metal riff", "F#:minor", "F#m D E F#m", bpm=160)
    guitar = next(p for p in score.stems["keys"] if p.name == "keys")
    first_bar = {n.pitch % 12 for n in guitar.notes if n.start < 3.9}
    assert first_bar == {6, 9, 1}  # F#, A (the minor third), C#


# ---------------------------------------------------------------- songs: the voice on top


def test_ducking_follows_the_voice_and_keeps_the_sum():
    from songforge.engines.embedded.mix import duck_under

    n = 44100 * 4
    t = np.arange(n) / 44100
    vocals = np.zeros((n, 2), dtype=np.float32)
    sung = (t > 1) & (t < 2)
    vocals[sung] = 0.3 * np.sin(2 * np.pi * 220 * t[sung])[:, None]
    stems = {
        "vocals": vocals,
        "keys": np.full((n, 2), 0.1, np.float32),
        "lead": np.full((n, 2), 0.1, np.float32),
    }
    before = sum(stems.values())
    duck = duck_under(vocals, stems)
    assert np.array_equal(stems["vocals"], vocals)
    mid, quiet = int(1.5 * 44100), int(3.5 * 44100)
    assert duck[mid] > 0.9 and duck[quiet] < 0.05
    assert abs(20 * np.log10(stems["keys"][mid, 0] / 0.1) + 4.5) < 0.6  # about -4.5 dB under the voice
    assert stems["lead"][mid, 0] < stems["keys"][mid, 0]  # the lead gives way more
    assert abs(stems["keys"][quiet, 0] - 0.1) < 0.003  # back up after the release
    assert float(np.abs(stems["keys"][: int(0.5 * 44100)] - 0.1).max()) < 1e-6  # nothing before
    assert float((sum(stems.values()) - before)[mid, 0]) < 0  # the mix is the new sum


@pytest.mark.slow
def test_song_has_vocals_on_top(engine):
    lyrics = "[Verse]\nhello there my friend\nthe sun is shining bright\n[Chorus]\nsing along with me\n"
    res = engine.generate(_req(kind="song", lyrics=lyrics, max_seconds=24, seed=3), lambda p, s: None)
    assert set(res.stems) == {"vocals", "drums", "bass", "keys", "lead"}
    total = sum(res.stems.values())
    assert float(np.max(np.abs(total - res.mix))) < 1e-5
    lufs = pyln.Meter(44100).integrated_loudness(res.mix.astype(np.float64))
    assert abs(lufs + 14) < 1.0

    def rms(x):
        return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))

    voice = np.abs(res.stems["vocals"]).max(axis=1)
    frames = voice[: len(voice) // 4410 * 4410].reshape(-1, 4410).max(axis=1)
    singing = np.repeat(frames > 0.3 * frames.max(), 4410)
    vocal_level = rms(res.stems["vocals"][: len(singing)][singing])
    lead_level = rms(res.stems["lead"][: len(singing)][singing])
    assert vocal_level > 1.5 * lead_level  # the voice sits on top of the melody instrument
