"""What a job handler needs from its worker process, in one small object.

Handlers (ours and the upload handlers) receive this rather than globals so that a test can run
one in-process against a temporary data dir, and so a remote worker could supply its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from songforge.config import Settings
from songforge.store.blobs import BlobStore
from songforge.store.db import Database
from songforge.store.factory import open_blob_store


@dataclass
class WorkerContext:
    db: Database
    blobs: BlobStore
    settings: Settings
    worker_id: str = field(default="local")

    @classmethod
    def from_settings(cls, settings: Settings, worker_id: str = "local") -> WorkerContext:
        return cls(
            db=Database(settings.db_url),
            blobs=open_blob_store(settings),
            settings=settings,
            worker_id=worker_id,
        )
