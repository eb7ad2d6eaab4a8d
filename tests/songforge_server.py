"""A REAL Songforge server process on a free port with its own data dir.

`server` (function scope) is a started server with one token. `make_server(**options)` starts
more (e.g. with other workers or env). Each is a `ServerProcess`:

    base_url        "http://127.0.0.1:<port>"   (the API lives under base_url + "/v1/tempolor")
    api             base_url + "/v1/tempolor"
    token           a Bearer token created with `songforge token create` (the CLI, last line)
    signing_secret  that token's "whsec_..." callback signing secret
    tenant_id       that token's tenant id (the number inside job ids)
    data_dir        Path of the server's data dir (SQLite db, blobs, server.log)
    headers         {"Authorization": "Bearer <token>"}
    start()         start (again) and wait for /healthz; same port and data dir
    stop()          SIGTERM and wait (graceful)
    kill()          SIGKILL the server process (its workers die with it)
    restart()       stop() then start()
    create_token(name) -> (token, signing_secret, tenant_id)   a second tenant, via the CLI
    client(token=None) -> httpx.Client with base_url=api and that token (default: self.token)
    log()           the server's output so far (handy in assertion messages)

Generation length: servers started here set SONGFORGE_MAX_SECONDS_OVERRIDE (default 6 s of
music) so that end-to-end tests stay fast; pass `max_seconds=None` to exercise the real default
lengths (tests/e2e/test_default_lengths.py does, once).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "/v1/tempolor"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(
    *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Runs `python -m songforge <args>` and returns the completed process."""
    return subprocess.run(
        [sys.executable, "-m", "songforge", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=check,
        timeout=120,
    )


class ServerProcess:
    def __init__(
        self,
        data_dir: Path,
        *,
        workers: int = 1,
        max_seconds: float | None = 6.0,
        env: dict[str, str] | None = None,
        extra_args: tuple[str, ...] = (),
        allow_private_callbacks: bool | None = True,  # None: no flag (the deployment's stored policy)
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.api = self.base_url + PREFIX
        self.workers = workers
        self.extra_args = extra_args
        self.allow_private_callbacks = allow_private_callbacks
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        if max_seconds is not None:
            self.env["SONGFORGE_MAX_SECONDS_OVERRIDE"] = str(max_seconds)
        else:
            self.env.pop("SONGFORGE_MAX_SECONDS_OVERRIDE", None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.token = ""
        self.signing_secret = ""
        self.tenant_id = ""
        self._log_path = self.data_dir / "server.log"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def log(self) -> str:
        try:
            return self._log_path.read_text(errors="replace")[-8000:]
        except FileNotFoundError:
            return ""

    def start(self, timeout: float = 60.0) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        private = {True: ("--allow-private-callbacks",), False: ("--no-allow-private-callbacks",), None: ()}
        args = [
            sys.executable, "-m", "songforge", "serve",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--data-dir", str(self.data_dir), "--workers", str(self.workers),
            *private[self.allow_private_callbacks],
            *self.extra_args,
        ]  # fmt: skip
        log = open(self._log_path, "ab")  # noqa: SIM115 - the child keeps writing to it
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=ROOT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server did not become healthy in {timeout}s:\n{self.log()}")

    def create_token(self, name: str = "test") -> tuple[str, str, str]:
        result = cli("token", "create", "--data-dir", str(self.data_dir), "--name", name, env=self.env)
        lines = result.stdout.strip().splitlines()
        token = lines[-1].strip()
        secret = next(line.split()[2] for line in lines if line.startswith("Signing secret:"))
        tenant = next(line.split()[1] for line in lines if line.startswith("Tenant:"))
        return token, secret, tenant

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def kill(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def restart(self) -> ServerProcess:
        self.stop()
        return self.start()

    def client(self, token: str | None = None, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(
            base_url=self.api,
            headers={"Authorization": f"Bearer {token if token is not None else self.token}"},
            timeout=timeout,
        )
