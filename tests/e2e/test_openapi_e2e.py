"""The Open API dialect (/open-apis/v1) over real HTTP against real server processes: keys from
the real CLI, real generation, real callbacks to a real receiver, and the /v1/tempolor view of
the same jobs."""

from __future__ import annotations

import io
import re
import uuid
import zipfile

import httpx
import pytest
import soundfile as sf
from test_openapi_support import (
    Receiver,
    create_key,
    ok,
    open_client,
    post,
    songforge,
    wait_item,
    wav_bytes,
)

from songforge.dialects.platform.envelope import MESSAGES, Status
from songforge.outbox import verify_signature

pytestmark = pytest.mark.slow

RETRY_ENV = {"SONGFORGE_CALLBACK_RETRY_SCALE": "0.01"}


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    r = Receiver()
    yield r
    r.close()


def _status(env: dict) -> int:
    return int(env["status"])


def test_keys_envelope_and_parameter_errors(make_server, receiver) -> None:  # type: ignore[no-untyped-def]
    server = make_server()
    key = create_key(server, server.tenant_id)
    cb = receiver.url + "/cb"
    base = server.base_url + "/open-apis/v1"

    # 400002: no key, a malformed one, an unknown one; raw and Bearer forms both work.
    for headers in (
        {},
        {"Authorization": "nonsense"},
        {"Authorization": "Tempo-" + "a" * 32 + "-3w"},
        {"Authorization": f"Bearer {server.token}"},
    ):
        env = httpx.post(base + "/account/billing", json={}, headers=headers).json()
        assert env["status"] == 400002 and env["message"] == "Login expired. Please log in again.", env
        assert env["data"] is None
    with open_client(server, key) as c:
        data = ok(c, "/account/billing")
        assert data["balance"] >= 1e8 and data["unlimited"] is True
    env = httpx.post(base + "/account/billing", json={}, headers={"Authorization": f"Bearer {key}"}).json()
    assert env["status"] == 200000

    # A wrong path or method under the dialect still answers in the envelope.
    for r in (httpx.post(base + "/no/such/endpoint", json={}), httpx.get(base + "/song/query")):
        assert r.status_code in (404, 405), r.text
        env = r.json()
        assert env["status"] == 400003 and env["data"] is None and uuid.UUID(env["request_id"])
        assert env["message"].startswith("Bad Parameter.: "), env

    # request_id: a fresh UUID each time, and written to the server log.
    with open_client(server, key) as c:
        ids = [post(c, "/account/billing")["request_id"] for _ in range(3)]
        assert len(set(ids)) == 3 and all(uuid.UUID(i).version == 4 for i in ids)
        assert ids[0] in server.log()

        def err(path: str, body: dict) -> dict:
            env = post(c, path, body)
            assert env["data"] is None
            # Issue 19: the table's exact text first, then ": " and the specific reason.
            table = MESSAGES[Status(env["status"])]
            assert env["message"] == table or env["message"].startswith(table + ": "), env
            return env

        # 400003 with the reason; the platform's own wording for a blank callback_url.
        e = err("/song/generate", {"prompt": "pop", "model": "TemPolor v4.5", "callback_url": ""})
        assert (e["status"], e["message"]) == (400003, "Bad Parameter.: callback_url not blank")
        e = err("/song/generate", {"prompt": "", "model": "TemPolor v4.5", "callback_url": cb})
        assert (e["status"], e["message"]) == (400003, "Bad Parameter.: prompt not blank")
        e = err("/song/generate", {"prompt": "pop", "model": "TemPolor v9", "callback_url": cb})
        assert e["status"] == 400003 and "'TemPolor v9'" in e["message"]
        e = err("/instrumental/generate", {"prompt": "x", "model": "Mureka V9", "callback_url": cb})
        assert e["status"] == 400003 and "'Mureka V9'" in e["message"]
        e = err(
            "/song/generate",
            {"prompt": "pop", "model": "TemPolor v4.5", "callback_url": cb, "voice_id": "SV9"},
        )
        assert e["status"] == 400003 and "voice_id" in e["message"]
        e = err(
            "/song/generate",
            {"prompt": "pop", "model": "TemPolor v4.5", "callback_url": cb, "voice_id": "SV000999"},
        )
        assert e["status"] == 400003 and "SV000999" in e["message"]
        e = err(
            "/instrumental/generate", {"prompt": "lofi #BPM 400", "model": "TemPolor i3", "callback_url": cb}
        )
        assert e["status"] == 400003 and "#BPM 400" in e["message"]
        e = err(
            "/instrumental/generate",
            {"prompt": "lofi #chords C,Xq7", "model": "TemPolor i3", "callback_url": cb},
        )
        assert e["status"] == 400003 and "Xq7" in e["message"]
        e = err(
            "/instrumental/generate",
            {"prompt": "lofi #duration 200s", "model": "TemPolor i3", "callback_url": cb},
        )
        assert e["status"] == 400003 and "120" in e["message"]
        e = err("/song/generate", {"prompt": "pop", "model": "TemPolor v4.5", "callback_url": "ftp://x/cb"})
        assert e["status"] == 400003 and "callback_url" in e["message"]
        # The outbound guard: link-local (cloud metadata) is refused even where private targets are allowed.
        e = err(
            "/song/generate",
            {"prompt": "pop", "model": "TemPolor v4.5", "callback_url": "http://169.254.169.254/latest"},
        )
        assert e["status"] == 400003 and "link-local" in e["message"]
        e = err("/song/query", {"item_ids": [str(i) for i in range(11)]})
        assert e["status"] == 400003 and "at most 10" in e["message"]
        e = err("/song/query", {})
        assert (e["status"], e["message"]) == (400003, "Bad Parameter.: item_ids not blank")
        e = err("/song/extend", {"item_id": "x", "start_time": 5, "callback_url": cb})
        assert e["status"] == 400003 and "start_time" in e["message"]
        r = c.post("/song/query", content=b"{not json")
        assert r.status_code == 200 and r.json()["status"] == 400003

        # 400010: a real model of the other kind.
        e = err("/song/generate", {"prompt": "pop", "model": "TemPolor i3.5", "callback_url": cb})
        assert e["status"] == 400010 and e["message"].startswith(
            "The current model does not support this feature"
        )
        e = err("/lyrics/generate", {"prompt": "rain", "song_model": "TemPolor i4", "callback_url": cb})
        assert e["status"] == 400010

        # 400008: unknown ids, and ids of another tenant.
        e = err("/song/query", {"item_ids": ["doesnotexist"]})
        assert e["status"] == 400008 and e["message"] == "The work does not exist: doesnotexist"
        e = err("/song/extend", {"item_id": "doesnotexist", "start_time": 30, "callback_url": cb})
        assert e["status"] == 400008
        lyr = ok(c, "/lyrics/generate", {"prompt": "rain on the window", "callback_url": cb})["item_ids"][0]
    # A key of a new tenant (made with its Bearer token) cannot see the first tenant's work.
    made = songforge(server, "key", "create").stdout.splitlines()
    key2 = made[-1].strip()
    token2 = next(line.split()[2] for line in made if line.startswith("Bearer token:"))
    with open_client(server, key2) as c2:
        assert post(c2, "/lyrics/query", {"item_ids": [lyr]})["status"] == 400008

    # A revoked key stops working at once.
    prefix = key[6:14]
    assert songforge(server, "key", "revoke", prefix).returncode == 0
    with open_client(server, key) as c:
        assert post(c, "/account/billing")["status"] == 400002

    # 400007: the key's account (`openapi`, made on its first use) is full; maxJobs set through /v1/tempolor.
    with server.client(token2) as useapi:
        r = useapi.post("/accounts", json={"requestParams": {"user_id": "openapi"}, "maxJobs": 1})
        assert r.status_code == 200, r.text
    with open_client(server, key2) as c:
        body = {"prompt": "calm piano", "model": "TemPolor i3", "callback_url": cb}
        first, second = post(c, "/instrumental/generate", body), post(c, "/instrumental/generate", body)
        assert first["status"] == 200000 and second["status"] == 400007, (first, second)
        assert second["message"].startswith("The queue is full. Please wait and try again later.")
        assert ok(c, "/account/billing")["running_tasks"] == 1


