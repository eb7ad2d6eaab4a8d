"""The upstream engine's key pool and task records, in the database.

Why here: the pool must be shared by every worker process (a key's parallel-task limit is a
count across all of them, like an account's maxJobs), and engines know no storage; this module is
the storage side of `songforge.engines.tempolor.ledger`, bound to the engine by the worker.

Keys at rest: they must be sent, so they cannot be hashed. They are encrypted with Fernet
(AES-128-CBC + HMAC-SHA256) under the operator's secret: SONGFORGE_UPSTREAM_SECRET when set (keep
it in a secret store, away from the database backups), else `upstream.key` in the data dir,
created 0600 on first use. Nothing here logs a key, and its dataclass hides it from repr.

Slot accounting: a job's row says which key it holds (`reserved` while sending, `sent` once the
upstream returned its id). A slot counts only while its job (or stems task: the row is keyed by
its item id) is still queued or running, so one that failed, timed out or was deleted frees its
slot without anyone cleaning up after it.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import ColumnElement, func, select, text, update
from sqlalchemy.orm import Session

from songforge.clock import now_ms
from songforge.config import Settings, upstream_secret
from songforge.errors import EngineError
from songforge.store.db import Database
from songforge.store.models import ACTIVE_JOB_SQL, Job, StemsTask, UpstreamKey, UpstreamTask

__all__ = [
    "KEY_FILE",
    "KEY_STATES",
    "JobLedger",
    "Lease",
    "NoUsableKey",
    "SourceTask",
    "add_key",
    "busy_slots",
    "key_box",
    "list_keys",
    "record_callback",
    "remove_key",
    "set_key_state",
    "source_task",
]

KEY_FILE = "upstream.key"
ACTIVE, PAUSED, DISABLED = "active", "paused", "disabled"
KEY_STATES = (ACTIVE, PAUSED, DISABLED)
_HOLDING = ("reserved", "sent")


class NoUsableKey(EngineError):
    """The pool has no key that may be sent anything: the job fails with what each key says."""


def _no_key_reason(keys: list[UpstreamKey]) -> str:
    if not keys:
        return "No upstream key is configured (songforge upstream add)"
    states = "; ".join(f"key {k.id} {k.state}" + (f": {k.reason}" if k.reason else "") for k in keys)
    return f"No upstream key is usable ({states})"


class UpstreamSecretError(EngineError):
    """The secret cannot decrypt a stored key (the secret changed, or the file was replaced)."""


def key_box(data_dir: Path) -> Fernet:
    """The Fernet that encrypts the pool's keys: the env secret, else the data dir's key file."""
    configured = upstream_secret()
    if configured:
        return Fernet(configured.encode())
    path = Path(data_dir) / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return Fernet(path.read_bytes().strip())
    with os.fdopen(fd, "wb") as fh:
        fh.write(Fernet.generate_key())
    return Fernet(path.read_bytes().strip())


def _hint(key: str) -> str:
    return f"{key[:9]}…{key[-4:]}" if len(key) > 16 else "…"


def check_base_url(base_url: str) -> str:
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base URL must be http(s)://host[:port] (got {base_url!r})")
    return base_url.strip().rstrip("/")


def add_key(
    session: Session, box: Fernet, *, base_url: str, api_key: str, max_jobs: int, label: str = ""
) -> UpstreamKey:
    api_key = api_key.strip()
    if not api_key:
        raise ValueError("the API key is empty")
    if not 1 <= max_jobs <= 1000:
        raise ValueError("max jobs must be between 1 and 1000")
    now = now_ms()
    row = UpstreamKey(
        label=label,
        base_url=check_base_url(base_url),
        key_cipher=box.encrypt(api_key.encode()).decode(),
        hint=_hint(api_key),
        max_jobs=max_jobs,
        state=ACTIVE,
        created_ms=now,
        updated_ms=now,
    )
    session.add(row)
    session.flush()
    return row


def busy_slots(session: Session, exclude_job: str | None = None) -> dict[int, int]:
    """key id -> slots held by active jobs and stems tasks (a stems task's row is keyed by its
    item id, as a job's is)."""
    holding: list[ColumnElement[bool]] = [UpstreamTask.state.in_(_HOLDING), UpstreamTask.key_id.is_not(None)]
    if exclude_job is not None:
        holding.append(UpstreamTask.job_id != exclude_job)
    jobs = (
        select(UpstreamTask.key_id, func.count())
        .join(Job, Job.item_id == UpstreamTask.job_id)
        .where(*holding, text(f"jobs.{ACTIVE_JOB_SQL}"))
        .group_by(UpstreamTask.key_id)
    )
    stems = (
        select(UpstreamTask.key_id, func.count())
        .join(StemsTask, StemsTask.item_id == UpstreamTask.job_id)
        .where(*holding, StemsTask.state.in_(("queued", "running")))  # core.states.StemsState
        .group_by(UpstreamTask.key_id)
    )
    out: dict[int, int] = {}
    for q in (jobs, stems):
        for k, n in session.execute(q).all():
            if k is not None:
                out[int(k)] = out.get(int(k), 0) + int(n)
    return out


def list_keys(session: Session) -> list[tuple[UpstreamKey, int]]:
    """Every key with the slots it holds now."""
    busy = busy_slots(session)
    rows = session.scalars(select(UpstreamKey).order_by(UpstreamKey.id))
    return [(row, busy.get(row.id, 0)) for row in rows]


def remove_key(session: Session, key_id: int) -> bool:
    row = session.get(UpstreamKey, key_id)
    if row is None:
        return False
    session.delete(row)
    return True


def set_key_state(session: Session, key_id: int, state: str, reason: str | None = None) -> bool:
    if state not in KEY_STATES:
        raise ValueError(f"state must be one of {', '.join(KEY_STATES)}")
    row = session.get(UpstreamKey, key_id)
    if row is None:
        return False
    row.state, row.reason, row.updated_ms = state, reason, now_ms()
    return True


# The lists a platform callback carries its item in.
_CALLBACK_LISTS = ("songs", "instrumentals", "lyrics", "stems")


def callback_path(job_id: str, secret: str) -> str:
    """The path of a job's callback route (songforge.http.upstream_callbacks)."""
    return f"/upstream/callbacks/{job_id}/{secret}"


def record_callback(session: Session, job_id: str, secret: str, payload: object) -> bool | None:
    """Records the upstream's callback for `job_id`: None when the job or the secret is not ours
    (the secret compared in constant time), False when the body names no item of this task (kept
    out, answered all the same), True when its item was merged over the last one and the job's
    worker woken (`callback_ms`)."""
    row = session.get(UpstreamTask, job_id)
    if row is None or not hmac.compare_digest(row.secret.encode(), secret.encode()):
        return None
    item = _callback_item(payload, row.task_id)
    if item is None:
        return False
    merged = dict(row.callback_item or {})
    merged.update({k: v for k, v in item.items() if v not in (None, "", [])})
    row.callback_item = merged
    row.callback_ms = now_ms()
    return True


def _callback_item(payload: object, task_id: str | None) -> dict[str, object] | None:
    """The item of `task_id` in a callback body (any item when the id is not stored yet: the
    callback can outrun the worker's write of the id the upstream returned)."""
    if not isinstance(payload, dict):
        return None
    inner = payload.get("data")
    data = inner if isinstance(inner, dict) else payload
    for name in _CALLBACK_LISTS:
        for item in data.get(name) or []:
            if isinstance(item, dict) and (task_id is None or item.get("item_id") == task_id):
                return item
    return None


def _lock(session: Session) -> None:
    """A write transaction before the count, so two workers cannot both take a key's last slot."""
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        conn = session.connection()
        if not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        session.execute(select(UpstreamKey.id).with_for_update())


@dataclass(frozen=True)
class Lease:
    key_id: int
    base_url: str
    api_key: str = field(repr=False)


@dataclass(frozen=True)
class SourceTask:
    """The upstream work an extension continues (`ExtensionSource` of the engine's ledger)."""

    task_id: str
    key_id: int
    start_time: float


def source_task(session: Session, source_job_id: str) -> UpstreamTask | None:
    """The finished upstream task that made job `source_job_id`, or None (made by another engine,
    or its task never finished). Its `task_id` is the platform's own item id of the work."""
    row = session.get(UpstreamTask, source_job_id)
    if row is None or row.state != "done" or not row.task_id or row.key_id is None:
        return None
    return row


class JobLedger:
    """One job's view of the pool (the `TaskLedger` protocol of songforge.engines.tempolor)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        job_id: str,
        attend: Callable[[str], bool] | None = None,
    ) -> None:
        """`attend(item_id)`: the worker's way to run a queued job now, if it can still claim it
        (True when it ran); what `attend_unattended` runs a slot's holder with. None: never."""
        self._db = db
        self._attend = attend
        self._box = key_box(settings.data_dir)
        self._job_id = job_id
        self._timeout = float(settings.job_timeout_seconds)
        self._seen_callback: int | None = None
        with db.session() as s:
            row = s.get(UpstreamTask, job_id)
            if row is None:
                now = now_ms()
                row = UpstreamTask(
                    job_id=job_id,
                    state="idle",
                    secret=secrets.token_urlsafe(24),
                    created_ms=now,
                    updated_ms=now,
                )
                s.add(row)
            self._secret = row.secret
            self._seen_callback = row.callback_ms
        # The public base URL (SONGFORGE_PUBLIC_URL) the platform can reach; without it, the bind
        # address (which a platform on the internet cannot reach: polling then does the work).
        self._callback_url = settings.base_url.rstrip("/") + callback_path(job_id, self._secret)

    def __repr__(self) -> str:
        return f"JobLedger({self._job_id!r})"

    @property
    def job_id(self) -> str:
        return self._job_id

    @property
    def callback_url(self) -> str:
        return self._callback_url

    @property
    def timeout_seconds(self) -> float:
        return self._timeout

    def _lease(self, key: UpstreamKey) -> Lease:
        try:
            api_key = self._box.decrypt(key.key_cipher.encode()).decode()
        except InvalidToken:
            raise UpstreamSecretError(
                f"upstream key {key.id} cannot be decrypted: SONGFORGE_UPSTREAM_SECRET or {KEY_FILE} changed"
            ) from None
        return Lease(key.id, key.base_url, api_key)

    def recorded(self) -> tuple[Lease, str] | None:
        with self._db.session() as s:
            row = s.get(UpstreamTask, self._job_id)
            if row is None or row.state != "sent" or not row.task_id or row.key_id is None:
                return None
            key = s.get(UpstreamKey, row.key_id)
            if key is None:
                return None
            return self._lease(key), row.task_id

    def extension(self) -> SourceTask | None:
        """The upstream work this job extends (its request's `extend` block names the source job),
        or None for a job that extends nothing."""
        with self._db.session() as s:
            job = s.get(Job, self._job_id)
            ext = (job.request or {}).get("extend") if job is not None else None
            if not isinstance(ext, dict) or not ext.get("item_id"):
                return None
            source_id = str(ext["item_id"])
            row = source_task(s, source_id)
            if row is None:
                raise EngineError(
                    f"The work to extend ({source_id}) was not made by the TemPolor upstream, "
                    "which can extend only its own works"
                )
            assert row.task_id is not None and row.key_id is not None
            return SourceTask(row.task_id, row.key_id, float(ext.get("start_time") or 0))

    def acquire(self, key_id: int | None = None) -> Lease | None:
        """The active key with the most free slots (ties: the fewest busy, then the oldest), its
        slot taken in the same write transaction as the count; None while all are full. With
        `key_id`, only that key (an extension goes to the key whose account holds its source)."""
        with self._db.session() as s:
            _lock(s)
            keys = list(s.scalars(select(UpstreamKey).order_by(UpstreamKey.id)))
            if key_id is not None:
                keys = [k for k in keys if k.id == key_id]
                if not keys:
                    raise NoUsableKey(
                        f"The upstream key that made the work to extend (key {key_id}) was removed"
                    )
            active = [k for k in keys if k.state == ACTIVE]
            if not active:
                raise NoUsableKey(_no_key_reason(keys))
            busy = busy_slots(s, exclude_job=self._job_id)
            free = [(k.max_jobs - busy.get(k.id, 0), -busy.get(k.id, 0), -k.id, k) for k in active]
            free = [f for f in free if f[0] > 0]
            if not free:
                return None
            key = max(free, key=lambda f: f[:3])[3]
            row = s.get(UpstreamTask, self._job_id)
            assert row is not None
            row.key_id, row.task_id, row.state, row.updated_ms = key.id, None, "reserved", now_ms()
            return self._lease(key)

    def unattended(self, key_id: int | None = None) -> list[str]:
        """The queued jobs (not this one) holding a slot of an active key (only key `key_id` when
        given), oldest first: their task was reserved or sent, then they went back to the queue (a
        restart, a dead worker) and no worker polls them. Their slots count all the same, rightly:
        the platform runs their tasks."""
        holding = [
            UpstreamTask.state.in_(_HOLDING),
            UpstreamTask.job_id != self._job_id,
            Job.state == "queued",  # core.states.JobState.QUEUED (store imports no core)
            UpstreamKey.state == ACTIVE,
        ]
        if key_id is not None:
            holding.append(UpstreamKey.id == key_id)
        with self._db.session() as s:
            return list(
                s.scalars(
                    select(UpstreamTask.job_id)
                    .join(Job, Job.item_id == UpstreamTask.job_id)
                    .join(UpstreamKey, UpstreamKey.id == UpstreamTask.key_id)
                    .where(*holding)
                    .order_by(Job.queued_ms, Job.created_ms, Job.item_id)
                    .limit(8)
                )
            )

    def attend_unattended(self, key_id: int | None = None) -> bool:
        """Runs the first unattended holder (`unattended`) this worker can still claim, through
        the worker's `attend`; False when there is none (or no `attend`): then the slots' holders
        are being run, and their slots come free when they end."""
        if self._attend is None:
            return False
        return any(self._attend(item_id) for item_id in self.unattended(key_id))

    def sent(self, lease: Lease, task_id: str) -> None:
        self._set(state="sent", key_id=lease.key_id, task_id=task_id)

    def release(self) -> None:
        self._set(state="idle", key_id=None, task_id=None)

    def finish(self, ok: bool) -> None:
        self._set(state="done" if ok else "failed")

    def _set(self, **values: object) -> None:
        with self._db.session() as s:
            s.execute(
                update(UpstreamTask)
                .where(UpstreamTask.job_id == self._job_id)
                .values(**values, updated_ms=now_ms())
            )

    def pause_key(self, key_id: int, reason: str) -> None:
        with self._db.session() as s:
            set_key_state(s, key_id, PAUSED, reason)

    def disable_key(self, key_id: int, reason: str) -> None:
        with self._db.session() as s:
            set_key_state(s, key_id, DISABLED, reason)

    def callback_result(self) -> dict[str, Any] | None:
        """The item the upstream's callbacks reported for this job's task, or None."""
        with self._db.session() as s:
            row = s.get(UpstreamTask, self._job_id)
            if row is None or not row.callback_item:
                return None
            item = dict(row.callback_item)
            if row.task_id and item.get("item_id") not in (None, row.task_id):
                return None
            return item

    def callback_arrived(self) -> bool:
        with self._db.session() as s:
            seen = s.scalar(select(UpstreamTask.callback_ms).where(UpstreamTask.job_id == self._job_id))
        if seen is not None and seen != self._seen_callback:
            self._seen_callback = seen
            return True
        return False
