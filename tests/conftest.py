"""Shared fixtures: a REAL Songforge server process on a free port with its own data dir.

`server` (function scope) is a started server with one token; `make_server(**options)` starts
more. Both yield `songforge_server.ServerProcess` objects; see that module for the attributes
(base_url, api, token, signing_secret, tenant_id, data_dir, headers, start(), stop(), kill(),
restart(), create_token(name), client(token), log()).

Generation length: servers started here set SONGFORGE_MAX_SECONDS_OVERRIDE (default 6 s of
music) so that end-to-end tests stay fast; pass `max_seconds=None` for the real default lengths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from songforge_server import ServerProcess, cli, free_port

__all__ = ["ServerProcess", "cli", "free_port"]


@pytest.fixture(autouse=True, scope="session")
def _wired() -> None:
    """The test process writes job changes (tests drive core/queue and the workers in-process),
    so like every Songforge process it registers the dialects' event subscribers first."""
    from songforge.wiring import install

    install()


@pytest.fixture
def make_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., ServerProcess]]:
    """Factory: make_server(workers=1, max_seconds=6.0, env=None, extra_args=(),
    allow_private_callbacks=True, token=True) -> a started ServerProcess (with a token)."""
    started: list[ServerProcess] = []

    def factory(*, token: bool = True, **options: object) -> ServerProcess:
        server = ServerProcess(tmp_path_factory.mktemp("songforge-data"), **options)  # type: ignore[arg-type]
        started.append(server)
        server.start()
        if token:
            server.token, server.signing_secret, server.tenant_id = server.create_token("test")
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., ServerProcess]) -> ServerProcess:
    return make_server()