def test_instrumental_tags_callbacks_retry_extend_and_cross_dialect(make_server, receiver) -> None:  # type: ignore[no-untyped-def]
    server = make_server(max_seconds=14, env=RETRY_ENV)
    key = create_key(server, server.tenant_id)
    # The first attempt fails, the second answers 200 without the ack: both are retried.
    receiver.scripts["/inst"] = [(500, "oops"), (200, "ok")]
    with open_client(server, key) as c:
        prompt = "lofi piano #BPM 85 #key C major #chords C,Am,F,G #duration 12s"
        item = ok(
            c,
            "/instrumental/generate",
            {"prompt": prompt, "model": "TemPolor i3.5", "callback_url": receiver.url + "/inst"},
        )["item_ids"][0]
        # Not done yet: extending it is refused as abnormal status.
        early = post(
            c, "/instrumental/extend", {"item_id": item, "start_time": 10, "callback_url": receiver.url}
        )
        assert early["status"] == 400009 and "still generating" in early["message"]
        done = wait_item(c, "instrumental", item)
        assert done["status"] == "succeeded" and done["audio_hi_status"] == "sub_succeeded"
        assert done["model"] == "TemPolor i3.5" and done["prompt"] == prompt and done["event"] is None
        # The engine ends on a whole bar (4 beats at 85 BPM = 2.8 s) that fits the duration.
        assert 12 - 2.9 <= done["duration"] <= 12, done
        assert done["finished_at"] >= done["created_at"]
        mp3 = httpx.get(done["audio_url"])
        assert (
            mp3.status_code == 200
            and mp3.headers["content-type"] == "audio/mpeg"
            and len(mp3.content) > 10_000
        )
        wav, sr = sf.read(io.BytesIO(httpx.get(done["audio_hi_url"]).content))
        assert 12 - 2.9 <= len(wav) / sr <= 12.05
        tampered = re.sub(r"/files/([^/]+)/[^/]+/", r"/files/\1/wrongtoken/", done["audio_url"])
        assert httpx.get(tampered).status_code == 404

        calls = receiver.wait_calls("/inst", 4)
        events = [(call["json"]["instrumentals"][0]["event"], call["answered"][0]) for call in calls]
        assert events == [
            ("audio_complete", 500),
            ("audio_complete", 200),
            ("audio_complete", 200),
            ("wav_complete", 200),
        ], events
        first = calls[2]["json"]["instrumentals"][0]
        assert first["item_id"] == item and first["status"] == "succeeded" and first["audio_url"]
        assert set(first) >= {
            "item_id",
            "status",
            "audio_hi_status",
            "model",
            "title",
            "prompt",
            "duration",
            "created_at",
            "finished_at",
            "audio_url",
            "audio_hi_url",
            "style",
            "event",
        }
        assert verify_signature(server.signing_secret, calls[3]["headers"], calls[3]["raw"])

        # The same job through /v1/tempolor: the prompt's tags became real settings.
        with server.client() as useapi:
            listed = useapi.get("/music/", params={"type": "instrumental"}).json()["records"]
            record = next(r for r in listed if r["itemId"] == item)
            job_id = record["job_id"]
            material = useapi.get(f"/music/{job_id}").json()["musicMaterial"]
            assert (
                material["key"] == "C:major"
                and material["bpm"] == 85
                and material["chord"].startswith("C Am F G")
            )

        # Extension: from a point inside the work, continuing its key and tempo.
        e = post(c, "/instrumental/extend", {"item_id": item, "start_time": 60, "callback_url": receiver.url})
        assert e["status"] == 400011 and "past the end" in e["message"]
        e = post(c, "/song/extend", {"item_id": item, "start_time": 10, "callback_url": receiver.url + "/x"})
        assert e["status"] == 400011
        ext = ok(
            c,
            "/instrumental/extend",
            {"item_id": item, "start_time": 10, "callback_url": receiver.url + "/ext"},
        )["item_ids"][0]
        ext_done = wait_item(c, "instrumental", ext)
        assert ext_done["status"] == "succeeded" and ext_done["extended_from"] == {
            "item_id": item,
            "start_time": 10,
            "splice_at": 8.471,  # back to the bar line: 3 bars of 4 beats at 85 BPM
        }
        assert ext_done["model"] == "TemPolor i3.5"
        with server.client() as useapi:
            listed = useapi.get("/music/", params={"type": "instrumental"}).json()["records"]
            ext_material = next(r for r in listed if r["itemId"] == ext)["musicMaterial"]
        assert ext_material["key"] == "C:major" and ext_material["bpm"] == 85
        assert [c["json"]["instrumentals"][0]["event"] for c in receiver.wait_calls("/ext", 2)] == [
            "audio_complete",
            "wav_complete",
        ]

        # ... and a /v1/tempolor job through the Open API (last: its renders are not waited for).
        with server.client() as useapi:
            made = useapi.post(
                "/music/instrumental", json={"prompt": "jazz trio", "model_instrumental": "i3"}
            )
            assert made.status_code == 200, made.text
            other = made.json()["itemIds"][0]
        view = ok(c, "/instrumental/query", {"item_ids": [other, item]})["instrumentals"]
        assert [v["item_id"] for v in view] == [other, item]
        assert view[0]["model"] == "TemPolor i3" and view[0]["prompt"] == "jazz trio"
        assert view[0]["status"] == "running" and view[0]["audio_url"] == ""


