"""Failed authentication, made cheap and slow: a per-address limit and a short memory of misses.

Why: 2,424 wrong tokens in 8 s were all answered 401, each after a database lookup, so a client
could guess as fast as the database answered and load it for every other tenant. Now:

- Every failed credential (a token or key that reached a lookup and matched nothing) counts against
  the client's address; past `max_failures` within `window_s` the address gets 429 with
  `Retry-After` for any credential this process has not seen succeed recently, before any lookup.
  A client that keeps its valid token keeps working, even behind the same NAT as a guesser.
- An unknown credential's hash is remembered for `miss_ttl_s`, so repeating it costs no lookup and
  does not count as another failure (it is no new guess). The memory is short because a token
  created meanwhile (the CLI, another process) must start working.
- Behind a reverse proxy every client shares the proxy's address; the client's own address is then
  taken from `X-Forwarded-For`, but only when the connection comes from `SONGFORGE_TRUSTED_PROXIES`.

The failure counts are shared by every API process through the database (`shared`, the server
wires `database_counter`): a client's connections land on whichever process accepts them, and counts
kept per process gave an address the limit once per process. The check before a lookup stays in
memory; a process learns an address's shared count at the next failure of it that it sees, so with N
processes an address gets at most `max_failures + N - 1` counted failures in a window. If the database
cannot count one, this process counts it alone. The misses and successes stay per process: they save
lookups and decide nothing. Memory is bounded by `max_entries` per table.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from starlette.requests import Request

from songforge.clock import now_ms
from songforge.config import Settings
from songforge.store.auth_failures import count_failure
from songforge.store.db import Database

__all__ = ["AuthGuard", "SharedCount", "client_address", "database_counter"]

log = logging.getLogger("songforge.auth")

# Counts one failure of an address where every process sees it; returns (seconds since that
# address's window began, failures in the window).
SharedCount = Callable[[str], tuple[float, int]]
# Where failures counted on the event loop are written (one thread: they are rare, and in order).
_SHARED_COUNTS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="auth-failures")

MISS_TTL_SECONDS = 5.0
GOOD_TTL_SECONDS = 300.0
WINDOW_SECONDS = 60.0


class AuthGuard:
    """The failure counts per address and the recent misses and successes, by credential hash."""

    def __init__(
        self,
        max_failures: int = 30,
        window_s: float = WINDOW_SECONDS,
        miss_ttl_s: float = MISS_TTL_SECONDS,
        good_ttl_s: float = GOOD_TTL_SECONDS,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        shared: SharedCount | None = None,
    ) -> None:
        self.max_failures = max(1, max_failures)
        self.window_s = window_s
        self.miss_ttl_s = miss_ttl_s
        self.good_ttl_s = good_ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._shared = shared
        self._lock = threading.Lock()  # dependencies run on the event loop and in the thread pool
        self._failures: dict[str, tuple[float, int]] = {}  # address -> (window start, count)
        self._misses: dict[str, float] = {}  # credential hash -> expiry
        self._good: dict[str, float] = {}  # credential hash -> expiry

    def retry_after(self, address: str, digest: str) -> int | None:
        """Seconds `address` must wait before this credential is looked up, or None to go ahead."""
        now = self._clock()
        with self._lock:
            if self._good.get(digest, 0.0) > now:
                return None
            start, count = self._failures.get(address, (now, 0))
            if count < self.max_failures or now - start >= self.window_s:
                return None
            return max(1, math.ceil(start + self.window_s - now))

    def failed(self, address: str) -> None:
        """Counts a failed credential from `address`. Off the event loop the shared count is waited
        for (a database write); on it, the write goes to a thread of its own and this process's count
        takes the shared one when it comes: a write may wait for SQLite's lock, and the loop answers
        every other request meanwhile."""
        self._count_here(address, None)
        if self._shared is None:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._count_shared(address)
        else:
            _SHARED_COUNTS.submit(self._count_shared, address)

    def _count_shared(self, address: str) -> None:
        assert self._shared is not None
        try:
            counted = self._shared(address)
        except Exception:  # noqa: BLE001 - the limit holds on this process's own count meanwhile
            log.exception("could not count a failed sign-in in the database; counted in this process only")
            return
        self._count_here(address, counted)

    def _count_here(self, address: str, counted: tuple[float, int] | None) -> None:
        """One more failure in this process's table, or (`counted`) the shared window and count, which
        include this process's failures, where they say more."""
        now = self._clock()
        with self._lock:
            start, count = self._failures.get(address, (now, 0))
            if now - start >= self.window_s:
                start, count = now, 0
            if counted is not None:
                if counted[1] >= count:
                    self._failures[address] = (now - counted[0], counted[1])
                return
            if address not in self._failures and len(self._failures) >= self.max_entries:
                self._failures = {a: v for a, v in self._failures.items() if now - v[0] < self.window_s}
                if len(self._failures) >= self.max_entries:
                    self._failures.clear()
            self._failures[address] = (start, count + 1)

    def known_miss(self, digest: str) -> bool:
        with self._lock:
            return self._misses.get(digest, 0.0) > self._clock()

    def missed(self, digest: str) -> None:
        with self._lock:
            if len(self._misses) >= self.max_entries:
                self._misses.clear()
            self._misses[digest] = self._clock() + self.miss_ttl_s

    def succeeded(self, digest: str) -> None:
        with self._lock:
            if len(self._good) >= self.max_entries:
                self._good.clear()
            self._good[digest] = self._clock() + self.good_ttl_s
            self._misses.pop(digest, None)


def database_counter(db: Database, window_s: float) -> SharedCount:
    """`AuthGuard`'s `shared` counter in `db` (`songforge.store.auth_failures`)."""
    window_ms = int(window_s * 1000)

    def count(address: str) -> tuple[float, int]:
        t = now_ms()
        start, failures = count_failure(db, address, window_ms, now=t)
        return max(0.0, (t - start) / 1000.0), failures

    return count


def _in_networks(address: str, entries: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in entries:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def client_address(request: Request, settings: Settings) -> str:
    """The address failures are counted against: the peer, or, when the peer is a trusted proxy,
    the nearest address in `X-Forwarded-For` that is not one (the proxies append, so the ones to
    its left are the client's own words)."""
    peer = request.client.host if request.client is not None else ""
    if not settings.trusted_proxies or not _in_networks(peer, settings.trusted_proxies):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _in_networks(hop, settings.trusted_proxies):
            return hop
    return peer
