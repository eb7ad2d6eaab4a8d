"""Validation of POST /music/song and /music/instrumental parameters, independent of HTTP.

Bodies arrive as JSON (typed values) or multipart/form-data (all strings), so every check
accepts both. Fields the spec does not know are ignored: real clients send extras. Every
violation raises `ParamError` whose message names the field and the rule, for a 400.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from songforge.core.accounts import AccountError, as_int, parse_max_jobs
from songforge.engines.base import ChordError

Kind = Literal["song", "instrumental"]

SONG_MODELS = ("v3", "v3.5", "v4.5", "v4.8")
INSTRUMENTAL_MODELS = ("i3", "i3.5 beta", "i4")
DEFAULT_SONG_MODEL = "v4.8"
DEFAULT_INSTRUMENTAL_MODEL = "i4"
# Names real clients send for the same models (the vendor's Postman collection says "v4.5+").
MODEL_ALIASES = {"v4.5+": "v4.5", "i3.5": "i3.5 beta", "i3.5-beta": "i3.5 beta"}

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


class ParamError(ValueError):
    """A parameter that breaks a rule; the message names both."""


@dataclass
class MusicParams:
    kind: Kind
    prompt: str
    model: str
    user_id: str | None = None
    lyrics: str | None = None
    tonality: str | None = None
    bpm: int | None = None
    chords: str | None = None
    reply_url: str | None = None
    reply_ref: str | None = None
    max_jobs: int | None = None
    artist_voice_id: str | None = None
    cloned_voice_id: str | None = None
    midi_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def request_dict(self) -> dict[str, Any]:
        """What a job stores as its `request`: the normalized parameters the engine sees."""
        out: dict[str, Any] = {"prompt": self.prompt, "model": self.model}
        for key, value in (
            ("lyrics", self.lyrics),
            ("tonality", self.tonality),
            ("bpm", self.bpm),
            ("chords", self.chords),
            ("artistVoiceItemId", self.artist_voice_id),
            ("clonedVoiceItemId", self.cloned_voice_id),
            ("midiItemId", self.midi_id),
        ):
            if value is not None:
                out[key] = value
        return out


def _text(body: dict[str, Any], name: str, limit: int | None, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and value.strip() == ""):
        if required:
            raise ParamError(f"Parameter {name} is required")
        return None
    if not isinstance(value, str):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        else:
            raise ParamError(f"Parameter {name} must be a string")
    if limit is not None and len(value) > limit:
        raise ParamError(f"Parameter {name} must be at most {limit} characters (got {len(value)})")
    return value


def _model(body: dict[str, Any], kind: Kind) -> str:
    name = "model_song" if kind == "song" else "model_instrumental"
    allowed = SONG_MODELS if kind == "song" else INSTRUMENTAL_MODELS
    value = _text(body, name, 64)
    if value is None:
        return DEFAULT_SONG_MODEL if kind == "song" else DEFAULT_INSTRUMENTAL_MODEL
    value = MODEL_ALIASES.get(value.strip(), value.strip())
    if value not in allowed:
        raise ParamError(f"Parameter {name} must be one of: {', '.join(allowed)}")
    return value


def _reply_url(body: dict[str, Any]) -> str | None:
    url = _text(body, "replyUrl", REPLY_MAX)
    if url is None:
        return None
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ParamError("Parameter replyUrl must be an http or https URL")
    return url


def _chords(body: dict[str, Any]) -> str | None:
    name = "chords" if body.get("chords") not in (None, "") else "chord"
    value = _text(body, name, CHORDS_MAX)
    if value is None:
        return None
    from songforge.music.chords import parse_progression

    try:
        if not parse_progression(value):
            raise ParamError(f"Parameter {name} contains no chord symbols")
    except ChordError as exc:
        raise ParamError(f"Parameter {name}: unknown chord symbol {exc.symbol!r}") from None
    return value.strip()


def _item_ref(body: dict[str, Any], name: str) -> str | None:
    value = _text(body, name, REPLY_MAX)
    return value.strip() if value is not None else None


def parse_music_params(kind: Kind, body: dict[str, Any]) -> MusicParams:
    """Raises ParamError for the first rule a field breaks, in the order the spec lists fields."""
    if not isinstance(body, dict):
        raise ParamError("Request body must be a JSON object or form data")
    user_id = _text(body, "user_id", 128)
    prompt = _text(body, "prompt", PROMPT_MAX, required=True)
    assert prompt is not None
    params = MusicParams(kind=kind, prompt=prompt, model=_model(body, kind), user_id=user_id)
    if kind == "song":
        params.lyrics = _text(body, "lyrics", LYRICS_MAX)
        params.artist_voice_id = _item_ref(body, "artistVoiceItemId")
        params.cloned_voice_id = _item_ref(body, "clonedVoiceItemId")
    else:
        tonality = _text(body, "tonality", 16)
        if tonality is not None:
            tonality = tonality.strip()
            if tonality not in TONALITIES:
                raise ParamError(f"Parameter tonality must be one of: {', '.join(sorted(TONALITIES))}")
            params.tonality = tonality
        if body.get("bpm") not in (None, ""):
            bpm = as_int(body["bpm"])
            lo, hi = BPM_RANGE
            if bpm is None or not lo <= bpm <= hi:
                raise ParamError(f"Parameter bpm must be an integer between {lo} and {hi}")
            params.bpm = bpm
        params.chords = _chords(body)
    params.midi_id = _item_ref(body, "midiItemId")
    if params.artist_voice_id and params.cloned_voice_id:
        raise ParamError("Parameters artistVoiceItemId and clonedVoiceItemId cannot be used together")
    if params.midi_id and (params.artist_voice_id or params.cloned_voice_id):
        raise ParamError(
            "Parameter midiItemId cannot be used together with artistVoiceItemId or clonedVoiceItemId"
        )
    params.reply_url = _reply_url(body)
    params.reply_ref = _text(body, "replyRef", REPLY_MAX)
    try:
        params.max_jobs = parse_max_jobs(body.get("maxJobs"))
    except AccountError as exc:
        raise ParamError(str(exc)) from None
    return params
