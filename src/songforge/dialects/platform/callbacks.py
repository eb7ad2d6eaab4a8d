"""The platform's callbacks for Open API work, written to the same outbox as replyUrl callbacks.

The platform calls `callback_url` once per finished part of a work: songs get `audio_complete`
(always first), then `wav_complete` and `lrcsections_complete`; instrumentals the first two;
lyrics and stems one call each. Our workers finish every part at once, so all of a job's events
are written together, in that order, in the transaction that completes the job; the outbox sends
an item's events strictly in order and retries each until the receiver answers HTTP 200 with the
body `success` (the platform's acknowledgement). Signing and the outbound address guard are the
outbox's, shared with /v1/tempolor.

`SUBSCRIBER` hears of job and stems changes from `songforge.core.events` (registered by
`songforge.wiring.install`); lyrics are written by this dialect itself, so `notify_lyrics` is
called directly.

File links in callbacks must work without the key, and workers have no request to sign links
against, so Open API work carries its own capability: a random `file_token` and the base URL
the client used, both fixed at submission (see `file_url`).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from songforge.core.events import Subscriber
from songforge.core.states import FINAL_STEMS_STATES, JobState
from songforge.dialects.platform.records import lyrics_item, music_item, stems_item
from songforge.outbox import enqueue
from songforge.store.models import Job, StemsTask

log = logging.getLogger("songforge.openapi")

ACK_BODY = "success"
FILES_PATH = "/open-apis/v1/files"


def new_file_token() -> str:
    return secrets.token_urlsafe(18)


def file_url(base_url: str, item_id: str, token: str, blob_key: str) -> str:
    """A link to one of an item's files, valid while the item exists. The file's own name is
    kept so that a download saves as `<id>.mp3` etc.; the token is checked, the name only picks
    which of the item's files."""
    name = blob_key.rsplit("/", 1)[-1]
    return f"{base_url.rstrip('/')}{FILES_PATH}/{item_id}/{token}/{name}"


def _url_for(meta: dict[str, Any], item_id: str) -> Callable[[str], str]:
    base, token = meta.get("base_url", ""), meta.get("file_token", "")
    return lambda key: file_url(base, item_id, token, key)


def _enqueue(
    session: Session, tenant_id: str, item_id: str, url: str, payloads: list[dict[str, Any]]
) -> None:
    # The outbox row's `job_id` is a label for operators: the platform names work by its item_id.
    for i, payload in enumerate(payloads):
        enqueue(
            session,
            tenant_id=tenant_id,
            job_id=item_id,
            item_id=item_id,
            url=url,
            payload=payload,
            is_final=i == len(payloads) - 1,
            ack_body=ACK_BODY,
        )


def notify_job(session: Session, job: Job, *, is_final: bool) -> None:
    """Called wherever a job's state is written (a `job_changed` event); acts only on the final
    state of Open API song / instrumental / lyrics jobs, since the platform reports no progress."""
    meta = (job.request or {}).get("openapi") or {}
    url = meta.get("callback_url")
    if not url or not is_final or not job.tracked:
        return
    if job.kind == "lyrics":  # queued lyrics (the upstream's); ours are born final, never published
        notify_lyrics(session, job)
        return
    if job.kind not in ("song", "instrumental"):
        return
    url_for = _url_for(meta, job.item_id)
    if job.state == JobState.FAILED:
        events = ["audio_complete"]
    elif job.kind == "song":
        events = ["audio_complete", "wav_complete", "lrcsections_complete"]
    else:
        events = ["audio_complete", "wav_complete"]
    field = "songs" if job.kind == "song" else "instrumentals"
    payloads = [{field: [music_item(job, url_for, event)]} for event in events]
    _enqueue(session, job.tenant_id, job.item_id, url, payloads)


def notify_lyrics(session: Session, job: Job) -> None:
    meta = (job.request or {}).get("openapi") or {}
    if meta.get("callback_url"):
        _enqueue(session, job.tenant_id, job.item_id, meta["callback_url"], [{"lyrics": [lyrics_item(job)]}])


def notify_stems(session: Session, task: StemsTask) -> None:
    """Called when a stems task reaches a final state; acts only on Open API tasks."""
    meta = task.openapi or {}
    url = meta.get("callback_url")
    if not url or task.state not in FINAL_STEMS_STATES:
        return
    item = stems_item(task, _url_for(meta, task.item_id))
    _enqueue(session, task.tenant_id, task.item_id, url, [{"stems": [item]}])


class PlatformCallbacks(Subscriber):
    """The platform's callbacks as an event subscriber."""

    def job_changed(self, session: Session, job: Job, *, is_final: bool) -> None:
        notify_job(session, job, is_final=is_final)

    def stems_finished(self, session: Session, task: StemsTask) -> None:
        notify_stems(session, task)


SUBSCRIBER = PlatformCallbacks()
