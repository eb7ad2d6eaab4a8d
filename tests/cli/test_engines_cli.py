"""`songforge engines` lists each engine and whether it is ready, and a half-configured acestep engine
stops `serve` at start naming the setting and the missing files (the real CLI in a real process)."""

from __future__ import annotations

import json
from pathlib import Path

from songforge_server import cli


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
