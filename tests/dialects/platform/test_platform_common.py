"""Unit tests of the Open API dialect's building blocks: prompt tags, model names, keys (on a real
SQLite file), voice ids, the business-code table, and the platform's record shapes."""

from __future__ import annotations

import re

import pytest

from songforge.core.tenants import create_token
from songforge.dialects.platform.envelope import MESSAGES, OpenApiError, Status
from songforge.dialects.platform.jobs import artist_voice_for, voice_catalogue
from songforge.dialects.platform.keys import (
    KEY_RE,
    create_key,
    find_key,
    key_from_header,
    new_key,
    revoke_key,
)
from songforge.dialects.platform.models import UnknownModel, platform_name, resolve_model
from songforge.dialects.platform.prompt_tags import PromptTagError, parse_prompt_tags
from songforge.dialects.platform.records import job_states, lyrics_item, music_item
from songforge.store.db import Database
from songforge.store.migrate import upgrade_database
from songforge.store.models import Job


@pytest.mark.parametrize(
    ("prompt", "text", "bpm", "key", "chords", "duration"),
    [
        ("#BPM 85 #key C major #chords C,Am,F,G #duration 100s", "", 85, "C:major", "C Am F G", 100),
        (
            "Lo-fi piano #节奏：BPM 85  #调性：Cmajor  #和弦：C,Am,F,G  #时长: 100秒",
            "Lo-fi piano",
            85,
            "C:major",
            "C Am F G",
            100,
        ),
        (
            "dark synthwave #key F# minor #tempo: 120 #duration 1:40",
            "dark synthwave",
            120,
            "F#:minor",
            None,
            100,
        ),
        ("#lofi chill beat #bpm 70.4 #chords Am7 | D7 G", "#lofi chill beat", 70, None, "Am7 | D7 G", None),
        ("#key A小调 #duration 2 min", "", None, "A:minor", None, 120),
        ("ambient pads, no tags", "ambient pads, no tags", None, None, None, None),
    ],
)
def test_prompt_tags(prompt, text, bpm, key, chords, duration) -> None:  # type: ignore[no-untyped-def]
    tags = parse_prompt_tags(prompt)
    assert (tags.text, tags.bpm, tags.tonality, tags.chords, tags.duration) == (
        text,
        bpm,
        key,
        chords,
        duration,
    )


@pytest.mark.parametrize(
    ("prompt", "words"),
    [
        ("#BPM fast", "#BPM needs a number"),
        ("#BPM 20", "out of range"),
        ("#key H major", "'H major'"),
        ("#chords C Xq", "'Xq'"),
        ("#duration forever", "'forever'"),
        ("#duration 3s", "shorter than 10 s"),
        ("#bpm 90 #bpm 100", "twice"),
    ],
)
def test_prompt_tag_errors_name_the_tag(prompt: str, words: str) -> None:
    with pytest.raises(PromptTagError, match=re.escape(words)):
        parse_prompt_tags(prompt)


def test_model_names() -> None:
    assert resolve_model("TemPolor v4.6", "song").profile == "v4.5"
    assert resolve_model("tempolor-latest", "song").name == "tempolor-latest"
    assert resolve_model("  tempolor   V3.5 ", "song").name == "TemPolor v3.5"
    assert resolve_model("TemPolor i3.5", "instrumental").profile == "i3.5 beta"
    assert resolve_model("TemPolor i4", "instrumental").profile == "i4"
    with pytest.raises(UnknownModel, match="'TemPolor i3'"):
        resolve_model("TemPolor i3", "song")
    with pytest.raises(UnknownModel, match="'Mureka V9'"):
        resolve_model("Mureka V9", "instrumental")
    assert platform_name("i3.5 beta", "instrumental") == "TemPolor i3.5"
    assert platform_name("v4.8", "song") == "tempolor-latest"


def test_voice_ids_index_the_catalogue() -> None:
    catalogue = voice_catalogue()
    assert catalogue[0]["voice_id"] == "SV000001"
    assert artist_voice_for("SV000002") == catalogue[1]["itemId"]
    for bad in ("SV2", "XX000001", "SV000000", f"SV{len(catalogue) + 1:06d}"):
        with pytest.raises(ValueError, match="voice_id"):
            artist_voice_for(bad)


