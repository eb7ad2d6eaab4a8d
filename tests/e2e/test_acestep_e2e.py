"""The acestep engine end to end: a real server process whose worker loads a tiny random ACE-Step
checkpoint (tests/acestep_tiny.py) from SONGFORGE_ACESTEP_WEIGHTS, on the CPU.

One song request over real HTTP with chords, tagged lyrics, an uploaded MIDI base and a replyUrl: the
model's route sends it to acestep, the worker renders the embedded guide, runs the cover task for both
variations as one batch, splits stems, stores files and records, and the callbacks arrive. The audio is
noise; what is checked is the records, the files' rates and lengths, and that the two jobs were one batch.
"""

from __future__ import annotations

import io
import json
import sqlite3
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import mido
import pytest
import soundfile as sf
from e2e_helpers import make_account, wait_final, wait_until

from songforge_server import ServerProcess

pytestmark = pytest.mark.slow
pytest.importorskip("diffusers")
pytest.importorskip("transformers")


class _Hooks:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                hooks.bodies.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "7")
                self.end_headers()
                self.wfile.write(b"success")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def finals(self) -> dict[str, dict[str, Any]]:
        return {b["itemId"]: b for b in list(self.bodies) if b.get("status_final")}


@pytest.fixture(scope="module")
def ace_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    from acestep_tiny import save_tiny_checkpoint

    weights = save_tiny_checkpoint(tmp_path_factory.mktemp("weights") / "tiny-turbo")
    env = {
        "SONGFORGE_ACESTEP_WEIGHTS": str(weights),
        "SONGFORGE_ACESTEP_STEPS": "2",
        "SONGFORGE_ACESTEP_DEVICE": "cpu",
        "SONGFORGE_MODEL_ENGINES": "v4.8=acestep|embedded",
    }
    server = ServerProcess(tmp_path_factory.mktemp("ace-server"), workers=1, max_seconds=6.0, env=env)
    server.start()
    server.token, server.signing_secret, server.tenant_id = server.create_token("ace")
    yield server
    server.stop()


def _midi() -> bytes:
    mid = mido.MidiFile()
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(100)))
    for note in (60, 64, 67, 72, 67, 64, 60, 55):
        track.append(mido.Message("note_on", note=note, velocity=90, time=0))
        track.append(mido.Message("note_off", note=note, velocity=0, time=480))
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def test_a_song_with_chords_lyrics_and_midi_through_acestep(ace_server: ServerProcess) -> None:
    server = ace_server
    hooks = _Hooks()
    try:
        with server.client() as c:
            make_account(c, "gpu")
            r = c.post(
                "/music/midi/",
                params={"name": "base"},
                content=_midi(),
                headers={"Content-Type": "audio/midi"},
            )
            assert r.status_code == 200, r.text
            midi_id = r.json()["midiRenderVO"]["midiItemId"]
            r = c.post(
                "/music/song",
                json={
                    "user_id": "gpu",
                    "prompt": "a bright indie pop song",
                    "model_song": "v4.8",
                    "lyrics": "[Verse]\nwalking in the morning light\n\n[Chorus]\nwe are alive tonight",
                    "chords": "C G Am F",
                    "midiItemId": midi_id,
                    "replyUrl": hooks.url,
                },
            )
            assert r.status_code == 200, r.text
            jobs = r.json()["jobs"]
            records = [wait_final(c, job, timeout=300) for job in jobs]
            for record in records:
                assert record["status_name"] == "COMPLETED", record
                assert record["ltmMaterialExtendDto"]["model"].startswith("acestep:"), record
                material = record["musicMaterial"]
                assert material["engine"] == "acestep"  # the guide's chords, bar by bar, from those asked:
                assert material["chord"] and set(material["chord"].split()) <= {"C", "G", "Am", "F"}
                assert 0 < material["dur"] <= 6
                lrc = record["ltmMaterialExtendDto"]["lrcTimestamp"].splitlines()
                assert any("walking in the morning light" in line for line in lrc), lrc
                assert all(line.startswith("[0") for line in lrc)
            assert records[0]["musicMaterial"]["seed"] != records[1]["musicMaterial"]["seed"]
            links = {}
            for fmt in ("wav", "stems"):
                r = c.get(f"/music/download/{jobs[0]}", params={"file_format": fmt})
                assert r.status_code == 200, r.text
                links[fmt] = r.json()["url"]
        wav = httpx.get(links["wav"])
        data, rate = sf.read(io.BytesIO(wav.content))
        assert rate == 44100 and data.shape[1] == 2 and 4 * 44100 <= data.shape[0] <= 6 * 44100
        names = zipfile.ZipFile(io.BytesIO(httpx.get(links["stems"]).content)).namelist()
        assert {"vocals.wav", "drums.wav", "bass.wav", "other.wav"} <= set(names), names
        finals = wait_until(lambda: len(hooks.finals()) == 2 and hooks.finals(), timeout=60)
        assert {b["status_name"] for b in finals.values()} == {"COMPLETED"}
    finally:
        hooks.server.shutdown()
        hooks.server.server_close()

    # Both variations were one batch on one worker: read from the jobs' rows.
    with sqlite3.connect(server.data_dir / "songforge.db") as db:
        rows = db.execute("SELECT engine, worker_id, extra FROM jobs").fetchall()
    assert len(rows) == 2 and {row[0] for row in rows} == {"acestep"}
    assert len({row[1] for row in rows}) == 1
    for _engine, _worker, extra in rows:
        details = json.loads(extra)
        assert details["acestep"]["batch"] == 2 and details["acestep"]["task"] == "cover"
        assert details["guide"]["midi"] is True and details["lyrics_timing"] == "guide-form"


