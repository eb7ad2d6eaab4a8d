"""Wake-ups for the worker pool from API processes that do not own it.

With `songforge serve --api-processes N`, the processes after the first answer HTTP only; the
pool's idle workers wait on pipes that only the first process holds. A job admitted by another
process must wake them as quickly as one admitted by the first (a pipe write, not the workers'
0.2 s fallback poll), so each of those processes sends the new jobs' ids, after its commit, in one
datagram to a Unix socket the first process listens on, and that process writes its usual wake
lines (`WorkerPool.wake_up`). A datagram is never waited for: one dropped (a full buffer, the
first process restarting) costs only the poll's delay, as before.

The address is in Linux's abstract namespace: no file to clean up after a `kill -9`, and no path
length limit under a deep data dir.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Callable

log = logging.getLogger("songforge.wake_relay")

# Larger batches wake every idle worker without naming the jobs (they claim in queue order).
MAX_DATAGRAM = 16 * 1024


def new_address() -> str:
    return f"\0songforge-wake-{os.getpid()}-{secrets.token_hex(6)}"


class WakeSender:
    """A `Database.on_jobs_queued` hook: sends the committed jobs' ids to the pool's process."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setblocking(False)

    def __call__(self, item_ids: list[str]) -> None:
        payload = " ".join(item_ids).encode("ascii", "replace")
        if len(payload) > MAX_DATAGRAM:
            payload = b""
        try:
            self.sock.sendto(payload, self.address)
        except OSError as exc:  # BlockingIOError (full), ConnectionRefusedError (not listening yet)
            log.debug("wake-up not relayed (%s); the workers' poll finds the job", exc)

    def close(self) -> None:
        self.sock.close()


class WakeListener:
    """Reads relayed wake-ups on the running loop and passes each to `wake(item_ids or None)`."""

    def __init__(self, address: str, wake: Callable[[list[str] | None], None]) -> None:
        self.wake = wake
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.setblocking(False)
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.sock.fileno(), self._read)

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(MAX_DATAGRAM + 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                log.exception("wake relay socket failed")
                return
            self.wake(data.decode("ascii", "replace").split() or None)

    def close(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self.sock.fileno())
            self._loop = None
        self.sock.close()
