"""The job record the API returns (GET /music/{job_id}, GET /music/, callbacks).

One function builds it so that polling clients and callback receivers see exactly the same
shape. Field names and the constant-valued fields follow the hosted service's model so that
clients written for it keep working; the values describe what this server really did.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from songforge.config import Settings
from songforge.core.states import JobState
from songforge.dialects.tempolor_v1.ids import make_id
from songforge.store.models import Job

STATUS_GENERATING = 0
STATUS_FAILED = 10
STATUS_COMPLETED = 30

# How /v1/tempolor reports our job states: (status, status_name, status_final).
_STATUS: dict[str, tuple[int, str, bool]] = {
    JobState.QUEUED: (STATUS_GENERATING, "GENERATING", False),
    JobState.RUNNING: (STATUS_GENERATING, "GENERATING", False),
    JobState.FAILED: (STATUS_FAILED, "FAILED", True),
    JobState.COMPLETED: (STATUS_COMPLETED, "COMPLETED", True),
}

# The hosted service reports an internal model name next to the one users pick; ours names the
# engine profile that actually served the request.
_CHILD_TYPE = {"song": "lyric_to_material", "instrumental": "text_to_material"}

_MATERIAL_DEFAULTS: dict[str, Any] = {
    "style": "",
    "chord": "",
    "mood": "",
    "inst": "",
    "instInfo": "",
    "scene": "",
    "otherInfo": "",
    "otherInfoCn": "",
    "key": "",
    "bpm": 0,
    "dur": 0,
    "seed": 0,
    "waveformUrl": "",
}
# The spec's types for its musicMaterial fields. Engines may report richer values (a list of
# instruments for `inst`); those keep the spec's type here and go in fields of our own.
_MATERIAL_STRINGS = tuple(k for k, v in _MATERIAL_DEFAULTS.items() if isinstance(v, str))
_MATERIAL_NUMBERS = tuple(k for k, v in _MATERIAL_DEFAULTS.items() if isinstance(v, int))

# What this server can do with a work, as the record's capability flags say: extension (the Open
# API's song/extend and instrumental/extend) continues completed works of these engines. Lyric
# editing, vocal fixing and section replacement do not exist here, so those flags are false.
EXTENDABLE_ENGINES = frozenset({"embedded"})

UrlFor = Callable[[str], str]
"""Turns a blob key into a signed link (the routes build one per request)."""


def status_of(state: str) -> tuple[int, str, bool]:
    return _STATUS.get(state, _STATUS[JobState.QUEUED])


def job_id_of(job: Job) -> str:
    return make_id(job.tenant_id, job.user_id, job.item_id, "job")


def title_of(job: Job) -> str:
    """The work's title as its user sees it: the one they chose (PATCH /music/{job_id}), else the
    engine's. Records and download names both use it."""
    return job.user_title or job.title or ""


def spec_material(material: Mapping[str, Any]) -> dict[str, Any]:
    """`material` with every spec field in the spec's type: strings stay strings (a list becomes
    a comma-separated string, the list itself moving to a field of our own: `inst` ->
    `instruments`), numbers stay numbers. Fields the spec does not name pass through."""
    out = dict(material)
    for key in _MATERIAL_STRINGS:
        value = out.get(key)
        if isinstance(value, list | tuple):
            items = [str(v) for v in value if v is not None and str(v).strip()]
            if key == "inst":
                out.setdefault("instruments", items)
            out[key] = ", ".join(items)
        elif value is None:
            out[key] = ""
        elif not isinstance(value, str):
            out[key] = str(value)
    for key in _MATERIAL_NUMBERS:
        value = out.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            try:
                out[key] = float(value) if value not in (None, "") else 0
            except (TypeError, ValueError):
                out[key] = 0
            if isinstance(out[key], float) and out[key].is_integer():
                out[key] = int(out[key])
    return out


