"""Model names map both ways, and what the upstream cannot carry is refused before sending."""

from __future__ import annotations

from pathlib import Path

import pytest

from songforge.config import MODELS, model_names
from songforge.engines.base import EngineError, GenerationRequest, VoiceProfile
from songforge.engines.tempolor.engine import platform_body
from songforge.engines.tempolor.models import (
    TO_PLATFORM,
    UnsupportedUpstream,
    check_request,
    from_platform,
    to_platform,
)
from songforge.errors import InvalidInput


def test_every_catalogue_model_maps_to_the_platform_and_back() -> None:
    assert set(TO_PLATFORM) == set(MODELS)
    for name, profile in MODELS.items():
        platform = to_platform(name, profile.kind)
        assert from_platform(platform) == name
        assert from_platform(platform.upper()) == name  # case and spacing forgiven on the way back
    assert to_platform("v4.5", "song") == "TemPolor v4.5"
    assert to_platform("v4.5+", "song") == "TemPolor v4.5"  # an alias resolves first
    assert to_platform("i3.5 beta", "instrumental") == "TemPolor i3.5"
    assert to_platform("v4.8", "song") == "tempolor-latest"
    assert from_platform("TemPolor v4.6") == "v4.5" and from_platform("Mureka V9") is None


def test_an_unsupported_combination_is_invalid_input_naming_it() -> None:
    with pytest.raises(UnsupportedUpstream, match=r"'v4.5' makes songs, not instrumentals"):
        to_platform("v4.5", "instrumental")
    with pytest.raises(InvalidInput, match=r"'v9' has no TemPolor upstream model; use one of: v3, v3.5"):
        to_platform("v9", "song")
    assert ", ".join(model_names("instrumental")) in str(
        pytest.raises(UnsupportedUpstream, to_platform, "x", "instrumental").value
    )
    # Also an EngineError, so a worker ends the job with exactly this message.
    assert issubclass(UnsupportedUpstream, EngineError)
    with pytest.raises(UnsupportedUpstream, match="MIDI"):
        check_request(GenerationRequest(kind="instrumental", prompt="p", model="i4", midi_path=Path("a.mid")))
    with pytest.raises(UnsupportedUpstream, match="cloned voice"):  # no voice of our catalogue
        check_request(GenerationRequest(kind="song", prompt="p", model="v4.5", voice=VoiceProfile("v1")))
    with pytest.raises(UnsupportedUpstream, match="no lyrics"):
        check_request(GenerationRequest(kind="instrumental", prompt="p", model="i4", lyrics="la la"))


def test_the_generate_body_carries_our_fields_as_the_platforms() -> None:
    inst = GenerationRequest(
        kind="instrumental",
        prompt="warm lofi",
        model="i3",
        bpm=85,
        tonality="F#:minor",
        chords="Am F C G",
        seconds=40,
    )
    body = platform_body(inst, check_request(inst), "http://cb")
    assert body == {
        "model": "TemPolor i3",
        "callback_url": "http://cb",
        "prompt": "warm lofi #BPM 85 #key F# minor #chords Am,F,C,G #duration 40s",
    }
    song = GenerationRequest(kind="song", prompt="a ballad", model="v3.5", lyrics="[Verse]\nla")
    assert platform_body(song, check_request(song), "http://cb") == {
        "model": "TemPolor v3.5",
        "callback_url": "http://cb",
        "prompt": "a ballad",
        "lyrics": "[Verse]\nla",
    }


def test_the_extend_and_lyrics_bodies() -> None:
    from dataclasses import dataclass

    from songforge.engines.tempolor.engine import extend_body, lyrics_body

    @dataclass(frozen=True)
    class Source:
        task_id: str
        key_id: int
        start_time: float

    song = GenerationRequest(kind="song", prompt="pop", model="v4.5", lyrics="[Verse]\nmore")
    # The platform's item id of the source, whole seconds, the new lyrics; no model (the source's).
    assert extend_body(song, Source("up-9", 1, 12.4), "http://cb") == {
        "item_id": "up-9",
        "start_time": 12,
        "callback_url": "http://cb",
        "lyrics": "[Verse]\nmore",
    }
    inst = GenerationRequest(kind="instrumental", prompt="piano", model="i3")
    assert "lyrics" not in extend_body(inst, Source("up-9", 1, 600), "http://cb")
    for start in (9.4, 600.6):
        with pytest.raises(UnsupportedUpstream, match="10 to 600"):
            extend_body(inst, Source("up-9", 1, start), "http://cb")
    assert lyrics_body(" the sea ", "v3.5", "http://cb") == {
        "prompt": "the sea",
        "callback_url": "http://cb",
        "song_model": "TemPolor v3.5",
    }
    assert "song_model" not in lyrics_body("the sea", None, "http://cb")
    with pytest.raises(UnsupportedUpstream):
        lyrics_body("the sea", "i3", "http://cb")  # an instrumental model writes no lyrics
