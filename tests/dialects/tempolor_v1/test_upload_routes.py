"""Upload routes in-process: the real app, real SQLite, real blob store, real decoding.

Worker processes are not started here; where a test needs the worker side it runs the same
dispatcher the workers run (`uploads_dispatch.run_one`) in this process. The real-server version
of these flows is tests/e2e/test_uploads_e2e.py.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from songforge.config import Settings
from songforge.core import accounts, tenants
from songforge.dialects.tempolor_v1.routes import uploads
from songforge.server import create_app
from songforge.store.db import Database
from songforge.store.models import MidiItem, StemsTask, Voice
from songforge.workers import uploads_dispatch
from songforge.workers.context import WorkerContext
from songforge.workers.uploads import _analyse as analyse_sample

P = "/v1/tempolor"


def midi_bytes(notes: int = 4) -> bytes:
    mid = mido.MidiFile()
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(90)))
    for i in range(notes):
        track.append(mido.Message("note_on", note=60 + i, velocity=90, time=0))
        track.append(mido.Message("note_off", note=60 + i, velocity=0, time=480))
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def voice_wav(seconds: float = 6.0, sr: int = 22050, f0: float = 196.0) -> bytes:
    """A sung-vowel stand-in: a harmonic tone with vibrato and syllable-like gaps."""
    t = np.arange(int(seconds * sr)) / sr
    pitch = f0 * 2 ** (0.3 * np.sin(2 * np.pi * 0.25 * t) + 0.01 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / sr
    tone = sum(np.sin(k * phase) / k for k in range(1, 8))
    gate = (np.sin(2 * np.pi * 1.5 * t) > -0.7).astype(float)
    buf = io.BytesIO()
    sf.write(buf, (0.2 * tone * gate).astype(np.float32), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def many_channel_wav(channels: int = 10, seconds: float = 6.0, sr: int = 8000) -> bytes:
    """A valid WAV with more channels than the server accepts (8): refused as over a limit."""
    t = np.arange(int(seconds * sr)) / sr
    x = 0.2 * np.sin(2 * np.pi * 220 * t)[:, None] * np.ones((1, channels))
    buf = io.BytesIO()
    sf.write(buf, x.astype(np.float32), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def mix_wav(seconds: float = 4.0, sr: int = 44100) -> bytes:
    rng = np.random.default_rng(1)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 220 * t)[:, None] * np.ones((1, 2)) + 0.03 * rng.standard_normal((len(t), 2))
    buf = io.BytesIO()
    sf.write(buf, x.astype(np.float32), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


class Env:
    def __init__(self, tmp: Path) -> None:
        self.settings = Settings(
            data_dir=tmp / "data", max_midi_bytes=64 * 1024, max_audio_bytes=3 * 1024 * 1024
        )
        self.settings.upload_wait_seconds = 0.3  # type: ignore[attr-defined]
        self.app = create_app(self.settings, run_workers=False, run_background=False)
        self.client = TestClient(self.app, raise_server_exceptions=False)
        self.client.__enter__()
        self.db: Database = self.app.state.db
        with self.db.session() as s:
            t1 = tenants.create_token(s, "one")
            t2 = tenants.create_token(s, "two")
            accounts.upsert_account(s, t1.tenant_id, {"user_id": "alice"}, None)
            accounts.upsert_account(s, t2.tenant_id, {"user_id": "bob"}, None)
        self.t1, self.t2 = t1, t2
        self.h1 = {"Authorization": f"Bearer {t1.token}"}
        self.h2 = {"Authorization": f"Bearer {t2.token}"}

    def post(self, path: str, data: bytes, ctype: str, headers: dict | None = None, **params: str):  # type: ignore[no-untyped-def]
        return self.client.post(
            P + path, content=data, params=params, headers={**(headers or self.h1), "Content-Type": ctype}
        )

    def run_workers(self) -> int:
        ctx = WorkerContext.from_settings(self.settings, "test")
        n = 0
        try:
            while uploads_dispatch.run_one(ctx):
                n += 1
        finally:
            ctx.db.dispose()
        return n

    def blob_files(self) -> list[str]:
        root = self.settings.blob_dir
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    def count(self, model: type) -> int:
        with self.db.session() as s:
            return int(s.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    yield e
    e.client.__exit__(None, None, None)


# ----------------------------------------------------------------------------- MIDI


def test_midi_round_trip(env: Env) -> None:
    r = env.post("/music/midi/", midi_bytes(), "audio/midi", name="my background music")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["isFirst"] is True
    vo = body["midiRenderVO"]
    assert vo["opType"] == "upload" and vo["ucid"] == "alice" and vo["name"] == "my background music"
    assert (
        vo["midiItemId"]
        == f"user:{env.t1.tenant_id}-tempolor:alice-midi:" + vo["midiItemId"].rsplit(":", 1)[1]
    )
    # The link works without the token and returns exactly the uploaded bytes.
    path = vo["midiUrl"].split("://", 1)[1].split("/", 1)[1]
    got = env.client.get("/" + path)
    assert got.status_code == 200 and got.content == midi_bytes()
    assert env.client.get("/" + path.replace("sig=", "sig=0")).status_code == 403

    second = env.post("/music/midi", midi_bytes(3), "audio/x-midi", name="two")
    assert second.status_code == 200 and second.json()["isFirst"] is False

    listing = env.client.get(P + "/music/midi/", headers=env.h1).json()
    assert [r["name"] for r in listing["records"]] == ["two", "my background music"]
    assert listing["hasNext"] is False and listing["cursor"] == ""

    # Another tenant neither sees nor deletes it.
    assert env.client.get(P + "/music/midi/", headers=env.h2).json()["records"] == []
    assert env.client.delete(P + f"/music/midi/{vo['midiItemId']}", headers=env.h2).status_code == 404

    d = env.client.delete(P + f"/music/midi/{vo['midiItemId']}", headers=env.h1)
    assert d.status_code == 200 and d.json() == {"result": True}
    assert env.client.get("/" + path).status_code == 404
    again = env.client.delete(P + f"/music/midi/{vo['midiItemId']}", headers=env.h1)
    assert again.status_code == 404
    assert again.json() == {"error": f"No record found for {vo['midiItemId']}", "code": 404}
    bad = env.client.delete(P + "/music/midi/not-an-id", headers=env.h1)
    assert bad.json() == {"error": "midiItemId has incorrect format", "code": 400}


def test_midi_pagination_is_stable(env: Env) -> None:
    for i in range(uploads.PAGE_SIZE + 3):
        assert env.post("/music/midi/", midi_bytes(), "audio/midi", name=f"m{i}").status_code == 200
    first = env.client.get(P + "/music/midi/", headers=env.h1).json()
    assert first["hasNext"] is True and len(first["records"]) == uploads.PAGE_SIZE
    env.post("/music/midi/", midi_bytes(), "audio/midi", name="late")  # must not shift page two
    second = env.client.get(P + "/music/midi/", params={"cursor": first["cursor"]}, headers=env.h1).json()
    assert second["hasNext"] is False
    names = [r["name"] for r in first["records"] + second["records"]]
    assert sorted(names) == sorted(f"m{i}" for i in range(uploads.PAGE_SIZE + 3))
    bad = env.client.get(P + "/music/midi/", params={"cursor": "garbage!"}, headers=env.h1)
    assert bad.status_code == 400 and bad.json()["code"] == 400


@pytest.mark.parametrize(
    ("data", "ctype", "params", "status", "message"),
    [
        (midi_bytes(), "audio/wav", {"name": "x"}, 400, "Content-Type must be audio/midi or audio/x-midi"),
        (midi_bytes(), "application/octet-stream", {"name": "x"}, 400, "Content-Type must be"),
        (midi_bytes(), "audio/midi", {}, 400, "Parameter name is required"),
        (midi_bytes(), "audio/midi", {"name": "  "}, 400, "Parameter name is required"),
        (b"", "audio/midi", {"name": "x"}, 400, "Empty file received"),
        (b"not a midi file at all", "audio/midi", {"name": "x"}, 400, "not a valid MIDI file"),
        (midi_bytes()[:30], "audio/midi", {"name": "x"}, 400, "not a valid MIDI file"),
        (midi_bytes(0), "audio/midi", {"name": "x"}, 400, "contains no notes"),
        (b"MThd" + b"\0" * (70 * 1024), "audio/midi", {"name": "x"}, 413, "too large"),
        (midi_bytes(), "audio/midi", {"name": "x", "user_id": "nobody"}, 404, "nobody"),
    ],
)
def test_bad_midi_uploads_leave_nothing(  # type: ignore[no-untyped-def]
    env: Env, data: bytes, ctype: str, params: dict, status: int, message: str
) -> None:
    r = env.post("/music/midi/", data, ctype, **params)
    assert r.status_code == status, r.text
    assert message in r.json()["error"] and r.json()["code"] == status
    assert env.count(MidiItem) == 0
    assert env.blob_files() == []


def test_size_cap_applies_to_streamed_bodies_without_length(env: Env) -> None:
    sent = []

    def chunks() -> Iterator[bytes]:
        for _ in range(200):  # 200 x 16 KiB = 3.2 MiB, far over the 64 KiB MIDI cap
            sent.append(1)
            yield b"\0" * 16384

    r = env.client.post(
        P + "/music/midi/",
        params={"name": "x"},
        content=chunks(),
        headers={**env.h1, "Content-Type": "audio/midi"},
    )
    assert r.status_code == 413 and r.json()["code"] == 413
    assert env.blob_files() == [] and env.count(MidiItem) == 0


def test_auth_is_required(env: Env) -> None:
    for method, path in [
        ("post", "/music/midi/"), ("get", "/music/midi/"), ("delete", "/music/midi/x"),
        ("post", "/music/cloned-voices/"), ("get", "/music/cloned-voices/"), ("get", "/music/artist-voices/"),
        ("post", "/music/stems-splitter/"), ("get", "/music/stems-splitter/x"),
    ]:  # fmt: skip
        r = env.client.request(method, P + path, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401 and r.json() == {"error": "Unauthorized", "code": 401}, (method, path)


def test_user_id_required_with_several_accounts(env: Env) -> None:
    with env.db.session() as s:
        accounts.upsert_account(s, env.t1.tenant_id, {"user_id": "carol"}, None)
    r = env.post("/music/midi/", midi_bytes(), "audio/midi", name="x")
    assert r.status_code == 400 and "user_id" in r.json()["error"]
    ok = env.post("/music/midi/", midi_bytes(), "audio/midi", name="x", user_id="carol")
    assert ok.status_code == 200 and ok.json()["midiRenderVO"]["ucid"] == "carol"


# ----------------------------------------------------------------------------- voices


def test_voice_analysis_finds_the_range() -> None:
    audio, sr = sf.read(io.BytesIO(voice_wav(f0=196.0)), dtype="float32")
    profile = analyse_sample(audio, sr)
    assert 52 <= profile["medianMidi"] <= 58  # 196 Hz is G3 = MIDI 55
    assert profile["lowMidi"] < profile["medianMidi"] < profile["highMidi"]
    noise = np.random.default_rng(0).standard_normal(sr * 6).astype(np.float32) * 0.1
    with pytest.raises(Exception, match="No voice"):
        analyse_sample(noise, sr)


def test_cloned_voice_lifecycle(env: Env) -> None:
    r = env.post("/music/cloned-voices/", voice_wav(), "audio/wav", name="my voice")
    # No worker ran within the (short) wait: 202 with the ids, as the spec says.
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["clonedVoiceItemId"].endswith(":" + body["itemId"]) and "still processing" in body["message"]
    rec = env.client.get(P + "/music/cloned-voices/", headers=env.h1).json()["records"][0]
    assert rec["status"] == 0 and rec["name"] == "my voice" and rec["ucid"] == "alice"

    assert env.run_workers() == 1
    rec = env.client.get(P + "/music/cloned-voices", headers=env.h1).json()["records"][0]
    assert rec["status"] == 30, rec
    assert rec["clonedVoiceItemId"] == body["clonedVoiceItemId"]
    sample = env.client.get("/" + rec["vocalUrl"].split("://", 1)[1].split("/", 1)[1])
    assert sample.status_code == 200 and sample.content == voice_wav()
    with env.db.session() as s:
        profile = s.get(Voice, body["itemId"]).profile
    assert profile and set(profile) != {"attempts"}  # the analysis was stored

    assert env.client.get(P + "/music/cloned-voices/", headers=env.h2).json()["records"] == []
    assert (
        env.client.delete(P + f"/music/cloned-voices/{body['clonedVoiceItemId']}", headers=env.h2).status_code
        == 404
    )
    d = env.client.delete(P + f"/music/cloned-voices/{body['clonedVoiceItemId']}", headers=env.h1)
    assert d.json() == {"result": True}
    assert env.blob_files() == [] and env.count(Voice) == 0
    bad = env.client.delete(P + "/music/cloned-voices/voice:xyz", headers=env.h1)
    assert bad.json() == {"error": "clonedVoiceItemId has incorrect format", "code": 400}


def test_voice_without_a_voice_fails_with_a_reason(env: Env) -> None:
    sr = 22050
    noise = np.random.default_rng(0).standard_normal(sr * 6).astype(np.float32) * 0.1
    buf = io.BytesIO()
    sf.write(buf, noise, sr, format="WAV", subtype="PCM_16")
    r = env.post("/music/cloned-voices/", buf.getvalue(), "audio/wave", name="noise")
    assert r.status_code == 202
    env.run_workers()
    rec = env.client.get(P + "/music/cloned-voices/", headers=env.h1).json()["records"][0]
    assert rec["status"] == 10 and "voice" in rec["error"].lower()


@pytest.mark.parametrize(
    ("data", "ctype", "params", "status", "message"),
    [
        (voice_wav(3.0), "audio/wav", {"name": "x"}, 400, "5 seconds to 5 minutes"),
        (voice_wav(), "audio/mpeg", {"name": "x"}, 400, "says MP3 but the file is WAV"),
        (voice_wav(), "audio/ogg", {"name": "x"}, 400, "Content-Type must be one of audio/mp4"),
        (voice_wav(), "audio/wav", {}, 400, "Parameter name is required"),
        (b"", "audio/flac", {"name": "x"}, 400, "Empty file received"),
        (b"RIFF\x10\x00\x00\x00garbage", "audio/wav", {"name": "x"}, 400, "not a readable audio file"),
        (b"\0" * (4 * 1024 * 1024), "audio/wav", {"name": "x"}, 413, "too large"),
        (many_channel_wav(), "audio/wav", {"name": "x"}, 413, "10 channels is above the limit of 8"),
    ],
)
def test_bad_voice_uploads_leave_nothing(  # type: ignore[no-untyped-def]
    env: Env, data: bytes, ctype: str, params: dict, status: int, message: str
) -> None:
    r = env.post("/music/cloned-voices/", data, ctype, **params)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]
    assert env.count(Voice) == 0 and env.blob_files() == []


# ----------------------------------------------------------------------------- artist voices


def test_artist_voices_catalogue(env: Env) -> None:
    body = env.client.get(P + "/music/artist-voices/", headers=env.h1).json()
    assert body["hasNext"] is False and body["cursor"] == "" and isinstance(body["sysTime"], int)
    records = body["records"]
    assert len(records) >= 8
    genders = {r["gender"] for r in records}
    assert genders == {"female", "male"}
    for r in records:
        assert r["bizType"] == "ai_voice_cloned" and r["labels"] and r["name"]
        assert r["vocalUrl"].endswith(f"/music/artist-voices/{r['itemId']}/preview.mp3")
        assert uploads.artist_voice_exists(r["itemId"])
    assert [r["weight"] for r in records] == sorted((r["weight"] for r in records), reverse=True)
    assert not uploads.artist_voice_exists("voice_nobody")
    assert env.client.get(P + "/music/artist-voices/voice_nobody/preview.mp3").status_code == 404


@pytest.mark.skipif(shutil.which("text2wave") is None, reason="festival is not installed")
def test_artist_voice_preview_is_rendered_once_and_served(env: Env) -> None:
    item = env.client.get(P + "/music/artist-voices/", headers=env.h1).json()["records"][0]["itemId"]
    r = env.client.get(P + f"/music/artist-voices/{item}/preview.mp3")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "audio/mpeg"
    audio, sr = sf.read(io.BytesIO(r.content))
    assert len(audio) / sr > 1.0 and np.abs(audio).max() > 0.05
    # Kept under the singer's revision and name: an upgraded or switched singer renders them again.
    from songforge.engines.singing.previews import PREVIEW_REVISION

    assert f"artist-voices/r{PREVIEW_REVISION}/neural/{item}.mp3" in env.blob_files()
    again = env.client.get(P + f"/music/artist-voices/{item}/preview.mp3")
    assert again.status_code == 200 and again.content == r.content


# ----------------------------------------------------------------------------- stems


def test_stems_split_polled_after_202(env: Env) -> None:
    r = env.post("/music/stems-splitter/", mix_wav(), "audio/wav", name="song.wav")
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["state"] == 0 and body["title"] == "song.wav" and body["audioType"] == "wav"
    poll = P + f"/music/stems-splitter/{body['stemsItemId']}"
    assert env.client.get(poll, headers=env.h2).status_code == 404
    assert env.run_workers() == 1
    done = env.client.get(poll, headers=env.h1).json()
    assert done["state"] == 2 and done["detail"] == ["vocals", "drums", "bass", "other"]
    z = env.client.get("/" + done["stemsZipUrl"].split("://", 1)[1].split("/", 1)[1])
    assert z.status_code == 200
    with zipfile.ZipFile(io.BytesIO(z.content)) as zf:
        names = sorted(zf.namelist())
        assert names == ["bass.wav", "drums.wav", "original.wav", "other.wav", "vocals.wav"]
        stems = {n: sf.read(io.BytesIO(zf.read(n)))[0] for n in names}
    n = len(stems["original.wav"])
    assert all(len(a) == n for a in stems.values())
    total = sum(stems[f"{k}.wav"] for k in ("vocals", "drums", "bass", "other"))
    assert np.abs(total - stems["original.wav"]).max() < 0.01  # the stems add up to the upload

    d = env.client.delete(poll, headers=env.h1)
    assert d.json() == {"result": True}
    assert env.count(StemsTask) == 0 and env.blob_files() == []
    assert env.client.get(poll, headers=env.h1).status_code == 404
    assert env.client.get(P + "/music/stems-splitter/bogus", headers=env.h1).status_code == 400


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg CLI is used only to make the test file")
def test_truncated_mp3_fails_in_the_worker_with_a_reason(env: Env, tmp_path: Path) -> None:
    src = tmp_path / "a.wav"
    src.write_bytes(mix_wav(8.0))
    mp3 = tmp_path / "a.mp3"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(src), str(mp3)], check=True)
    data = mp3.read_bytes()
    r = env.post("/music/stems-splitter/", data[: len(data) // 3], "audio/mpeg")
    if r.status_code == 400:  # refused by the header checks already: fine, nothing kept
        assert env.count(StemsTask) == 0
        return
    assert r.status_code == 202
    env.run_workers()
    body = env.client.get(P + f"/music/stems-splitter/{r.json()['stemsItemId']}", headers=env.h1).json()
    assert body["state"] == 3 and "truncated" in body["error"]


@pytest.mark.parametrize(
    ("data", "ctype", "status", "message"),
    [
        (mix_wav(), "audio/flac", 400, "says FLAC but the file is WAV"),
        (mix_wav(), "text/plain", 400, "Content-Type must be one of"),
        (b"", "audio/wav", 400, "Empty file received"),
        (b"\0" * (4 * 1024 * 1024), "audio/wav", 413, "too large"),
        (b"ID3" + b"\xff" * 5000, "audio/mpeg", 400, "audio"),
    ],
)
def test_bad_stems_uploads_leave_nothing(
    env: Env, data: bytes, ctype: str, status: int, message: str
) -> None:
    r = env.post("/music/stems-splitter", data, ctype)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]
    assert env.count(StemsTask) == 0 and env.blob_files() == []


def test_openapi_documents_the_upload_routes(env: Env) -> None:
    spec = env.client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/v1/tempolor/music/midi/", "/v1/tempolor/music/cloned-voices/", "/v1/tempolor/music/stems-splitter/",
    ):  # fmt: skip
        post = paths[path]["post"]
        assert "413" in post["responses"] and "400" in post["responses"]
        assert post["requestBody"]["content"]
    assert "/v1/tempolor/music/stems-splitter/{stemsItemId}" in paths
