"""Module-scoped servers for tests that can share one: each test gets its own tenant (token),
which isolates it as well as a separate server would, at a fraction of the start-up cost."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from songforge_server import ServerProcess


def _module_server(tmp_path_factory: pytest.TempPathFactory, **options: object) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("songforge-shared"), **options)  # type: ignore[arg-type]
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from _module_server(tmp_path_factory, workers=1)


@pytest.fixture(scope="module")
def shared_idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """No workers: accepted jobs stay queued as long as a test needs."""
    yield from _module_server(tmp_path_factory, workers=0)


def _with_tenant(server: ServerProcess) -> ServerProcess:
    view = ServerProcess.__new__(ServerProcess)
    view.__dict__.update(server.__dict__)
    view.token, view.signing_secret, view.tenant_id = server.create_token("test")
    return view


@pytest.fixture
def tenant_server(shared_server: ServerProcess) -> ServerProcess:
    """The shared server, seen through a fresh tenant's token."""
    return _with_tenant(shared_server)


@pytest.fixture
def idle_server(shared_idle_server: ServerProcess) -> ServerProcess:
    return _with_tenant(shared_idle_server)
