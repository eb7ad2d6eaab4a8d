"""A callback event that fails for good (`outbox.store.record_outcome`) is not only a WARNING: the
job's record says so (`callbackFailed`, `callbackError` on /v1/tempolor) and /metrics counts it
(`songforge_callbacks_failed_total`)."""

from __future__ import annotations

from outbox_helpers import add_job, enqueue_events

from songforge.dialects.tempolor_v1.records import job_record
from songforge.http import metrics
from songforge.outbox import Outcome, store
from songforge.store.db import Database
from songforge.store.models import Job


def _lost_total(db: Database) -> float:
    for line in metrics.render(db).decode().splitlines():
        if line.startswith("songforge_callbacks_failed_total "):
            return float(line.split()[1])
    raise AssertionError("songforge_callbacks_failed_total is missing")


def test_a_delivery_given_up_marks_the_job_and_the_metric(db: Database) -> None:
    add_job(db, "lost1")
    add_job(db, "fine1")
    enqueue_events(db, "lost1", "http://127.0.0.1:9/hook", 1)
    enqueue_events(db, "fine1", "http://127.0.0.1:9/hook", 1)
    assert _lost_total(db) == 0
    with db.session() as s:
        assert "callbackFailed" not in job_record(s.get(Job, "lost1"))  # type: ignore[arg-type]
    claims = {c.item_id: c for c in store.claim_due(db)}
    assert (
        store.record_outcome(db, claims["fine1"], Outcome(ok=True, retry=False, status=200), (1.0,)) == "sent"
    )
    refused = Outcome(ok=False, retry=False, status=410, error="HTTP 410")
    assert store.record_outcome(db, claims["lost1"], refused, (1.0,)) == store.FAILED
    with db.session() as s:
        lost = job_record(s.get(Job, "lost1"))  # type: ignore[arg-type]
        fine = job_record(s.get(Job, "fine1"))  # type: ignore[arg-type]
    assert lost["callbackFailed"] is True
    assert lost["callbackError"].startswith("final event ") and lost["callbackError"].endswith("HTTP 410")
    assert "callbackFailed" not in fine and "callbackError" not in fine
    assert _lost_total(db) == 1
