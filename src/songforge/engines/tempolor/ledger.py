"""What the upstream engine needs from the process that runs it: keys, slots and a task record.

Why a protocol: engines know no storage (tests/test_layout.py), yet this engine must reserve a
key's slot where every worker process sees it, store the upstream task id before it polls (so a
restarted worker resumes the task instead of paying for a second one), and pause or disable a key
the platform refused. The worker binds an implementation backed by the database
(`songforge.store.upstream.JobLedger`) to the engine before each job; the engine only calls it.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["ExtensionSource", "KeyLease", "TaskLedger"]


class KeyLease(Protocol):
    """One key of the pool with a slot reserved for this job. `api_key` is the decrypted key: it
    is sent, never logged (its dataclass hides it from repr)."""

    @property
    def key_id(self) -> int: ...
    @property
    def base_url(self) -> str: ...
    @property
    def api_key(self) -> str: ...


class ExtensionSource(Protocol):
    """What an extension job continues on the upstream: the platform's own item id of the source
    work (stored with the source's upstream task) and the key that made it (the item belongs to
    that key's platform account, so only that key may extend it)."""

    @property
    def task_id(self) -> str: ...
    @property
    def key_id(self) -> int: ...
    @property
    def start_time(self) -> float: ...


class TaskLedger(Protocol):
    """One job's view of the pool. Every method commits before it returns."""

    @property
    def job_id(self) -> str: ...
    @property
    def callback_url(self) -> str: ...
    @property
    def timeout_seconds(self) -> float: ...

    def recorded(self) -> tuple[KeyLease, str] | None:
        """The key and upstream task id this job already sent, or None (nothing sent yet)."""

    def extension(self) -> ExtensionSource | None:
        """The upstream work this job extends, or None when the job is no extension; raises an
        EngineError when its source has no upstream task (a work the upstream did not make)."""

    def acquire(self, key_id: int | None = None) -> KeyLease | None:
        """Reserves a slot on the active key with the most free slots (only key `key_id` when
        given); None while every such key is at its limit; raises an EngineError naming each key's
        state when none is active."""

    def attend_unattended(self, key_id: int | None = None) -> bool:
        """While `acquire` finds every key full: runs, here and now, a queued job that holds one of
        those slots (its task was sent, then its worker died or the server restarted, and it waits
        in the queue for a worker to poll it again); True when one ran, so the slot may be free.
        Without this, jobs waiting for a slot could take every worker while the job holding it
        waits behind them in the queue, forever (issue 17: after a restart, one worker)."""

    def sent(self, lease: KeyLease, task_id: str) -> None:
        """Stores the upstream task id for this job (the slot stays taken)."""

    def release(self) -> None:
        """Frees this job's slot before anything was sent (busy, bad key, timeout)."""

    def finish(self, ok: bool) -> None:
        """The upstream task ended; its slot is free."""

    def pause_key(self, key_id: int, reason: str) -> None:
        """No more tasks for this key until an operator resumes it (out of points)."""

    def disable_key(self, key_id: int, reason: str) -> None:
        """The platform refused the key itself; no more tasks for it."""

    def callback_result(self) -> dict[str, Any] | None:
        """The task's item as the upstream's callbacks reported it (fields of later events over
        earlier ones), or None when none came."""

    def callback_arrived(self) -> bool:
        """True once since the last call if the upstream's callback for this job came in."""
