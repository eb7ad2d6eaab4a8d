"""Opening the storage the settings name: the database and the blob store.

Why a module of its own: the blob protocol (`blobs`) and its implementations (`blobs`, `s3`) must
not import each other, and the choice between them belongs to configuration; the composition roots
(server, workers, CLI) call these two functions and never pick an implementation themselves.
"""

from __future__ import annotations

from songforge.config import Settings
from songforge.store.blobs import BlobStore, LocalBlobStore
from songforge.store.db import Database
from songforge.store.private import private_dir

__all__ = ["open_blob_store", "open_database"]


def open_blob_store(settings: Settings) -> BlobStore:
    """The store `settings` names: local files under the data dir unless `--blob-store s3://...`."""
    spec = settings.blob_store
    if not spec or spec in ("local", "file"):
        return LocalBlobStore(settings.blob_dir)
    if spec.startswith("s3://"):
        from songforge.store.s3 import S3BlobStore  # boto3 loads only where S3 is configured

        cache = settings.data_dir / "s3-cache"
        return S3BlobStore.from_url(spec, cache_dir=cache, endpoint=settings.s3_endpoint)
    raise ValueError(f"unsupported blob store {spec!r}: use s3://bucket/prefix or leave it unset")


def open_database(settings: Settings, *, migrate: bool = False) -> Database:
    """The database `settings` names; with `migrate`, its schema brought to the newest revision
    first (and the data dir created, where SQLite keeps its file)."""
    if migrate:
        from songforge.store.migrate import upgrade_database  # Alembic loads only where it runs

        private_dir(settings.data_dir)
        upgrade_database(settings.db_url)
    return Database(settings.db_url)
