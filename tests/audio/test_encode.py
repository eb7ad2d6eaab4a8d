"""Encoders checked by decoding what they wrote with independent decoders (libsndfile, FFmpeg via PyAV)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from mutagen.id3 import ID3
from mutagen.mp3 import MP3

from songforge.audio.encode import (
    EncodeError,
    StemsZipWriter,
    to_int16,
    write_flac,
    write_mp3,
    write_stems_zip,
    write_wav,
)

SR = 44100


def tone(seconds: float = 1.0, freq: float = 440.0, amp: float = 0.5, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    left = amp * np.sin(2 * np.pi * freq * t)
    right = amp * np.sin(2 * np.pi * freq * 1.5 * t)
    return np.stack([left, right], axis=1).astype(np.float32)


def pyav_decode(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        sr = stream.codec_context.sample_rate
        # Planar float whatever the codec's native sample format (FLAC/WAV decode to packed s16).
        planar = av.AudioResampler(format="fltp", layout=stream.codec_context.layout, rate=sr)
        chunks = [f.to_ndarray() for frame in container.decode(stream) for f in planar.resample(frame)]
        chunks += [f.to_ndarray() for f in planar.resample(None)]
    data = np.concatenate(chunks, axis=1)  # planar float: (channels, n)
    return data.T.astype(np.float32), sr


def test_wav_is_16bit_44k_stereo_and_round_trips(tmp_path: Path) -> None:
    audio = tone()
    path = tmp_path / "a.wav"
    write_wav(path, audio, SR)
    info = sf.info(path)
    assert (info.samplerate, info.channels, info.subtype, info.format) == (SR, 2, "PCM_16", "WAV")
    back, sr = sf.read(path, dtype="float32")
    assert sr == SR and back.shape == audio.shape
    assert np.max(np.abs(back - audio)) < 1.0 / 32767 + 1e-6


def test_wav_clips_instead_of_wrapping(tmp_path: Path) -> None:
    audio = np.array([[1.7, -3.0], [0.5, -0.5], [np.nan, np.inf]], dtype=np.float32)
    path = tmp_path / "loud.wav"
    write_wav(path, audio, SR)
    back, _ = sf.read(path, dtype="int16")
    assert back.tolist() == [[32767, -32767], [16384, -16384], [0, 0]]
    assert to_int16(np.array([2.0, -2.0], dtype=np.float32)).ravel().tolist() == [32767, -32767]


def test_flac_is_lossless_at_16_bits(tmp_path: Path) -> None:
    audio = tone(0.5)
    path = tmp_path / "a.flac"
    write_flac(path, audio, SR)
    back, sr = sf.read(path, dtype="int16")
    assert sr == SR and sf.info(path).format == "FLAC"
    assert np.array_equal(back, to_int16(audio))
    # and FFmpeg agrees with libsndfile
    via_av, _ = pyav_decode(path)
    assert via_av.shape == audio.shape


def test_mp3_is_320k_tagged_and_decodes_to_the_same_length(tmp_path: Path) -> None:
    audio = tone(3.0)
    path = tmp_path / "song.mp3"
    write_mp3(path, audio, SR, title="Night Drive — ünïcode", artist="Tester")
    info = MP3(path)
    assert info.info.bitrate == 320_000
    assert info.info.sample_rate == SR and info.info.channels == 2
    tags = ID3(path)
    assert str(tags["TIT2"]) == "Night Drive — ünïcode"
    assert str(tags["TPE1"]) == "Tester"
    assert str(tags["TALB"]) == "Songforge"

    back, sr = pyav_decode(path)
    assert sr == SR and back.shape[1] == 2
    # FFmpeg honours LAME's gapless header; allow one codec delay (1105 samples) either way regardless.
    assert abs(back.shape[0] - audio.shape[0]) <= 1105
    # Align by cross-correlation and check the content is the tone, not just the right length.
    n = min(len(back), len(audio)) - 2000
    best = min(range(0, 1200), key=lambda lag: np.mean((back[lag : lag + n, 0] - audio[:n, 0]) ** 2))
    err = back[best : best + n] - audio[:n]
    snr = 10 * np.log10(np.sum(audio[:n] ** 2) / np.sum(err**2))
    assert snr > 25, f"mp3 round trip SNR {snr:.1f} dB at lag {best}"


def test_mp3_accepts_mono(tmp_path: Path) -> None:
    path = tmp_path / "mono.mp3"
    write_mp3(path, tone(0.5)[:, 0], SR, title="mono")
    assert MP3(path).info.channels == 1


def test_bad_arguments_leave_no_file(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    with pytest.raises(EncodeError):
        write_wav(path, np.zeros((2, 44100), dtype=np.float32), SR)  # transposed
    with pytest.raises(EncodeError):
        write_wav(path, np.zeros((10, 2), dtype=np.int16), SR)
    with pytest.raises(EncodeError):
        write_mp3(tmp_path / "x.mp3", np.zeros((10, 6), dtype=np.float32), SR, title="t")
    with pytest.raises(EncodeError):
        write_flac(path, np.zeros((10, 2), dtype=np.float32), 1000)
    assert list(tmp_path.iterdir()) == []


def test_existing_file_survives_a_failed_write(tmp_path: Path) -> None:
    path = tmp_path / "keep.wav"
    write_wav(path, tone(0.1), SR)
    before = path.read_bytes()
    with pytest.raises(EncodeError):
        write_wav(path, np.zeros((3, 3, 3), dtype=np.float32), SR)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.wav"]


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3"])
def test_stems_zip_holds_one_file_per_stem_plus_extras(tmp_path: Path, fmt: str) -> None:
    stems = {name: tone(0.5, freq=f) for name, f in [("vocals", 440), ("drums", 100), ("bass", 55)]}
    original = tmp_path / "upload.mp3"
    original.write_bytes(b"ID3 not really audio, copied verbatim")
    out = tmp_path / "out" / "stems.zip"
    write_stems_zip(out, stems, SR, fmt=fmt, extra={"original.mp3": original})
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert names == [f"vocals.{fmt}", f"drums.{fmt}", f"bass.{fmt}", "original.mp3"]
        assert zf.read("original.mp3") == original.read_bytes()
        zf.extract(f"bass.{fmt}", tmp_path / "x")
    back, sr = pyav_decode(tmp_path / "x" / f"bass.{fmt}")
    assert sr == SR and back.shape[1] == 2
    assert abs(back.shape[0] - stems["bass"].shape[0]) <= 1105
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["stems.zip"]


def test_stems_zip_refuses_unsafe_or_duplicate_names(tmp_path: Path) -> None:
    with pytest.raises(EncodeError):
        write_stems_zip(tmp_path / "a.zip", {"../evil": tone(0.1)}, SR)
    extra = tmp_path / "o.wav"
    write_wav(extra, tone(0.1), SR)
    with pytest.raises(EncodeError):
        write_stems_zip(tmp_path / "a.zip", {"vocals": tone(0.1)}, SR, extra={"vocals.wav": extra})
    with pytest.raises(EncodeError):
        write_stems_zip(tmp_path / "a.zip", {"vocals": tone(0.1)}, SR, fmt="ogg")
    assert not (tmp_path / "a.zip").exists()


@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_streamed_stems_zip_matches_the_one_written_whole(tmp_path: Path, fmt: str) -> None:
    """Blocks written as a separator makes them decode to the same samples as the stems written in one
    go; a restart at offset 0 (a fallback separator) replaces what was there."""
    stems = {name: tone(1.0, freq=f) for name, f in [("vocals", 440), ("drums", 100), ("bass", 55)]}
    original = tmp_path / "upload.mp3"
    original.write_bytes(b"ID3 not really audio, copied verbatim")
    whole, streamed = tmp_path / "whole.zip", tmp_path / "out" / "streamed.zip"
    write_stems_zip(whole, stems, SR, fmt=fmt, extra={"original.mp3": original})
    with StemsZipWriter(streamed, SR, fmt=fmt, extra={"original.mp3": original}) as writer:
        writer.write(0, {k: v[:1000] * 0.5 for k, v in stems.items()})  # then restarted
        for start in range(0, SR, 12345):
            writer.write(start, {k: v[start : start + 12345] for k, v in stems.items()})
        with pytest.raises(EncodeError, match="consecutive"):
            writer.write(5, {k: v[:10] for k, v in stems.items()})
        assert writer.close() == ["vocals", "drums", "bass"]
    with zipfile.ZipFile(whole) as a, zipfile.ZipFile(streamed) as b:
        assert (
            a.namelist() == b.namelist() == [f"vocals.{fmt}", f"drums.{fmt}", f"bass.{fmt}", "original.mp3"]
        )
        for name in a.namelist()[:-1]:
            (tmp_path / "a").mkdir(exist_ok=True)
            (tmp_path / "b").mkdir(exist_ok=True)
            a.extract(name, tmp_path / "a")
            b.extract(name, tmp_path / "b")
            one, _ = sf.read(tmp_path / "a" / name, dtype="int16")
            two, _ = sf.read(tmp_path / "b" / name, dtype="int16")
            assert np.array_equal(one, two), name
        assert b.read("original.mp3") == original.read_bytes()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["streamed.zip"]


def test_streamed_stems_zip_leaves_nothing_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "out" / "stems.zip"
    with pytest.raises(RuntimeError), StemsZipWriter(out, SR) as writer:
        writer.write(0, {"vocals": tone(0.1)})
        raise RuntimeError("separation crashed")
    assert list((tmp_path / "out").iterdir()) == []
    with pytest.raises(EncodeError):
        StemsZipWriter(out, SR, fmt="mp3")
    with StemsZipWriter(out, SR) as writer, pytest.raises(EncodeError):
        writer.write(0, {"../evil": tone(0.1)})
    writer.abort()
    assert list((tmp_path / "out").iterdir()) == []
