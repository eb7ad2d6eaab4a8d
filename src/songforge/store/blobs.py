"""Blob storage for uploads and generated files, addressed by key ("jobs/<item>/mix.wav").

The local store keeps files under the data dir; a key never escapes it. Writes go to a
temporary name and are renamed into place, so a crash never leaves a half-written blob
under a real key. `songforge.store.s3.S3BlobStore` is the other implementation; callers
depend only on the `BlobStore` protocol, and `songforge.store.factory.open_blob_store` picks the
implementation the settings name (so this module imports neither S3 nor the settings).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = ["BlobStore", "LocalBlobStore", "check_key"]

_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


def check_key(key: str) -> str:
    """`key` itself, or ValueError: a key is a relative path that can never climb out of the store."""
    if not _KEY_RE.match(key) or ".." in key.split("/"):
        raise ValueError(f"bad blob key: {key!r}")
    return key


@runtime_checkable
class BlobStore(Protocol):
    """What the rest of Songforge needs from storage.

    `root` is a local directory for scratch files (uploads in flight, render temporaries); moving
    a scratch file into the store with `put_file` is cheap from there. `path(key)` is a local file
    holding the blob, for code that hands files to decoders and engines: for remote stores it is
    a cached download, and a key that does not exist gives a path that is not a file.
    """

    root: Path

    def path(self, key: str) -> Path: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def put_file(self, key: str, source: Path) -> None: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> None: ...
    def presign(self, key: str, ttl_seconds: int) -> str | None:
        """A URL the store itself serves for `ttl_seconds`, or None when links are ours to sign."""
        ...


class LocalBlobStore:
    """Blobs as files under `root` (the data dir's `blobs/`)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def presign(self, key: str, ttl_seconds: int) -> str | None:
        return None  # served by /files/ behind our own HMAC-signed links

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_file(self, key: str, source: Path) -> None:
        """Moves `source` (a file the caller owns) into the store."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".tmp-{target.name}"
        shutil.move(str(source), tmp)
        os.replace(tmp, target)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete_prefix(self, prefix: str) -> None:
        """Deletes every blob under `prefix/`."""
        p = self.path(prefix.rstrip("/"))
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        elif p.is_file():
            p.unlink(missing_ok=True)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)
