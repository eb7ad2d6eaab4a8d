"""`songforge engines` lists each engine and whether it is ready, here and on each worker of the
deployment (from the database), and a half-configured acestep engine stops `serve` at start naming the
setting and the missing files (the real CLI in a real process)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from songforge_server import ServerProcess, cli


def test_engines_lists_readiness_and_routes(tmp_path: Path) -> None:
    env = {
        "SONGFORGE_ACESTEP_WEIGHTS": str(tmp_path / "missing"),
        "SONGFORGE_MODEL_ENGINES": "v4.8=acestep|embedded",
        "SONGFORGE_UPSTREAM_MODELS": "",
    }
    listed = json.loads(cli("engines", "--json", env=env).stdout)
    ready = {row["engine"]: row["ready"] for row in listed["engines"]}
    assert ready == {"embedded": True, "tempolor": True, "acestep": False}
    detail = next(row["detail"] for row in listed["engines"] if row["engine"] == "acestep")
    assert "SONGFORGE_ACESTEP_WEIGHTS" in detail and "missing is not" in detail
    assert listed["routes"] == {"v4.8": ["acestep", "embedded"]}


def test_an_incomplete_checkpoint_stops_the_server_at_start(tmp_path: Path) -> None:
    weights = tmp_path / "weights"
    (weights / "transformer").mkdir(parents=True)
    env = {"SONGFORGE_ACESTEP_WEIGHTS": str(weights)}
    args = ("serve", "--port", "1", "--data-dir", str(tmp_path / "data"), "--workers", "1")
    result = cli(*args, env=env, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    said = " ".join(result.stderr.split())
    assert "SONGFORGE_ACESTEP_WEIGHTS" in said and "model_index.json is missing" in said, said
    assert "transformer/config.json is missing" in said and "vae/ is missing" in said, said


def test_engines_lists_each_workers_report_from_the_database(tmp_path: Path) -> None:
    env = {"SONGFORGE_ACESTEP_WEIGHTS": ""}
    server = ServerProcess(tmp_path / "data", workers=1, env=env)
    server.start()
    try:
        deadline = time.monotonic() + 60  # the worker process reports once it has started
        while (
            'songforge_engine_workers{engine="embedded"} 1.0'
            not in httpx.get(server.base_url + "/metrics").text
        ):
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.2)
        listed = json.loads(cli("engines", "--json", "--data-dir", str(server.data_dir), env=env).stdout)
        [worker] = listed["workers"]
        assert worker["kind"] == "local" and worker["live"] is True, worker
        assert worker["seen_seconds_ago"] < 30
        by_engine = {e["engine"]: e for e in worker["engines"]}
        assert by_engine["embedded"]["ready"] and by_engine["tempolor"]["ready"]
        assert not by_engine["acestep"]["ready"]
        assert "SONGFORGE_ACESTEP_WEIGHTS" in by_engine["acestep"]["detail"]
        text = cli("engines", "--data-dir", str(server.data_dir), env=env).stdout
        assert worker["worker"] in text and "live" in text, text
    finally:
        server.stop()
    # A clean stop takes the pool's workers out of the reports at once.
    listed = json.loads(cli("engines", "--json", "--data-dir", str(server.data_dir), env=env).stdout)
    assert listed["workers"] == [] and "no worker has reported" in listed["note"]
    # Only read: where there is no database, none is made.
    nowhere = tmp_path / "nowhere"
    listed = json.loads(cli("engines", "--json", "--data-dir", str(nowhere), env=env).stdout)
    assert listed["workers"] == [] and "no database" in listed["note"] and not nowhere.exists()