def test_song_and_lyrics_callbacks(make_server, receiver) -> None:  # type: ignore[no-untyped-def]
    server = make_server(max_seconds=12)
    key = create_key(server, server.tenant_id)
    with open_client(server, key) as c:
        lyr = ok(
            c,
            "/lyrics/generate",
            {
                "prompt": "a song about the sea at night",
                "song_model": "TemPolor v3",
                "callback_url": receiver.url + "/lyrics",
            },
        )["item_ids"][0]
        got = ok(c, "/lyrics/query", {"item_ids": [lyr]})["lyrics"][0]
        assert got["status"] == "succeeded" and got["title"] and "[Chorus]" in got["lyric"]
        call = receiver.wait_calls("/lyrics", 1)[0]["json"]
        assert call == {"lyrics": [got]}

        lyrics = "[Verse]\nWe sail into the silver night\nThe harbour lights are burning bright"
        song = ok(
            c,
            "/song/generate",
            {
                "prompt": "folk ballad",
                "model": "TemPolor v3.5",
                "lyrics": lyrics,
                "voice_id": "SV000004",
                "callback_url": receiver.url + "/song",
            },
        )["item_ids"][0]
        done = wait_item(c, "song", song)
        assert done["status"] == "succeeded", done
        assert done["lyrics_sections_status"] == "sub_succeeded" and done["lyrics_sections"]
        assert all(s["end"] >= s["start"] for s in done["lyrics_sections"])
        assert "silver night" in done["lyrics"]
        calls = receiver.wait_calls("/song", 3)
        assert [x["json"]["songs"][0]["event"] for x in calls] == [
            "audio_complete",
            "wav_complete",
            "lrcsections_complete",
        ]
        with server.client() as useapi:
            listed = useapi.get("/music/", params={"type": "song"}).json()["records"]
            record = next(r for r in listed if r["itemId"] == song)
            # SV000004 is the fourth artist voice of the catalogue.
            assert record["ltmMaterialExtendDto"]["ltmVocalModel"] is True


