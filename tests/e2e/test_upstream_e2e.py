"""The `tempolor` engine for real: two Songforge servers, one the other's TemPolor Open API upstream.

Real HTTP both ways: the downstream's /v1/tempolor takes the requests, its workers send them to the
upstream's /open-apis/v1 with keys from `songforge upstream add` (an Open API key made on the
upstream with `songforge key create`), poll the query endpoint and download the audio. The
platform's failures are forced by a fault-injecting proxy between the two (tests/engines/tempolor).
"""

from __future__ import annotations

import io
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf
from e2e_helpers import wait_final, wait_until

from songforge_server import ServerProcess, cli, free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engines" / "tempolor"))
from tempolor_fault_proxy import Fault, FaultProxy  # noqa: E402

pytestmark = pytest.mark.slow

FAST = {"SONGFORGE_UPSTREAM_POLL_SECONDS": "0.3", "SONGFORGE_UPSTREAM_BACKOFF": "0.2"}
BAD_KEY = "Tempo-" + "b" * 32 + "-3w"


def _open_api_key(upstream: Any) -> str:
    result = cli(
        "key",
        "create",
        "--tenant",
        upstream.tenant_id,
        "--data-dir",
        str(upstream.data_dir),
        env=upstream.env,
    )
    return result.stdout.strip().splitlines()[-1].strip()


def _add_key(downstream: Any, base_url: str, key: str, max_jobs: int) -> int:
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "songforge", "upstream", "add", "--base-url", base_url,
         "--max-jobs", str(max_jobs), "--data-dir", str(downstream.data_dir)],
        input=key + "\n", capture_output=True, text=True, env=downstream.env, check=True, timeout=120,
    )  # fmt: skip
    assert key not in result.stdout + result.stderr  # never echoed
    return int(result.stdout.strip().splitlines()[-1])


def _upstream_list(downstream: Any) -> str:
    return cli("upstream", "list", "--data-dir", str(downstream.data_dir), env=downstream.env).stdout


def _account(client: httpx.Client, max_jobs: int = 5) -> None:
    r = client.post(
        "/accounts", json={"requestParams": {"user_id": "up", "engine": "tempolor"}, "maxJobs": max_jobs}
    )
    assert r.status_code == 200, r.text


def _tasks(server: Any) -> dict[str, tuple[str | None, str | None, int | None]]:
    with sqlite3.connect(server.data_dir / "songforge.db") as conn:
        rows = conn.execute("SELECT job_id, task_id, state, key_id FROM upstream_tasks").fetchall()
    return {job: (task, state, key) for job, task, state, key in rows}


def _job_count(server: Any) -> int:
    with sqlite3.connect(server.data_dir / "songforge.db") as conn:
        return int(
            conn.execute("SELECT count(*) FROM jobs WHERE kind IN ('song', 'instrumental')").fetchone()[0]
        )


def _wav(client: httpx.Client, job_id: str) -> np.ndarray:
    url = client.get(f"/music/download/{job_id}", params={"file_format": "wav"}).json()["url"]
    data, _ = sf.read(io.BytesIO(httpx.get(url, timeout=60).content), dtype="float32")
    return data


def _upstream_wav(upstream: Any, key: str, kind: str, task_id: str) -> np.ndarray:
    """The upstream's own wav of a task, as its Open API query links it."""
    env = httpx.post(
        f"{upstream.base_url}/open-apis/v1/{kind}/query",
        json={"item_ids": [task_id]},
        headers={"Authorization": key},
        timeout=30,
    ).json()
    url = env["data"][f"{kind}s"][0]["audio_hi_url"]
    data, _ = sf.read(io.BytesIO(httpx.get(url, timeout=60).content), dtype="float32")
    return data


def _item_id(job_id: str) -> str:
    return job_id.rsplit("job:", 1)[-1]


