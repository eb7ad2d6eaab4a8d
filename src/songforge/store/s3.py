"""Blobs in an S3 bucket (AWS, MinIO, Ceph, moto...), for API and worker processes on many machines.

Why a local cache: engines, decoders and FileResponse want a file on disk, so `path(key)` downloads
the object once and keeps it under `cache_dir`. Keys are almost always written once (job outputs,
uploads), but a retried job rewrites its keys, so a cached copy is revalidated with a HEAD (ETag)
before use: a stale file is never handed out, and an unchanged one is not downloaded again.
The cache is pruned, oldest first, when it grows past `cache_max_bytes`.

Credentials and region come from boto3's usual sources (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_DEFAULT_REGION / AWS_REGION, profiles, instance roles); the endpoint from `--s3-endpoint` or
AWS_ENDPOINT_URL. Custom endpoints get path-style addressing, which every S3 clone understands.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from songforge.store.blobs import check_key

# SigV4 presigned URLs cannot outlive 7 days.
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
_MEDIA = {".mp3": "audio/mpeg", ".wav": "audio/wav", ".zip": "application/zip", ".flac": "audio/flac"}
_DELETE_BATCH = 1000


def _not_found(exc: ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


class S3BlobStore:
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        cache_dir: Path,
        endpoint: str | None = None,
        client: Any = None,
        cache_max_bytes: int = 2 * 1024**3,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.root = Path(cache_dir).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._objects = self.root / "objects"
        self._objects.mkdir(exist_ok=True)
        self.cache_max_bytes = cache_max_bytes
        self._prune_lock = threading.Lock()
        self._since_prune = 0
        if client is None:
            endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
            config = Config(
                signature_version="s3v4",
                s3={"addressing_style": "path" if endpoint else "auto"},
                retries={"max_attempts": 5, "mode": "standard"},
            )
            client = boto3.client("s3", endpoint_url=endpoint or None, config=config)
        self.client = client

    @classmethod
    def from_url(cls, url: str, *, cache_dir: Path, endpoint: str | None = None) -> S3BlobStore:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"bad S3 blob store {url!r}: expected s3://bucket/prefix")
        return cls(parts.netloc, parts.path, cache_dir=cache_dir, endpoint=endpoint)

    def _object_key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    # -- writes -------------------------------------------------------------------------------

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._object_key(key), Body=data, **self._meta(key))

    def put_file(self, key: str, source: Path) -> None:
        """Uploads `source` (a file the caller owns, as with the local store) and removes it."""
        self.client.upload_file(str(source), self.bucket, self._object_key(key), ExtraArgs=self._meta(key))
        Path(source).unlink(missing_ok=True)

    def _meta(self, key: str) -> dict[str, str]:
        media = _MEDIA.get(Path(key).suffix.lower())
        return {"ContentType": media} if media else {}

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._object_key(key))
        self._forget(key)

    def delete_prefix(self, prefix: str) -> None:
        """Deletes the object `prefix` and every object under `prefix/`."""
        base = self._object_key(prefix.rstrip("/"))
        keys = [base]
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=base + "/"):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        for i in range(0, len(keys), _DELETE_BATCH):
            batch = [{"Key": k} for k in keys[i : i + _DELETE_BATCH]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        local = self._objects / prefix.rstrip("/")
        if local.is_dir():
            shutil.rmtree(local, ignore_errors=True)
        self._forget(prefix.rstrip("/"))

    # -- reads --------------------------------------------------------------------------------

    def exists(self, key: str) -> bool:
        return self._etag(key) is not None

    def _etag(self, key: str) -> str | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._object_key(key))
        except ClientError as exc:
            if _not_found(exc):
                return None
            raise
        return str(head.get("ETag", "")).strip('"')

    def path(self, key: str) -> Path:
        local = self._objects / check_key(key)
        tag_file = local.with_name(local.name + ".etag~")
        etag = self._etag(key)
        if etag is None:
            self._forget(key)
            return local
        if local.is_file() and tag_file.is_file() and tag_file.read_text() == etag:
            os.utime(local)  # recently used: pruned last
            return local
        local.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=local.parent, prefix=".dl-")
        os.close(fd)
        try:
            self.client.download_file(self.bucket, self._object_key(key), tmp)
            os.replace(tmp, local)
        except ClientError as exc:
            Path(tmp).unlink(missing_ok=True)
            if _not_found(exc):
                return local
            raise
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        tag_file.write_text(etag)
        self._maybe_prune()
        return local

    def _forget(self, key: str) -> None:
        local = self._objects / key
        if local.is_file():
            local.unlink(missing_ok=True)
        local.with_name(local.name + ".etag~").unlink(missing_ok=True)

    def _maybe_prune(self) -> None:
        with self._prune_lock:
            self._since_prune += 1
            if self._since_prune < 32:
                return
            self._since_prune = 0
        files = [p for p in self._objects.rglob("*") if p.is_file() and not p.name.endswith(".etag~")]
        sizes = {p: p.stat() for p in files}
        total = sum(st.st_size for st in sizes.values())
        for p in sorted(files, key=lambda f: sizes[f].st_mtime):
            if total <= self.cache_max_bytes:
                break
            total -= sizes[p].st_size
            p.unlink(missing_ok=True)
            p.with_name(p.name + ".etag~").unlink(missing_ok=True)

    # -- links --------------------------------------------------------------------------------

    def presign(self, key: str, ttl_seconds: int) -> str | None:
        """A presigned GET that expires like our own links; the file downloads under its name."""
        name = Path(key).name
        params: dict[str, str] = {
            "Bucket": self.bucket,
            "Key": self._object_key(key),
            "ResponseContentDisposition": f'attachment; filename="{name}"',
        }
        media = _MEDIA.get(Path(key).suffix.lower())
        if media:
            params["ResponseContentType"] = media
        return str(
            self.client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=max(1, min(int(ttl_seconds), MAX_PRESIGN_SECONDS))
            )
        )
