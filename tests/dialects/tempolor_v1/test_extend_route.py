"""POST /v1/tempolor/music/extend, our own route for the studio's Extend (in-process app, no
workers): token first, the caller's jobs only, the source's state and length checked, and the new
job stored with the same `extend` block the Open API's extension makes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inprocess_app import InProcessApp, open_app
from songforge.core.states import JobState
from songforge.store.models import Job

T = "/v1/tempolor"


def _source(box: InProcessApp, kind: str, state: str = JobState.COMPLETED) -> tuple[str, str]:
    """A job id and item id of the caller's `kind` work, put in `state` with a 30 s length."""
    c, h = box.client, box.bearer
    r = c.post(f"{T}/accounts", json={"requestParams": {"user_id": "u"}, "maxJobs": 10}, headers=h)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = {"prompt": "calm piano", "user_id": "u"}
    if kind == "song":
        body["lyrics"] = "la la la"
    r = c.post(f"{T}/music/{kind}", json=body, headers=h)
    assert r.status_code == 200, r.text
    job_id, item_id = r.json()["jobs"][0], r.json()["itemIds"][0]
    with box.app.state.db.session() as s:
        job = s.get(Job, item_id)
        assert job is not None
        job.state = state
        job.material = {"dur": 30, "bpm": 96, "key": "C:major", "chord": "C F G C"}
    return job_id, item_id


def test_extends_a_completed_instrumental_like_a_submit(tmp_path: Path) -> None:
    with open_app(tmp_path) as box:
        job_id, item_id = _source(box, "instrumental")
        for path in (f"{T}/music/extend", f"{T}/music/extend/"):
            r = box.client.post(path, json={"job_id": job_id, "start_time": 12.34}, headers=box.bearer)
            assert r.status_code == 200, r.text
            out = r.json()
            assert out["result"] is True and len(out["itemIds"]) == 1 and len(out["jobs"]) == 1
            rec = box.client.get(f"{T}/music/{out['jobs'][0]}", headers=box.bearer).json()
            assert rec["extendedFrom"]["itemId"] == item_id
            assert rec["extendedFrom"]["startTime"] == 12.3
            with box.app.state.db.session() as s:
                new = s.get(Job, out["itemIds"][0])
                assert new is not None and new.kind == "instrumental"
                assert new.request["extend"] == {"item_id": item_id, "start_time": 12.3}
                assert new.request["bpm"] == 96 and new.request["tonality"] == "C:major"


def test_a_song_takes_new_lyrics(tmp_path: Path) -> None:
    with open_app(tmp_path) as box:
        job_id, _ = _source(box, "song")
        body = {"job_id": job_id, "start_time": 20, "lyrics": "and on we go"}
        r = box.client.post(f"{T}/music/extend", json=body, headers=box.bearer)
        assert r.status_code == 200, r.text
        with box.app.state.db.session() as s:
            new = s.get(Job, r.json()["itemIds"][0])
            assert new is not None and new.kind == "song" and new.request["lyrics"] == "and on we go"


def test_token_first(tmp_path: Path) -> None:
    with open_app(tmp_path) as box:
        r = box.client.post(f"{T}/music/extend", json={"job_id": "x", "start_time": 1})
        assert r.status_code == 401


def test_unknown_and_other_tenants_jobs_are_404(tmp_path: Path) -> None:
    with open_app(tmp_path) as box:
        job_id, _ = _source(box, "instrumental")
        from songforge.core.tenants import create_token

        with box.app.state.db.session() as s:
            other = {"Authorization": f"Bearer {create_token(s, 'other').token}"}
        r = box.client.post(f"{T}/music/extend", json={"job_id": job_id, "start_time": 5}, headers=other)
        assert r.status_code == 404, r.text
        assert r.json() == {"error": f"No record found for {job_id}", "code": 404}


def test_refusals_are_400s_in_the_dialects_body(tmp_path: Path) -> None:
    with open_app(tmp_path) as box:
        job_id, _ = _source(box, "instrumental")
        cases = [
            ({"job_id": job_id, "start_time": 31}, "past the end"),
            ({"job_id": job_id, "start_time": 5, "lyrics": "words"}, "instrumental"),
            ({"job_id": job_id}, "start_time is required"),
            ({"job_id": job_id, "start_time": "soon"}, "must be a number"),
            ({"start_time": 5}, "job_id is required"),
        ]
        for body, words in cases:
            r = box.client.post(f"{T}/music/extend", json=body, headers=box.bearer)
            assert r.status_code == 400, (body, r.text)
            assert set(r.json()) == {"error", "code"} and r.json()["code"] == 400
            assert words in r.json()["error"], (body, r.text)


def test_a_source_still_generating_or_failed_is_400(tmp_path: Path) -> None:
    for state, words in ((JobState.QUEUED, "still generating"), (JobState.FAILED, "failed")):
        with open_app(tmp_path / state) as box:
            job_id, _ = _source(box, "instrumental", state)
            r = box.client.post(
                f"{T}/music/extend", json={"job_id": job_id, "start_time": 5}, headers=box.bearer
            )
            assert r.status_code == 400, r.text
            assert r.json() == {"error": f"{job_id} cannot be extended: it is {words}", "code": 400}