def _wav_int16(c: httpx.Client, job: str) -> tuple[Any, int]:
    r = c.get(f"/music/download/{job}", params={"file_format": "wav"})
    assert r.status_code == 200, r.text
    pcm, rate = sf.read(io.BytesIO(httpx.get(r.json()["url"]).content), dtype="int16", always_2d=True)
    return pcm, rate


def test_an_extension_of_an_acestep_work_is_its_repaint_after_the_splice(ace_server: ServerProcess) -> None:
    """POST /music/extend of a work acestep made, on an account whose own engine is the embedded one:
    the extension stays on acestep, which repaints after the bar line and keeps the stored source."""
    server = ace_server
    with server.client() as c:
        make_account(c, "extender")
        r = c.post(
            "/music/song",
            json={
                "user_id": "extender",
                "prompt": "a bright indie pop song, about 4 seconds, 120 bpm",
                "model_song": "v4.8",
                "lyrics": "[Verse]\nwalking in the morning light\n\n[Chorus]\nwe are alive tonight",
            },
        )
        assert r.status_code == 200, r.text
        source_job = r.json()["jobs"][0]
        source = wait_final(c, source_job, timeout=300)
        assert source["status_name"] == "COMPLETED", source
        assert source["musicMaterial"]["engine"] == "acestep" and source["musicMaterial"]["bpm"] == 120
        r = c.post("/music/extend", json={"job_id": source_job, "start_time": 3.0})
        assert r.status_code == 200, r.text
        ext_job = r.json()["jobs"][0]
        done = wait_final(c, ext_job, timeout=300)
        assert done["status_name"] == "COMPLETED", done
        assert done["extendedFrom"]["spliceAt"] == 2.0  # 3 s back to its bar line (2 s bars)
        assert done["musicMaterial"]["engine"] == "acestep"
        assert done["musicMaterial"]["extendedFrom"]["method"] == "repaint"
        lrc = done["ltmMaterialExtendDto"]["lrcTimestamp"]
        assert "we are alive tonight" in lrc, lrc
        old, old_rate = _wav_int16(c, source_job)
        new, new_rate = _wav_int16(c, ext_job)
    assert old_rate == new_rate == 44100 and new.shape[1] == 2
    assert old.shape[0] == 4 * 44100 and new.shape[0] == 6 * 44100  # the splice, then up to the cap
    splice = 2 * 44100
    assert (old[:splice] == new[:splice]).all()  # the stored source, sample for sample
    with sqlite3.connect(server.data_dir / "songforge.db") as db:
        engine, extra = db.execute(
            "SELECT engine, extra FROM jobs WHERE item_id = ?", (done["itemId"],)
        ).fetchone()
    details = json.loads(extra)
    assert engine == "acestep" and details["acestep"]["task"] == "repaint"
    assert details["extension"]["method"] == "repaint" and details["extension"]["splice_sample"] == splice
    assert details["acestep"]["repainting_start"] == 1.92 and details["acestep"]["repainting_end"] == 6.0
