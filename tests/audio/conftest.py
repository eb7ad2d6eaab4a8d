"""A corpus of good and bad uploads, generated at test time (nothing binary is committed).

Each builder writes a file the way a real client or encoder would produce it, or damages one the way a
broken upload or a hostile client would.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from songforge.audio.encode import write_flac, write_mp3, write_wav

SR = 44100


def sine(seconds: float, sr: int = SR, channels: int = 2, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    cols = [0.3 * np.sin(2 * np.pi * freq * (1 + 0.25 * c) * t) for c in range(channels)]
    return np.stack(cols, axis=1).astype(np.float32)


def encode_with_pyav(
    path: Path,
    codec: str,
    audio: np.ndarray,
    sr: int,
    *,
    fmt: str,
    bitrate: int | None = None,
    options: dict[str, str] | None = None,
) -> Path:
    """Encode through FFmpeg's own encoders: AAC/ALAC in MP4, Vorbis/Opus in Ogg, LAME without Xing."""
    layout = "mono" if audio.shape[1] == 1 else "stereo"
    with av.open(str(path), "w", format=fmt, options=options or {}) as out:
        stream = out.add_stream(codec, rate=sr, layout=layout)
        if bitrate:
            stream.bit_rate = bitrate
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio.T), format="fltp", layout=layout)
        frame.sample_rate = sr
        ctx = stream.codec_context
        fitter = av.AudioResampler(
            format=ctx.codec.audio_formats[0].name, layout=layout, rate=sr, frame_size=ctx.frame_size or 1024
        )
        # Timestamped frames let the encoder stamp its priming packets negative (AAC: 1024 samples), and the
        # MP4 muxer then writes the edit list real encoders (FFmpeg, iTunes) write, so decoders can skip it.
        position = 0
        for chunk in fitter.resample(frame) + fitter.resample(None):
            chunk.pts, chunk.time_base = position, Fraction(1, sr)
            position += chunk.samples
            for packet in stream.encode(chunk):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def _strip_id3(data: bytes) -> bytes:
    if data[:3] != b"ID3":
        return data
    size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
    return data[10 + size :]


def long_silent_mp3(path: Path, minutes: float) -> Path:
    """A real `minutes`-long MP3 of silence in a few MB, made in milliseconds by repeating one CBR
    frame (8 kHz mono at 8 kbit/s: 72-byte frames of 576 samples) instead of encoding an hour."""
    seed = encode_with_pyav(
        path.with_suffix(".seed.mp3"),
        "libmp3lame",
        np.zeros((8000 * 2, 1), np.float32),
        8000,
        fmt="mp3",
        bitrate=8000,
        options={"write_xing": "0"},
    )
    frames = _strip_id3(seed.read_bytes())
    frame = frames[-72 * 3 : -72 * 2]
    assert frame[:2] == b"\xff\xe3", frame[:4].hex()  # MPEG 2.5 layer III sync
    count = int(minutes * 60 * 8000 / 576)
    path.write_bytes(frames[: 72 * 2] + frame * count)
    seed.unlink()
    return path


def patch_xing_frames(data: bytes, frames: int) -> bytes:
    """Rewrite the frame count in a LAME Xing/Info header: the file then declares a different length."""
    for tag in (b"Xing", b"Info"):
        at = data.find(tag)
        if at >= 0:
            flags = int.from_bytes(data[at + 4 : at + 8], "big")
            assert flags & 1, "no frame count in this Xing header"
            return data[: at + 8] + frames.to_bytes(4, "big") + data[at + 12 :]
    raise AssertionError("no Xing/Info header")


def flac_without_length(path: Path, seconds: float, sr: int = 8000) -> Path:
    """FLAC silence whose STREAMINFO says "total samples unknown": decoding is the only way to learn
    how long it is, which is what an expansion bomb relies on."""
    with sf.SoundFile(path, "w", samplerate=sr, channels=1, format="FLAC", subtype="PCM_16") as f:
        block = np.zeros(sr * 10, np.int16)
        for _ in range(int(seconds // 10)):
            f.write(block)
    data = bytearray(path.read_bytes())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # STREAMINFO first
    info = 8  # after "fLaC" and the 4-byte block header
    # bytes 13..17 of STREAMINFO: 4 low bits of byte 13 and bytes 14..17 hold the 36-bit sample count
    data[info + 13] &= 0xF0
    data[info + 14 : info + 18] = b"\x00\x00\x00\x00"
    path.write_bytes(bytes(data))
    return path


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("corpus")
    audio = sine(3.0)
    files: dict[str, Path] = {}

    def add(name: str, build: Callable[[Path], object]) -> None:
        path = d / name
        build(path)
        files[name] = path

    add("good.wav", lambda p: write_wav(p, audio, SR))
    add("good.flac", lambda p: write_flac(p, audio, SR))
    add("good.mp3", lambda p: write_mp3(p, audio, SR, title="good"))
    add("good-aac.m4a", lambda p: encode_with_pyav(p, "aac", audio, SR, fmt="ipod"))
    add("good-alac.m4a", lambda p: encode_with_pyav(p, "alac", audio, SR, fmt="ipod"))
    add("wav24.wav", lambda p: sf.write(p, audio, SR, subtype="PCM_24"))
    add("float.wav", lambda p: sf.write(p, audio, SR, subtype="FLOAT"))
    add("opus.ogg", lambda p: encode_with_pyav(p, "libopus", sine(3.0, 48000), 48000, fmt="ogg"))
    add("silence.wav", lambda p: write_wav(p, np.zeros((SR * 2, 2), np.float32), SR))
    add("mono.wav", lambda p: write_wav(p, sine(2.0, channels=1), SR))
    add("8k.wav", lambda p: write_wav(p, sine(2.0, sr=8000), 8000))
    add("8k-mono.mp3", lambda p: write_mp3(p, sine(2.0, sr=8000, channels=1), 8000, title="8k"))
    add("96k.flac", lambda p: write_flac(p, sine(1.0, sr=96000), 96000))
    add("6ch.wav", lambda p: sf.write(p, sine(1.0, channels=6), SR, subtype="PCM_16"))
    add("10ch.wav", lambda p: sf.write(p, sine(1.0, channels=10), SR, subtype="PCM_16"))
    add("empty.mp3", lambda p: p.write_bytes(b""))
    add("text.mp3", lambda p: p.write_bytes(b"<html><body>definitely not audio</body></html>\n" * 40))
    add("random.wav", lambda p: p.write_bytes(np.random.default_rng(1).bytes(20000)))
    good_mp3 = files["good.mp3"].read_bytes()
    add("truncated.mp3", lambda p: p.write_bytes(good_mp3[: len(good_mp3) // 2]))
    add("truncated.m4a", lambda p: p.write_bytes(files["good-aac.m4a"].read_bytes()[:3000]))
    add("truncated.wav", lambda p: p.write_bytes(files["good.wav"].read_bytes()[:100_000]))
    add("header-only.wav", lambda p: p.write_bytes(files["good.wav"].read_bytes()[:44]))
    # 60 minutes declared by a 60 KB file: LAME's Xing header patched to claim 137,813 frames of 1152 samples.
    add("declares-60min.mp3", lambda p: p.write_bytes(patch_xing_frames(good_mp3, 137_813)))
    add("real-60min.mp3", lambda p: long_silent_mp3(p, 60.0))
    add("unknown-length.flac", lambda p: flac_without_length(p, 40.0))
    return files
