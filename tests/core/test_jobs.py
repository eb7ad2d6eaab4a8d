"""JobRequest's stored form: the keys job rows have always had, and a lossless round trip."""

from __future__ import annotations

import pytest

from songforge.core.jobs import JobRequest


def test_to_json_writes_the_stored_keys_and_only_set_values() -> None:
    request = JobRequest(
        kind="song",
        prompt="a ballad",
        model="v4.8",
        user_id="u1",
        lyrics="la la",
        artist_voice_id="a1",
        midi_id="m1",
        reply_url="https://example.com/hook",
        max_jobs=3,
        extra={"openapi": {"model": "TemPolor v4.5"}},
    )
    # user_id, reply_url and max_jobs live in Job columns (or pick the account), not in `request`.
    assert request.to_json() == {
        "prompt": "a ballad",
        "model": "v4.8",
        "lyrics": "la la",
        "artistVoiceItemId": "a1",
        "midiItemId": "m1",
        "openapi": {"model": "TemPolor v4.5"},
    }


def test_from_json_reads_rows_as_they_were_stored() -> None:
    stored = {
        "prompt": "lofi",
        "model": "i4",
        "tonality": "C:major",
        "bpm": 80,
        "chords": "C F G Am",
        "clonedVoiceItemId": "c1",
        "duration": 42,
        "openapi": {"callback_url": "https://example.com/cb"},
    }
    request = JobRequest.from_json("instrumental", stored)
    assert (request.kind, request.prompt, request.model) == ("instrumental", "lofi", "i4")
    assert (request.tonality, request.bpm, request.chords) == ("C:major", 80, "C F G Am")
    assert (request.cloned_voice_id, request.duration) == ("c1", 42)
    assert request.extra == {"openapi": {"callback_url": "https://example.com/cb"}}
    assert request.to_json() == stored


def test_extra_cannot_shadow_a_stored_key() -> None:
    with pytest.raises(ValueError, match="bpm"):
        JobRequest(kind="instrumental", prompt="x", model="i4", extra={"bpm": 90})
