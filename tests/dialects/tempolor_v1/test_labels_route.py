"""PATCH /v1/tempolor/music/{job_id}, our own route for the studio's rename and favourites
(in-process app on a real SQLite file, no workers): token first, the caller's jobs only, every
bad body a 400 in the dialect's body, and the labels shown by GET, the list pages and downloads,
kept across a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inprocess_app import InProcessApp, open_app
from songforge.core.states import JobState
from songforge.core.tenants import create_token
from songforge.dialects.tempolor_v1.ids import make_id
from songforge.store.models import Job

T = "/v1/tempolor"


def _jobs(box: InProcessApp, kind: str = "instrumental", user: str = "u") -> list[tuple[str, str]]:
    """(job_id, item_id) of a fresh request's two variations, under account `user`."""
    r = box.client.post(f"{T}/accounts", json={"requestParams": {"user_id": user}}, headers=box.bearer)
    assert r.status_code == 200, r.text
    r = box.client.post(
        f"{T}/music/{kind}", json={"prompt": "calm piano", "user_id": user}, headers=box.bearer
    )
    assert r.status_code == 200, r.text
    return list(zip(r.json()["jobs"], r.json()["itemIds"], strict=True))


def _finish(box: InProcessApp, item_id: str, title: str) -> None:
    """What a worker writes when the job completes (its own title among it)."""
    with box.app.state.db.session() as s:
        job = s.get(Job, item_id)
        assert job is not None
        job.state = JobState.COMPLETED
        job.title = title
        job.blobs = {"mp3": f"jobs/{item_id}/{item_id}.mp3"}


def _patch(box: InProcessApp, job_id: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    return box.client.patch(
        f"{T}/music/{job_id}", json=body, headers=box.bearer if headers is None else headers
    )


def _listed(box: InProcessApp, kind: str = "instrumental") -> dict[str, dict[str, Any]]:
    r = box.client.get(f"{T}/music/", params={"type": kind}, headers=box.bearer)
    assert r.status_code == 200, r.text
    return {rec["job_id"]: rec for rec in r.json()["records"]}


def test_a_title_and_a_favourite_show_in_get_and_the_list(tmp_path: Path) -> None:
    with open_app(tmp_path) as box:
        (job_id, item_id), (other_id, _) = _jobs(box)
        before = box.client.get(f"{T}/music/{job_id}", headers=box.bearer).json()
        assert before["favorite"] is False and before["titleEn"] == ""
        r = _patch(box, job_id, {"title": "  Night Drive  ", "favorite": True})
        assert r.status_code == 200, r.text
        assert r.json()["titleEn"] == "Night Drive" and r.json()["favorite"] is True
        got = box.client.get(f"{T}/music/{job_id}", headers=box.bearer).json()
        assert got["titleEn"] == "Night Drive" and got["favorite"] is True
        # Everything else in the record is as it was.
        assert {k: v for k, v in got.items() if k not in ("titleEn", "favorite")} == {
            k: v for k, v in before.items() if k not in ("titleEn", "favorite")
        }
        listed = _listed(box)
        assert listed[job_id]["titleEn"] == "Night Drive" and listed[job_id]["favorite"] is True
        assert listed[other_id]["titleEn"] == "" and listed[other_id]["favorite"] is False
        # Either label alone leaves the other as it is; the trailing-slash form is the same route.
        r = box.client.patch(f"{T}/music/{job_id}/", json={"favorite": False}, headers=box.bearer)
        assert r.status_code == 200, r.text
        assert (r.json()["titleEn"], r.json()["favorite"]) == ("Night Drive", False)
        assert _patch(box, job_id, {"title": "Dawn"}).json()["favorite"] is False
        with box.app.state.db.session() as s:
            job = s.get(Job, item_id)
            assert job is not None and (job.user_title, job.favorite, job.title) == ("Dawn", False, "")


def test_the_users_title_outlives_the_workers_and_names_the_download(tmp_path: Path) -> None:
    with open_app(tmp_path) as box:
        (job_id, item_id), (other_id, other_item) = _jobs(box)
        assert _patch(box, job_id, {"title": "My Tune"}).status_code == 200
        _finish(box, item_id, "Generated Name")  # the worker finishes after the rename
        _finish(box, other_item, "Generated Name")
        assert box.client.get(f"{T}/music/{job_id}", headers=box.bearer).json()["titleEn"] == "My Tune"
        assert _listed(box)[other_id]["titleEn"] == "Generated Name"
        for jid, name in ((job_id, "My%20Tune.mp3"), (other_id, "Generated%20Name.mp3")):
            r = box.client.get(f"{T}/music/download/{jid}", headers=box.bearer)
            assert r.status_code == 200, r.text
            assert r.json()["url"].endswith("&name=" + name), r.json()
        # null puts the generated title back; the pair then shares it, so the second is "(2)".
        r = _patch(box, job_id, {"title": None})
        assert r.status_code == 200 and r.json()["titleEn"] == "Generated Name", r.text
        links = [
            box.client.get(f"{T}/music/download/{j}", headers=box.bearer).json() for j in (job_id, other_id)
        ]
        names = sorted(link["url"].rsplit("&name=", 1)[1] for link in links)
        assert names == ["Generated%20Name%20%282%29.mp3", "Generated%20Name.mp3"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "Nothing to change"),
        ({"title": "x", "colour": "red"}, "Unknown parameter colour"),
        ({"titleEn": "x"}, "Unknown parameter titleEn"),
        ({"title": ""}, "1 to 100 characters (got 0)"),
        ({"title": "   "}, "1 to 100 characters (got 0)"),
        ({"title": "a" * 101}, "1 to 100 characters (got 101)"),
        ({"title": 7}, "title must be a string"),
        ({"title": ["a"]}, "title must be a string"),
        ({"title": "two\nlines"}, "one line of text"),
        ({"favorite": "yes"}, "favorite must be true or false"),
        ({"favorite": 1}, "favorite must be true or false"),
        ({"favorite": None}, "favorite must be true or false"),
        ({"title": "ok", "favorite": 0}, "favorite must be true or false"),
    ],
)
def test_bad_bodies_are_400s_that_change_nothing(tmp_path: Path, body: dict[str, Any], words: str) -> None:
    with open_app(tmp_path) as box:
        (job_id, item_id), _ = _jobs(box)
        r = _patch(box, job_id, body)
        assert r.status_code == 400, r.text
        assert set(r.json()) == {"error", "code"} and r.json()["code"] == 400
        assert words in r.json()["error"], r.text
        with box.app.state.db.session() as s:
            job = s.get(Job, item_id)
            assert job is not None and (job.user_title, job.favorite) == (None, False)


