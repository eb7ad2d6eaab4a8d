"""What the outbox tests share: the tenant's signing secret and rows written the way a dialect
writes them (`add_job`, `enqueue_events`). The `db` fixture is in this directory's conftest."""

from __future__ import annotations

import base64

from songforge.clock import now_ms
from songforge.outbox import enqueue
from songforge.store.db import Database
from songforge.store.models import Job

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
TENANT_ID = "111"


def add_job(db: Database, item_id: str, tracked: bool = True) -> None:
    now = now_ms()
    with db.session() as s:
        s.add(
            Job(
                item_id=item_id,
                tenant_id=TENANT_ID,
                user_id="u",
                batch_id="b",
                kind="song",
                tracked=tracked,
                created_ms=now,
                queued_ms=now,
                updated_ms=now,
            )
        )


def enqueue_events(db: Database, item_id: str, url: str, n: int, final_last: bool = True) -> None:
    with db.session() as s:
        for i in range(n):
            enqueue(
                s,
                tenant_id=TENANT_ID,
                job_id=f"user:111-tempolor:u-job:{item_id}",
                item_id=item_id,
                url=url,
                payload={"itemId": item_id, "progress": i, "replyRef": "ref"},
                is_final=final_last and i == n - 1,
            )
