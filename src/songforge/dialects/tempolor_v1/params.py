"""POST /music/song and /music/instrumental bodies, read into the domain's `JobRequest`.

Bodies arrive as JSON (typed values) or multipart/form-data (all strings), so every check
accepts both. Fields the spec does not know are ignored: real clients send extras. Every
violation raises `InvalidInput` whose message names the spec's field and the rule, for a 400;
the checks run in the order the spec lists the fields, so the first broken rule is the one named.
"""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import urlsplit

from songforge.config import DEFAULT_MODELS, canonical_model, model_names
from songforge.core.accounts import as_int, parse_max_jobs
from songforge.core.jobs import JobRequest, Kind
from songforge.dialects.tempolor_v1.errors import parameter_message
from songforge.errors import ChordError, InvalidField, InvalidInput
from songforge.music.chords import parse_progression

__all__ = ["TITLE_MAX", "TONALITIES", "parse_labels", "parse_music_params"]

# The spec's 24 keys, as `tonality` takes them.
TONALITIES = tuple(
    f"{root}:{mode}"
    for root in ("A", "Ab", "B", "Bb", "C#", "C", "D", "E", "Eb", "F#", "F", "G")
    for mode in ("major", "minor")
)

PROMPT_MAX = 2000
LYRICS_MAX = 3000
CHORDS_MAX = 200
REPLY_MAX = 1024
BPM_RANGE = (50, 190)
TITLE_MAX = 100
LABELS = ("title", "favorite")


def _text(body: dict[str, Any], name: str, limit: int | None, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and value.strip() == ""):
        if required:
            raise InvalidInput(f"Parameter {name} is required")
        return None
    if not isinstance(value, str):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        else:
            raise InvalidInput(f"Parameter {name} must be a string")
    if limit is not None and len(value) > limit:
        raise InvalidInput(f"Parameter {name} must be at most {limit} characters (got {len(value)})")
    return value


def _model(body: dict[str, Any], kind: Kind) -> str:
    name = "model_song" if kind == "song" else "model_instrumental"
    allowed = model_names(kind)
    value = _text(body, name, 64)
    if value is None:
        return DEFAULT_MODELS[kind]
    value = canonical_model(value.strip())
    if value not in allowed:
        raise InvalidInput(f"Parameter {name} must be one of: {', '.join(allowed)}")
    return value


def _reply_url(body: dict[str, Any]) -> str | None:
    url = _text(body, "replyUrl", REPLY_MAX)
    if url is None:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
        _ = parts.port  # an out-of-range or non-numeric port raises here, not later in the outbox
    except ValueError:  # e.g. "http://[::1": an unclosed IPv6 literal
        raise InvalidInput("Parameter replyUrl must be an http or https URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("Parameter replyUrl must be an http or https URL")
    return url


def _chords(body: dict[str, Any]) -> str | None:
    name = "chords" if body.get("chords") not in (None, "") else "chord"
    value = _text(body, name, CHORDS_MAX)
    if value is None:
        return None
    try:
        if not parse_progression(value):
            raise InvalidInput(f"Parameter {name} contains no chord symbols")
    except ChordError as exc:
        raise InvalidInput(f"Parameter {name}: unknown chord symbol {exc.symbol!r}") from None
    return value.strip()


def _item_ref(body: dict[str, Any], name: str) -> str | None:
    value = _text(body, name, REPLY_MAX)
    return value.strip() if value is not None else None


def _tonality(body: dict[str, Any]) -> str | None:
    tonality = _text(body, "tonality", 16)
    if tonality is None:
        return None
    tonality = tonality.strip()
    if tonality not in TONALITIES:
        raise InvalidInput(f"Parameter tonality must be one of: {', '.join(sorted(TONALITIES))}")
    return tonality


def _bpm(body: dict[str, Any]) -> int | None:
    if body.get("bpm") in (None, ""):
        return None
    bpm = as_int(body["bpm"])
    lo, hi = BPM_RANGE
    if bpm is None or not lo <= bpm <= hi:
        raise InvalidInput(f"Parameter bpm must be an integer between {lo} and {hi}")
    return bpm


def parse_music_params(kind: Kind, body: dict[str, Any]) -> JobRequest:
    """Raises InvalidInput for the first rule a field breaks, in the order the spec lists fields."""
    if not isinstance(body, dict):
        raise InvalidInput("Request body must be a JSON object or form data")
    user_id = _text(body, "user_id", 128)
    prompt = _text(body, "prompt", PROMPT_MAX, required=True)
    assert prompt is not None
    model = _model(body, kind)
    lyrics: str | None = None
    artist_voice_id: str | None = None
    cloned_voice_id: str | None = None
    tonality: str | None = None
    bpm: int | None = None
    chords: str | None = None
    if kind == "song":
        lyrics = _text(body, "lyrics", LYRICS_MAX)
        artist_voice_id = _item_ref(body, "artistVoiceItemId")
        cloned_voice_id = _item_ref(body, "clonedVoiceItemId")
    else:
        tonality = _tonality(body)
        bpm = _bpm(body)
        chords = _chords(body)
    midi_id = _item_ref(body, "midiItemId")
    if artist_voice_id and cloned_voice_id:
        raise InvalidInput("Parameters artistVoiceItemId and clonedVoiceItemId cannot be used together")
    if midi_id and (artist_voice_id or cloned_voice_id):
        raise InvalidInput(
            "Parameter midiItemId cannot be used together with artistVoiceItemId or clonedVoiceItemId"
        )
    reply_url = _reply_url(body)
    reply_ref = _text(body, "replyRef", REPLY_MAX)
    try:
        max_jobs = parse_max_jobs(body.get("maxJobs"))
    except InvalidField as exc:
        raise InvalidInput(parameter_message(exc)) from None
    return JobRequest(
        kind=kind,
        prompt=prompt,
        model=model,
        user_id=user_id,
        lyrics=lyrics,
        tonality=tonality,
        bpm=bpm,
        chords=chords,
        artist_voice_id=artist_voice_id,
        cloned_voice_id=cloned_voice_id,
        midi_id=midi_id,
        reply_url=reply_url,
        reply_ref=reply_ref,
        max_jobs=max_jobs,
    )


def parse_labels(body: dict[str, Any]) -> dict[str, Any]:
    """PATCH /music/{job_id} (a route of ours): the labels to change, `title` (trimmed; None puts
    the engine's title back) and `favorite`, whichever were sent. Unlike the spec's routes, an
    unknown field is refused: a misspelt label that changed nothing would look like success."""
    if not isinstance(body, dict):
        raise InvalidInput("Request body must be a JSON object or form data")
    unknown = sorted(k for k in body if k not in LABELS)
    if unknown:
        raise InvalidInput(f"Unknown parameter {unknown[0]}: only title and favorite can be changed")
    if not body:
        raise InvalidInput("Nothing to change: send title, favorite or both")
    out: dict[str, Any] = {}
    if "title" in body:
        out["title"] = _title(body["title"])
    if "favorite" in body:
        value = body["favorite"]
        # Form data sends every value as a string.
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            value = value.strip().lower() == "true"
        if not isinstance(value, bool):
            raise InvalidInput("Parameter favorite must be true or false")
        out["favorite"] = value
    return out


def _title(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("Parameter title must be a string")
    title = value.strip()
    if not 1 <= len(title) <= TITLE_MAX:
        raise InvalidInput(f"Parameter title must be 1 to {TITLE_MAX} characters (got {len(title)})")
    if any(unicodedata.category(ch) == "Cc" for ch in title):
        raise InvalidInput("Parameter title must be one line of text, without control characters")
    return title
