"""Contract test: requests shaped exactly like the platform's own curl samples (header spelling,
`Content-Type: application/json; charset=utf-8`, raw key, the documented bodies, the Chinese
tag prompt of the instrumental page), and responses checked field by field against the
reference's examples (tempolor-apis-reference.md part A)."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from test_openapi_support import Receiver, create_key, wav_bytes

pytestmark = pytest.mark.slow

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
SONG_FIELDS = {
    "item_id", "status", "audio_hi_status", "lyrics_sections_status", "event", "model", "title",
    "style", "prompt", "duration", "created_at", "finished_at", "audio_url", "audio_hi_url",
    "lyrics_sections", "lyrics",
}  # fmt: skip
INSTRUMENTAL_FIELDS = {
    "item_id", "status", "audio_hi_status", "model", "title", "prompt", "duration", "created_at",
    "finished_at", "audio_url", "audio_hi_url", "style", "event",
}  # fmt: skip


def curl(base: str, path: str, key: str, data_raw: str) -> dict:
    """`curl --location --request POST '<path>' --header 'Authorization: <key>'
    --header 'Content-Type: application/json; charset=utf-8' --data-raw '<json>'`"""
    r = httpx.post(
        base + path,
        headers={"Authorization": key, "Content-Type": "application/json; charset=utf-8"},
        content=data_raw.encode("utf-8"),
        follow_redirects=True,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["status", "message", "request_id", "data"], body
    assert isinstance(body["status"], int) and UUID_RE.match(body["request_id"]), body
    return body


def _ids(body: dict) -> list[str]:
    assert body["status"] == 200000 and body["message"] == "success", body
    ids = body["data"]["item_ids"]
    assert isinstance(ids, list) and len(ids) == 1 and all(isinstance(i, str) for i in ids)
    return ids


def _poll(base: str, path: str, key: str, item: str, field: str) -> dict:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        body = curl(base, path, key, f'{{\n    "item_ids": [\n        "{item}"\n    ]\n}}')
        assert body["status"] == 200000, body
        entry = body["data"][field][0]
        if entry["status"] in ("succeeded", "part_failed", "failed"):
            return entry
        time.sleep(0.5)
    raise AssertionError(f"{item} not final")


def test_platform_curl_samples(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(max_seconds=6)
    key = create_key(server, server.tenant_id)
    base = server.base_url
    rx = Receiver()
    rx.files["/audio.wav"] = wav_bytes(3.0)
    try:
        song_ids = _ids(
            curl(
                base,
                "/open-apis/v1/song/generate",
                key,
                f"""{{
    "prompt": "Genre: Pop Style: Dreamy Mood: Happy",
    "lyrics": "[verse]\\nUnder the moon we dance tonight\\n[chorus]\\nHold on to the light",
    "model": "TemPolor v4.5",
    "voice_id": "SV000002",
    "callback_url": "{rx.url}/song/callback"
}}""",
            )
        )
        inst_ids = _ids(
            curl(
                base,
                "/open-apis/v1/instrumental/generate",
                key,
                f"""{{
    "prompt": "#节奏：BPM 85  #调性：Cmajor  #和弦：C,Am,F,G  #时长: 100秒",
    "model": "TemPolor i3.5",
    "callback_url": "{rx.url}/instrumental/callback"
}}""",
            )
        )
        lyric_ids = _ids(
            curl(
                base,
                "/open-apis/v1/lyrics/generate",
                key,
                f"""{{
    "prompt": "Moonlight whisper",
    "song_model": "TemPolor v3",
    "callback_url": "{rx.url}/lyrics/callback"
}}""",
            )
        )
        stems_ids = _ids(
            curl(
                base,
                "/open-apis/v1/stems",
                key,
                f"""{{
    "url": "{rx.url}/audio.wav",
    "callback_url": "{rx.url}/stems/callback"
}}""",
            )
        )
        billing = curl(base, "/open-apis/v1/account/billing", key, "{}")
        assert billing["status"] == 200000 and isinstance(billing["data"]["balance"], float)

        lyric = _poll(base, "/open-apis/v1/lyrics/query", key, lyric_ids[0], "lyrics")
        assert set(lyric) == {"item_id", "status", "title", "lyric"} and lyric["status"] == "succeeded"

        inst = _poll(base, "/open-apis/v1/instrumental/query", key, inst_ids[0], "instrumentals")
        assert set(inst) == INSTRUMENTAL_FIELDS and inst["status"] == "succeeded", inst
        assert isinstance(inst["duration"], int) and isinstance(inst["created_at"], int)
        inst_cb = rx.wait_calls("/instrumental/callback", 2)
        assert [c["json"]["instrumentals"][0]["event"] for c in inst_cb] == ["audio_complete", "wav_complete"]
        assert all(set(c["json"]) == {"instrumentals"} for c in inst_cb)

        song = _poll(base, "/open-apis/v1/song/query", key, song_ids[0], "songs")
        assert set(song) == SONG_FIELDS, set(song) ^ SONG_FIELDS
        assert song["status"] == "succeeded" and song["model"] == "TemPolor v4.5", song
        for section in song["lyrics_sections"]:
            assert set(section) == {"start", "end", "text"}
        assert [c["json"]["songs"][0]["event"] for c in rx.wait_calls("/song/callback", 3)] == [
            "audio_complete",
            "wav_complete",
            "lrcsections_complete",
        ]

        stems = _poll(base, "/open-apis/v1/stems/query", key, stems_ids[0], "stems")
        assert set(stems) == {"item_id", "status", "stems_url"} and stems["status"] == "succeeded"
        assert rx.wait_calls("/stems/callback", 1)[0]["json"] == {"stems": [stems]}
        assert rx.wait_calls("/lyrics/callback", 1)[0]["json"] == {"lyrics": [lyric]}
    finally:
        rx.close()
