"""Encoders shared by generated-music downloads and the stems splitter.

Every writer takes float32 audio shaped (frames, channels) and writes the file atomically (a sibling
temporary file renamed into place), so a crash or a bad argument never leaves a half-written download
behind for a later request to serve.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile as sf

from songforge.errors import InvalidInput

MP3_BITRATE_KBPS = 320
STEM_FORMATS = ("wav", "flac", "mp3")


class EncodeError(InvalidInput):
    """Audio we were asked to write is not something a file can hold (wrong shape, rate, format)."""


def as_frames(audio: np.ndarray) -> np.ndarray:
    """Validate and normalise to float32 (frames, channels); mono 1-D input becomes one channel.

    NaN and infinities would turn into full-scale clicks after clipping, so they become silence.
    """
    arr = np.asarray(audio)
    if arr.ndim == 1:
        arr = arr[:, None]
    # (2, n) passed by mistake is the commonest shape bug; the channel cap refuses it rather than
    # writing a file with n channels.
    if arr.ndim != 2 or not 1 <= arr.shape[1] <= 8:
        raise EncodeError(f"audio must be shaped (frames, channels<=8), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise EncodeError(f"audio must be floating point, got {arr.dtype}")
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        arr = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
    return arr


def to_int16(audio: np.ndarray) -> np.ndarray:
    """Clip to [-1, 1] then round: libsndfile's own float->int conversion wraps over-range samples."""
    arr = as_frames(audio)
    # In blocks: three float temporaries of a 10-minute stem are 640 MB; of a block, a few MB.
    out = np.empty(arr.shape, np.int16)
    block = 1 << 18
    for start in range(0, arr.shape[0], block):
        part = arr[start : start + block]
        out[start : start + block] = np.round(np.clip(part, -1.0, 1.0) * 32767.0)
    return out


def _check_sr(sr: int) -> int:
    if not isinstance(sr, int | np.integer) or not 8000 <= int(sr) <= 192000:
        raise EncodeError(f"sample rate must be an integer 8000..192000, got {sr!r}")
    return int(sr)


