"""`songforge serve --api-processes N`: HTTP answered by N processes on one listening socket.

Why: a Python process answers requests on one core at a time (the GIL), and status polls are most
of what a busy server answers; with generation running on the other cores, one process saturated
near 2,700 polls/s with p99 over 40 ms (benchmarks/api_load.py). The first process is the whole
server (workers, callback delivery, maintenance) and binds the socket; the others serve the API
alone (`create_app(run_workers=False, run_background=False)`), accepting from the same socket, as
scale-out API nodes do from a load balancer. What they share goes through the database, with the
same consequences as between API nodes: a revoked token stops working in every process within the
token cache's lifetime, and failed sign-ins are counted in the database, once for all of them
(`songforge.store.auth_failures`). Two is the default on two cores or more
(`config.default_api_processes`). Jobs they admit wake the
first process's workers through `songforge.workers.wake_relay`.

They are supervised by the first (`workers.supervisor`: restarted when one exits, stopped
gracefully with it, killed at once when it is killed) and started only after it has brought the
schema up to date, so two processes never migrate one database at once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import threading
from typing import Any

import uvicorn

from songforge.config import Settings
from songforge.server import create_app
from songforge.workers.prctl import name_this_process
from songforge.workers.supervisor import Supervisor
from songforge.workers.wake_relay import WakeSender, new_address

log = logging.getLogger("songforge.serve")

SUPERVISE_SECONDS = 1.0


def _uvicorn_config(app: Any, settings: Settings, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
    )


def api_child(settings: Settings, sock: socket.socket, wake_address: str | None, log_level: str) -> None:
    """One of the API-only processes (a module-level function: the supervisor spawns it)."""
    name_this_process(b"songforge-api")  # so an operator (and a test) tells them from the workers
    logging.basicConfig(level=getattr(logging, log_level.upper(), logging.INFO))
    app = create_app(settings, run_workers=False, run_background=False, freeze_heap=True)
    if wake_address is not None:
        app.state.db.on_jobs_queued(WakeSender(wake_address))
    uvicorn.Server(_uvicorn_config(app, settings, log_level)).run(sockets=[sock])


def serve(settings: Settings, log_level: str) -> None:
    """Runs the server in this process, with `settings.api_processes - 1` API-only processes
    beside it once this one is up."""
    extra = max(0, settings.api_processes - 1)
    wake_address = new_address() if extra and settings.workers > 0 and not settings.queue_url else None
    app = create_app(settings, wake_address=wake_address, freeze_heap=True)
    config = _uvicorn_config(app, settings, log_level)
    sock = config.bind_socket()
    if not extra:
        uvicorn.Server(config).run(sockets=[sock])
        return
    supervisor = Supervisor(
        api_child,
        extra,
        lambda _slot: (settings, sock, wake_address, log_level),
        name="songforge-api",
        # On a kill -9 of this process: gone at once, not after a graceful stop of up to 5 s during
        # which a server restarted on the same port would find it still answering.
        death_signal=signal.SIGKILL,
    )
    server = _FirstServer(config, supervisor)
    watcher = threading.Thread(
        target=_supervise, args=(server, supervisor), name="api-processes", daemon=True
    )
    watcher.start()
    try:
        server.run(sockets=[sock])  # a stop by signal ends the process by that signal, in here
    finally:
        server.stop_others()


class _FirstServer(uvicorn.Server):
    """Stops the other processes while this one shuts down: uvicorn re-raises the signal that
    stopped it as its `run` returns, so nothing after `run` would get to."""

    def __init__(self, config: uvicorn.Config, supervisor: Supervisor) -> None:
        super().__init__(config)
        self.supervisor = supervisor

    def stop_others(self) -> None:
        self.supervisor.stop()  # sets `stopping` first, so the watcher starts nothing more

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        others = asyncio.create_task(asyncio.to_thread(self.stop_others))
        await super().shutdown(sockets)
        await others


def _supervise(server: uvicorn.Server, supervisor: Supervisor) -> None:
    """Starts the other processes once this one has started (its lifespan upgraded the schema),
    then keeps them running until it stops."""
    while not server.started:
        if supervisor.stopping.wait(0.05) or server.should_exit:
            return
    while not supervisor.stopping.is_set() and not server.should_exit:
        supervisor.check()
        supervisor.stopping.wait(SUPERVISE_SECONDS)
    # The children were started by this thread, and the kernel sends their death signal (SIGKILL)
    # when it ends: it must outlive the graceful stop, or that stop would become a kill.
    supervisor.stopped.wait()
