"""The /v1/tempolor body rules: each names its field and rule; form strings and aliases are read."""

from __future__ import annotations

import pytest

from songforge.config import DEFAULT_MODELS
from songforge.dialects.tempolor_v1.params import TONALITIES, parse_music_params
from songforge.errors import InvalidInput


def test_minimal_song_gets_newest_model() -> None:
    p = parse_music_params("song", {"prompt": "a ballad"})
    assert p.prompt == "a ballad"
    assert p.model == DEFAULT_MODELS["song"] == "v4.8"
    assert parse_music_params("instrumental", {"prompt": "x"}).model == DEFAULT_MODELS["instrumental"] == "i4"


def test_spec_lists_24_tonalities() -> None:
    assert len(set(TONALITIES)) == 24
    assert "C#:minor" in TONALITIES and "Eb:major" in TONALITIES


@pytest.mark.parametrize(
    ("kind", "body", "needle"),
    [
        ("song", {}, "Parameter prompt is required"),
        ("song", {"prompt": "   "}, "Parameter prompt is required"),
        ("song", {"prompt": "x" * 2001}, "prompt must be at most 2000"),
        ("song", {"prompt": "x", "lyrics": "y" * 3001}, "lyrics must be at most 3000"),
        ("song", {"prompt": "x", "model_song": "v9"}, "model_song must be one of"),
        ("instrumental", {"prompt": "x", "model_instrumental": "v3"}, "model_instrumental must be one of"),
        ("instrumental", {"prompt": "x", "tonality": "H:major"}, "tonality must be one of"),
        ("instrumental", {"prompt": "x", "bpm": 49}, "bpm must be an integer between 50 and 190"),
        ("instrumental", {"prompt": "x", "bpm": "191"}, "bpm must be an integer between 50 and 190"),
        ("instrumental", {"prompt": "x", "bpm": "fast"}, "bpm must be an integer"),
        ("instrumental", {"prompt": "x", "bpm": 120.5}, "bpm must be an integer"),
        ("instrumental", {"prompt": "x", "chords": "C " * 101}, "chords must be at most 200"),
        ("instrumental", {"prompt": "x", "chords": "C F Hm7 G"}, "unknown chord symbol 'Hm7'"),
        ("instrumental", {"prompt": "x", "chord": "C Qx"}, "Parameter chord: unknown chord symbol 'Qx'"),
        ("song", {"prompt": "x", "replyUrl": "ftp://example.com/x"}, "replyUrl must be an http or https URL"),
        ("song", {"prompt": "x", "replyUrl": "https://e.com/" + "a" * 1024}, "replyUrl must be at most 1024"),
        ("song", {"prompt": "x", "replyRef": "r" * 1025}, "replyRef must be at most 1024"),
        ("song", {"prompt": "x", "maxJobs": 0}, "maxJobs must be between 1 and 100"),
        ("song", {"prompt": "x", "maxJobs": "101"}, "maxJobs must be between 1 and 100"),
        ("song", {"prompt": "x", "maxJobs": "many"}, "maxJobs must be an integer"),
        (
            "song",
            {"prompt": "x", "artistVoiceItemId": "a1", "clonedVoiceItemId": "c1"},
            "artistVoiceItemId and clonedVoiceItemId cannot be used together",
        ),
        (
            "song",
            {"prompt": "x", "midiItemId": "m1", "clonedVoiceItemId": "c1"},
            "midiItemId cannot be used together",
        ),
        ("song", {"prompt": ["not", "text"]}, "prompt must be a string"),
    ],
)
def test_each_rule_names_field_and_rule(kind: str, body: dict, needle: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_music_params(kind, body)  # type: ignore[arg-type]
    assert needle in str(info.value)


def test_form_strings_and_aliases_are_accepted() -> None:
    p = parse_music_params(
        "instrumental",
        {"prompt": "lofi", "bpm": "80", "tonality": "C:major", "chord": "C F G Am", "maxJobs": "3", "x": "y"},
    )
    assert (p.bpm, p.tonality, p.chords, p.max_jobs) == (80, "C:major", "C F G Am", 3)
    assert parse_music_params("song", {"prompt": "x", "model_song": "v4.5+"}).model == "v4.5"
    assert (
        parse_music_params("instrumental", {"prompt": "x", "model_instrumental": "i3.5 beta"}).model
        == "i3.5 beta"
    )


def test_empty_optional_fields_count_as_absent() -> None:
    p = parse_music_params(
        "instrumental", {"prompt": "x", "bpm": "", "tonality": "", "chords": "", "replyUrl": ""}
    )
    assert p.bpm is None and p.tonality is None and p.chords is None and p.reply_url is None


def test_stored_request_keeps_what_the_engine_needs() -> None:
    p = parse_music_params(
        "song", {"prompt": "x", "lyrics": "la la", "clonedVoiceItemId": "user:1-tempolor:u-voice:ab"}
    )
    assert p.to_json() == {
        "prompt": "x",
        "model": "v4.8",
        "lyrics": "la la",
        "clonedVoiceItemId": "user:1-tempolor:u-voice:ab",
    }
