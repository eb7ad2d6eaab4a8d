"""POST /upstream/callbacks/{job}/{secret}: the upstream's callbacks reach the task's record.

The real app in-process on a real SQLite file; the task record is the one a worker's ledger makes
(`songforge.store.upstream.JobLedger`), so the URL posted to is the one the engine sends.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from inprocess_app import open_app
from songforge.store.models import UpstreamTask
from songforge.store.upstream import JobLedger, add_key, key_box

PUBLIC = "https://music.example.com"
KEY = "Tempo-" + "k" * 32 + "-3w"


def test_callback_is_recorded_wakes_the_worker_and_needs_the_task_secret(tmp_path: Path) -> None:
    with open_app(tmp_path, public_base_url=PUBLIC + "/") as env:
        db, settings = env.app.state.db, env.app.state.settings
        with db.session() as s:
            add_key(
                s, key_box(settings.data_dir), base_url="https://api.tempolor.com", api_key=KEY, max_jobs=2
            )
        r = env.client.post(
            "/v1/tempolor/accounts",
            json={"requestParams": {"user_id": "up", "engine": "tempolor"}, "maxJobs": 2},
            headers=env.bearer,
        )
        assert r.status_code == 200, r.text
        r = env.client.post(
            "/v1/tempolor/music/song",
            json={"prompt": "pop", "lyrics": "[Verse]\nla la", "user_id": "up"},
            headers=env.bearer,
        )
        assert r.status_code == 200, r.text
        job, other = r.json()["itemIds"]
        ledger = JobLedger(db, settings, job)
        JobLedger(db, settings, other)
        # The URL the engine sends: our public base URL, the job, the task's own secret.
        assert ledger.callback_url.startswith(f"{PUBLIC}/upstream/callbacks/{job}/")
        path = urlsplit(ledger.callback_url).path
        secret = path.rsplit("/", 1)[-1]
        lease = ledger.acquire()
        assert lease is not None
        ledger.sent(lease, "task-1")
        assert ledger.callback_arrived() is False and ledger.callback_result() is None

        # A wrong secret, another job's secret, an unknown job: 404, nothing recorded.
        item = {
            "item_id": "task-1",
            "status": "main_succeeded",
            "event": "audio_complete",
            "audio_url": "u.mp3",
        }
        # The wrong secret changes the last character to one it is not (a fixed "x" was the
        # secret itself one time in 64).
        wrong = secret[:-1] + ("y" if secret.endswith("x") else "x")
        for bad in (
            f"/upstream/callbacks/{job}/{wrong}",
            f"/upstream/callbacks/{other}/{secret}",
            f"/upstream/callbacks/nosuchjob/{secret}",
        ):
            r = env.client.post(bad, json={"songs": [item]})
            assert r.status_code == 404, (bad, r.text)
        assert ledger.callback_arrived() is False
        assert env.client.post(path, content=b"{not json").status_code == 400

        # The platform's events, in order: each acknowledged with `success`, merged over the last.
        r = env.client.post(path, json={"songs": [item]})
        assert (r.status_code, r.text) == (200, "success")
        assert ledger.callback_arrived() is True
        assert ledger.callback_arrived() is False  # once per callback
        sections = [{"start": 0.0, "end": 2.0, "text": "la la"}]
        r = env.client.post(
            path,
            json={
                "songs": [
                    {"item_id": "task-1", "status": "succeeded", "event": "wav_complete",
                     "audio_hi_url": "u.wav", "audio_url": "", "lyrics_sections": sections}
                ]
            },
        )  # fmt: skip
        assert (r.status_code, r.text) == (200, "success")
        assert ledger.callback_arrived() is True
        result = ledger.callback_result()
        assert result is not None
        assert result["status"] == "succeeded" and result["event"] == "wav_complete"
        assert result["audio_url"] == "u.mp3" and result["audio_hi_url"] == "u.wav"  # empty kept out
        assert result["lyrics_sections"] == sections

        # A body about another task is acknowledged (the upstream stops resending) and kept out.
        r = env.client.post(path, json={"songs": [{"item_id": "task-2", "status": "failed"}]})
        assert (r.status_code, r.text) == (200, "success")
        assert ledger.callback_arrived() is False
        assert (ledger.callback_result() or {})["status"] == "succeeded"
        with db.session() as s:
            row = s.get(UpstreamTask, other)
            assert row is not None and row.callback_ms is None and row.callback_item is None
