"""What every process of one deployment shares and must agree on, kept in its database.

Why the database: it is the one thing every API and worker of a deployment already shares (the
queue broker is optional, and per-process flags are what went wrong). Two facts live here, in the
`deployment_settings` table:

- The deployment id, a uuid written by the first `songforge serve` or `songforge worker` to start
  on the database (`deployment_id`). With a queue broker the processes also store it there and
  compare (`songforge.workers.distributed.claim_broker`): a process whose database and broker hold
  different ids belongs to another deployment than the broker's other users, and refuses to start.
- The callback-target policy: whether replyUrl / callback_url targets on private or loopback
  addresses are allowed. The API's submit check and every outbox sender (the API's, a local pool's
  server, each `songforge worker`) read it through `private_callbacks_allowed`, so a target that was
  accepted at submit is never refused at delivery by a process started with other flags.
  `songforge serve` writes it at start (its `--allow-private-callbacks/--no-...` flag, else its own
  default: allowed only on a loopback `--host`); `songforge deployment private-callbacks` sets it
  without a restart. Where nothing is stored (a database no API has started on, the in-process
  apps of the tests), each process falls back on `Settings.private_callbacks_allowed()`.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError

from songforge.clock import now_ms
from songforge.config import Settings
from songforge.store.db import Database
from songforge.store.models import DeploymentSetting

__all__ = [
    "POLICY_TTL_S",
    "CallbackPolicy",
    "deployment_id",
    "private_callbacks_allowed",
    "set_callback_policy",
    "stored_callback_policy",
    "stored_deployment_id",
]

DEPLOYMENT_ID = "deployment_id"
PRIVATE_CALLBACKS = "private_callbacks"
ALLOWED, REFUSED = "allowed", "refused"
# How long a process keeps the policy it read before reading it again: a change reaches every
# process of the deployment within this time (the submit check runs per request, the sender per
# attempt; neither should cost a query each time).
POLICY_TTL_S = 5.0


@dataclass(frozen=True)
class CallbackPolicy:
    """The deployment's stored callback-target policy."""

    allowed: bool
    explicit: bool  # an operator's choice; False: an API's default, re-derived at each API start
    set_by: str
    updated_ms: int

    def describe(self) -> str:
        when = datetime.fromtimestamp(self.updated_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        what = "allowed" if self.allowed else "refused"
        return f"private/loopback callback targets {what} (set by {self.set_by}, {when})"


def _read(db: Database, name: str) -> DeploymentSetting | None:
    with db.session() as s:
        return s.get(DeploymentSetting, name)


def stored_deployment_id(db: Database) -> str | None:
    row = _read(db, DEPLOYMENT_ID)
    return row.value if row is not None else None


def deployment_id(db: Database) -> str:
    """The deployment's id, written now (a fresh uuid) if this is the database's first start.
    Safe against racing first starts: the primary key lets one insert win, and all read it."""
    existing = stored_deployment_id(db)
    if existing is not None:
        return existing
    try:
        with db.session() as s:
            s.add(
                DeploymentSetting(
                    name=DEPLOYMENT_ID,
                    value=str(uuid.uuid4()),
                    explicit=True,
                    set_by="first start",
                    updated_ms=now_ms(),
                )
            )
    except IntegrityError:
        pass  # another process's first start won
    stored = stored_deployment_id(db)
    assert stored is not None
    return stored


def stored_callback_policy(db: Database) -> CallbackPolicy | None:
    """The policy as stored now (no cache), or None where nothing is stored."""
    row = _read(db, PRIVATE_CALLBACKS)
    if row is None:
        return None
    return CallbackPolicy(
        allowed=row.value == ALLOWED,
        explicit=bool(row.explicit),
        set_by=row.set_by,
        updated_ms=row.updated_ms,
    )


def set_callback_policy(db: Database, allowed: bool, *, explicit: bool, set_by: str) -> CallbackPolicy | None:
    """Stores the policy for every process of the deployment; returns the one it replaced."""
    previous = stored_callback_policy(db)
    values = {
        "value": ALLOWED if allowed else REFUSED,
        "explicit": explicit,
        "set_by": set_by[:200],
        "updated_ms": now_ms(),
    }
    for _ in range(2):  # a racing first write may insert the row between our read and our insert
        try:
            with db.session() as s:
                row = s.get(DeploymentSetting, PRIVATE_CALLBACKS)
                if row is None:
                    s.add(DeploymentSetting(name=PRIVATE_CALLBACKS, **values))
                else:
                    for key, value in values.items():
                        setattr(row, key, value)
            break
        except IntegrityError:
            continue
    with _cache_lock:
        _cache.pop(db.url, None)
    return previous


# db.url -> (monotonic time read, the stored policy or None)
_cache: dict[str, tuple[float, CallbackPolicy | None]] = {}
_cache_lock = threading.Lock()


def private_callbacks_allowed(db: Database, settings: Settings) -> bool:
    """Whether private/loopback callback targets are allowed: the deployment's stored policy (read
    at most every POLICY_TTL_S), else this process's own default (`Settings.private_callbacks_allowed`)."""
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(db.url)
    if cached is None or now - cached[0] > POLICY_TTL_S:
        cached = (now, stored_callback_policy(db))
        with _cache_lock:
            _cache[db.url] = cached
    policy = cached[1]
    return policy.allowed if policy is not None else settings.private_callbacks_allowed()
