"""deploy/: the systemd units and the Compose file an operator starts from, and the README's order.

Checked as text (no Docker or systemd here): every long-running Songforge process is restarted when
it exits, the Compose file has the services the README promises in the order that works (bucket and
schema before any API or worker), and the units run the commands that exist."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def test_systemd_units_restart_always_and_run_real_commands() -> None:
    units = {p.name: p.read_text() for p in (DEPLOY / "systemd").glob("*.service")}
    assert {"songforge-api@.service", "songforge-worker.service", "songforge-migrate.service"} <= set(units)
    for name in ("songforge-api@.service", "songforge-worker.service"):
        assert "\nRestart=always\n" in units[name], name
        assert "EnvironmentFile=/etc/songforge/songforge.env" in units[name]
        assert "After=network-online.target songforge-migrate.service" in units[name]
    assert "songforge serve --host 0.0.0.0 --port %i" in units["songforge-api@.service"]
    assert "songforge worker --processes" in units["songforge-worker.service"]
    assert "songforge db upgrade" in units["songforge-migrate.service"]
    env = (DEPLOY / "systemd" / "songforge.env.example").read_text()
    for name in (
        "SONGFORGE_DATABASE_URL",
        "SONGFORGE_QUEUE",
        "SONGFORGE_BLOB_STORE",
        "SONGFORGE_S3_ENDPOINT",
    ):
        assert f"\n{name}=" in env


def test_compose_has_the_whole_deployment_in_order() -> None:
    compose = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "minio", "bucket", "migrate", "api1", "api2", "worker1", "worker2"} <= set(
        services
    )
    for name in ("postgres", "redis", "minio", "api1", "api2", "worker1", "worker2"):
        assert services[name]["restart"] == "always", name
    for name in ("api1", "api2", "worker1", "worker2"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["env_file"] == "songforge.env"
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["migrate"]["depends_on"]["bucket"]["condition"] == "service_completed_successfully"
    assert services["worker1"]["command"][:2] == ["worker", "--processes"]
    assert services["api1"]["command"][0] == "serve"
    env = (DEPLOY / "compose" / "songforge.env.example").read_text()
    assert "SONGFORGE_DATABASE_URL=postgresql://" in env and "SONGFORGE_BLOB_STORE=s3://" in env
    assert (DEPLOY / "Dockerfile").read_text().count('ENTRYPOINT ["songforge"]') == 1


def test_readme_gives_the_order_and_every_api_flag() -> None:
    readme = (ROOT / "README.md").read_text()
    steps = [
        "1. Create the database and the bucket",
        "2. Upgrade the schema",
        "3. Create a token",
        "4. Start the APIs",
    ]
    positions = [readme.index(step) for step in steps]
    assert positions == sorted(positions)
    api_row = next(line for line in readme.splitlines() if line.startswith("| API (N replicas) |"))
    for flag in ("--database-url", "--queue", "--blob-store", "--s3-endpoint"):
        assert flag in api_row, flag
    assert "--processes N" in readme
