"""Our model names and the platform's, both ways, and what the upstream cannot be asked for.

Why a table of its own rather than the platform dialect's: engines import no dialect, and the two
tables answer different questions. The dialect maps every name a platform client may send onto a
profile we render; this one picks the one name the real platform should receive for a profile we
were asked for, and reads the platform's name back when an item reports it. A profile without an
entry here (a new catalogue line nobody mapped yet) is refused before anything is sent, rather
than quietly sent as some other model.

Voices follow the same rule. The platform sings only the voices of its own table (`voice_id`,
`SV` and digits), which was never retrieved, so which platform voice stands for which of ours is
the operator's choice (SONGFORGE_UPSTREAM_VOICES); a voice nobody mapped is refused, never sent
as no voice. A voice id of the platform's own, given as the voice, is sent as it is. Cloned
voices are refused: the official Open API has no voice cloning.
"""

from __future__ import annotations

from songforge.config import MODELS, PLATFORM_VOICE_ID, canonical_model, upstream_voices
from songforge.engines.base import GenerationRequest, VoiceProfile
from songforge.errors import EngineError, InvalidInput

__all__ = [
    "EXTEND_START_RANGE",
    "TO_PLATFORM",
    "UnsupportedUpstream",
    "check_fields",
    "check_request",
    "extend_start_seconds",
    "from_platform",
    "is_platform_voice",
    "platform_voice_id",
    "request_voice_id",
    "to_platform",
    "voice_table",
]

# Our profile -> the platform's model string (docs: `TemPolor v4.5`, `TemPolor i3.5`, `tempolor-latest`).
TO_PLATFORM: dict[str, str] = {
    MODELS["v3"].name: "TemPolor v3",
    MODELS["v3.5"].name: "TemPolor v3.5",
    MODELS["v4.5"].name: "TemPolor v4.5",
    MODELS["v4.8"].name: "tempolor-latest",
    MODELS["i3"].name: "TemPolor i3",
    MODELS["i3.5 beta"].name: "TemPolor i3.5",
    MODELS["i4"].name: "TemPolor i4",
}
# Names the platform may report that no profile sends (older or newer releases of a song model).
_EXTRA_PLATFORM_NAMES: dict[str, str] = {"TemPolor v4.0": "v4.5", "TemPolor v4.6": "v4.5"}
_FROM_PLATFORM: dict[str, str] = {" ".join(v.split()).casefold(): k for k, v in TO_PLATFORM.items()} | {
    k.casefold(): v for k, v in _EXTRA_PLATFORM_NAMES.items()
}


class UnsupportedUpstream(InvalidInput, EngineError):
    """A request the upstream engine refuses before sending anything. It is an InvalidInput (the
    request asks for what this engine cannot do) and an EngineError (the worker ends the job with
    this message, as for any engine's refusal)."""


def to_platform(model: str, kind: str) -> str:
    """The platform's name for our `model` of `kind`, or UnsupportedUpstream naming the pair."""
    name = canonical_model(model)
    profile = MODELS.get(name)
    if profile is None or name not in TO_PLATFORM:
        known = ", ".join(n for n, p in MODELS.items() if p.kind == kind and n in TO_PLATFORM)
        raise UnsupportedUpstream(f"model {model!r} has no TemPolor upstream model; use one of: {known}")
    if profile.kind != kind:
        raise UnsupportedUpstream(f"model {model!r} makes {profile.kind}s, not {kind}s")
    return TO_PLATFORM[name]


def from_platform(name: str | None) -> str | None:
    """Our profile for a model name the platform reports, or None for one we do not know."""
    if not name:
        return None
    return _FROM_PLATFORM.get(" ".join(str(name).split()).casefold())


VOICES_SETTING = "SONGFORGE_UPSTREAM_VOICES"
CLONED_REFUSAL = (
    "a cloned voice cannot be sent to the TemPolor upstream: the platform's official Open API has no "
    "voice cloning, it sings only the voice ids of its own table"
)


def is_platform_voice(voice: str) -> bool:
    """Whether `voice` is a voice id of the platform's own (`SV000002`), not one of our voices."""
    return bool(PLATFORM_VOICE_ID.match(voice))


