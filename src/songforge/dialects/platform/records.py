"""Jobs as the official platform reports them (query results and callback items).

One builder serves `*/query` and the callbacks, so a poller and a callback receiver see the same
item. Any job of the tenant can be shown this way, whichever dialect created it: a job made
through /v1/tempolor gets the platform name of its model profile and its own prompt.

Status mapping. Our workers write the mp3, the wav and the lyric timings in the one transaction
that completes a job, so `main_succeeded` (mp3 done, the rest pending) never shows: a job goes
from `running` straight to `succeeded`, or to `part_failed` when a song has lyrics but the engine
could not time them, or to `failed`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from songforge.core.states import FINAL_JOB_STATES, JobState, StemsState
from songforge.dialects.platform.models import platform_name
from songforge.store.models import Job, StemsTask

UrlFor = Callable[[str], str]
"""Turns a blob key into a URL the client can fetch (the API signs it)."""

SUB_WAITING, SUB_RUNNING, SUB_OK, SUB_FAILED = "waiting", "running", "sub_succeeded", "sub_failed"

# How the platform names our states for lyrics and stems items (anything else: "failed").
_LYRICS_STATUS: dict[str, str] = {
    JobState.QUEUED: "waiting",
    JobState.RUNNING: "running",
    JobState.COMPLETED: "succeeded",
}
_STEMS_STATUS: dict[str, str] = {
    StemsState.QUEUED: "waiting",
    StemsState.RUNNING: "running",
    StemsState.COMPLETED: "succeeded",
}


def _seconds(ms: int | None) -> int | None:
    return None if ms is None else int(ms // 1000)


def _openapi(job: Job) -> dict[str, Any]:
    return dict((job.request or {}).get("openapi") or {})


def _lyric_lines(job: Job) -> list[dict[str, Any]]:
    """The sung lines with their times, as the singing engine reported them in the job's extra:
    a list of (start_s, end_s, text) triples or {start, end, text} objects."""
    extra = job.extra or {}
    raw = extra.get("lyrics_lines") or extra.get("lines") or []
    out = []
    for entry in raw if isinstance(raw, list) else []:
        if isinstance(entry, dict):
            start, end, text = entry.get("start"), entry.get("end"), entry.get("text")
        elif isinstance(entry, list | tuple) and len(entry) >= 3:
            start, end, text = entry[0], entry[1], entry[2]
        else:
            continue
        if isinstance(start, int | float) and isinstance(end, int | float) and isinstance(text, str):
            out.append({"start": round(float(start), 2), "end": round(float(end), 2), "text": text})
    return out


def job_states(job: Job) -> tuple[str, str, str]:
    """(status, audio_hi_status, lyrics_sections_status) for a song or instrumental job."""
    if job.state == JobState.QUEUED:
        return "running", SUB_WAITING, SUB_WAITING
    if job.state == JobState.RUNNING:
        return "running", SUB_RUNNING, SUB_RUNNING
    if job.state == JobState.FAILED:
        return "failed", SUB_FAILED, SUB_FAILED
    wav = SUB_OK if (job.blobs or {}).get("wav") else SUB_FAILED
    if job.kind == "song":
        sections = SUB_OK if _lyric_lines(job) else SUB_FAILED
    else:
        sections = SUB_OK
    status = "succeeded" if wav == SUB_OK and sections == SUB_OK else "part_failed"
    return status, wav, sections


def music_item(job: Job, url_for: UrlFor, event: str | None = None) -> dict[str, Any]:
    """The platform's song / instrumental item (A.5, A.9), with `event` set for callbacks."""
    req = job.request or {}
    oa = _openapi(job)
    status, hi_status, sections_status = job_states(job)
    material = job.material or {}
    blobs = job.blobs or {}
    done = job.state == JobState.COMPLETED
    item: dict[str, Any] = {
        "item_id": job.item_id,
        "status": status,
        "audio_hi_status": hi_status,
        "event": event,
        "model": oa.get("model") or platform_name(req.get("model"), job.kind),
        "title": job.title or "",
        "style": str(material.get("style") or ""),
        "prompt": oa.get("prompt", req.get("prompt", "")),
        "duration": int(round(float(material.get("dur") or 0))) if done else 0,
        "created_at": _seconds(job.created_ms),
        "finished_at": _seconds(job.finished_ms) if job.state in FINAL_JOB_STATES else None,
        "audio_url": url_for(blobs["mp3"]) if done and blobs.get("mp3") else "",
        "audio_hi_url": url_for(blobs["wav"]) if done and blobs.get("wav") else "",
    }
    if job.kind == "song":
        item["lyrics_sections_status"] = sections_status
        item["lyrics_sections"] = _lyric_lines(job) if done else []
        item["lyrics"] = (job.lyrics if job.lyrics is not None else req.get("lyrics")) or ""
    if job.state == JobState.FAILED:
        item["error"] = job.error or "Generation failed"
    if oa.get("extend"):
        # splice_at: start_time moved back to its bar line, known once the worker has spliced.
        spliced = (job.extra or {}).get("extension") or {}
        item["extended_from"] = {**oa["extend"], "splice_at": spliced.get("splice_at")}
    _callback_failure(job, item)
    return item


def _callback_failure(job: Job, item: dict[str, Any]) -> None:
    """Fields of our own, as `callbackFailed` / `callbackError` on /v1/tempolor records: one of
    the job's callback events was given up on (the receiver refused it, or never acknowledged it
    through every retry: `songforge.outbox.store.record_outcome`), so a poller learns what it missed."""
    if job.callback_error:
        item["callback_failed"] = True
        item["callback_error"] = job.callback_error


def lyrics_item(job: Job) -> dict[str, Any]:
    """The platform's lyrics item (A.13): four fields (and ours: `error` when it failed, as a music
    item's; `callback_failed` when its callback failed for good)."""
    status = _LYRICS_STATUS.get(job.state, "failed")
    item = {"item_id": job.item_id, "status": status, "title": job.title or "", "lyric": job.lyrics or ""}
    if job.state == JobState.FAILED:
        item["error"] = job.error or "Writing the lyrics failed"
    _callback_failure(job, item)
    return item


def stems_status(task: StemsTask) -> str:
    return _STEMS_STATUS.get(task.state, "failed")


def stems_item(task: StemsTask, url_for: UrlFor) -> dict[str, Any]:
    """The platform's stems item (A.15): item_id, status, stems_url."""
    key = (task.blobs or {}).get("stems") or (task.blobs or {}).get("zip")
    item: dict[str, Any] = {
        "item_id": task.item_id,
        "status": stems_status(task),
        "stems_url": url_for(key) if task.state == StemsState.COMPLETED and key else "",
    }
    if task.state == StemsState.FAILED:
        item["error"] = task.error or "Splitting failed"
    return item
