"""What one request for music asks of the domain, whichever dialect it came through.

Why a typed request: each dialect parses its own body (multipart strings, its field names, its
error texts) and builds a `JobRequest`; admission (`core.scheduler.submit`) and everything after it
see only this. The part a job keeps is `to_json()`, stored as `Job.request`; its keys are the ones
rows have always had (`artistVoiceItemId`, ...), so rows written before this class still read back
with `from_json`. Callback target and the per-request slot limit are `Job` columns, not part of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Kind", "JobRequest", "extend_block"]

Kind = Literal["song", "instrumental"]

# Stored key for each optional generation setting, in the order rows have always listed them.
_STORED_KEYS: dict[str, str] = {
    "lyrics": "lyrics",
    "tonality": "tonality",
    "bpm": "bpm",
    "chords": "chords",
    "artist_voice_id": "artistVoiceItemId",
    "cloned_voice_id": "clonedVoiceItemId",
    "midi_id": "midiItemId",
    "duration": "duration",
}
_RESERVED = frozenset({"prompt", "model", *_STORED_KEYS.values()})


@dataclass(frozen=True)
class JobRequest:
    """A validated request: the dialect has checked every rule before building one."""

    kind: Kind
    prompt: str
    model: str  # a canonical catalogue name (songforge.config.MODELS)
    user_id: str | None = None  # which of the tenant's accounts the request names; None: the default
    lyrics: str | None = None
    tonality: str | None = None  # "C:major", "F#:minor", ...
    bpm: int | None = None
    chords: str | None = None  # "C F G Am"
    artist_voice_id: str | None = None  # an artist voice from the catalogue, by its item id
    cloned_voice_id: str | None = None  # a cloned voice's id, as the caller wrote it
    midi_id: str | None = None  # an uploaded MIDI item's id, as the caller wrote it
    duration: int | None = None  # an exact length in seconds (else the engine chooses)
    reply_url: str | None = None  # where job events are delivered (a Job column)
    reply_ref: str | None = None  # the caller's reference, echoed in those events (a Job column)
    max_jobs: int | None = None  # a slot limit for this request instead of the account's
    # A dialect's own data, kept with the job under keys of its choosing (e.g. "openapi").
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        clash = _RESERVED.intersection(self.extra)
        if clash:
            raise ValueError(f"JobRequest.extra must not use the stored keys {sorted(clash)}")

    def to_json(self) -> dict[str, Any]:
        """What a job stores as its `request`: the settings the engine sees, then `extra`."""
        out: dict[str, Any] = {"prompt": self.prompt, "model": self.model}
        for attribute, key in _STORED_KEYS.items():
            value = getattr(self, attribute)
            if value is not None:
                out[key] = value
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, kind: Kind, data: Mapping[str, Any]) -> JobRequest:
        """The request a job stored (`kind` is a column of its own). Keys it does not know are
        kept in `extra`, so a round trip loses nothing."""
        settings = {attribute: data.get(key) for attribute, key in _STORED_KEYS.items()}
        extra = {key: value for key, value in data.items() if key not in _RESERVED}
        return cls(
            kind=kind,
            prompt=str(data.get("prompt", "")),
            model=str(data.get("model", "")),
            extra=extra,
            **settings,
        )


def extend_block(source_item_id: str, start_time: float) -> dict[str, Any]:
    """The `extend` key of an extension's stored request, whichever dialect asked: the worker
    (`songforge.workers.extend.extension_of`) and the records read it from there."""
    return {"item_id": source_item_id, "start_time": start_time}
