"""/metrics reports every upstream key's state and tasks in flight, by id and label, never the key.

The real app in-process on a real SQLite file: keys added as `songforge upstream add` adds them,
jobs accepted through /v1/tempolor, slots taken through the same ledger the workers use.
"""

from __future__ import annotations

from pathlib import Path

from inprocess_app import open_app
from songforge.store.upstream import DISABLED, PAUSED, JobLedger, add_key, key_box, set_key_state

KEY_A = "Tempo-" + "a" * 32 + "-3w"
KEY_B = "Tempo-" + "b" * 32 + "-3w"
KEY_C = "Tempo-" + "c" * 32 + "-3w"


def _samples(text: str, name: str) -> dict[str, float]:
    return {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line.startswith(name + "{")
    }


def test_metrics_report_each_upstream_key_state_and_in_flight(tmp_path: Path) -> None:
    with open_app(tmp_path) as env:
        db, settings = env.app.state.db, env.app.state.settings
        box = key_box(settings.data_dir)
        with db.session() as s:
            a = add_key(s, box, base_url="https://api.tempolor.com", api_key=KEY_A, max_jobs=3, label="main")
            b = add_key(s, box, base_url="https://api.tempolor.com", api_key=KEY_B, max_jobs=2, label="spare")
            c = add_key(s, box, base_url="https://api.tempolor.com", api_key=KEY_C, max_jobs=1)
            ids = (a.id, b.id, c.id)
        c_ = env.client
        r = c_.post(
            "/v1/tempolor/accounts",
            json={"requestParams": {"user_id": "up", "engine": "tempolor"}, "maxJobs": 5},
            headers=env.bearer,
        )
        assert r.status_code == 200, r.text
        r = c_.post(
            "/v1/tempolor/music/instrumental",
            json={"prompt": "lofi piano", "user_id": "up", "model_instrumental": "i3"},
            headers=env.bearer,
        )
        assert r.status_code == 200, r.text
        jobs = r.json()["itemIds"]
        # Both variations take a slot: a (3 free) first, then b (2 free, as many as a, fewer busy).
        leases = [JobLedger(db, settings, job).acquire() for job in jobs]
        assert all(lease is not None for lease in leases)
        held = {lease.key_id for lease in leases if lease is not None}
        with db.session() as s:
            set_key_state(s, ids[2], DISABLED, "TemPolor upstream 400002: Login expired")

        text = c_.get("/metrics").text
        for key in (KEY_A, KEY_B, KEY_C):
            assert key not in text and key[:9] not in text  # neither the key nor its hint
        states = _samples(text, "songforge_upstream_key_state")
        in_flight = _samples(text, "songforge_upstream_key_in_flight")
        limits = _samples(text, "songforge_upstream_key_max_jobs")
        labels = {ids[0]: "main", ids[1]: "spare", ids[2]: ""}
        expected_state = {ids[0]: "active", ids[1]: "active", ids[2]: "disabled"}
        for key_id, label in labels.items():
            series = f'key_id="{key_id}",label="{label}"'
            for state in ("active", "paused", "disabled"):
                want = 1.0 if expected_state[key_id] == state else 0.0
                assert states[f'songforge_upstream_key_state{{{series},state="{state}"}}'] == want, text
            busy = sum(1 for lease in leases if lease is not None and lease.key_id == key_id)
            assert in_flight[f"songforge_upstream_key_in_flight{{{series}}}"] == busy, text
        assert held == {ids[0], ids[1]}
        assert limits[f'songforge_upstream_key_max_jobs{{key_id="{ids[0]}",label="main"}}'] == 3.0

        # Pausing a key and ending a job's task show at the next scrape.
        with db.session() as s:
            set_key_state(s, ids[0], PAUSED, "TemPolor upstream 400005: Insufficient points")
        for job in jobs:
            JobLedger(db, settings, job).finish(ok=False)
        text = c_.get("/metrics").text
        states = _samples(text, "songforge_upstream_key_state")
        assert states[f'songforge_upstream_key_state{{key_id="{ids[0]}",label="main",state="paused"}}'] == 1.0
        assert states[f'songforge_upstream_key_state{{key_id="{ids[0]}",label="main",state="active"}}'] == 0.0
        assert set(_samples(text, "songforge_upstream_key_in_flight").values()) == {0.0}


def test_metrics_without_upstream_keys_has_no_key_series(tmp_path: Path) -> None:
    with open_app(tmp_path) as env:
        text = env.client.get("/metrics").text
        assert "songforge_upstream_key_state{" not in text
        assert "# TYPE songforge_upstream_key_state gauge" in text
