"""Share links (in-process app on a real SQLite file, no workers): POST /music/{job_id}/share makes
a stateless signed token; /share/<token> is the read-only page and /share/<token>/track its data,
both without a Bearer token. A tampered token is a 404 page, an expired one (by a short lifetime
setting, or crafted with the server's own secret) a 410, and a deleted work's link a 410 too. The
page's data names the work only: no job id, account, tenant, prompt or settings."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from inprocess_app import InProcessApp, open_app
from songforge.core.states import JobState
from songforge.core.tenants import create_token, revoke_token
from songforge.http import signing
from songforge.http.studio import CONTENT_SECURITY_POLICY
from songforge.store.models import Job

T = "/v1/tempolor"
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 4
PROMPT = "a secret prompt about my cat Biscuit"


def _finished_song(box: InProcessApp, user_id: str = "alice-account") -> tuple[str, str]:
    """A completed song of the caller's (job id, item id), with an mp3 in the blob store and timed
    lyrics, as a worker leaves one."""
    c, h = box.client, box.bearer
    r = c.post(f"{T}/accounts", json={"requestParams": {"user_id": user_id}}, headers=h)
    assert r.status_code == 200, r.text
    body = {"prompt": PROMPT, "user_id": user_id, "lyrics": "[Verse]\nhello there\n[Chorus]\nla la la"}
    r = c.post(f"{T}/music/song", json=body, headers=h)
    assert r.status_code == 200, r.text
    job_id, item_id = r.json()["jobs"][0], r.json()["itemIds"][0]
    key = f"jobs/{item_id}/{item_id}.mp3"
    box.app.state.blobs.put_bytes(key, MP3)
    with box.app.state.db.session() as s:
        job = s.get(Job, item_id)
        assert job is not None
        job.state = JobState.COMPLETED
        job.progress = 100
        job.title = "Night / Drive"
        job.material = {"dur": 6, "bpm": 96, "key": "C:major", "style": "pop"}
        job.blobs = {"mp3": key}
        job.extra = {
            "lyrics_lines": [[0.5, 1.5, "[Verse]"], [0.5, 2.0, "hello there"], [3.0, 4.0, "la la la"]]
        }
    return job_id, item_id


def _share(box: InProcessApp, job_id: str, headers: dict[str, str] | None = None) -> Any:
    return box.client.post(f"{T}/music/{job_id}/share", headers=box.bearer if headers is None else headers)


def _token(url: str) -> str:
    return url.rsplit("/share/", 1)[1]


def test_a_share_link_opens_the_work_alone_without_a_token(tmp_path: Path) -> None:
    with open_app(tmp_path) as box:
        job_id, item_id = _finished_song(box)
        before = int(time.time())
        r = _share(box, job_id)
        assert r.status_code == 200, r.text
        out = r.json()
        assert set(out) == {"url", "expires", "remainSeconds"}
        assert out["remainSeconds"] == 30 * 24 * 3600  # the default lifetime
        assert before + out["remainSeconds"] <= out["expires"] <= int(time.time()) + out["remainSeconds"]
        assert urlsplit(out["url"]).path.startswith("/share/")
        token = _token(out["url"])
        assert job_id not in token and "alice" not in token

        page = box.client.get(f"/share/{token}")  # no Authorization header
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert page.headers["x-robots-tag"] == "noindex" and page.headers["cache-control"] == "no-store"
        assert "/studio/static/js/share-page.js" in page.text

        r = box.client.get(f"/share/{token}/track")
        assert r.status_code == 200, r.text
        data = r.json()
        assert data["title"] == "Night / Drive" and data["type"] == "song"
        assert data["musicMaterial"]["bpm"] == 96 and data["musicMaterial"]["key"] == "C:major"
        assert data["ltmMaterialExtendDto"]["lrcTimestamp"].splitlines() == [
            "[00:00.50][Verse]",
            "[00:00.50]hello there",
            "[00:03.00]la la la",
        ]
        assert data["downloadName"] == "Night _ Drive.mp3"
        assert data["expires"] == out["expires"]
        # Nothing of the account: not the job id (it names tenant and account), the account, the
        # tenant, the prompt, or the request's settings.
        text = json.dumps(data)
        for secret in (job_id, "alice-account", box.tenant_id, PROMPT, "Biscuit", "settings", "userId"):
            assert secret not in text, secret
        # The download works without a token, named by title.
        link = urlsplit(data["audioUrl"])
        audio = box.client.get(f"{link.path}?{link.query}")
        assert audio.status_code == 200 and audio.content == MP3
        assert "Night%20_%20Drive.mp3" in audio.headers["content-disposition"]


def test_a_tampered_token_is_a_404_page(tmp_path: Path) -> None:
    with open_app(tmp_path) as box:
        job_id, item_id = _finished_song(box)
        token = _token(_share(box, job_id).json()["url"])
        item, expires, mac = token.split(".")
        other_job, other_item = _finished_song(box, "bob")
        flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
        for bad in (
            f"{item}.{expires}.{flipped}",  # the signature changed
            f"{other_item}.{expires}.{mac}",  # another work under this signature
            f"{item}.{int(expires) + 86400}.{mac}",  # a longer life
            f"{item}.{expires}",
            "nonsense",
            f"{item}.{expires}.{mac}.x",
        ):
            page = box.client.get(f"/share/{bad}")
            assert page.status_code == 404, (bad, page.status_code)
            assert page.headers["content-type"].startswith("text/html")
            assert "This share link is not valid" in page.text
            assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
            assert "<script" not in page.text
            r = box.client.get(f"/share/{bad}/track")
            assert r.status_code == 404 and "not valid" in r.json()["error"]
        # Signed with another server's secret: not valid here either.
        foreign, _ = signing.share_token(b"x" * 32, item_id, 3600)
        assert box.client.get(f"/share/{foreign}").status_code == 404


def test_an_expired_token_is_a_410_page(tmp_path: Path) -> None:
    # A lifetime setting that has run out as soon as the link is made...
    with open_app(tmp_path / "short", share_ttl_seconds=-1) as box:
        job_id, _ = _finished_song(box)
        out = _share(box, job_id).json()
        assert out["expires"] < time.time()
        page = box.client.get(f"/share/{_token(out['url'])}")
        assert page.status_code == 410 and "This share link has expired" in page.text
        r = box.client.get(f"/share/{_token(out['url'])}/track")
        assert r.status_code == 410 and "expired" in r.json()["error"]
    # ...and a token crafted with the server's own secret, a second past its time.
    with open_app(tmp_path / "crafted") as box:
        job_id, item_id = _finished_song(box)
        secret = signing.server_secret(box.app.state.settings.data_dir)
        stale, expires = signing.share_token(secret, item_id, 60, now=time.time() - 61)
        assert box.client.get(f"/share/{stale}").status_code == 410
        fresh, _ = signing.share_token(secret, item_id, 60)
        assert box.client.get(f"/share/{fresh}").status_code == 200


def test_a_deleted_work_or_a_revoked_owner_ends_the_link(tmp_path: Path) -> None:
    with open_app(tmp_path) as box:
        job_id, _ = _finished_song(box)
        token = _token(_share(box, job_id).json()["url"])
        assert box.client.delete(f"{T}/music/{job_id}", headers=box.bearer).status_code == 200
        page = box.client.get(f"/share/{token}")
        assert page.status_code == 410 and "no longer available" in page.text

        with box.app.state.db.session() as s:
            other = create_token(s, "carol")
        carol = {"Authorization": f"Bearer {other.token}"}
        r = box.client.post(f"{T}/accounts", json={"requestParams": {"user_id": "c"}}, headers=carol)
        assert r.status_code == 200
        r = box.client.post(f"{T}/music/instrumental", json={"prompt": "calm", "user_id": "c"}, headers=carol)
        item_id = r.json()["itemIds"][0]
        with box.app.state.db.session() as s:
            job = s.get(Job, item_id)
            assert job is not None
            job.state, job.blobs = JobState.COMPLETED, {"mp3": f"jobs/{item_id}/{item_id}.mp3"}
        token = _token(_share(box, r.json()["jobs"][0], carol).json()["url"])
        assert box.client.get(f"/share/{token}").status_code == 200
        with box.app.state.db.session() as s:
            revoke_token(s, other.tenant_id)
        assert box.client.get(f"/share/{token}").status_code == 410


def test_only_the_owner_shares_and_only_a_finished_work(tmp_path: Path) -> None:
    with open_app(tmp_path) as box:
        job_id, item_id = _finished_song(box)
        assert _share(box, job_id, headers={}).status_code == 401
        with box.app.state.db.session() as s:
            other = {"Authorization": f"Bearer {create_token(s, 'other').token}"}
        r = _share(box, job_id, headers=other)
        assert r.status_code == 404 and r.json() == {"error": f"No record found for {job_id}", "code": 404}
        with box.app.state.db.session() as s:
            job = s.get(Job, item_id)
            assert job is not None
            job.state = JobState.QUEUED
        r = _share(box, job_id)
        assert r.status_code == 400 and "not completed" in r.json()["error"]


def test_share_tokens_verify_until_they_expire() -> None:
    secret = b"k" * 32
    token, expires = signing.share_token(secret, "abc123", 60, now=1000)
    assert expires == 1060
    assert signing.read_share_token(secret, token, now=1060) == ("abc123", 1060)
    try:
        signing.read_share_token(secret, token, now=1061)
        raise AssertionError("an expired token was accepted")
    except signing.ShareLinkExpired:
        pass
    # The file links' MAC never passes for a share token (another message, another encoding).
    assert not signing.verify(secret, "/files/abc123", str(expires), token.rsplit(".", 1)[1], now=1000)