def test_not_json_objects_and_malformed_ids_are_400s(tmp_path: Path) -> None:
    with open_app(tmp_path) as box:
        (job_id, _), _ = _jobs(box)
        for raw in (b"[1, 2]", b"{not json", b'"title"'):
            r = box.client.patch(
                f"{T}/music/{job_id}", content=raw, headers={**box.bearer, "Content-Type": "application/json"}
            )
            assert r.status_code == 400 and r.json()["code"] == 400, r.text
        r = _patch(box, "not-a-job-id", {"favorite": True})
        assert r.status_code == 400 and r.json() == {"error": "job_id has incorrect format", "code": 400}
        # Form data (all strings) says true and false in words.
        form = {"favorite": "true", "title": "Form"}
        r = box.client.patch(f"{T}/music/{job_id}", data=form, headers=box.bearer)
        assert r.status_code == 200 and (r.json()["favorite"], r.json()["titleEn"]) == (True, "Form"), r.text


def test_token_first_and_other_tenants_or_unknown_jobs_are_404(tmp_path: Path) -> None:
    with open_app(tmp_path) as box:
        (job_id, item_id), _ = _jobs(box)
        assert box.client.patch(f"{T}/music/{job_id}", json={"favorite": True}).status_code == 401
        with box.app.state.db.session() as s:
            other = {"Authorization": f"Bearer {create_token(s, 'other').token}"}
        unknown = make_id(box.tenant_id, "u", "0" * 15, "job")
        wrong_user = make_id(box.tenant_id, "someone-else", item_id, "job")
        for jid, headers in ((job_id, other), (unknown, box.bearer), (wrong_user, box.bearer)):
            r = _patch(box, jid, {"title": "Mine now", "favorite": True}, headers)
            assert r.status_code == 404, r.text
            assert r.json() == {"error": f"No record found for {jid}", "code": 404}
            # GET answers the same for the same id.
            assert box.client.get(f"{T}/music/{jid}", headers=headers).status_code == 404
        with box.app.state.db.session() as s:
            job = s.get(Job, item_id)
            assert job is not None and (job.user_title, job.favorite) == (None, False)


def test_labels_survive_a_restart(tmp_path: Path) -> None:
    with open_app(tmp_path) as box:
        (job_id, _), (other_id, _) = _jobs(box, kind="song")
        assert _patch(box, job_id, {"title": "Kept", "favorite": True}).status_code == 200
        bearer = box.bearer
    with open_app(tmp_path) as again:  # a new app on the same data dir: the database is all it has
        r = again.client.get(f"{T}/music/{job_id}", headers=bearer)
        assert r.status_code == 200, r.text
        assert (r.json()["titleEn"], r.json()["favorite"]) == ("Kept", True)
        page = again.client.get(f"{T}/music/", params={"type": "song"}, headers=bearer).json()["records"]
        assert {rec["job_id"]: rec["favorite"] for rec in page} == {job_id: True, other_id: False}


def test_openapi_documents_the_route(tmp_path: Path) -> None:
    with open_app(tmp_path) as box:
        spec = box.client.get("/openapi.json").json()
        patch = spec["paths"][f"{T}/music/{{job_id}}"]["patch"]
        assert set(patch["responses"]) >= {"200", "400", "401", "404"}
        body = spec["components"]["schemas"]["LabelsRequest"]
        assert set(body["properties"]) == {"title", "favorite"}
