"""Every file in the corpus gets a defined answer: decoded audio, or a refusal with a message a user can
act on: a DecodeError for a bad file, a LimitExceeded for a good one over the limits (the dialects answer
them with 400 and 413; tests/api/test_uploads.py checks that mapping)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest

from songforge import errors
from songforge.audio.decode import (
    DecodeError,
    DecodeLimits,
    LimitExceeded,
    check_content_type,
    check_limits,
    decode,
    kind_for_content_type,
    probe,
)

SR = 44100


@pytest.mark.parametrize(
    ("name", "content_type", "kind", "codec", "lossless"),
    [
        ("good.wav", "audio/wav", "wav", "pcm_s16le", True),
        ("good.wav", "audio/wave", "wav", "pcm_s16le", True),
        ("wav24.wav", "audio/wav", "wav", "pcm_s24le", True),
        ("float.wav", "audio/wav", "wav", "pcm_f32le", True),
        ("good.flac", "audio/flac", "flac", "flac", True),
        ("good.flac", "audio/x-flac", "flac", "flac", True),
        ("good.mp3", "audio/mpeg", "mp3", "mp3float", False),
        ("good.mp3", "Audio/MPEG; charset=binary", "mp3", "mp3float", False),
        ("good-aac.m4a", "audio/mp4", "m4a", "aac", False),
        ("good-alac.m4a", "audio/x-m4a", "m4a", "alac", True),
    ],
)
def test_supported_uploads_probe_and_decode(
    corpus: dict[str, Path], name: str, content_type: str, kind: str, codec: str, lossless: bool
) -> None:
    info = probe(corpus[name])
    assert (info.kind, info.codec, info.lossless) == (kind, codec, lossless)
    assert (info.sample_rate, info.channels) == (SR, 2)
    assert info.duration_s == pytest.approx(3.0, abs=0.1)
    check_content_type(info, content_type)
    audio = decode(corpus[name], DecodeLimits(), content_type=content_type)
    assert audio.dtype == np.float32 and audio.shape[1] == 2
    # Exact for every codec: AAC's priming is skipped by the edit list and its end padding cut at the
    # MP4 duration, so an AAC upload decodes to the length of its source.
    assert audio.shape[0] == 3 * SR
    # The content survived: a 0.3-amplitude sine has RMS 0.212.
    rms = np.sqrt(np.mean(audio[SR // 2 : SR] ** 2))
    assert rms == pytest.approx(0.3 / np.sqrt(2), rel=0.05)


@pytest.mark.parametrize(
    ("name", "content_type", "message"),
    [
        ("good.wav", "audio/mpeg", "Content-Type audio/mpeg says MP3 but the file is WAV"),
        ("good.mp3", "audio/flac", "says FLAC but the file is MP3"),
        ("good-aac.m4a", "audio/wav", "says WAV but the file is M4A"),
        ("good.flac", "audio/mp4", "says M4A (AAC/ALAC) but the file is FLAC"),
        ("good.mp3", "application/octet-stream", "Unsupported Content-Type 'application/octet-stream'"),
        ("good.mp3", "audio/ogg", "Unsupported Content-Type 'audio/ogg'"),
        ("good.mp3", "", "Content-Type header is required"),
    ],
)
def test_content_type_must_match_the_bytes(
    corpus: dict[str, Path], name: str, content_type: str, message: str
) -> None:
    with pytest.raises(DecodeError, match=re.escape(message)) as err:
        decode(corpus[name], content_type=content_type)
    assert not isinstance(err.value, LimitExceeded)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty.mp3", "The uploaded file is empty"),
        ("text.mp3", "not a readable audio file"),
        ("random.wav", "not a readable audio file"),
        ("opus.ogg", r"Unsupported audio format \(OGG, codec opus\)"),
        ("truncated.mp3", r"truncated: its header says 3.0 s but only 1.\d s"),
        ("truncated.m4a", "not a readable audio file"),
        ("header-only.wav", "no decodable audio"),
    ],
)
def test_broken_or_lying_files_are_refused_with_400(corpus: dict[str, Path], name: str, message: str) -> None:
    with pytest.raises(DecodeError, match=message) as err:
        decode(corpus[name])
    assert not isinstance(err.value, LimitExceeded)


def test_truncated_wav_decodes_what_is_there(corpus: dict[str, Path]) -> None:
    """FFmpeg bounds a WAV's length by the bytes present, so a cut WAV is simply a shorter WAV: we
    answer with its audio rather than refuse data that is intact."""
    audio = decode(corpus["truncated.wav"])
    assert audio.shape == ((100_000 - 44) // 4, 2)


def test_silence_is_a_valid_upload(corpus: dict[str, Path]) -> None:
    audio = decode(corpus["silence.wav"])
    assert audio.shape == (2 * SR, 2) and not audio.any()


def test_mono_is_duplicated_to_both_channels(corpus: dict[str, Path]) -> None:
    audio = decode(corpus["mono.wav"])
    assert audio.shape == (2 * SR, 2)
    assert np.array_equal(audio[:, 0], audio[:, 1]) and audio.any()
    mono = decode(corpus["mono.wav"], stereo=False)
    assert mono.shape == (2 * SR, 1)


@pytest.mark.parametrize("name", ["8k.wav", "8k-mono.mp3"])
def test_8khz_is_resampled_to_44k(corpus: dict[str, Path], name: str) -> None:
    info = probe(corpus[name])
    assert info.sample_rate == 8000
    audio = decode(corpus[name])
    assert abs(audio.shape[0] - 2 * SR) <= 64
    # A 440 Hz sine stays at 440 Hz after resampling.
    spectrum = np.abs(np.fft.rfft(audio[SR // 4 : SR // 4 + SR, 0]))
    assert np.argmax(spectrum) == pytest.approx(440, abs=2)


def test_high_rate_and_many_channels_within_limits_are_converted(corpus: dict[str, Path]) -> None:
    assert decode(corpus["96k.flac"]).shape == (SR, 2)
    six = decode(corpus["6ch.wav"])
    assert six.shape == (SR, 2) and six.any()


def test_limits_are_checked_from_headers(corpus: dict[str, Path]) -> None:
    with pytest.raises(LimitExceeded, match="Sample rate 96000 Hz is above the limit of 48000 Hz") as err:
        decode(corpus["96k.flac"], DecodeLimits(max_sample_rate=48000))
    assert isinstance(err.value, errors.LimitExceeded)
    with pytest.raises(LimitExceeded, match="10 channels is above the limit of 8"):
        decode(corpus["10ch.wav"])
    with pytest.raises(DecodeError, match="below 16000 Hz"):
        decode(corpus["8k.wav"], DecodeLimits(min_sample_rate=16000))
    with pytest.raises(LimitExceeded, match=r"The audio is 0:03 long; the limit is 0:02"):
        decode(corpus["good.flac"], DecodeLimits(max_duration_s=2.0))


@pytest.mark.parametrize("name", ["declares-60min.mp3", "real-60min.mp3"])
def test_sixty_minute_files_are_refused_before_decoding(corpus: dict[str, Path], name: str) -> None:
    info = probe(corpus[name])
    assert info.duration_s == pytest.approx(3600, rel=0.02)
    start = time.perf_counter()
    with pytest.raises(LimitExceeded, match=r"The audio is 60:\d\d long; the limit is 10:00") as err:
        decode(corpus[name], DecodeLimits())
    assert time.perf_counter() - start < 0.5  # refused from the header, not after decoding an hour
    assert isinstance(err.value, errors.LimitExceeded)
    with pytest.raises(LimitExceeded):
        check_limits(info, DecodeLimits())


def test_a_file_that_hides_its_length_is_stopped_while_decoding(corpus: dict[str, Path]) -> None:
    info = probe(corpus["unknown-length.flac"])
    assert info.duration_s is None or info.duration_s < 30  # the header does not give it away
    with pytest.raises(LimitExceeded, match="found while decoding") as err:
        decode(corpus["unknown-length.flac"], DecodeLimits(max_duration_s=30.0))
    assert isinstance(err.value, errors.LimitExceeded)
    # Within a larger limit the same file decodes in full.
    assert decode(corpus["unknown-length.flac"], DecodeLimits(max_duration_s=60.0)).shape == (40 * SR, 2)


def test_content_type_table_matches_the_spec() -> None:
    table = {
        "audio/mpeg": "mp3",
        "audio/wav": "wav",
        "audio/wave": "wav",
        "audio/mp4": "m4a",
        "audio/x-m4a": "m4a",
        "audio/flac": "flac",
        "audio/x-flac": "flac",
    }
    for content_type, kind in table.items():
        assert kind_for_content_type(content_type) == kind
    with pytest.raises(DecodeError):
        kind_for_content_type(None)


def test_limits_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SONGFORGE_MAX_UPLOAD_SECONDS", "90")
    monkeypatch.setenv("SONGFORGE_MAX_UPLOAD_CHANNELS", "2")
    limits = DecodeLimits.from_env()
    assert (limits.max_duration_s, limits.max_channels, limits.max_sample_rate) == (90.0, 2, 192_000)


def test_refusals_sit_under_the_one_error_root() -> None:
    """A dialect maps refusals by class: both are bad input, and only LimitExceeded is over a limit."""
    assert LimitExceeded is errors.LimitExceeded
    assert issubclass(DecodeError, errors.InvalidInput) and not issubclass(DecodeError, errors.LimitExceeded)
    assert issubclass(LimitExceeded, errors.InvalidInput)
