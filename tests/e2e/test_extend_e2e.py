"""Extension end to end: the platform's error table, and an extension (and an extension of it) made
through the Open API, that holds the source's stored audio sample for sample up to its bar line,
seen through both dialects' records."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
import soundfile as sf
from test_openapi_support import Receiver, create_key, ok, open_client, post, songforge, wait_item

pytestmark = pytest.mark.slow

BPM = 96  # a bar is 2.5 s


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    r = Receiver()
    yield r
    r.close()


def _wav(url: str) -> np.ndarray:
    pcm, sr = sf.read(io.BytesIO(httpx.get(url).content), dtype="int16", always_2d=True)
    assert sr == 44100
    return pcm


def test_extension_error_table_and_both_records(make_server, receiver) -> None:  # type: ignore[no-untyped-def]
    server = make_server(max_seconds=24)
    key = create_key(server, server.tenant_id)
    cb = receiver.url + "/cb"
    with open_client(server, key) as c:
        prompt = f"warm lofi piano #BPM {BPM} #key A minor #duration 15s"
        item = ok(
            c, "/instrumental/generate", {"prompt": prompt, "model": "TemPolor i3.5", "callback_url": cb}
        )["item_ids"][0]
        # 400009: still generating.
        e = post(c, "/instrumental/extend", {"item_id": item, "start_time": 10, "callback_url": cb})
        assert e["status"] == 400009 and "still generating" in e["message"], e
        # 400008: an id the tenant does not have.
        e = post(c, "/instrumental/extend", {"item_id": "nosuchitem", "start_time": 10, "callback_url": cb})
        assert e["status"] == 400008, e
        source = wait_item(c, "instrumental", item)
        assert source["status"] == "succeeded", source
        # 400011: the other kind, and a start time past the end.
        e = post(c, "/song/extend", {"item_id": item, "start_time": 10, "callback_url": cb})
        assert e["status"] == 400011, e
        e = post(c, "/instrumental/extend", {"item_id": item, "start_time": 40, "callback_url": cb})
        assert e["status"] == 400011 and "past the end" in e["message"], e

        # An extension from 11 s: back to the bar line at 10 s (4 bars of 2.5 s).
        ext = ok(
            c,
            "/instrumental/extend",
            {"item_id": item, "start_time": 11, "callback_url": receiver.url + "/ext"},
        )["item_ids"][0]
        done = wait_item(c, "instrumental", ext)
        assert done["status"] == "succeeded", done
        assert done["extended_from"] == {"item_id": item, "start_time": 11, "splice_at": 10.0}
        assert 15 < done["duration"] <= 24
        events = [call["json"]["instrumentals"][0]["event"] for call in receiver.wait_calls("/ext", 2)]
        assert events == ["audio_complete", "wav_complete"]
        old, new = _wav(source["audio_hi_url"]), _wav(done["audio_hi_url"])
        splice = 10 * 44100
        assert np.array_equal(old[:splice], new[:splice])
        assert abs(len(new) / 44100 - done["duration"]) < 1.0

        # The CLI, on the work in the server's data dir: the same splice, written to a file.
        target = server.data_dir / "cli-extension.wav"
        made = songforge(server, "extend", item, "--at", "11", "-o", str(target))
        assert made.returncode == 0, made.stderr
        assert "10.00 s" in made.stdout, made.stdout
        cli_pcm, _ = sf.read(str(target), dtype="int16", always_2d=True)
        assert np.array_equal(old[:splice], cli_pcm[:splice])

        # The same job through /v1/tempolor: our own field, and parent/root ids.
        with server.client() as useapi:
            listed = useapi.get("/music/", params={"type": "instrumental"}).json()["records"]
            record = next(r for r in listed if r["itemId"] == ext)
        assert record["extendedFrom"] == {
            "itemId": item,
            "rootItemId": item,
            "startTime": 11,
            "spliceAt": 10.0,
        }
        assert record["parentItemId"] == item and record["rootItemId"] == item
        assert record["musicMaterial"]["key"] == "A:minor" and record["musicMaterial"]["bpm"] == BPM
        assert record["canExtend"] is True

        # An extension of the extension still holds everything before its own splice.
        again = ok(c, "/instrumental/extend", {"item_id": ext, "start_time": 13, "callback_url": cb})[
            "item_ids"
        ][0]
        twice = wait_item(c, "instrumental", again)
        assert twice["status"] == "succeeded", twice
        assert twice["extended_from"] == {"item_id": ext, "start_time": 13, "splice_at": 12.5}
        newer = _wav(twice["audio_hi_url"])
        assert np.array_equal(new[: int(12.5 * 44100)], newer[: int(12.5 * 44100)])
        with server.client() as useapi:
            listed = useapi.get("/music/", params={"type": "instrumental"}).json()["records"]
            record = next(r for r in listed if r["itemId"] == again)
        assert record["extendedFrom"]["rootItemId"] == item and record["parentItemId"] == ext


def test_song_extension_sings_the_lyrics(make_server, receiver) -> None:  # type: ignore[no-untyped-def]
    server = make_server(max_seconds=30)
    key = create_key(server, server.tenant_id)
    cb = receiver.url + "/cb"
    with open_client(server, key) as c:
        lyrics = "[verse]\nWe walk along the river\nThe evening light is warm\n[chorus]\nSing it out tonight"
        body = {"prompt": "bright pop song", "model": "TemPolor v4.5", "lyrics": lyrics, "callback_url": cb}
        item = ok(c, "/song/generate", {**body, "callback_url": receiver.url + "/src"})["item_ids"][0]
        source = wait_item(c, "song", item)
        assert source["status"] == "succeeded", source
        # A song failed: extending it is abnormal too (lyrics with nothing to sing fail the job).
        bad = ok(c, "/song/generate", {**body, "lyrics": "🎵🎵🎵"})["item_ids"][0]
        failed = wait_item(c, "song", bad)
        assert failed["status"] == "failed", failed
        e = post(c, "/song/extend", {"item_id": bad, "start_time": 10, "callback_url": cb})
        assert e["status"] == 400009 and "failed" in e["message"], e
        e = post(c, "/instrumental/extend", {"item_id": item, "start_time": 10, "callback_url": cb})
        assert e["status"] == 400011, e

        more = "[chorus]\nCarry me home again\nUnder the silver moon"
        ext = ok(
            c,
            "/song/extend",
            {"item_id": item, "start_time": 10, "lyrics": more, "callback_url": receiver.url + "/song"},
        )["item_ids"][0]
        done = wait_item(c, "song", ext)
        assert done["status"] == "succeeded", done
        splice_at = done["extended_from"]["splice_at"]
        assert splice_at <= 10 and done["extended_from"]["start_time"] == 10
        texts = [(s["start"], s["text"]) for s in done["lyrics_sections"]]
        assert any(t == "Carry me home again" and start >= splice_at for start, t in texts), texts
        before = [t for start, t in texts if start < splice_at and not t.startswith("[")]
        source_before = [
            s["text"]
            for s in source["lyrics_sections"]
            if s["start"] < splice_at - 0.05 and not s["text"].startswith("[")
        ]
        assert before == source_before
        splice = int(splice_at * 44100) - 23  # splice_at is rounded to the millisecond
        assert np.array_equal(_wav(source["audio_hi_url"])[:splice], _wav(done["audio_hi_url"])[:splice])
        generated = [call["json"]["songs"][0]["event"] for call in receiver.wait_calls("/src", 2)]
        events = [call["json"]["songs"][0]["event"] for call in receiver.wait_calls("/song", len(generated))]
        assert events == generated  # the same events as a generation
        with server.client() as useapi:
            listed = useapi.get("/music/", params={"type": "song"}).json()["records"]
            record = next(r for r in listed if r["itemId"] == ext)
        assert record["extendedFrom"]["spliceAt"] == splice_at
        assert "Carry me home again" in record["ltmMaterialExtendDto"]["lrcTimestamp"]
