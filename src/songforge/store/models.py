"""The relational schema: one table per thing a tenant owns, plus the callback outbox.

Every row that belongs to a tenant carries `tenant_id`, and every lookup filters on it: that,
not the shape of an id, is what keeps tenants apart. Times are integer milliseconds since the
epoch, as the API reports them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.elements import TextClause


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Tenant(Base):
    """An API token. The token itself is never stored, only its SHA-256."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    token_prefix: Mapped[str] = mapped_column(String(16), default="")
    # Needed in clear to sign callbacks (Standard Webhooks); shown once by `token create`.
    signing_secret: Mapped[str] = mapped_column(String(128))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    revoked_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # When a worker last claimed one of its jobs (strictly increasing across claims): the fair
    # queue's "served least recently" turn (songforge.core.queue.claim_next). None: never served.
    served_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[str] = mapped_column(String(128))
    max_jobs: Mapped[int] = mapped_column(Integer, default=10)
    engine: Mapped[str] = mapped_column(String(64), default="embedded")
    request_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


# The active set: jobs in core.states.ACTIVE_JOB_STATES, spelled out (store imports no core). A
# partial index holds only these rows, so what admission and the scheduler views cost follows the
# work in front of them, not the history. Neither database uses a partial index unless the query
# carries this very condition with literal values (SQLite matches the expression tree, a bound
# parameter or a reordered list does not match; PostgreSQL cannot prove a parameter implies it in
# a generic plan), hence one text used by the index and by every query: `job_is_active()`.
ACTIVE_JOB_SQL = "state IN ('queued', 'running')"


def job_is_active() -> TextClause:
    """The WHERE term that lets a query of `jobs` use `ix_jobs_active` (single-table queries)."""
    return text(ACTIVE_JOB_SQL)


