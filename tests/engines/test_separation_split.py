"""split_file end to end on real encoded uploads: decode, separate, zip, and the fields B's route returns."""

from __future__ import annotations

import zipfile
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from songforge.audio.decode import DecodeError, DecodeLimits, LimitExceeded, decode
from songforge.audio.encode import write_flac, write_mp3, write_wav
from songforge.engines.separation import resolved_method
from songforge.engines.separation.split import split_file, stem_format

SR = 44100


def music(seconds: float = 3.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    tone = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 60 * t)
    clicks = (np.random.default_rng(0).standard_normal(len(t)) * ((t % 0.5) < 0.02)) * 0.08
    return np.stack([tone + clicks, 0.8 * tone + clicks], axis=1).astype(np.float32)


def alac(path: Path, audio: np.ndarray) -> Path:
    with av.open(str(path), "w", format="ipod") as out:
        stream = out.add_stream("alac", rate=SR, layout="stereo")
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio.T), format="fltp", layout="stereo")
        frame.sample_rate = SR
        fitter = av.AudioResampler(format="s16p", layout="stereo", rate=SR, frame_size=4096)
        for chunk in fitter.resample(frame) + fitter.resample(None):
            for packet in stream.encode(chunk):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


@pytest.mark.parametrize(
    ("upload", "content_type", "fmt", "original"),
    [
        ("song.mp3", "audio/mpeg", "wav", "original.mp3"),
        ("song.wav", "audio/wav", "wav", "original.wav"),
        ("song.flac", "audio/x-flac", "flac", "original.flac"),
        ("song.m4a", "audio/x-m4a", "flac", "original.m4a"),
    ],
)
def test_split_file_writes_stems_and_the_original(
    tmp_path: Path, upload: str, content_type: str, fmt: str, original: str
) -> None:
    audio = music()
    src = tmp_path / upload
    {
        "song.mp3": lambda: write_mp3(src, audio, SR, title="t"),
        "song.wav": lambda: write_wav(src, audio, SR),
        "song.flac": lambda: write_flac(src, audio, SR),
        "song.m4a": lambda: alac(src, audio),
    }[upload]()
    seen: list[int] = []
    out = tmp_path / "out" / "stems.zip"
    result = split_file(src, content_type, out, limits=DecodeLimits(), progress=lambda p, _s: seen.append(p))
    assert result["audioType"] == upload.rsplit(".", 1)[1]
    assert result["detail"] == ["vocals", "drums", "bass", "other"]
    assert result["duration"] == pytest.approx(3.0, abs=0.01)
    assert result["stemFormat"] == fmt
    assert seen[0] == 0 and seen[-1] == 100 and seen == sorted(seen)
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert names == [f"{s}.{fmt}" for s in result["detail"]] + [original]
        assert names == result["files"]
        assert zf.read(original) == src.read_bytes()
        zf.extractall(tmp_path / "x")
    total = None
    for stem in result["detail"]:
        data, sr = sf.read(tmp_path / "x" / f"{stem}.{fmt}", dtype="float32")
        info = sf.info(tmp_path / "x" / f"{stem}.{fmt}")
        assert sr == SR and data.shape == (3 * SR, 2) and info.subtype == "PCM_16"
        total = data if total is None else total + data
    # The stems add back up to the decoded upload, to 16-bit rounding of four files.
    assert np.max(np.abs(total - decode(src))) < 4 / 32767


def test_stem_format_rule() -> None:
    assert stem_format("wav", True) == "wav"
    assert stem_format("flac", True) == "flac"
    assert stem_format("m4a", True) == "flac"  # ALAC
    assert stem_format("m4a", False) == "wav"  # AAC
    assert stem_format("mp3", False) == "wav"


def test_refusals_happen_before_work_and_leave_nothing(tmp_path: Path) -> None:
    src = tmp_path / "song.wav"
    write_wav(src, music(3.0), SR)
    out = tmp_path / "stems.zip"
    with pytest.raises(DecodeError, match="says MP3 but the file is WAV"):
        split_file(src, "audio/mpeg", out)
    with pytest.raises(LimitExceeded, match="limit is 0:02"):
        split_file(src, "audio/wav", out, limits=DecodeLimits(max_duration_s=2))
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(DecodeError, match="empty"):
        split_file(empty, "audio/wav", out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.wav", "song.wav"]


def test_two_stems_zip_and_the_method_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SONGFORGE_DEMUCS_WEIGHTS", raising=False)
    src = tmp_path / "song.flac"
    write_flac(src, music(), SR)
    out = tmp_path / "karaoke.zip"
    result = split_file(src, "audio/flac", out, two_stems=True)
    assert result["detail"] == ["vocals", "accompaniment"]
    assert result["files"] == ["vocals.flac", "accompaniment.flac", "original.flac"]
    assert result["method"] == resolved_method("auto") and result["methodNote"] == ""
    with zipfile.ZipFile(out) as zf:
        assert zf.namelist() == result["files"]
        zf.extractall(tmp_path / "x")
    total = sum(sf.read(tmp_path / "x" / f, dtype="float32")[0] for f in result["files"][:2])
    assert np.max(np.abs(total - decode(src))) < 3 / 32767
    fallback = split_file(src, "audio/flac", tmp_path / "ft.zip", method="htdemucs_ft")
    assert fallback["method"] == "harmonic" and "SONGFORGE_DEMUCS_WEIGHTS" in fallback["methodNote"]
    assert fallback["detail"] == ["vocals", "drums", "bass", "other"]
