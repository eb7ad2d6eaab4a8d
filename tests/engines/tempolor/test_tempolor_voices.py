"""SONGFORGE_UPSTREAM_VOICES: the pairs are read strictly, names resolve to our catalogue, a mapped
voice is sent as its platform id, and what the platform cannot sing is refused naming why."""

from __future__ import annotations

from pathlib import Path

import pytest

from songforge.config import Settings, deployment_problem, upstream_voices
from songforge.engines.base import GenerationRequest, VoiceProfile
from songforge.engines.registry import refusal
from songforge.engines.singing.voices import artist_voice
from songforge.engines.tempolor.engine import platform_body, voice_record
from songforge.engines.tempolor.models import (
    UnsupportedUpstream,
    check_fields,
    check_request,
    platform_voice_id,
    voice_table,
)

SETTING = "SONGFORGE_UPSTREAM_VOICES"


def test_the_setting_is_read_as_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SETTING, raising=False)
    assert upstream_voices() == {}
    monkeypatch.setenv(SETTING, " voice_velvet = SV000002 ,Atlas=SV13,, ")
    assert upstream_voices() == {"voice_velvet": "SV000002", "Atlas": "SV13"}


@pytest.mark.parametrize(
    "value",
    [
        "voice_velvet",  # no pair
        "voice_velvet:SV000002",
        "=SV000002",  # no voice
        "voice_velvet=",  # no id
        "voice_velvet=000002",
        "voice_velvet=sv000002",  # the platform's ids are upper case
        "voice_velvet=SV00000X",
        "voice_velvet=SV0000000000001",  # more digits than any id
    ],
)
def test_a_malformed_pair_is_refused_naming_it(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(SETTING, f"voice_atlas=SV000006,{value}")
    with pytest.raises(ValueError, match=SETTING) as raised:
        upstream_voices()
    assert repr(value) in str(raised.value)


def test_a_voice_mapped_twice_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SETTING, "voice_velvet=SV000002,VOICE_VELVET=SV000003")
    with pytest.raises(ValueError, match="mapped twice"):
        upstream_voices()
    monkeypatch.setenv(SETTING, "voice_velvet=SV000002,Velvet=SV000003")  # its item id and its name
    upstream_voices()  # the form is fine; which voice a name means is the engine's table
    with pytest.raises(ValueError, match="voice_velvet is mapped twice"):
        voice_table()


def test_names_resolve_to_our_item_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SETTING, "voice_velvet=SV000002,atlas=SV000013")
    assert voice_table() == {"voice_velvet": "SV000002", "voice_atlas": "SV000013"}
    monkeypatch.setenv(SETTING, "voice_velvet=SV000002,Adele=SV000013")
    with pytest.raises(ValueError, match=r"'Adele' is none of our artist voices \(one of: voice_aurora"):
        voice_table()


def test_a_bad_setting_stops_the_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(SETTING, "voice_velvet=X1")
    problem = deployment_problem(Settings(data_dir=tmp_path))
    assert problem is not None and SETTING in problem and "'voice_velvet=X1'" in problem
    monkeypatch.setenv(SETTING, "voice_velvet=SV000002")
    assert deployment_problem(Settings(data_dir=tmp_path)) is None


def test_a_voice_is_sent_as_its_platform_id_or_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SETTING, "Velvet=SV000002")
    assert platform_voice_id("voice_velvet") == "SV000002"
    assert platform_voice_id("SV000013") == "SV000013"  # a platform id of its own passes as is
    with pytest.raises(UnsupportedUpstream) as raised:
        platform_voice_id("voice_luna")
    message = str(raised.value)
    assert "'voice_luna'" in message and SETTING in message and "voice_velvet=SV000002" in message
    # The door asks the same: a mapped voice passes, a cloned one never does.
    assert check_fields("song", "v4.5", voice="voice_velvet") == "TemPolor v4.5"
    with pytest.raises(UnsupportedUpstream, match="no voice cloning"):
        check_fields("song", "v4.5", cloned_voice=True)
    with pytest.raises(UnsupportedUpstream, match="instrumental takes no voice"):
        check_fields("instrumental", "i4", voice="voice_velvet")
    # A setting naming a voice we do not have is a refusal at the door, not a server error.
    monkeypatch.setenv(SETTING, "Adele=SV000002")
    with pytest.raises(UnsupportedUpstream, match="'Adele' is none of our artist voices"):
        check_fields("song", "v4.5", voice="voice_velvet")


def test_the_door_of_every_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SETTING, "voice_velvet=SV000002")
    assert refusal("tempolor", "song", "v4.5", voice="voice_velvet") is None
    assert refusal("tempolor", "song", "v4.5", voice="SV000099") is None
    assert "voice_luna" in (refusal("tempolor", "song", "v4.5", voice="voice_luna") or "")
    assert "cloning" in (refusal("tempolor", "song", "v4.5", cloned_voice=True) or "")
    # Our own engines sing our voices, and cannot be handed a platform id.
    assert refusal("embedded", "song", "v4.5", voice="voice_luna") is None
    reason = refusal("embedded", "song", "v4.5", voice="SV000002") or ""
    assert "SV000002" in reason and "platform voice id" in reason


def test_the_engine_sends_the_voice_and_records_who_sang(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SETTING, "voice_velvet=SV000002")
    velvet = artist_voice("voice_velvet")
    assert velvet is not None
    song = GenerationRequest(kind="song", prompt="soul", model="v4.5", lyrics="[Verse]\nla", voice=velvet)
    assert platform_body(song, check_request(song), "http://cb") == {
        "model": "TemPolor v4.5",
        "callback_url": "http://cb",
        "prompt": "soul",
        "lyrics": "[Verse]\nla",
        "voice_id": "SV000002",
    }
    assert voice_record(velvet) == {
        "itemId": "voice_velvet",
        "name": "Velvet",
        "kind": "artist",
        "chosen": False,
        "upstreamVoiceId": "SV000002",
    }
    given = VoiceProfile("SV000013")  # what a worker builds for a platform id given as the voice
    assert voice_record(given) == {
        "itemId": "SV000013",
        "name": "",
        "kind": "upstream",
        "chosen": False,
        "upstreamVoiceId": "SV000013",
    }
    monkeypatch.setenv(SETTING, "")
    with pytest.raises(UnsupportedUpstream, match="'voice_velvet' has no TemPolor voice id"):
        check_request(song)  # a job queued before the mapping was removed fails with the reason
