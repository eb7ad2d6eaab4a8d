"""Runtime settings, from CLI flags and SONGFORGE_* environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def default_data_dir() -> Path:
    return Path(os.environ.get("SONGFORGE_DATA_DIR", "./data"))


@dataclass
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = field(default_factory=lambda: _env_int("SONGFORGE_WORKERS", os.cpu_count() or 1))
    # default: sqlite under data_dir
    database_url: str | None = field(default_factory=lambda: os.environ.get("SONGFORGE_DATABASE_URL") or None)
    # Scale-out (all unset in the embedded default): a Redis URL for the distributed task queue,
    # an s3://bucket/prefix blob store and its endpoint (else boto3's AWS_ENDPOINT_URL handling).
    queue_url: str | None = field(default_factory=lambda: os.environ.get("SONGFORGE_QUEUE") or None)
    blob_store: str | None = field(default_factory=lambda: os.environ.get("SONGFORGE_BLOB_STORE") or None)
    s3_endpoint: str | None = field(default_factory=lambda: os.environ.get("SONGFORGE_S3_ENDPOINT") or None)
    # A generation running longer than this ends FAILED (a hung engine must not hold a slot forever).
    job_timeout_seconds: int = field(default_factory=lambda: _env_int("SONGFORGE_JOB_TIMEOUT", 1800))
    # None means: allowed only when listening on a loopback address.
    allow_private_callbacks: bool | None = None
    max_midi_bytes: int = field(default_factory=lambda: _env_int("SONGFORGE_MAX_MIDI_BYTES", 1024 * 1024))
    max_audio_bytes: int = field(
        default_factory=lambda: _env_int("SONGFORGE_MAX_AUDIO_BYTES", 50 * 1024 * 1024)
    )
    download_ttl_seconds: int = field(default_factory=lambda: _env_int("SONGFORGE_DOWNLOAD_TTL", 3600))
    public_base_url: str | None = None  # for download links; default http://host:port

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'songforge.db').resolve()}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def base_url(self) -> str:
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        return f"http://{self.host}:{self.port}"

    def private_callbacks_allowed(self) -> bool:
        if self.allow_private_callbacks is not None:
            return self.allow_private_callbacks
        return self.host in ("127.0.0.1", "localhost", "::1") or self.host.startswith("127.")
