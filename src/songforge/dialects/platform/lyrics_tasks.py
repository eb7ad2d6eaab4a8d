"""lyrics/generate: lyrics written by the singing engine's lyric writer, stored as a finished job.

Writing lyrics takes a moment, not minutes, so there is no queue to wait in: the work is done
while the request is answered, stored as a `Job` of kind `lyrics` (already `completed`), and its
callback is written to the outbox in the same transaction, as the platform's flow expects.
It stays out of /v1/tempolor's song and instrumental lists, which filter on kind.

On an account whose engine is the TemPolor upstream the lyrics are the platform's: the job is
queued instead (`queue_lyrics`, admitted against the account's maxJobs like any request), a
worker sends it to the upstream's lyrics endpoint and stores its title and text on the row, and
the job's final state writes the same callback (`callbacks.notify_job`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from songforge.clock import now_ms
from songforge.core import scheduler
from songforge.core.ids import new_item_id
from songforge.core.states import JobState
from songforge.dialects.platform.callbacks import notify_lyrics
from songforge.dialects.platform.models import ModelChoice
from songforge.store.models import Account, Job

TITLE_MAX = 60


@dataclass(frozen=True)
class WrittenLyrics:
    title: str
    text: str
    seed: int


def write(prompt: str, seed: int | None = None) -> WrittenLyrics:
    """Titles come from the chorus's first line (the hook), as songwriters title songs."""
    from songforge.engines.singing import lyrics_text, plan_lyrics

    seed = secrets.randbelow(2**31 - 1) if seed is None else seed
    sections = plan_lyrics(None, prompt, seed)
    hook = next((s.lines[0] for s in sections if s.name == "chorus" and s.lines), None)
    first = hook or next((s.lines[0] for s in sections if s.lines), "Untitled")
    title = first.strip().rstrip(",.;:!?")
    if len(title) > TITLE_MAX:
        title = title[:TITLE_MAX].rsplit(" ", 1)[0]
    return WrittenLyrics(title=title, text=lyrics_text(sections).strip(), seed=seed)


def store_lyrics(
    session: Session,
    account: Account,
    prompt: str,
    song_model: str | None,
    callback_url: str,
    written: WrittenLyrics,
) -> Job:
    now = now_ms()
    item_id = new_item_id()
    while session.get(Job, item_id) is not None:
        item_id = new_item_id()
    request: dict = {"prompt": prompt, "openapi": {"callback_url": callback_url, "prompt": prompt}}
    if song_model:
        request["openapi"]["song_model"] = song_model
    job = Job(
        item_id=item_id,
        tenant_id=account.tenant_id,
        user_id=account.user_id,
        batch_id=item_id,
        kind="lyrics",
        engine="lyrics",
        state=JobState.COMPLETED,
        progress=100,
        stage=JobState.COMPLETED,
        request=request,
        seed=written.seed,
        title=written.title,
        material={},
        lyrics=written.text,
        extra={},
        blobs={},
        max_jobs=account.max_jobs,
        tracked=True,
        attempts=1,
        created_ms=now,
        queued_ms=now,
        started_ms=now,
        finished_ms=now,
        updated_ms=now,
    )
    session.add(job)
    session.flush()
    notify_lyrics(session, job)
    return job


def queue_lyrics(
    session: Session,
    account: Account,
    prompt: str,
    song_model: ModelChoice | None,
    callback_url: str,
    engine: str,
) -> Job:
    """A lyrics job for `engine` (the upstream) to write in a worker. Raises scheduler.AccountBusy
    when the account has no free slot: it holds one while it runs, as a song does."""
    limit = scheduler.admit(session, account)
    now = now_ms()
    item_id = new_item_id()
    while session.get(Job, item_id) is not None:
        item_id = new_item_id()
    openapi: dict = {"callback_url": callback_url, "prompt": prompt}
    if song_model is not None:
        openapi["song_model"] = song_model.name
        openapi["song_profile"] = song_model.profile  # what the engine sends, as the platform's name
    job = Job(
        item_id=item_id,
        tenant_id=account.tenant_id,
        user_id=account.user_id,
        batch_id=item_id,
        kind="lyrics",
        engine=engine,
        state=JobState.QUEUED,
        progress=0,
        stage=JobState.QUEUED,
        request={"prompt": prompt, "openapi": openapi},
        seed=0,
        title="",
        material={},
        lyrics=None,
        extra={},
        blobs={},
        max_jobs=limit,
        tracked=True,
        attempts=0,
        created_ms=now,
        queued_ms=now,
        updated_ms=now,
    )
    session.add(job)
    session.flush()
    return job
