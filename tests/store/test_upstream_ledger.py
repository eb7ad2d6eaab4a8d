"""The upstream key pool's ledger for extensions and stems: the source's upstream item and key,
the pinned key, and stems tasks holding key slots as jobs do.

The real app in-process on a real SQLite file: keys added as `songforge upstream add` adds them,
jobs accepted through /v1/tempolor, slots taken through the ledger the workers use.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from inprocess_app import InProcessApp, open_app
from songforge.clock import now_ms
from songforge.errors import EngineError
from songforge.store.models import Job, StemsTask
from songforge.store.upstream import JobLedger, NoUsableKey, add_key, key_box, remove_key

KEY_A = "Tempo-" + "a" * 32 + "-3w"
KEY_B = "Tempo-" + "b" * 32 + "-3w"


def _jobs(env: InProcessApp) -> list[str]:
    r = env.client.post(
        "/v1/tempolor/music/instrumental",
        json={"prompt": "lofi piano", "user_id": "up", "model_instrumental": "i3"},
        headers=env.bearer,
    )
    assert r.status_code == 200, r.text
    return list(r.json()["itemIds"])


def _setup(env: InProcessApp) -> tuple[int, int]:
    with env.app.state.db.session() as s:
        box = key_box(env.app.state.settings.data_dir)
        a = add_key(s, box, base_url="http://127.0.0.1:9", api_key=KEY_A, max_jobs=2)
        b = add_key(s, box, base_url="http://127.0.0.1:9", api_key=KEY_B, max_jobs=5)
        ids = (a.id, b.id)
    body = {"requestParams": {"user_id": "up", "engine": "tempolor"}, "maxJobs": 50}
    assert env.client.post("/v1/tempolor/accounts", json=body, headers=env.bearer).status_code == 200
    return ids


def test_an_extension_names_its_sources_upstream_item_and_takes_only_that_key(tmp_path: Path) -> None:
    with open_app(tmp_path) as env:
        db, settings = env.app.state.db, env.app.state.settings
        a, b = _setup(env)
        source, other = _jobs(env)
        ledger = JobLedger(db, settings, source)
        lease = ledger.acquire(a)  # key a although b has more free slots
        assert lease is not None and lease.key_id == a
        ledger.sent(lease, "up-item-7")
        ledger.finish(ok=True)
        with db.session() as s:  # the source done (no worker here)
            s.execute(
                update(Job)
                .where(Job.item_id == source)
                .values(state="completed", engine="tempolor", material={"dur": 30})
            )
        r = env.client.post(
            "/v1/tempolor/music/extend",
            json={"job_id": f"user:{env.tenant_id}-tempolor:up-job:{source}", "start_time": 12.3},
            headers=env.bearer,
        )
        assert r.status_code == 200, r.text
        extension = r.json()["itemIds"][0]
        got = JobLedger(db, settings, extension).extension()
        assert got is not None and (got.task_id, got.key_id, got.start_time) == ("up-item-7", a, 12.3)
        assert JobLedger(db, settings, other).extension() is None  # extends nothing

        # A source the upstream did not make (no finished upstream task) cannot be extended there.
        with db.session() as s:
            s.execute(
                update(Job).where(Job.item_id == extension).values(request={"extend": {"item_id": other}})
            )
        with pytest.raises(EngineError, match="not made by the TemPolor upstream"):
            JobLedger(db, settings, extension).extension()
        with db.session() as s:
            remove_key(s, a)
        with pytest.raises(NoUsableKey, match=f"key {a}\\) was removed"):
            JobLedger(db, settings, other).acquire(a)


def test_a_stems_task_holds_a_key_slot_while_it_is_active(tmp_path: Path) -> None:
    with open_app(tmp_path) as env:
        db, settings = env.app.state.db, env.app.state.settings
        a, _b = _setup(env)
        now = now_ms()
        with db.session() as s:
            s.add(
                StemsTask(
                    item_id="stems1",
                    tenant_id=env.tenant_id,
                    user_id="up",
                    state="running",
                    source_key="stems/stems1/source.wav",
                    blobs={},
                    detail={},
                    created_ms=now,
                    updated_ms=now,
                )
            )
        stems = JobLedger(db, settings, "stems1")
        assert stems.acquire(a) is not None
        first, second = _jobs(env)
        assert JobLedger(db, settings, first).acquire(a) is not None
        assert JobLedger(db, settings, second).acquire(a) is None  # key a's 2 slots: stems + first
        with db.session() as s:
            s.execute(update(StemsTask).where(StemsTask.item_id == "stems1").values(state="completed"))
        assert JobLedger(db, settings, second).acquire(a) is not None  # its slot came free
