"""The generation lifecycle over real HTTP: submit, poll, download, list, delete."""

from __future__ import annotations

import io
import re
import time
import zipfile
from urllib.parse import quote, urlsplit

import httpx
import pytest
import soundfile as sf
from e2e_helpers import make_account, wait_final
from mutagen.id3 import ID3

from songforge.http import signing

pytestmark = pytest.mark.slow


def test_auth_is_required_everywhere(tenant_server) -> None:  # type: ignore[no-untyped-def]
    server = tenant_server
    for method, path in [
        ("GET", "/accounts"),
        ("POST", "/accounts"),
        ("GET", "/music/"),
        ("POST", "/music/instrumental"),
        ("GET", "/scheduler/"),
        ("GET", "/scheduler/available"),
        ("GET", "/music/user:1-tempolor:u-job:abc"),
    ]:
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {server.token}"}):
            r = httpx.request(method, server.api + path, headers=headers)
            assert r.status_code == 401, (method, path, r.text)
            assert r.json() == {"error": "Unauthorized", "code": 401}


def test_instrumental_lifecycle(tenant_server) -> None:  # type: ignore[no-untyped-def]
    server = tenant_server
    with server.client() as c:
        assert c.post("/accounts", json={"maxJobs": 3}).json() == {
            "error": "Parameter requestParams is required",
            "code": 400,
        }
        account = make_account(c, "u1")
        assert account["maxJobs"] == 10 and account["updatedUTC"].endswith("Z")
        assert c.get("/accounts").json() == {"u1": account}
        assert c.get("/accounts/u1").json() == account
        assert c.get("/accounts/nobody").status_code == 404

        r = c.post(
            "/music/instrumental",
            json={
                "prompt": "A relaxing lo-fi beat with piano and soft drums",
                "model_instrumental": "i3",
                "tonality": "A:minor",
                "bpm": 84,
                "chords": "Am F C G",
                "unknownField": 1,
            },
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["result"] is True and body["unlimited"] is True
        assert len(body["itemIds"]) == 2 and len(body["jobs"]) == 2
        assert {"remainSeconds", "maxGenCountAtOnce", "remainNum", "totalNum"} <= set(body)
        for item, job in zip(body["itemIds"], body["jobs"], strict=True):
            assert job == f"user:{server.tenant_id}-tempolor:u1-job:{item}"

        job_id = body["jobs"][0]
        early = c.get(f"/music/{job_id}").json()
        if not early["status_final"]:
            assert early["status"] == 0 and early["status_name"] == "GENERATING"
            assert 0 <= early["progress"] < 100
            blocked = c.get(f"/music/download/{job_id}")
            assert blocked.status_code == 400
            assert blocked.json()["error"] == "Generation is not completed yet (0)"

        records = [wait_final(c, j) for j in body["jobs"]]
        for rec in records:
            assert (rec["status"], rec["status_name"], rec["status_final"], rec["progress"]) == (
                30,
                "COMPLETED",
                True,
                100,
            ), rec
            assert rec["titleEn"]
            m = rec["musicMaterial"]
            assert m["key"] == "A:minor" and m["bpm"] == 84 and m["dur"] > 0
            assert m["chord"]
            ext = rec["ltmMaterialExtendDto"]
            assert ext["prompt"].startswith("A relaxing") and ext["modelShowName"] == "i3"
            assert rec["createTime"] <= rec["updateTime"] and rec["canExtend"] is True
        assert records[0]["musicMaterial"]["seed"] != records[1]["musicMaterial"]["seed"]

        # raw colons and URL-encoded ids are the same job
        assert c.get(f"/music/{quote(job_id, safe='')}").json()["itemId"] == records[0]["itemId"]

        # downloads: signed links that work without the token
        links = {}
        for fmt in ("mp3", "wav", "stems"):
            r = c.get(f"/music/download/{job_id}", params={"file_format": fmt})
            assert r.status_code == 200, r.text
            assert r.json()["remainSeconds"] > 0
            links[fmt] = r.json()["url"]
            assert links[fmt].startswith(server.base_url)
        assert c.get(f"/music/download/{job_id}").json()["url"].split("?")[0] == links["mp3"].split("?")[0]
        bad = c.get(f"/music/download/{job_id}", params={"file_format": "flac"})
        assert bad.status_code == 400 and "file_format" in bad.json()["error"]

    wav = httpx.get(links["wav"])
    assert wav.status_code == 200
    data, sr = sf.read(io.BytesIO(wav.content))
    info = sf.info(io.BytesIO(wav.content))
    assert sr == 44100 and data.shape[1] == 2 and info.subtype == "PCM_16"
    mp3 = httpx.get(links["mp3"])
    assert mp3.status_code == 200 and mp3.headers["content-type"] == "audio/mpeg"
    tags = ID3(io.BytesIO(mp3.content))
    assert str(tags["TIT2"]) == records[0]["titleEn"]
    stems = httpx.get(links["stems"])
    names = zipfile.ZipFile(io.BytesIO(stems.content)).namelist()
    assert len(names) >= 2 and all(n.endswith(".wav") for n in names)

    # tampered and expired links are refused
    tampered = re.sub(r"sig=([0-9a-f])", lambda m: "sig=" + ("0" if m.group(1) != "0" else "1"), links["wav"])
    assert httpx.get(tampered).status_code == 403
    path = urlsplit(links["wav"]).path
    other = path.replace(".wav", ".mp3")
    query = urlsplit(links["wav"]).query
    assert httpx.get(server.base_url + other + "?" + query).status_code == 403
    secret = signing.server_secret(server.data_dir)
    expired = signing.sign_path(secret, path.removeprefix("/files/"), -10)
    assert httpx.get(server.base_url + expired).status_code == 403
    assert httpx.get(server.base_url + path).status_code == 403

    with server.client() as c:
        listed = c.get("/music/", params={"type": "instrumental"}).json()
        assert {r["itemId"] for r in listed["records"]} == {r["itemId"] for r in records}
        assert listed["hasNext"] is False
        assert c.get("/music/").json()["records"] == []  # default type is song
        bad_type = c.get("/music/", params={"type": "podcast"})
        assert bad_type.status_code == 400
        assert bad_type.json()["error"] == "Invalid type parameter. Must be 'song' or 'instrumental'"

        # delete: record and files gone
        blob_dir = server.data_dir / "blobs" / "jobs" / records[0]["itemId"]
        assert blob_dir.is_dir()
        assert c.delete(f"/music/{job_id}").json() == {"result": True}
        assert not blob_dir.exists()
        assert httpx.get(links["wav"]).status_code == 404
        gone = c.get(f"/music/{job_id}")
        assert gone.status_code == 404 and gone.json() == {
            "error": f"No record found for {job_id}",
            "code": 404,
        }
        assert c.delete(f"/music/{job_id}").status_code == 404
        assert c.get(f"/music/download/{job_id}").status_code == 404
        for path in ("/music/not-an-id", "/music/download/user:1-job:x"):
            r = c.get(path)
            assert r.status_code == 400 and r.json()["error"] == "job_id has incorrect format"
        assert c.delete("/music/nope").json() == {"error": "job_id has incorrect format", "code": 400}

        assert c.delete("/accounts/u1").status_code == 204
        assert c.delete("/accounts/u1").status_code == 404
        assert c.get("/accounts").status_code == 404


def test_song_request_forms_and_sources(tenant_server) -> None:  # type: ignore[no-untyped-def]
    server = tenant_server
    with server.client() as c:
        make_account(c, "singer")
        # multipart/form-data like the vendor's Postman collection
        r = c.post(
            "/music/song",
            data={"prompt": "An upbeat pop song about summer", "lyrics": "Sun on my face\nAll day long"},
            files={"ignored": ("x.txt", b"x")},
        )
        assert r.status_code == 200, r.text
        job_ids = r.json()["jobs"]
        for bad, _field in [
            (
                {"prompt": "x", "clonedVoiceItemId": f"user:{server.tenant_id}-tempolor:singer-voice:abc123"},
                None,
            ),
            ({"prompt": "x", "midiItemId": f"user:{server.tenant_id}-tempolor:singer-midi:abc123"}, None),
        ]:
            r = c.post("/music/song", json=bad)
            assert r.status_code == 404, r.text
            assert r.json() == {"error": "The source material does not exist.", "code": 404}
        r = c.post("/music/song", json={"prompt": "a ballad", "lyrics": "사랑해 너를 영원히\n너만을 바라봐"})
        assert r.status_code == 400 and "Korean" in r.json()["error"], r.text
        r = c.post("/music/song", json={"lyrics": "no prompt"})
        assert r.json() == {"error": "Parameter prompt is required", "code": 400}
        r = c.post("/music/song", content=b"{not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and "JSON" in r.json()["error"]
        r = c.post("/music/song", json={"prompt": "x", "model_song": "v2"})
        assert r.status_code == 400 and "model_song" in r.json()["error"]
        # curl -d '{...}' without a Content-Type sends JSON labelled as a form: accepted
        r = c.post(
            "/music/instrumental",
            content=b'{"prompt": "ambient pads", "model_instrumental": "i3", "chord": "C Bogus"}',
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 400 and "Bogus" in r.json()["error"]
        for job_id in job_ids:
            rec = wait_final(c, job_id, timeout=180)
            assert rec["status"] == 30, rec
            assert rec["ltmMaterialExtendDto"]["lyricsPrompt"]


def test_openapi_landing_and_health(tenant_server) -> None:  # type: ignore[no-untyped-def]
    server = tenant_server
    assert httpx.get(server.base_url + "/healthz").json() == {"status": "ok"}
    landing = httpx.get(server.base_url + "/")
    assert landing.status_code == 200 and "/docs" in landing.text and "token create" in landing.text
    assert httpx.get(server.base_url + "/docs").status_code == 200
    schema = httpx.get(server.base_url + "/openapi.json").json()
    paths = schema["paths"]
    p = "/v1/tempolor"
    expected = {
        f"{p}/accounts": {"get", "post"},
        f"{p}/accounts/{{user_id}}": {"get", "delete"},
        f"{p}/music/song": {"post"},
        f"{p}/music/instrumental": {"post"},
        f"{p}/music/": {"get"},
        f"{p}/music/{{job_id}}": {"get", "delete"},
        f"{p}/music/download/{{job_id}}": {"get"},
        f"{p}/scheduler/": {"get"},
        f"{p}/scheduler/available": {"get"},
        f"{p}/scheduler/{{job_id}}": {"delete"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
        for m in methods:
            assert "401" in paths[path][m]["responses"]
            assert "422" not in paths[path][m]["responses"]
    assert "429" in paths[f"{p}/music/song"]["post"]["responses"]
    assert {"ErrorBody", "BusyBody", "SongRequest", "InstrumentalRequest"} <= set(
        schema["components"]["schemas"]
    )
    assert httpx.get(server.base_url + "/nowhere").json() == {"error": "Not Found", "code": 404}
    time.sleep(0)