def voice_table() -> dict[str, str]:
    """Our artist voice's item id -> the platform's voice id, from SONGFORGE_UPSTREAM_VOICES with
    names resolved (`Velvet` and `voice_velvet` are the same voice). ValueError naming the entry
    for a name that is none of our voices, or a voice mapped twice."""
    from songforge.engines.singing.voices import CATALOGUE

    ours: dict[str, str] = {}
    for v in CATALOGUE:
        ours[v.item_id.casefold()] = v.item_id
        ours[v.name.casefold()] = v.item_id
    table: dict[str, str] = {}
    for voice, voice_id in upstream_voices().items():
        item_id = ours.get(voice.casefold())
        if item_id is None:
            known = ", ".join(v.item_id for v in CATALOGUE)
            raise ValueError(f"{VOICES_SETTING}: {voice!r} is none of our artist voices (one of: {known})")
        if item_id in table:
            raise ValueError(f"{VOICES_SETTING}: {item_id} is mapped twice")
        table[item_id] = voice_id
    return table


def platform_voice_id(voice: str) -> str:
    """The platform voice id that sings `voice` (a voice id of the platform's own, or our artist
    voice's item id), or UnsupportedUpstream naming the voice and the setting to map it in."""
    if is_platform_voice(voice):
        return voice
    try:
        table = voice_table()
    except ValueError as exc:
        raise UnsupportedUpstream(str(exc)) from None
    voice_id = table.get(voice)
    if voice_id is None:
        mapped = ", ".join(f"{k}={v}" for k, v in table.items()) or "none"
        raise UnsupportedUpstream(
            f"the artist voice {voice!r} has no TemPolor voice id: {VOICES_SETTING} maps our voices to "
            f"the platform's (e.g. {voice}=SV000002; mapped now: {mapped})"
        )
    return voice_id


def request_voice_id(voice: VoiceProfile) -> str:
    """`platform_voice_id` for the voice a worker built: a platform id or one of our artist voices
    (their item ids are the catalogue's), else a cloned voice, which the platform cannot sing."""
    from songforge.engines.singing.voices import artist_voice

    if is_platform_voice(voice.item_id) or artist_voice(voice.item_id) is not None:
        return platform_voice_id(voice.item_id)
    raise UnsupportedUpstream(CLONED_REFUSAL)


# The Open API's song/extend `start_time`: whole seconds, 10..600.
EXTEND_START_RANGE = (10, 600)


def extend_start_seconds(start_time: float) -> int:
    """The `start_time` sent to the platform's extend endpoint: whole seconds (ours may carry a
    tenth), or UnsupportedUpstream outside the platform's range."""
    seconds = int(round(float(start_time)))
    lo, hi = EXTEND_START_RANGE
    if not lo <= seconds <= hi:
        raise UnsupportedUpstream(
            f"the TemPolor upstream extends a work from a start_time of {lo} to {hi} s (got {start_time:g})"
        )
    return seconds


def check_fields(
    kind: str,
    model: str,
    *,
    midi: bool = False,
    voice: str | None = None,
    cloned_voice: bool = False,
    lyrics: bool = False,
    extend_start: float | None = None,
) -> str:
    """The platform model for a request of `kind` and `model`, after refusing what the Open API
    cannot carry: it has no MIDI upload and no cloned voices, sings only voices of its own table
    (`voice`, an artist voice of ours, must be mapped to one, or be a platform voice id), so such a
    request would silently lose what it asked for, and its extension starts at 10 to 600 s.
    Checked where a request is accepted (a 400 before it is queued) and again by the engine
    (before a key is reserved)."""
    platform_model = to_platform(model, kind)
    if extend_start is not None:
        extend_start_seconds(extend_start)
    if midi:
        raise UnsupportedUpstream(
            "a MIDI seed cannot be sent to the TemPolor upstream (the Open API has no MIDI input)"
        )
    if cloned_voice:
        raise UnsupportedUpstream(CLONED_REFUSAL)
    if voice is not None:
        if kind != "song":
            raise UnsupportedUpstream("an instrumental takes no voice")
        platform_voice_id(voice)
    if kind == "instrumental" and lyrics:
        raise UnsupportedUpstream("an instrumental takes no lyrics")
    return platform_model


def check_request(request: GenerationRequest) -> str:
    """`check_fields` for a request the engine was handed."""
    platform_model = check_fields(
        request.kind,
        request.model,
        midi=request.midi_path is not None,
        lyrics=bool(request.lyrics),
    )
    if request.voice is not None:
        if request.kind != "song":
            raise UnsupportedUpstream("an instrumental takes no voice")
        request_voice_id(request.voice)
    return platform_model
