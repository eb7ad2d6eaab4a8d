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
    database_url: str | None = None  # default: sqlite under data_dir
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
