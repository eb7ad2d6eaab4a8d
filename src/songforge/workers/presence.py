"""A distributed worker's presence: one Redis connection named after it, open while it lives.

Why: a `songforge worker` killed mid-job (kill -9, the OOM killer, a crash) held its job until the
lease ran out, 28-29 s with the account's slot taken (`benchmarks/recovery.py --queue`). A shorter
lease is no cure: a loaded machine starves the heartbeat of a live worker and its job is taken from
it. The kernel closes a dead process's sockets at once, and Redis drops the connection with them, so
the other workers' maintenance rounds see the name gone from `CLIENT LIST` and requeue the job
(`core.queue.recover_worker`) without waiting. The lease stays the backstop for what closes no
socket (a host lost, a network cut) and for a broker that refuses `CLIENT LIST`.

Only workers that announced themselves (a set in Redis) are watched, so a job held by anything else
waits for its lease as before. A worker is taken for dead when it was absent at two looks at least
`ABSENT_SECONDS` apart, so a connection being made again (a Redis restart, a blip; each worker pings
every `BEAT_SECONDS` and reconnects at once) is not mistaken for a death.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis

log = logging.getLogger("songforge.presence")

PRESENT_KEY = "songforge:present-workers"
NAME_PREFIX = "songforge-worker:"
BEAT_SECONDS = 1.0
ABSENT_SECONDS = 3.0


def _client(url: str, name: str | None = None) -> redis.Redis:
    # A pool used by one thread at a time keeps one connection open between commands, and makes it
    # again (named, as every connection it opens) at the next command after a drop; nothing connects
    # before the first command, so a worker starting while Redis is down is not refused here.
    return redis.Redis.from_url(url, client_name=name, socket_connect_timeout=3, socket_timeout=5)


class Presence:
    """The worker's side: announce, keep the named connection open, leave on a graceful stop."""

    def __init__(self, url: str, worker_id: str) -> None:
        self.worker_id = worker_id
        self.client = _client(url, NAME_PREFIX + worker_id)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> None:
        """(Re)announces; a dropped connection is made again, with its name, by this command."""
        self.client.sadd(PRESENT_KEY, self.worker_id)

    def start(self) -> None:
        self.beat()
        self._thread = threading.Thread(target=self._run, name="presence", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        failing = False
        while not self._stop.wait(BEAT_SECONDS):
            try:
                self.beat()
                failing = False
            except redis.RedisError as exc:
                if not failing:  # once per outage
                    log.warning("presence: the queue is unreachable (%s); reconnecting", exc)
                failing = True

    def leave(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2 * BEAT_SECONDS)
        try:
            self.client.srem(PRESENT_KEY, self.worker_id)
        except redis.RedisError:
            pass  # then the others find it absent and, holding no job, forget it
        finally:
            self.client.close()


class DeathWatch:
    """The watchers' side: which announced workers have had no connection for a while."""

    def __init__(self, url: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = _client(url)
        self._clock = clock
        self._absent_since: dict[str, float] = {}
        self.enabled = True

    def dead(self) -> list[str]:
        """Announced workers absent at this look and at one `ABSENT_SECONDS` or more before."""
        if not self.enabled:
            return []
        try:
            announced = {m.decode() for m in self.client.smembers(PRESENT_KEY)}  # type: ignore[union-attr]
            clients = self.client.client_list()
        except redis.ResponseError as exc:  # e.g. a managed Redis that refuses CLIENT LIST
            log.warning("presence: %s; a dead worker's job waits for its lease", exc)
            self.enabled = False
            return []
        except redis.RedisError:  # unreachable: nothing is known, so nothing is concluded
            return []
        # Connections to this database index only: a deployment sharing a Redis server with another
        # on another index watches its own workers.
        db = str(self.client.connection_pool.connection_kwargs.get("db", 0))
        names = {str(c.get("name") or "") for c in clients if str(c.get("db", "0")) == db}
        connected = {n[len(NAME_PREFIX) :] for n in names if n.startswith(NAME_PREFIX)}
        now = self._clock()
        absent = announced - connected
        self._absent_since = {w: self._absent_since.get(w, now) for w in absent}
        return sorted(w for w, since in self._absent_since.items() if now - since >= ABSENT_SECONDS)

    def forget(self, worker_ids: list[str]) -> None:
        """After their jobs were recovered: no longer announced, no longer watched. Unreachable, they
        stay announced, and the next look finds them dead again, holding nothing."""
        if not worker_ids:
            return
        for worker_id in worker_ids:
            self._absent_since.pop(worker_id, None)
        try:
            self.client.srem(PRESENT_KEY, *worker_ids)
        except redis.RedisError:
            pass

    def close(self) -> None:
        self.client.close()
