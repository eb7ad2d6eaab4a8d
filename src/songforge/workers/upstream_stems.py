"""Stems of an upload split by the TemPolor upstream, for an account whose engine is `tempolor`.

Why a link and not the file: the platform's `POST /stems` takes a URL it fetches (it has no
upload). The upload stays in our blob store; the upstream gets a signed link to it on our public
URL (SONGFORGE_PUBLIC_URL), valid for `LINK_TTL_SECONDS` only and made afresh for each send, so a
leaked task body opens the file for minutes, not days. The stems zip the upstream returns is
downloaded and stored as the task's zip (its own members: the platform's `originalaudio_*.flac`,
or a Songforge upstream's stems and original), and the task is finished by the caller
(`workers.uploads.process_stems_task`) exactly as a local split is.

Slots and restarts are the engine's (`songforge.engines.tempolor`): the task's row in
`upstream_tasks` is keyed by the stems item id, holds a slot of its key while the stems task is
queued or running, and stores the upstream's id before polling, so a task requeued after a
restart resumes polling rather than sending (and paying) again.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import select

from songforge.config import UPSTREAM_ENGINE
from songforge.engines.base import EngineError, ProgressFn
from songforge.engines.registry import get_engine
from songforge.http import signing
from songforge.store.models import Account, StemsTask, UpstreamTask
from songforge.workers.context import WorkerContext

__all__ = ["LINK_TTL_SECONDS", "split_upstream", "upstream_wanted"]

LINK_TTL_SECONDS = 900  # the upstream fetches the link when the task is created; minutes suffice
_AUDIO = (".wav", ".flac", ".mp3", ".m4a", ".ogg")


def upstream_wanted(ctx: WorkerContext, item_id: str) -> bool:
    """Whether stems task `item_id` is split by the upstream: its account's engine is the
    upstream's, or a task already sent there is being resumed (the engine may have changed since)."""
    with ctx.db.session() as s:
        row = s.get(UpstreamTask, item_id)
        if row is not None and row.state == "sent":
            return True
        task = s.get(StemsTask, item_id)
        if task is None:
            return False
        engine = s.scalar(
            select(Account.engine).where(Account.tenant_id == task.tenant_id, Account.user_id == task.user_id)
        )
    return engine == UPSTREAM_ENGINE


def split_upstream(
    ctx: WorkerContext, item_id: str, source_key: str, scratch: Path, progress: ProgressFn
) -> tuple[Path, dict[str, Any]]:
    """The upstream's stems zip of the upload `source_key` (in `scratch`) and the task's `detail`
    fields. Raises EngineError with the platform's reason when it fails."""
    from songforge.workers.generate import job_ledger

    engine: Any = get_engine(UPSTREAM_ENGINE)
    engine.bind_job(job_ledger(ctx, item_id))
    settings = ctx.settings
    signing.use_blob_store(settings.data_dir, ctx.blobs)  # S3: the store's presigned link, as the API's

    def link() -> str:
        return signing.signed_url(settings.data_dir, settings.base_url, source_key, LINK_TTL_SECONDS)

    dest = scratch / "upstream-stems.zip"
    upstream = engine.split_stems(link, dest, progress)
    try:
        with zipfile.ZipFile(dest) as zf:
            members = [n for n in zf.namelist() if n.lower().endswith(_AUDIO)]
    except zipfile.BadZipFile:
        raise EngineError("the upstream's stems file is not a zip") from None
    if not members:
        raise EngineError("the upstream's stems zip holds no audio")
    names = [Path(n).stem for n in members]
    detail = {
        # The original is not a stem: a Songforge upstream's `original.*`, the platform's
        # `originalaudio.flac` (its stems are `originalaudio_vocals.flac` ...).
        "stems": [n for n in names if n not in ("original", "originalaudio")],
        "method": "tempolor upstream",
        "files": members,
        "upstream": upstream,
    }
    return dest, detail