def test_instrumental_and_song_through_the_upstream_with_a_pool_limit_and_a_bad_key(make_server) -> None:  # type: ignore[no-untyped-def]
    upstream = make_server(workers=2, max_seconds=4.0)
    downstream = make_server(workers=3, env=FAST)
    bad = _add_key(downstream, upstream.base_url, BAD_KEY, max_jobs=3)  # most free slots: tried first
    open_api_key = _open_api_key(upstream)
    good = _add_key(downstream, upstream.base_url, open_api_key, max_jobs=2)

    busiest = [0]
    stop = threading.Event()

    def sample() -> None:  # the upstream never holds more of our tasks than the key's limit
        with upstream.client() as up:
            while not stop.is_set():
                r = up.get("/scheduler")
                if r.status_code == 200:
                    busiest[0] = max(busiest[0], len(r.json()))
                time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with downstream.client() as c:
        _account(c)
        r = c.post(
            "/music/instrumental",
            json={"prompt": "warm lofi piano", "user_id": "up", "model_instrumental": "i3", "bpm": 90},
        )
        assert r.status_code == 200, r.text
        jobs = list(r.json()["jobs"])
        lyrics = "[Verse]\nCity lights are calling me home tonight"
        r = c.post("/music/song", json={"prompt": "an upbeat pop song", "lyrics": lyrics, "user_id": "up"})
        assert r.status_code == 200, r.text
        songs = list(r.json()["jobs"])
        records = {j: wait_final(c, j, timeout=420) for j in [*jobs, *songs]}
        stop.set()
        sampler.join(5)
        for record in records.values():
            assert record["status_name"] == "COMPLETED", (record, downstream.log())
        for song in songs:  # the upstream's lyrics_sections came home as the record's timed lyrics
            assert records[song]["ltmMaterialExtendDto"]["lrcTimestamp"], records[song]
        assert busiest[0] == 2, busiest  # 3 downstream workers, 4 jobs: the key's limit held

        # Every job's audio is the upstream's: same samples as the upstream's own wav of its task.
        tasks = _tasks(downstream)
        for job in records:
            task_id, state, key_id = tasks[_item_id(job)]
            assert state == "done" and key_id == good and task_id
            kind = "song" if job in songs else "instrumental"
            ours, theirs = _wav(c, job), _upstream_wav(upstream, open_api_key, kind, task_id)
            n = min(len(ours), len(theirs))
            assert abs(len(ours) - len(theirs)) <= 2048 and n > 44100
            assert np.max(np.abs(ours[:n] - theirs[:n])) < 1e-3
    assert _job_count(upstream) == 4  # one upstream task per job, none sent twice

    listing = _upstream_list(downstream)
    assert BAD_KEY not in listing
    rows = {line.split()[0]: line for line in listing.splitlines()[1:] if line.strip()}
    assert "disabled" in rows[str(bad)] and "Login expired" in rows[str(bad)], listing
    assert "active" in rows[str(good)], listing


def test_platform_failures_and_restart_through_a_fault_proxy(make_server) -> None:  # type: ignore[no-untyped-def]
    """Callbacks blocked (our public URL points at a closed port): every result comes by polling."""
    upstream = make_server(workers=1, max_seconds=5.0)
    dead = f"http://127.0.0.1:{free_port()}"
    downstream = make_server(workers=1, env={**FAST, "SONGFORGE_PUBLIC_URL": dead})
    proxy = FaultProxy(upstream.base_url)
    try:
        key_id = _add_key(downstream, proxy.url, _open_api_key(upstream), max_jobs=1)
        with downstream.client() as c:
            _account(c)

            def songs(prompt: str = "a folk song") -> list[str]:
                """A song request makes two jobs; with one worker and a key limit of 1 they are
                sent one after the other, so the first queued fault meets the first job sent."""
                r = c.post(
                    "/music/song", json={"prompt": prompt, "lyrics": "[Verse]\nla la la", "user_id": "up"}
                )
                assert r.status_code == 200, r.text
                return [str(j) for j in r.json()["jobs"]]

            def finals(jobs: list[str]) -> list[dict[str, Any]]:
                return [wait_final(c, j, timeout=300) for j in jobs]

            # Queue full, busy and a 5xx: waited out and resent; both jobs complete on their first
            # attempt, each sent once successfully.
            proxy.inject("/generate", Fault(status=400007), Fault(status=400006), Fault(http_status=503))
            jobs = songs()
            for record in finals(jobs):
                assert record["status_name"] == "COMPLETED", (record, downstream.log())
            assert proxy.calls("/song/generate") == 3 + 2
            with sqlite3.connect(downstream.data_dir / "songforge.db") as conn:
                for job in jobs:
                    attempts = conn.execute(
                        "SELECT attempts FROM jobs WHERE item_id = ?", (_item_id(job),)
                    ).fetchone()[0]
                    assert attempts == 1, attempts

            # 400004: that job fails with the platform's message; the key stays active, the other completes.
            proxy.inject(
                "/generate", Fault(status=400004, message="Content violation, please modify and try again.")
            )
            outcomes = sorted((r["status_name"], r.get("error", "")) for r in finals(songs()))
            assert outcomes[0][0] == "COMPLETED" and outcomes[1][0] == "FAILED", outcomes
            assert "Content violation, please modify and try again." in outcomes[1][1], outcomes

            # 400005: that job fails with the reason and the key is paused; the other finds no key.
            proxy.inject(
                "/generate",
                Fault(status=400005, message="Insufficient points. Purchase more to continue creating."),
            )
            errors = sorted(r.get("error", "") for r in finals(songs()))
            # sorted: "No upstream key is usable (key 1 paused: ...)" before "TemPolor upstream 400005: ..."
            assert errors[0].startswith("No upstream key is usable") and "paused" in errors[0], errors
            assert errors[1].startswith("TemPolor upstream 400005: Insufficient points"), errors
            listing = _upstream_list(downstream)
            assert "paused" in listing and "Insufficient points" in listing, listing
            cli("upstream", "resume", str(key_id), "--data-dir", str(downstream.data_dir), env=downstream.env)

            # Restart mid-task: the stored upstream task id is polled again, never resent.
            sent_before = proxy.calls("/song/generate")
            jobs = songs("a slow ballad")
            wait_until(
                lambda: any(
                    (_tasks(downstream).get(_item_id(j)) or (None, None, None))[1] == "sent" for j in jobs
                ),
                timeout=120,
            )
            downstream.kill()
            downstream.start()
        with downstream.client() as c:
            for job in jobs:
                record = wait_final(c, job, timeout=300)
                assert record["status_name"] == "COMPLETED", (record, downstream.log())
        assert proxy.calls("/song/generate") == sent_before + 2  # one send per job, none after the restart
        # The callback URL sent is on the configured public URL (here unreachable: polling did it all).
        urls = {body.get("callback_url", "") for path, _, body in proxy.seen if path.endswith("/generate")}
        assert urls and all(u.startswith(f"{dead}/upstream/callbacks/") for u in urls), urls
    finally:
        proxy.close()


