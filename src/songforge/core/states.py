"""The state vocabularies of the things the domain tracks: music jobs, cloned voices, stems tasks.

Why enums and not bare strings: a typo in `Job.state == "complete"` is a filter that silently
matches nothing, and the HTTP layer used to import status numbers from the workers just to compare
against them. One class per vocabulary names every value once; the workers, the queue and both
dialects import it from here.

The values are exactly what the database stores (no migration): `JobState` and `StemsState` are
`StrEnum`s and `VoiceStatus` an `IntEnum`, so a member *is* its stored value. It compares equal
to the plain string or integer SQLAlchemy loads, binds as that value in filters (sqlite3 and
psycopg see a `str`/`int`), serialises to it in JSON, and formats as it in f-strings and logs.
(arq's `JobStatus(str, Enum)` is the model; `StrEnum` is the same thing, plus a `str()` that
gives the value, which a plain `(str, Enum)` does not on Python 3.11.)

How each dialect shows these states (`/v1/tempolor`'s 0/10/30, its stems 0..3, the Open API's
`waiting`/`running`/`succeeded`) is the dialect's business and lives there.

`store/` may not import `core/`, so the column defaults in `store/models.py` and the new-job check
in `store/db.py` spell `"queued"` themselves; they must stay equal to `JobState.QUEUED`.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

__all__ = [
    "ACTIVE_JOB_STATES",
    "ACTIVE_STEMS_STATES",
    "FINAL_JOB_STATES",
    "FINAL_STEMS_STATES",
    "FINAL_VOICE_STATUSES",
    "JobState",
    "StemsState",
    "VoiceStatus",
]


class JobState(StrEnum):
    """`Job.state`: queued -> running -> completed | failed.

    A running job whose lease runs out goes back to queued (at most `queue.MAX_ATTEMPTS` starts).
    `Job.stage` is free progress text, set to the state's value when a job is queued, completes
    or fails.
    """

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class StemsState(StrEnum):
    """`StemsTask.state`: queued -> running -> completed | failed (the same words as jobs)."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class VoiceStatus(IntEnum):
    """`Voice.status` (an integer column): queued -> running -> ready | failed.

    FAILED and READY happen to be the numbers `/v1/tempolor` reports (10, 30); the dialect still
    maps them explicitly, and reports queued and running alike as 0 ("processing").
    """

    QUEUED = 0
    RUNNING = 1
    FAILED = 10
    READY = 30


# A job in one of these takes a slot of its account's maxJobs while it is tracked.
ACTIVE_JOB_STATES: tuple[JobState, ...] = (JobState.QUEUED, JobState.RUNNING)
FINAL_JOB_STATES: tuple[JobState, ...] = (JobState.COMPLETED, JobState.FAILED)
ACTIVE_STEMS_STATES: tuple[StemsState, ...] = (StemsState.QUEUED, StemsState.RUNNING)
FINAL_STEMS_STATES: tuple[StemsState, ...] = (StemsState.COMPLETED, StemsState.FAILED)
FINAL_VOICE_STATUSES: tuple[VoiceStatus, ...] = (VoiceStatus.READY, VoiceStatus.FAILED)
