"""The job record's spec types and capability flags (issue 19): `musicMaterial` keeps the spec's
types whatever an engine reports, `cover` and `waveformUrl` are links when the caller can be given
one, and the flags say what this server can do with the work."""

from __future__ import annotations

from typing import Any

from songforge.core.states import JobState
from songforge.dialects.tempolor_v1.records import job_record, spec_material
from songforge.store.models import Job

# The spec's example musicMaterial (get-tempolor-music-job_id.md): the type of each field.
SPEC_TYPES: dict[str, type] = {
    "style": str, "chord": str, "mood": str, "inst": str, "instInfo": str, "scene": str,
    "otherInfo": str, "otherInfoCn": str, "key": str, "bpm": int, "dur": int, "seed": int,
    "waveformUrl": str,
}  # fmt: skip


def _job(state: str = JobState.COMPLETED, engine: str = "embedded", **fields: Any) -> Job:
    values: dict[str, Any] = {
        "item_id": "abc123", "tenant_id": "t1", "user_id": "u1", "batch_id": "b1", "kind": "song",
        "engine": engine, "state": state, "progress": 100, "stage": "done", "request": {"prompt": "p"},
        "seed": 42, "title": "T", "material": {}, "lyrics": None, "extra": {}, "blobs": {},
        "error": None, "created_ms": 1, "updated_ms": 2,
    }  # fmt: skip
    values.update(fields)
    return Job(**values)


def _types_match(material: dict[str, Any]) -> None:
    for key, kind in SPEC_TYPES.items():
        value = material[key]
        assert isinstance(value, kind) and not isinstance(value, bool), (key, value)


def test_inst_is_a_comma_separated_string_and_the_list_is_ours() -> None:
    material = {
        "inst": ["piano", "upright bass", "drums"],
        "instInfo": "piano, upright bass, drums",
        "bpm": 92,
    }
    record = job_record(_job(material=material))
    m = record["musicMaterial"]
    assert m["inst"] == "piano, upright bass, drums"
    assert m["instruments"] == ["piano", "upright bass", "drums"]
    _types_match(m)


def test_every_spec_field_keeps_its_type_while_generating_and_after() -> None:
    for state in (JobState.QUEUED, JobState.RUNNING, JobState.FAILED, JobState.COMPLETED):
        _types_match(job_record(_job(state=state))["musicMaterial"])
    odd = spec_material(
        {"key": None, "bpm": "120", "dur": 12.0, "seed": None, "mood": 3, "scene": ("a", "b")}
    )
    assert (odd["key"], odd["bpm"], odd["dur"], odd["seed"], odd["mood"], odd["scene"]) == (
        "", 120, 12, 0, "3", "a, b",
    )  # fmt: skip


def test_cover_and_waveform_are_signed_links_only_with_a_signer() -> None:
    blobs = {"mp3": "jobs/abc123/abc123.mp3", "cover": "jobs/abc123/c.png", "waveform": "jobs/abc123/w.json"}
    job = _job(blobs=blobs)
    signed = job_record(job, url_for=lambda key: f"https://host/files/{key}?sig=x")
    assert signed["cover"] == "https://host/files/jobs/abc123/c.png?sig=x"
    assert signed["musicMaterial"]["waveformUrl"] == "https://host/files/jobs/abc123/w.json?sig=x"
    assert signed["mp3OssId"] == "jobs/abc123/abc123.mp3"  # keys stay keys
    unsigned = job_record(job)  # callbacks: stored for later delivery, links could expire
    assert unsigned["cover"] == "" and unsigned["musicMaterial"]["waveformUrl"] == ""
    generating = job_record(_job(state=JobState.RUNNING, blobs=blobs), url_for=lambda key: key)
    assert generating["cover"] == "" and generating["musicMaterial"]["waveformUrl"] == ""


def test_flags_say_what_this_server_can_do() -> None:
    done = job_record(_job())
    assert done["canExtend"] is True  # song/extend, instrumental/extend on the Open API
    assert (done["canEditLyrics"], done["canFixVocals"], done["canReplaced"]) == (False, False, False)
    assert job_record(_job(state=JobState.RUNNING))["canExtend"] is False
    assert job_record(_job(state=JobState.FAILED))["canExtend"] is False
    assert job_record(_job(engine="some-other-engine"))["canExtend"] is False


def test_settings_are_what_was_asked_in_the_submit_body_names() -> None:
    """Issue 20 ("use these settings", "regenerate"): the request as asked, not as the engine
    chose, so the same body can be sent again; what was left to the engine is absent."""
    asked = {"prompt": "calm piano", "model": "i3", "tonality": "A:minor", "bpm": 90, "chords": "Am F C G"}
    chosen = {"key": "C:major", "bpm": 120, "chord": "C G"}  # the engine's, for a request without them
    record = job_record(_job(kind="instrumental", request=asked, material=chosen))
    assert record["settings"] == {
        "prompt": "calm piano", "model_instrumental": "i3",
        "tonality": "A:minor", "bpm": 90, "chords": "Am F C G",
    }  # fmt: skip
    song = {
        "prompt": "a pop song",
        "model": "v4.8",
        "artistVoiceItemId": "voice_aurora",
        "extend": {"item_id": "x"},
    }
    assert job_record(_job(request=song, material=chosen))["settings"] == {
        "prompt": "a pop song", "model_song": "v4.8", "artistVoiceItemId": "voice_aurora",
    }  # fmt: skip
