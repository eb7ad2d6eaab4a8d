"""`songforge serve` and `songforge worker` refuse configurations that cannot work, before they start
anything (`config.deployment_problem`), and `--processes` must be positive."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from songforge.cli.main import app
from songforge.config import Settings, deployment_problem

PG = "postgresql://songforge@db.internal/songforge"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (
            ["serve", "--queue", "redis://127.0.0.1:1/0"],
            "--queue needs a database every API and worker shares",
        ),
        (
            ["serve", "--queue", "redis://127.0.0.1:1/0", "--database-url", "sqlite:////tmp/x.db"],
            "--queue needs a database every API and worker shares",
        ),
        (["serve", "--database-url", PG], "a shared database needs a shared blob store"),
        (["serve", "--queue", "redis://127.0.0.1:1/0", "--database-url", PG], "needs a shared blob store"),
        (
            ["worker", "--queue", "redis://127.0.0.1:1/0"],
            "--queue needs a database every API and worker shares",
        ),
        (["worker", "--queue", "redis://127.0.0.1:1/0", "--database-url", PG], "needs a shared blob store"),
    ],
)
def test_unworkable_deployments_refuse_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], needle: str
) -> None:
    for name in ("SONGFORGE_QUEUE", "SONGFORGE_DATABASE_URL", "SONGFORGE_BLOB_STORE"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(app, [*argv, "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "Cannot start:" in text and needle in text, text
    assert not (tmp_path / "d" / "songforge.db").exists()  # refused before touching anything


def test_workable_settings_pass() -> None:
    base = Path("unused")
    assert deployment_problem(Settings(data_dir=base)) is None  # the embedded default
    scaled = Settings(data_dir=base, database_url=PG, queue_url="redis://r/0", blob_store="s3://b/p")
    assert deployment_problem(scaled) is None
    assert deployment_problem(Settings(data_dir=base, database_url=PG, blob_store="s3://b/p")) is None


def test_worker_processes_must_be_positive(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "worker", "--queue", "redis://127.0.0.1:1/0", "--database-url", PG, "--blob-store", "s3://b/p",
            "--processes", "0", "--data-dir", str(tmp_path / "d"),
        ],
    )  # fmt: skip
    assert result.exit_code == 2 and "--processes must be 1 or more" in result.output


@pytest.mark.parametrize("hidden", ["hibari", "piper"])
def test_a_missing_voice_wheel_is_named_when_the_server_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hidden: str
) -> None:
    """The neural singer is the default: without its wheels `serve` refuses at once, naming the package,
    its install command and the fallback, instead of failing the first song."""
    import importlib.util

    from songforge.cli.common import engine_problem

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == hidden else real(name, *a)
    )
    monkeypatch.delenv("SONGFORGE_SINGER", raising=False)
    package = {"hibari": "hibari-tts==0.2.1", "piper": "piper-tts==1.8.0"}[hidden]
    result = CliRunner().invoke(app, ["serve", "--data-dir", str(tmp_path / "d"), "--port", "1"])
    text = " ".join(result.output.split())
    assert result.exit_code == 1, text
    assert "Cannot start:" in text and f"pip install {package}" in text, text
    assert "SONGFORGE_SINGER=festival" in text, text
    monkeypatch.setenv("SONGFORGE_SINGER", "festival")  # the fallback needs no neural wheel
    assert engine_problem() is None


@pytest.mark.parametrize(("cores", "expected"), [({0}, 1), ({0, 1}, 2), ({0, 1, 2, 3, 4, 5, 6, 7}, 2)])
def test_two_api_processes_by_default_where_two_cores_may_run_them(
    monkeypatch: pytest.MonkeyPatch, cores: set[int], expected: int
) -> None:
    import os

    monkeypatch.delenv("SONGFORGE_API_PROCESSES", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: cores)
    assert Settings().api_processes == expected
    monkeypatch.setenv("SONGFORGE_API_PROCESSES", "3")  # the operator's number wins
    assert Settings().api_processes == 3
