"""replyUrl callbacks: every reported change of a /v1/tempolor job, sent to the job's replyUrl.

Each event is the whole job record (the same body as GET /music/{job_id}) plus the caller's
`replyRef`, so a newer event says everything an older one did and the outbox may supersede a
failed progress event. Jobs of other dialects have no reply_url and are left alone; an untracked
job gets no further events.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from songforge.core.events import Subscriber
from songforge.dialects.tempolor_v1.records import job_id_of, job_record
from songforge.outbox import enqueue
from songforge.store.models import Job

__all__ = ["SUBSCRIBER", "ReplyUrlCallbacks"]


class ReplyUrlCallbacks(Subscriber):
    """Writes a job's record to the outbox, in the transaction that changed the job."""

    def job_changed(self, session: Session, job: Job, *, is_final: bool) -> None:
        if not job.reply_url or not job.tracked:
            return
        payload = job_record(job)
        payload["replyRef"] = job.reply_ref or ""
        enqueue(
            session,
            tenant_id=job.tenant_id,
            job_id=job_id_of(job),
            item_id=job.item_id,
            url=job.reply_url,
            payload=payload,
            is_final=is_final,
        )


SUBSCRIBER = ReplyUrlCallbacks()