def test_callbacks_finish_jobs_without_waiting_for_the_next_poll(make_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The upstream's callbacks reach our route on SONGFORGE_PUBLIC_URL: with a poll interval of 10
    minutes, jobs finish in seconds; when every query fails, the job finishes from the callback's
    item alone."""
    upstream = make_server(workers=1, max_seconds=4.0)
    downstream = ServerProcess(
        tmp_path / "downstream",
        workers=1,
        env={"SONGFORGE_UPSTREAM_POLL_SECONDS": "600", "SONGFORGE_UPSTREAM_BACKOFF": "0.2"},
    )
    # (The blocked-callbacks test above shows the public URL, not the bind address, is what is sent.)
    public = downstream.base_url
    downstream.env["SONGFORGE_PUBLIC_URL"] = public
    downstream.start()
    proxy = FaultProxy(upstream.base_url)
    try:
        downstream.token, downstream.signing_secret, downstream.tenant_id = downstream.create_token("t")
        open_api_key = _open_api_key(upstream)
        _add_key(downstream, proxy.url, open_api_key, max_jobs=2)
        with downstream.client() as c:
            _account(c)
            started = time.monotonic()
            r = c.post(
                "/music/instrumental",
                json={"prompt": "warm lofi piano", "user_id": "up", "model_instrumental": "i3", "bpm": 90},
            )
            assert r.status_code == 200, r.text
            jobs = list(r.json()["jobs"])
            for job in jobs:
                record = wait_final(c, job, timeout=240)
                assert record["status_name"] == "COMPLETED", (record, downstream.log())
            assert time.monotonic() - started < 240  # the next poll was 10 minutes away
            # One query after sending, then one per callback that woke the worker; never a poll loop.
            assert proxy.calls("/instrumental/query") <= 2 * 3, proxy.calls("/instrumental/query")
            tasks = _tasks(downstream)
            for job in jobs:
                task_id, state, _ = tasks[_item_id(job)]
                assert state == "done" and task_id
                ours = _wav(c, job)
                theirs = _upstream_wav(upstream, open_api_key, "instrumental", task_id)
                n = min(len(ours), len(theirs))
                assert n > 44100 and np.max(np.abs(ours[:n] - theirs[:n])) < 1e-3
            urls = {
                body.get("callback_url", "") for path, _, body in proxy.seen if path.endswith("/generate")
            }
            assert len(urls) == 2 and all(u.startswith(f"{public}/upstream/callbacks/") for u in urls), urls

            # Every query fails (503): the callback's item is the result, lyrics sections included.
            proxy.inject("/query", *[Fault(http_status=503) for _ in range(500)])
            queries_before = proxy.calls("/song/query")
            r = c.post(
                "/music/song",
                json={
                    "prompt": "an upbeat pop song",
                    "lyrics": "[Verse]\nCity lights tonight",
                    "user_id": "up",
                },
            )
            assert r.status_code == 200, r.text
            songs = list(r.json()["jobs"])
            for job in songs:
                record = wait_final(c, job, timeout=240)
                assert record["status_name"] == "COMPLETED", (record, downstream.log())
                assert record["ltmMaterialExtendDto"]["lrcTimestamp"], record
            with proxy.lock:
                unused = len(proxy.faults["/query"])
                proxy.faults.clear()
            assert proxy.calls("/song/query") - queries_before == 500 - unused  # none got through
    finally:
        proxy.close()
        downstream.stop()