@contextmanager
def _atomic(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it over `path` only if the body succeeds."""
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Keep the real extension last: pedalboard and libsndfile pick the container from it.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.stem}.", suffix=f".part{dest.suffix}", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_wav(path: str | os.PathLike[str], audio: np.ndarray, sr: int) -> None:
    """16-bit PCM WAV: the format every player and DAW opens."""
    pcm = to_int16(audio)
    sr = _check_sr(sr)
    with _atomic(path) as tmp:
        sf.write(tmp, pcm, sr, format="WAV", subtype="PCM_16")


def write_flac(path: str | os.PathLike[str], audio: np.ndarray, sr: int) -> None:
    """16-bit FLAC: lossless like the WAV, about half the size."""
    pcm = to_int16(audio)
    sr = _check_sr(sr)
    with _atomic(path) as tmp:
        sf.write(tmp, pcm, sr, format="FLAC", subtype="PCM_16")


def write_mp3(
    path: str | os.PathLike[str],
    audio: np.ndarray,
    sr: int,
    *,
    title: str,
    artist: str = "Songforge",
    album: str = "Songforge",
) -> None:
    """320 kbps CBR MP3 with ID3v2 title/artist/album tags.

    pedalboard's bundled LAME was the fastest encoder measured here and writes the LAME/Xing header with
    gapless info, so FFmpeg-based decoders return exactly the original number of samples.
    """
    from mutagen.id3 import ID3, TALB, TIT2, TPE1, TSSE
    from pedalboard.io import AudioFile

    arr = np.clip(as_frames(audio), -1.0, 1.0)
    sr = _check_sr(sr)
    if arr.shape[1] > 2:
        raise EncodeError("MP3 holds at most two channels")
    if sr not in (32000, 44100, 48000, 16000, 22050, 24000, 8000, 11025, 12000):
        raise EncodeError(f"MP3 cannot store {sr} Hz audio")
    with _atomic(path) as tmp:
        with AudioFile(
            str(tmp), "w", samplerate=sr, num_channels=arr.shape[1], quality=f"{MP3_BITRATE_KBPS} kbps"
        ) as out:
            out.write(np.ascontiguousarray(arr.T))
        tags = ID3()
        tags.add(TIT2(encoding=3, text=title))
        tags.add(TPE1(encoding=3, text=artist))
        tags.add(TALB(encoding=3, text=album))
        tags.add(TSSE(encoding=3, text="Songforge (LAME)"))
        tags.save(tmp, v2_version=3)


def write_audio(
    path: str | os.PathLike[str], audio: np.ndarray, sr: int, fmt: str, *, title: str | None = None
) -> None:
    """Dispatch on a format name ("wav", "flac", "mp3")."""
    if fmt == "wav":
        write_wav(path, audio, sr)
    elif fmt == "flac":
        write_flac(path, audio, sr)
    elif fmt == "mp3":
        write_mp3(path, audio, sr, title=title or Path(path).stem)
    else:
        raise EncodeError(f"unknown audio format {fmt!r}; expected one of {', '.join(STEM_FORMATS)}")


def write_stems_zip(
    path: str | os.PathLike[str],
    stems: Mapping[str, np.ndarray],
    sr: int,
    *,
    fmt: str = "wav",
    extra: Mapping[str, Path] | None = None,
) -> None:
    """A zip with `<stem>.<fmt>` per stem plus `extra` files (archive name -> file on disk).

    Members are stored, not deflated: WAV deflates by only ~10% at a large CPU cost, and FLAC/MP3 not
    at all. Stems are encoded one at a time into a scratch directory so memory stays at one stem.
    """
    if fmt not in STEM_FORMATS:
        raise EncodeError(f"unknown stem format {fmt!r}; expected one of {', '.join(STEM_FORMATS)}")
    if not stems:
        raise EncodeError("no stems to write")
    names = [f"{name}.{fmt}" for name in stems]
    names += list(extra or {})
    if len(set(names)) != len(names):
        raise EncodeError(f"duplicate names in the stems zip: {names}")
    for name in names:
        if "/" in name or "\\" in name or name.startswith(".") or not name:
            raise EncodeError(f"bad archive member name {name!r}")
    for src in (extra or {}).values():
        if not Path(src).is_file():
            raise EncodeError(f"extra file {src} does not exist")
    dest = Path(path)
    with _atomic(dest) as tmp, tempfile.TemporaryDirectory(dir=dest.parent, prefix=".stems.") as scratch:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for name, audio in stems.items():
                member = Path(scratch) / f"{name}.{fmt}"
                write_audio(member, audio, sr, fmt, title=name)
                zf.write(member, arcname=member.name)
                member.unlink()
            for arcname, src in (extra or {}).items():
                zf.write(src, arcname=arcname)


class StemsZipWriter:
    """The stems zip of `write_stems_zip`, fed block by block while the separator runs.

    Holding four full-length float stems until the end was most of a 10-minute upload's peak memory
    (850 MB of 1.9 GB); here each block is converted to 16-bit PCM and appended to its stem's file in a
    scratch folder as soon as it exists, and `close` zips the files. WAV and FLAC only (what uploads
    produce). `write(offset, stems)` takes consecutive blocks of every stem; a block at offset 0 after
    others restarts the stems, for a caller that falls back to another separator part-way.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        sr: int,
        *,
        fmt: str = "wav",
        extra: Mapping[str, Path] | None = None,
    ) -> None:
        if fmt not in ("wav", "flac"):
            raise EncodeError(f"stems can be streamed as wav or flac, not {fmt!r}")
        self.sr = _check_sr(sr)
        self.fmt = fmt
        self.dest = Path(path)
        self.extra = dict(extra or {})
        for src in self.extra.values():
            if not Path(src).is_file():
                raise EncodeError(f"extra file {src} does not exist")
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        self._scratch = Path(tempfile.mkdtemp(dir=self.dest.parent, prefix=".stems."))
        self._files: dict[str, sf.SoundFile] = {}
        self._frames = 0

    @property
    def names(self) -> list[str]:
        return list(self._files)

    def _open(self, names: list[str]) -> None:
        self._close_files()
        members = [f"{name}.{self.fmt}" for name in names] + list(self.extra)
        if len(set(members)) != len(members):
            raise EncodeError(f"duplicate names in the stems zip: {members}")
        for member in members:
            if "/" in member or "\\" in member or member.startswith("."):
                raise EncodeError(f"bad archive member name {member!r}")
        for name in names:
            self._files[name] = sf.SoundFile(
                self._scratch / f"{name}.{self.fmt}",
                "w",
                self.sr,
                2,
                subtype="PCM_16",
                format=self.fmt.upper(),
            )
        self._frames = 0

    def write(self, offset: int, stems: Mapping[str, np.ndarray]) -> None:
        if not stems:
            raise EncodeError("no stems to write")
        if offset == 0 and (self._frames > 0 or not self._files):
            self._open(list(stems))
        if offset != self._frames or list(stems) != self.names:
            raise EncodeError(
                f"stem blocks must be consecutive: got {list(stems)} at {offset}, expected "
                f"{self.names} at {self._frames}"
            )
        lengths = {len(block) for block in stems.values()}
        if len(lengths) != 1:
            raise EncodeError(f"stem blocks differ in length: {sorted(lengths)}")
        for name, block in stems.items():
            pcm = to_int16(block)
            if pcm.shape[1] != 2:
                raise EncodeError(f"stems are stereo; {name} has {pcm.shape[1]} channels")
            self._files[name].write(pcm)
        self._frames += lengths.pop()

    def _close_files(self) -> None:
        for fh in self._files.values():
            fh.close()
        self._files = {}

    def close(self) -> list[str]:
        """Zip the stems (stored, like `write_stems_zip`) atomically into place; returns the stem names."""
        names = self.names
        if not names:
            raise EncodeError("no stems to write")
        self._close_files()
        try:
            with _atomic(self.dest) as tmp:
                with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
                    for name in names:
                        member = self._scratch / f"{name}.{self.fmt}"
                        zf.write(member, arcname=member.name)
                        member.unlink()
                    for arcname, src in self.extra.items():
                        zf.write(src, arcname=arcname)
        finally:
            self.abort()
        return names

    def abort(self) -> None:
        """Drop whatever was written; nothing is left at `path`."""
        self._close_files()
        shutil.rmtree(self._scratch, ignore_errors=True)

    def __enter__(self) -> StemsZipWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is not None:
            self.abort()