def test_error_table_is_the_platforms() -> None:
    assert MESSAGES[Status.AUTH_FAILED] == "Login expired. Please log in again."
    assert MESSAGES[Status.QUEUE_FULL] == "The queue is full. Please wait and try again later."
    assert MESSAGES[Status.CANNOT_EXTEND] == "The current work does not support re writing"
    assert [int(s) for s in Status] == [200000, *range(400001, 400012)]
    assert OpenApiError(Status.BAD_PARAMETER, "callback_url not blank").message == (
        "Bad Parameter.: callback_url not blank"
    )
    assert OpenApiError(Status.WORK_NOT_FOUND, "42").message == "The work does not exist: 42"


def test_keys_on_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade_database(url)
    db = Database(url)
    with db.session() as s:
        tenant = create_token(s, "t")
        created = create_key(s, tenant.tenant_id, "k")
    assert KEY_RE.match(created.key) and created.key != new_key()
    assert key_from_header(created.key) == created.key
    assert key_from_header(f"Bearer {created.key}") == created.key
    assert key_from_header(f"bearer   {created.key} ") == created.key
    assert key_from_header(tenant.token) is None and key_from_header(None) is None
    with db.session() as s:
        row = find_key(s, created.key)
        assert row is not None and row.tenant_id == tenant.tenant_id and created.key not in row.key_hash
        with pytest.raises(LookupError):
            create_key(s, "nope")
    with db.session() as s:
        revoke_key(s, created.prefix[:5])
    with db.session() as s:
        assert find_key(s, created.key) is None
        with pytest.raises(LookupError):
            revoke_key(s, created.prefix)
    db.dispose()


def _job(**kw) -> Job:  # type: ignore[no-untyped-def]
    base = dict(
        item_id="abc",
        tenant_id="1",
        user_id="u",
        batch_id="b",
        kind="song",
        state="completed",
        request={"prompt": "p", "model": "v3", "openapi": {"model": "TemPolor v3", "prompt": "p #x"}},
        material={"style": "Pop", "dur": 61.6},
        blobs={"mp3": "jobs/abc/abc.mp3", "wav": "jobs/abc/abc.wav"},
        extra={"lyrics_lines": [[0.5, 2.25, "hello"], [2.5, 4.0, "world"]]},
        lyrics="[Verse]\nhello world",
        title="T",
        created_ms=1_700_000_000_123,
        finished_ms=1_700_000_060_999,
        tracked=True,
    )
    base.update(kw)
    return Job(**base)


def test_records_follow_the_platform_shapes() -> None:
    item = music_item(_job(), lambda key: "https://h/" + key, event="audio_complete")
    assert item["status"] == "succeeded" and item["lyrics_sections_status"] == "sub_succeeded"
    assert item["lyrics_sections"] == [
        {"start": 0.5, "end": 2.25, "text": "hello"},
        {"start": 2.5, "end": 4.0, "text": "world"},
    ]
    assert (item["duration"], item["created_at"], item["finished_at"]) == (62, 1_700_000_000, 1_700_000_060)
    assert item["audio_url"] == "https://h/jobs/abc/abc.mp3" and item["model"] == "TemPolor v3"
    assert item["prompt"] == "p #x" and item["event"] == "audio_complete"
    # A song whose lyrics could not be timed succeeded in part; a missing wav likewise.
    assert job_states(_job(extra={})) == ("part_failed", "sub_succeeded", "sub_failed")
    assert job_states(_job(blobs={"mp3": "k"})) == ("part_failed", "sub_failed", "sub_succeeded")
    assert job_states(_job(kind="instrumental", extra={})) == ("succeeded", "sub_succeeded", "sub_succeeded")
    assert job_states(_job(state="queued")) == ("running", "waiting", "waiting")
    failed = music_item(_job(state="failed", error="boom"), str)
    assert (failed["status"], failed["audio_url"], failed["error"]) == ("failed", "", "boom")
    inst = music_item(_job(kind="instrumental", request={"prompt": "q", "model": "i3.5 beta"}), str)
    assert "lyrics" not in inst and inst["model"] == "TemPolor i3.5" and inst["prompt"] == "q"
    assert lyrics_item(_job(kind="lyrics")) == {
        "item_id": "abc",
        "status": "succeeded",
        "title": "T",
        "lyric": "[Verse]\nhello world",
    }