def job_record(job: Job, settings: Settings | None = None, url_for: UrlFor | None = None) -> dict[str, Any]:
    """The full spec record for `job`. Files are named by storage key (`mp3OssId`), and by link
    only where the spec has a URL (`cover`, `musicMaterial.waveformUrl`): those need `url_for`,
    which signs a key for the caller at hand. Without it (callbacks, stored for later delivery,
    when a link could have expired) they are "", and GET /music/{job_id} gives fresh ones."""
    status, status_name, status_final = status_of(job.state)
    req = job.request or {}
    material = dict(_MATERIAL_DEFAULTS)
    material["otherInfo"] = req.get("prompt", "")
    if req.get("tonality"):
        material["key"] = req["tonality"]
    if req.get("bpm"):
        material["bpm"] = req["bpm"]
    if req.get("chords"):
        material["chord"] = req["chords"]
    material.update({k: v for k, v in (job.material or {}).items() if v is not None})
    material["seed"] = job.seed
    material["batchId"] = job.batch_id
    blobs = job.blobs or {}
    completed = job.state == JobState.COMPLETED
    material = spec_material(material)
    links = url_for if completed and url_for is not None else None
    material["waveformUrl"] = links(blobs["waveform"]) if links and blobs.get("waveform") else ""
    prompt = req.get("prompt", "")
    model_show = req.get("model", "")
    uses_voice = bool(req.get("artistVoiceItemId") or req.get("clonedVoiceItemId"))
    uses_midi = bool(req.get("midiItemId"))
    record: dict[str, Any] = {
        "bizType": "ai_material_music",
        "childType": _CHILD_TYPE.get(job.kind, "text_to_material"),
        "matChildType": _CHILD_TYPE.get(job.kind, "text_to_material"),
        "sourceType": "sm_user_gen",
        "itemId": job.item_id,
        "job_id": job_id_of(job),
        "genItemId": job.item_id,
        "userId": job.user_id,
        "type": job.kind,
        "titleEn": title_of(job),
        "cover": links(blobs["cover"]) if links and blobs.get("cover") else "",
        "mp3OssId": blobs.get("mp3", "") if completed else "",
        "wavOssId": blobs.get("wav", "") if completed else "",
        "ossWatermarkMp3": "",
        "officialPlaylistSong": False,
        "status": status,
        "status_name": status_name,
        "status_final": status_final,
        "progress": 100 if completed else max(0, min(99, int(job.progress or 0))),
        "stage": job.stage,
        "downloadTotal": 0,
        "likeTotal": 0,
        "collectTotal": 0,
        "musicMaterial": material,
        "readStatus": False,
        "downloadStatus": False,
        "createTime": job.created_ms,
        "updateTime": job.updated_ms,
        "materialQualityScore": 0,
        "ltmMaterialExtendDto": {
            "lyricsPrompt": job.lyrics if job.lyrics is not None else (req.get("lyrics") or ""),
            "description": prompt,
            "ltmVocalModel": uses_voice,
            "ltmMidiModel": uses_midi,
            "genItemId": job.item_id,
            "prompt": prompt,
            "genMode": 1 if uses_midi else 0,
            "model": f"{job.engine}:{req.get('profile', model_show)}",
            "modelShowName": model_show,
            "lrcTimestamp": lrc_text((job.extra or {}).get("lyrics_lines") or []),
        },
        "editType": "gen",
        "operatorType": "gen",
        "rootItemId": job.item_id,
        "parentItemId": job.item_id,
        "canExtend": completed and job.engine in EXTENDABLE_ENGINES,
        "canEditLyrics": False,
        "canFixVocals": False,
        "canReplaced": False,
    }
    record["settings"] = settings_of(job)
    # A field of our own, beside the user's title in `titleEn`: PATCH /music/{job_id} sets both.
    record["favorite"] = bool(job.favorite)
    extension = extended_from(job)
    if extension is not None:
        record["extendedFrom"] = extension
        record["parentItemId"] = extension["itemId"]
        record["rootItemId"] = extension["rootItemId"]
    if job.state == JobState.FAILED:
        record["error"] = job.error or "Generation failed"
    callback_error = getattr(job, "callback_error", None)
    if callback_error:
        # Fields of our own: one of the job's callback events was given up on (the receiver
        # refused it, or never answered through every retry), so a poller learns what it missed.
        record["callbackFailed"] = True
        record["callbackError"] = callback_error
    return record


# The request's stored keys that a submit body takes under the same name.
_SETTING_KEYS = (
    "lyrics",
    "tonality",
    "bpm",
    "chords",
    "artistVoiceItemId",
    "clonedVoiceItemId",
    "midiItemId",
)


def settings_of(job: Job) -> dict[str, Any]:
    """A field of our own: what the request asked for (not what the engine chose), in the field
    names of POST /music/song and /music/instrumental, so that sending it again makes more like
    this work. Only what was asked is there: an empty field left the choice to the engine."""
    req = job.request or {}
    out: dict[str, Any] = {"prompt": req.get("prompt", "")}
    if req.get("model"):
        out["model_song" if job.kind == "song" else "model_instrumental"] = req["model"]
    for key in _SETTING_KEYS:
        if req.get(key) not in (None, ""):
            out[key] = req[key]
    return out


def extended_from(job: Job) -> dict[str, Any] | None:
    """A field of our own on an extension's record: the work it continues, the start time asked
    for and the bar line it was spliced at (null until the worker has spliced)."""
    asked = (job.request or {}).get("extend")
    if not isinstance(asked, dict) or not asked.get("item_id"):
        return None
    spliced = (job.extra or {}).get("extension") or {}
    return {
        "itemId": asked["item_id"],
        "rootItemId": spliced.get("root_item_id") or asked["item_id"],
        "startTime": asked.get("start_time"),
        "spliceAt": spliced.get("splice_at"),
    }


def lrc_text(lines: list[Any]) -> str:
    """LRC lines (`[mm:ss.xx]text`) from the singer's exact (start_s, end_s, text) timings."""
    out = []
    for entry in lines:
        try:
            start, _end, text = float(entry[0]), entry[1], str(entry[2])
        except (TypeError, ValueError, IndexError):
            continue
        minutes, seconds = divmod(max(0.0, start), 60.0)
        out.append(f"[{int(minutes):02d}:{seconds:05.2f}]{text}")
    return "\n".join(out)