def test_stems_from_url(make_server, receiver) -> None:  # type: ignore[no-untyped-def]
    server = make_server()
    key = create_key(server, server.tenant_id)
    receiver.files["/mix.wav"] = wav_bytes(4.0)
    receiver.files["/notaudio.wav"] = b"hello, this is not audio" * 100
    cb = receiver.url + "/stems"
    with open_client(server, key) as c:
        for url, words in [
            (receiver.url + "/missing.wav", "HTTP 404"),
            (receiver.url + "/notaudio.wav", "url:"),
            (receiver.url + "/redirect", "link-local"),
            ("http://169.254.169.254/latest/meta-data/", "link-local"),
            ("file:///etc/passwd", "http"),
        ]:
            e = post(c, "/stems", {"url": url, "callback_url": cb})
            assert e["status"] == 400003 and words in e["message"], (url, e)
        e = post(c, "/stems", {"url": receiver.url + "/mix.wav", "callback_url": ""})
        assert (e["status"], e["message"]) == (400003, "Bad Parameter.: callback_url not blank")
        item = ok(c, "/stems", {"url": receiver.url + "/mix.wav", "callback_url": cb})["item_ids"][0]
        done = wait_item(c, "stems", item)
        assert done["status"] == "succeeded" and set(done) == {"item_id", "status", "stems_url"}
        z = zipfile.ZipFile(io.BytesIO(httpx.get(done["stems_url"]).content))
        assert len([n for n in z.namelist() if n.endswith((".wav", ".flac"))]) >= 3
        call = receiver.wait_calls("/stems", 1)[0]["json"]
        assert call["stems"][0]["item_id"] == item and call["stems"][0]["status"] == "succeeded"


def test_private_targets_refused_unless_allowed(make_server, receiver) -> None:  # type: ignore[no-untyped-def]
    server = make_server(allow_private_callbacks=False)
    key = create_key(server, server.tenant_id)
    receiver.files["/mix.wav"] = wav_bytes(1.0)
    with open_client(server, key) as c:
        e = post(
            c, "/song/generate", {"prompt": "pop", "model": "TemPolor v4.5", "callback_url": receiver.url}
        )
        assert e["status"] == 400003 and "loopback" in e["message"]
        e = post(c, "/stems", {"url": receiver.url + "/mix.wav", "callback_url": "http://10.1.2.3/cb"})
        assert e["status"] == 400003 and "private" in e["message"]
