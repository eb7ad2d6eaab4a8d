"""The real services scale-out tests run against: PostgreSQL, Redis and an S3 server (moto).

PostgreSQL and Redis are started when they do not answer (as .ci/run does); a test that cannot
get them is skipped with the reason, never silently passed. Each test run gets a fresh database
(`songforge_test_<random>`) that is dropped afterwards, and its own Redis database index.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN_URL = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _answers(host, port):
            return True
        time.sleep(0.1)
    return False


def ensure_postgres() -> str:
    if not _answers(PG_HOST, PG_PORT):
        clusters = Path("/etc/postgresql")
        if shutil.which("pg_ctlcluster") is None or not clusters.is_dir():
            pytest.skip("PostgreSQL is not installed (pg_ctlcluster missing)")
        version = sorted(p.name for p in clusters.iterdir())[-1]
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
            check=False,
            capture_output=True,
            timeout=60,
        )
        if not _wait_port(PG_HOST, PG_PORT, 30):
            pytest.skip("PostgreSQL did not start on 127.0.0.1:5432")
    return PG_ADMIN_URL


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for this run; dropped afterwards."""
    from sqlalchemy import create_engine, text

    ensure_postgres()
    name = f"songforge_test_{secrets.token_hex(4)}"
    admin = create_engine(
        "postgresql+psycopg" + PG_ADMIN_URL.removeprefix("postgresql"), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def ensure_redis() -> None:
    if _answers(REDIS_HOST, REDIS_PORT):
        return
    if shutil.which("redis-server") is None:
        pytest.skip("Redis is not installed (redis-server missing)")
    for d in ("/var/lib/redis", "/var/log/redis"):
        os.makedirs(d, exist_ok=True)
    subprocess.run(
        [
            "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", str(REDIS_PORT),
            "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
            "--logfile", "/var/log/redis/ci.log",
        ],
        check=False,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    if not _wait_port(REDIS_HOST, REDIS_PORT, 15):
        pytest.skip("Redis did not start on 127.0.0.1:6379")


@contextmanager
def fresh_redis_url() -> Iterator[str]:
    """A Redis database index nobody else uses right now (claimed with a key), flushed after."""
    import redis

    ensure_redis()
    claimed = None
    for index in secrets.SystemRandom().sample(range(1, 16), 15):
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=index)
        if client.set("songforge-test-owner", str(os.getpid()), nx=True, ex=3600):
            claimed = client
            break
        client.close()
    if claimed is None:
        pytest.skip("no free Redis database index")
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{index}"
    finally:
        claimed.flushdb()
        claimed.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_s3(log_dir: Path) -> Iterator[str]:
    """A real S3-compatible HTTP server (moto in server mode) on loopback; yields its endpoint."""
    port = free_port()
    log = open(log_dir / "moto.log", "ab")  # noqa: SIM115 - the child writes to it
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **S3_ENV},
    )
    log.close()
    try:
        if not _wait_port("127.0.0.1", port, 30):
            raise RuntimeError(f"moto server did not start: {(log_dir / 'moto.log').read_text()[-2000:]}")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def s3_client(endpoint: str):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"],
        region_name=S3_ENV["AWS_DEFAULT_REGION"],
    )


def make_bucket(endpoint: str, bucket: str) -> None:
    s3_client(endpoint).create_bucket(Bucket=bucket)
