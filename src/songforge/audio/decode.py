"""Probe-then-decode for user uploads, through the FFmpeg libraries (PyAV), never a shell command.

Uploads are untrusted: the Content-Type must agree with what the bytes are, and the declared duration,
sample rate and channel count are checked before a single frame is decoded. Decoding then keeps a
running sample count, because a few hundred kilobytes of FLAC silence (or a header that lies) can expand
into gigabytes of float samples. Every refusal is a `DecodeError` (a bad file) or a `LimitExceeded` (a
good file over the configured limits) whose message is safe to show the user. Which HTTP status each
becomes is the dialect's choice (400 and 413 on /v1/tempolor), not this module's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from songforge import config
from songforge.errors import InvalidInput, LimitExceeded  # LimitExceeded: also importable from here

# Content-Type (the spec's table) -> the kind of file it promises.
CONTENT_TYPES: dict[str, str] = {
    "audio/mpeg": "mp3",
    "audio/wav": "wav",
    "audio/wave": "wav",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
}

KIND_NAMES = {"mp3": "MP3", "wav": "WAV", "m4a": "M4A (AAC/ALAC)", "flac": "FLAC"}

# FFmpeg demuxer name -> (our kind, codecs we accept inside it).
_CONTAINERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "mp3": ("mp3", ("mp3", "mp3float")),
    "wav": ("wav", ("pcm_",)),
    "mov,mp4,m4a,3gp,3g2,mj2": ("m4a", ("aac", "alac")),
    "flac": ("flac", ("flac",)),
}
_LOSSLESS_CODECS = ("pcm_", "flac", "alac")

# How much shorter than its header a file may decode before we call it truncated. MP3 durations
# estimated from the bitrate are approximate, so the slack is generous.
_TRUNCATION_SLACK_S = 1.0
_TRUNCATION_SLACK_FRACTION = 0.03


class DecodeError(InvalidInput):
    """An upload we cannot or will not decode. `str(err)` is the user-facing reason.

    A valid file that is merely over the limits raises `songforge.errors.LimitExceeded` instead
    (importable from here too); catch both where an upload is refused.
    """


@dataclass(frozen=True)
class DecodeLimits:
    max_duration_s: float = 600.0
    max_sample_rate: int = 192_000
    min_sample_rate: int = 8_000
    max_channels: int = 8

    @classmethod
    def from_env(cls) -> DecodeLimits:
        """Operators override the defaults with SONGFORGE_MAX_UPLOAD_SECONDS / _RATE / _CHANNELS
        (read now, see `songforge.config.upload_limits`)."""
        env = config.upload_limits()
        return cls(
            max_duration_s=env.max_duration_s if env.max_duration_s is not None else cls.max_duration_s,
            max_sample_rate=env.max_sample_rate if env.max_sample_rate is not None else cls.max_sample_rate,
            max_channels=env.max_channels if env.max_channels is not None else cls.max_channels,
        )


@dataclass(frozen=True)
class AudioInfo:
    kind: str  # "mp3" | "wav" | "m4a" | "flac"
    container: str  # FFmpeg's demuxer name
    codec: str  # FFmpeg's decoder name: "mp3float", "pcm_s16le", "aac", "alac", "flac", ...
    duration_s: float | None  # as the file declares it; None when it does not say
    sample_rate: int
    channels: int

    @property
    def lossless(self) -> bool:
        return self.codec.startswith(_LOSSLESS_CODECS)


def kind_for_content_type(content_type: str | None) -> str:
    """The file kind a Content-Type promises; parameters such as `; codecs=...` are ignored."""
    base = (content_type or "").split(";", 1)[0].strip().lower()
    if not base:
        raise DecodeError("Content-Type header is required: one of " + ", ".join(CONTENT_TYPES))
    try:
        return CONTENT_TYPES[base]
    except KeyError:
        raise DecodeError(
            f"Unsupported Content-Type {base!r}; use one of {', '.join(CONTENT_TYPES)}"
        ) from None


def _open(path: Path) -> av.container.InputContainer:
    """Open from a file object so FFmpeg detects the format from the bytes, not from a file name."""
    size = path.stat().st_size
    if size == 0:
        raise DecodeError("The uploaded file is empty")
    fh = open(path, "rb")  # noqa: SIM115 - owned by the container, closed with it
    try:
        return av.open(fh, mode="r", metadata_errors="ignore")
    except av.error.FFmpegError:
        fh.close()
        raise DecodeError("The uploaded file is not a readable audio file (corrupt or unsupported)") from None
    except BaseException:
        fh.close()
        raise


def _close(container: av.container.InputContainer) -> None:
    fh = getattr(container, "file", None)
    container.close()
    if fh is not None and hasattr(fh, "close"):
        fh.close()


def probe(path: str | os.PathLike[str]) -> AudioInfo:
    """What the bytes are, from the container headers alone (nothing is decoded)."""
    container = _open(Path(path))
    try:
        return _info(container)
    finally:
        _close(container)


def _info(container: av.container.InputContainer) -> AudioInfo:
    fmt = container.format.name
    if not container.streams.audio:
        raise DecodeError("The uploaded file has no audio stream")
    stream = container.streams.audio[0]
    ctx = stream.codec_context
    codec = ctx.codec.name if ctx.codec else "unknown"
    spec = _CONTAINERS.get(fmt)
    if spec is None or not codec.startswith(spec[1]):
        raise DecodeError(
            f"Unsupported audio format ({_describe(fmt)}, codec {codec}); upload MP3, WAV, M4A or FLAC"
        )
    duration: float | None = None
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / av.time_base
    if duration is not None and duration <= 0:
        duration = None
    return AudioInfo(
        kind=spec[0],
        container=fmt,
        codec=codec,
        duration_s=duration,
        sample_rate=int(ctx.sample_rate or 0),
        channels=int(ctx.channels or 0),
    )


def _describe(fmt: str) -> str:
    return {"mov,mp4,m4a,3gp,3g2,mj2": "MP4"}.get(fmt, fmt.split(",")[0].upper())


def check_content_type(info: AudioInfo, content_type: str | None) -> None:
    """Refuse an upload whose Content-Type promises something other than what its bytes are."""
    expected = kind_for_content_type(content_type)
    if expected != info.kind:
        base = (content_type or "").split(";", 1)[0].strip().lower()
        raise DecodeError(
            f"Content-Type {base} says {KIND_NAMES[expected]} but the file is {KIND_NAMES[info.kind]}"
        )


def check_limits(info: AudioInfo, limits: DecodeLimits) -> None:
    """Refuse by the headers, before any decoding work is spent."""
    if info.sample_rate <= 0 or info.channels <= 0:
        raise DecodeError("The uploaded file does not say its sample rate or channel count (corrupt?)")
    if info.sample_rate > limits.max_sample_rate:
        raise LimitExceeded(
            f"Sample rate {info.sample_rate} Hz is above the limit of {limits.max_sample_rate} Hz"
        )
    if info.sample_rate < limits.min_sample_rate:
        raise DecodeError(f"Sample rate {info.sample_rate} Hz is below {limits.min_sample_rate} Hz")
    if info.channels > limits.max_channels:
        raise LimitExceeded(f"{info.channels} channels is above the limit of {limits.max_channels}")
    if info.duration_s is not None and info.duration_s > limits.max_duration_s:
        raise LimitExceeded(_too_long(info.duration_s, limits))


def _too_long(seconds: float, limits: DecodeLimits) -> str:
    return f"The audio is {_mmss(seconds)} long; the limit is {_mmss(limits.max_duration_s)}"


def _mmss(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 60}:{s % 60:02d}"


def decode(
    path: str | os.PathLike[str],
    limits: DecodeLimits | None = None,
    target_sr: int = 44100,
    stereo: bool = True,
    *,
    content_type: str | None = None,
) -> np.ndarray:
    """Decode to float32 (n, 2) at `target_sr` (or (n, 1) when stereo=False).

    Probes and checks limits first (and the Content-Type when given). Mono is duplicated to both
    channels and more than two channels are downmixed, both by FFmpeg's resampler.
    """
    limits = limits or DecodeLimits()
    container = _open(Path(path))
    try:
        info = _info(container)
        if content_type is not None:
            check_content_type(info, content_type)
        check_limits(info, limits)
        return _decode_stream(container, info, limits, target_sr, stereo)
    finally:
        _close(container)


def _decode_stream(
    container: av.container.InputContainer,
    info: AudioInfo,
    limits: DecodeLimits,
    target_sr: int,
    stereo: bool,
) -> np.ndarray:
    stream = container.streams.audio[0]
    resampler = av.AudioResampler(format="fltp", layout="stereo" if stereo else "mono", rate=target_sr)
    max_out = int(limits.max_duration_s * target_sr) + target_sr  # one second of slack for codec padding
    max_in = int(limits.max_duration_s * info.sample_rate) + info.sample_rate
    chunks: list[np.ndarray] = []
    n_out = 0
    n_in = 0
    bad_packets = 0
    good_packets = 0

    def take(frames: list[av.AudioFrame]) -> None:
        nonlocal n_out
        for out in frames:
            arr = out.to_ndarray()
            n_out += arr.shape[1]
            if n_out > max_out:
                raise LimitExceeded(_too_long(n_out / target_sr, limits) + " (found while decoding)")
            chunks.append(arr)

    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                # A damaged frame in the middle is tolerated (FFmpeg conceals it); a file that is mostly
                # damage is refused below.
                bad_packets += 1
                continue
            good_packets += 1 if frames else 0
            for frame in frames:
                if frame.sample_rate != info.sample_rate or len(frame.layout.channels) > limits.max_channels:
                    # Parameters changing mid-stream is legal but also a way around the header checks.
                    check_limits(
                        AudioInfo(
                            info.kind,
                            info.container,
                            info.codec,
                            None,
                            frame.sample_rate,
                            len(frame.layout.channels),
                        ),
                        limits,
                    )
                n_in += frame.samples
                if n_in > max_in:
                    found = _too_long(n_in / info.sample_rate, limits)
                    raise LimitExceeded(found + " (found while decoding)")
                take(resampler.resample(frame))
        take(resampler.resample(None))
    except av.error.FFmpegError as exc:
        raise DecodeError(f"The uploaded file is corrupt and could not be decoded ({_reason(exc)})") from None

    if n_out == 0:
        raise DecodeError("The uploaded file contains no decodable audio (empty or corrupt)")
    if bad_packets > max(2, good_packets // 10):
        raise DecodeError(
            f"The uploaded file is corrupt: {bad_packets} of {bad_packets + good_packets} "
            "frames failed to decode"
        )
    decoded_s = n_in / info.sample_rate
    if info.duration_s is not None:
        slack = max(_TRUNCATION_SLACK_S, _TRUNCATION_SLACK_FRACTION * info.duration_s)
        if decoded_s < info.duration_s - slack:
            raise DecodeError(
                f"The uploaded file is truncated: its header says {info.duration_s:.1f} s "
                f"but only {decoded_s:.1f} s of audio could be decoded"
            )
    audio = np.concatenate(chunks, axis=1).T
    keep = _declared_samples(container, info, target_sr)
    if keep is not None and 0 < keep < audio.shape[0]:
        audio = audio[:keep]
    return np.ascontiguousarray(audio, dtype=np.float32)


def _declared_samples(container: av.container.InputContainer, info: AudioInfo, target_sr: int) -> int | None:
    """The MP4 length in output samples, to drop the AAC encoder's end padding.

    An AAC stream is whole 1024-sample frames: the encoder adds priming before the audio and padding after
    it, and the MP4 edit list says which part is the song. FFmpeg already skips the priming the edit list
    declares, but decodes the padding at the end, so an AAC upload came back up to 2047 samples longer
    than its source. The MP4 sample table gives an exact duration, so we cut there. MP3 durations are
    estimated from the bitrate when there is no Xing header, so they are not trusted for this.
    """
    if info.kind != "m4a":
        return None
    stream = container.streams.audio[0]
    if stream.duration is None or stream.time_base is None or stream.duration <= 0:
        return None
    return int(round(float(stream.duration * stream.time_base) * target_sr))


def _reason(exc: av.error.FFmpegError) -> str:
    return getattr(exc, "strerror", None) or exc.__class__.__name__
