"""Musical settings written into an instrumental prompt, as the platform's users write them.

The official `instrumental/generate` has no bpm/key/chords/duration fields: its docs tell users
to put them in the prompt (`#节奏：BPM 85  #调性：Cmajor  #和弦：C,Am,F,G  #时长: 100秒`), and
English clients write `#BPM 85 #key C major #chords C,Am,F,G #duration 100s`. We pull those tags
out into the explicit settings our engines take, so they are obeyed rather than guessed at, and
reject a tag we recognise but cannot read instead of quietly ignoring it.

A tag starts with `#` at the start of the prompt or after whitespace, so the sharp in `F#` or
`C#m` is never mistaken for one. Hashtags we do not know (`#lofi`) stay in the prompt text,
where they describe the style.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from songforge.engines.base import ChordError, EngineError
from songforge.music.chords import format_bars, parse_bars
from songforge.music.theory import parse_tonality

BPM_RANGE = (50, 190)
MIN_DURATION = 10

_TAG_START = re.compile(r"(?:^|(?<=\s))#(?=\S)")
_TAG_NAME = re.compile(r"^([A-Za-z_\u4e00-\u9fff]+)\s*[:：=]?\s*(.*)$", re.S)

_ALIASES = {
    "bpm": "bpm",
    "tempo": "bpm",
    "节奏": "bpm",
    "速度": "bpm",
    "key": "key",
    "tonality": "key",
    "调性": "key",
    "调": "key",
    "chords": "chords",
    "chord": "chords",
    "和弦": "chords",
    "duration": "duration",
    "length": "duration",
    "时长": "duration",
}


class PromptTagError(ValueError):
    """A recognised tag whose value cannot be used; the message names the tag and value."""


@dataclass(frozen=True)
class PromptTags:
    text: str  # the prompt with the recognised tags taken out
    bpm: int | None = None
    tonality: str | None = None  # "C:major", the form the engines and records use
    chords: str | None = None  # "C Am F G"
    duration: int | None = None  # seconds


def _parse_bpm(value: str) -> int:
    m = re.search(r"\d+(?:\.\d+)?", value)
    if not m:
        raise PromptTagError(f"#BPM needs a number, got {value!r}")
    bpm = round(float(m.group()))
    if not BPM_RANGE[0] <= bpm <= BPM_RANGE[1]:
        raise PromptTagError(f"#BPM {bpm} is out of range ({BPM_RANGE[0]}-{BPM_RANGE[1]})")
    return bpm


def _parse_key(value: str) -> str:
    text = value.strip().replace("大调", " major").replace("小调", " minor")
    try:
        return parse_tonality(text).name
    except (EngineError, ValueError):
        raise PromptTagError(
            f"#key {value.strip()!r} is not a key; write e.g. 'C major' or 'F# minor'"
        ) from None


def _parse_chords(value: str) -> str:
    text = value.replace("，", ",").replace("、", ",")
    try:
        return format_bars(parse_bars(text))
    except ChordError as exc:
        raise PromptTagError(f"#chords: {exc}") from None


_DURATION_FORMS = (
    (re.compile(r"^(\d+):([0-5]\d)$"), lambda m: int(m[1]) * 60 + int(m[2])),
    (
        re.compile(r"^(\d+)\s*(?:m|min|mins|minutes?|分钟|分)\s*(?:(\d+)\s*(?:s|sec|secs|seconds?|秒)?)?$"),
        lambda m: int(m[1]) * 60 + int(m[2] or 0),
    ),
    (re.compile(r"^(\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds?|秒)?$"), lambda m: round(float(m[1]))),
)


def _parse_duration(value: str) -> int:
    text = value.strip().lower()
    for pattern, seconds in _DURATION_FORMS:
        m = pattern.match(text)
        if m:
            duration = seconds(m)
            if duration < MIN_DURATION:
                raise PromptTagError(f"#duration {value.strip()!r} is shorter than {MIN_DURATION} s")
            return duration
    raise PromptTagError(f"#duration {value.strip()!r} is not a length; write e.g. '100s' or '1:40'")


_PARSERS = {"bpm": _parse_bpm, "key": _parse_key, "chords": _parse_chords, "duration": _parse_duration}


def parse_prompt_tags(prompt: str) -> PromptTags:
    """Raises `PromptTagError` for a recognised tag with an unusable value, or a tag given twice
    with different values (which one the user meant is unknowable)."""
    starts = [m.start() for m in _TAG_START.finditer(prompt)]
    if not starts:
        return PromptTags(text=" ".join(prompt.split()))
    kept = [prompt[: starts[0]]]
    found: dict[str, object] = {}
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(prompt)
        segment = prompt[start + 1 : end]
        m = _TAG_NAME.match(segment.strip())
        field = _ALIASES.get(m.group(1).casefold()) if m else None
        if m is None or field is None:
            kept.append(prompt[start:end])
            continue
        value = _PARSERS[field](m.group(2).strip())
        if field in found and found[field] != value:
            raise PromptTagError(f"#{m.group(1)} is given twice with different values")
        found[field] = value
    return PromptTags(
        text=" ".join(" ".join(kept).split()),
        bpm=found.get("bpm"),  # type: ignore[arg-type]
        tonality=found.get("key"),  # type: ignore[arg-type]
        chords=found.get("chords"),  # type: ignore[arg-type]
        duration=found.get("duration"),  # type: ignore[arg-type]
    )