class Job(Base):
    """One generated track (one variation). A request makes several, sharing `batch_id`."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_list", "tenant_id", "user_id", "kind", "created_ms", "item_id"),
        Index("ix_jobs_state", "state", "queued_ms"),
        Index(
            "ix_jobs_active",
            "tenant_id",
            "user_id",
            sqlite_where=text(ACTIVE_JOB_SQL),
            postgresql_where=text(ACTIVE_JOB_SQL),
        ),
    )

    item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[str] = mapped_column(String(128))
    batch_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # song | instrumental
    engine: Mapped[str] = mapped_column(String(64), default="embedded")
    # songforge.core.states.JobState (spelled out here: store imports no core): queued -> running ->
    # completed | failed. Dialects map it (/v1/tempolor status: 0 while queued/running, 30, 10).
    state: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    stage: Mapped[str] = mapped_column(String(32), default="queued")
    request: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seed: Mapped[int] = mapped_column(BigInteger, default=0)
    title: Mapped[str] = mapped_column(String(300), default="")
    material: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    lyrics: Mapped[str | None] = mapped_column(Text, nullable=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    blobs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {"wav": key, "mp3": key, ...}
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    reply_url: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    reply_ref: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    # Set when one of the job's callback events failed for good (songforge.outbox.store): the
    # record says so, so a caller whose receiver lost an event learns it by polling.
    callback_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The user's own labels (PATCH /v1/tempolor/music/{job_id}): a title that stands in for the
    # engine's, and a favourite flag. Columns apart from `title`, so that a worker finishing the job
    # never overwrites what the user chose, whenever either of them writes.
    user_title: Mapped[str | None] = mapped_column(String(100), nullable=True)
    favorite: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    max_jobs: Mapped[int] = mapped_column(Integer, default=10)
    tracked: Mapped[bool] = mapped_column(Boolean, default=True)  # False after DELETE /scheduler/{id}
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    queued_ms: Mapped[int] = mapped_column(BigInteger)
    started_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    finished_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class JobCount(Base):
    """Finished jobs per engine and state, kept by database triggers on `jobs` (migration 0004) in
    the transaction that changes a row, whatever code path changes it: /metrics reads these instead
    of counting the history. Queued and running jobs are not counted here (the active set is
    counted through `ix_jobs_active`), so a claim or a requeue writes no counter row."""

    __tablename__ = "job_counts"

    engine: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class JobObservation(Base):
    """Histogram buckets of /metrics, kept by the same triggers: `metric` is `generation`
    (started -> final state) or `queue_wait` (queued -> claimed); `bucket` indexes the metric's
    upper bounds in `songforge.http.metrics` (one past the last: +Inf), not cumulative. Deleting
    a job keeps its observations, as counters do."""

    __tablename__ = "job_observations"

    metric: Mapped[str] = mapped_column(String(16), primary_key=True)
    engine: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(BigInteger, default=0)
    sum_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class MidiItem(Base):
    __tablename__ = "midi_items"
    __table_args__ = (Index("ix_midi_list", "tenant_id", "user_id", "created_ms", "item_id"),)

    item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(300), default="")
    blob_key: Mapped[str] = mapped_column(String(300))
    size: Mapped[int] = mapped_column(Integer, default=0)
    info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # tempo, notes, duration...
    created_ms: Mapped[int] = mapped_column(BigInteger)


class Voice(Base):
    """A cloned voice: an uploaded sample and, once analysed, its profile."""

    __tablename__ = "voices"
    __table_args__ = (Index("ix_voice_list", "tenant_id", "user_id", "created_ms", "item_id"),)

    item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[int] = mapped_column(Integer, default=0)  # core.states.VoiceStatus (0 queued)
    blob_key: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(100), default="")
    profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class StemsTask(Base):
    """A user's upload to split into stems."""

    __tablename__ = "stems_tasks"
    __table_args__ = (Index("ix_stems_list", "tenant_id", "user_id", "created_ms", "item_id"),)

    item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(300), default="")
    state: Mapped[str] = mapped_column(String(16), default="queued")  # core.states.StemsState values
    content_type: Mapped[str] = mapped_column(String(100), default="")
    audio_type: Mapped[str] = mapped_column(String(16), default="")
    source_key: Mapped[str] = mapped_column(String(300))
    blobs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Open API dialect (/open-apis/v1 stems): callback_url, source url, file token; None otherwise.
    openapi: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class CallbackDelivery(Base):
    """The outbox: one row per callback attempt chain, claimed atomically by whoever sends it."""

    __tablename__ = "callback_deliveries"
    __table_args__ = (Index("ix_cb_due", "state", "next_attempt_ms"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)  # webhook-id header
    tenant_id: Mapped[str] = mapped_column(String(32), index=True)
    job_id: Mapped[str] = mapped_column(String(400))
    item_id: Mapped[str] = mapped_column(String(64), index=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)  # order of events within one job
    url: Mapped[str] = mapped_column(String(1024))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_final: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed|dropped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_ms: Mapped[int] = mapped_column(BigInteger)
    claimed_until_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # When set, only HTTP 200 with exactly this body (an acknowledgement a dialect asks for)
    # counts as delivered; anything else is retried. None keeps the plain 2xx rule.
    ack_body: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class ApiKey(Base):
    """An Open API key (`Tempo-<32 chars>-3w`) for the /open-apis/v1 dialect, bound to a tenant.

    Only the SHA-256 is kept; `prefix` (the first characters after `Tempo-`) lets `key list` and
    `key revoke` name a key without showing it again. `user_id` is the tenant account the key's
    jobs run under, fixed on first use so that a later second account never moves them.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(32), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    prefix: Mapped[str] = mapped_column(String(16), default="")
    name: Mapped[str] = mapped_column(String(200), default="")
    user_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    revoked_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class UpstreamKey(Base):
    """One API key of the upstream engine's pool (`songforge upstream add`), operator-wide.

    The key must be sent, so it cannot be hashed: `key_cipher` is Fernet-encrypted with the
    operator's secret (songforge.store.upstream). `hint` is its first and last characters, enough
    to recognise it in `upstream list`. `state` is active | paused (out of points) | disabled
    (refused by the platform), with the platform's words in `reason`.
    """

    __tablename__ = "upstream_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    base_url: Mapped[str] = mapped_column(String(1024))
    key_cipher: Mapped[str] = mapped_column(Text)
    hint: Mapped[str] = mapped_column(String(32), default="")
    max_jobs: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(16), default="active")
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class UpstreamTask(Base):
    """A job's task on the upstream: which key holds its slot, and the upstream's item id.

    One row per job, written before the request is sent (`reserved`) and given the upstream's id
    the moment it returns (`sent`), so a worker that restarts resumes the task instead of sending
    it again. A slot counts while the row is reserved or sent and its job is still active.
    `secret` verifies the upstream's callback for this job; `callback_ms` is when the last one came
    and `callback_item` the item it reported (each event's fields merged over the last).
    """

    __tablename__ = "upstream_tasks"
    __table_args__ = (Index("ix_upstream_tasks_key_state", "key_id", "state"),)

    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    task_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="reserved")  # reserved|sent|idle|done|failed
    secret: Mapped[str] = mapped_column(String(64))
    callback_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    callback_item: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class MaintenanceRun(Base):
    """When a deployment-wide maintenance task (retention pruning) last ran, and who ran it.

    Every worker process of a deployment runs the same maintenance, but a task such as pruning
    should run once per interval, not once per process: a process takes the turn with a conditional
    UPDATE (`last_ms` older than the interval -> now), which exactly one of any number of racing
    processes wins on SQLite and on PostgreSQL (`songforge.workers.retention.claim_turn`).
    """

    __tablename__ = "maintenance_runs"

    task: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    holder: Mapped[str | None] = mapped_column(String(64), nullable=True)


class DeploymentSetting(Base):
    """A fact every process of one deployment must agree on, kept where they all look: the database.

    Rows (`songforge.store.deployment`): `deployment_id`, a uuid written on first start and copied
    into the queue broker so that processes on different databases sharing one broker refuse to
    start; `private_callbacks` (`allowed` | `refused`), the callback-target policy that the API's
    submit check and every outbox sender read. `explicit` is False for a value an API recorded as
    its own default (no flag given), which the next API start may re-derive; True for an operator's
    choice (`songforge serve --allow-private-callbacks`, `songforge deployment private-callbacks`).
    """

    __tablename__ = "deployment_settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    explicit: Mapped[bool] = mapped_column(Boolean, default=True)
    set_by: Mapped[str] = mapped_column(String(200), default="")
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class WorkerEngine(Base):
    """One engine of one worker process, and whether it was ready there when last reported.

    Why a table: which engines each worker has is known only inside that worker (its weights, its
    libraries, `SONGFORGE_WORKER_ENGINES`), and the processes that must know it (every API replica's
    /metrics and model list, `songforge engines`) run elsewhere. Each worker writes its rows at start
    and again on its heartbeat; `seen_ms` is when it (or, for a busy local worker, its supervising
    server) last said it is alive, so rows of a worker that stopped beating drop out by age
    (`songforge.store.worker_engines`). Never derived from job history.
    """

    __tablename__ = "worker_engines"

    worker_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    engine: Mapped[str] = mapped_column(String(64), primary_key=True)
    ready: Mapped[bool] = mapped_column(Boolean, default=False)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)  # why not ready, or None
    kind: Mapped[str] = mapped_column(String(16), default="local")  # local | distributed
    started_ms: Mapped[int] = mapped_column(BigInteger)
    seen_ms: Mapped[int] = mapped_column(BigInteger, index=True)


class AuthFailure(Base):
    """Failed sign-ins from one client address in its current window (`songforge.http.auth_guard`).

    Why a table: every API process (`serve --api-processes`, API nodes behind a balancer) answers
    some of one client's attempts, and a limit each counted alone would let a guesser through that
    many times over. Only counted failures write here; a row whose window ended is deleted when a
    new window starts anywhere (`songforge.store.auth_failures`), so the table holds the addresses
    that failed within the last window and nothing older.
    """

    __tablename__ = "auth_failures"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_ms: Mapped[int] = mapped_column(BigInteger, index=True)  # when its window started
    failures: Mapped[int] = mapped_column(Integer)
