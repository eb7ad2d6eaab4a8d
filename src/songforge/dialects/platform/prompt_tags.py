"""Musical settings written into an instrumental prompt, as the platform's users write them.

The official `instrumental/generate` has no bpm/key/chords/duration fields: its docs tell users
to put them in the prompt (`#节奏：BPM 85  #调性：Cmajor  #和弦：C,Am,F,G  #时长: 100秒`), and
English clients write `#BPM 85 #key C major #chords C,Am,F,G #duration 100s`. We pull those tags
out into the explicit settings our engines take, so they are obeyed rather than guessed at, and
reject a tag we recognise but cannot read instead of quietly ignoring it.

A tag starts with `#` at the start of the prompt or after whitespace, so the sharp in `F#` or
`C#m` is never mistaken for one. Hashtags we do not know (`#lofi`) stay in the prompt text,
where they describe the style.

A tag's value is the leading token(s) that parse as one (`#BPM 90 warm tape hiss` is 90 BPM and
the description "warm tape hiss"; `#chords Am F C G then a breakdown` takes the four chords), so
users can keep writing after their last tag. A value that does not parse at all, or a token that
looks like a mistyped chord (`#chords C Xq`), is still refused, naming the tag.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from songforge.engines.base import ChordError, EngineError
from songforge.errors import InvalidInput
from songforge.music.chords import format_bars, parse_bars, parse_chord
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


class PromptTagError(InvalidInput):
    """A recognised tag whose value cannot be used; the message names the tag and value."""


@dataclass(frozen=True)
class PromptTags:
    text: str  # the prompt with the recognised tags taken out
    bpm: int | None = None
    tonality: str | None = None  # "C:major", the form the engines and records use
    chords: str | None = None  # "C Am F G"
    duration: int | None = None  # seconds


# A value ends where the description starts: at a space, punctuation or a CJK character.
_VALUE_END = r"(?=$|[\s,，、;；.。!！?？)）]|[\u4e00-\u9fff])"
_CJK = re.compile(r"[\u4e00-\u9fff]")


_BPM_VALUE = re.compile(
    r"(?:(?:bpm|tempo)\s*[:：=]?\s*)?(\d+(?:\.\d+)?)\s*(?:bpm|beats per minute|拍每分钟|拍/分)?" + _VALUE_END,
    re.I,
)


def _parse_bpm(value: str) -> tuple[int, str]:
    m = _BPM_VALUE.match(value)
    if not m:
        raise PromptTagError(f"#BPM needs a number, got {value!r}")
    bpm = round(float(m[1]))
    if not BPM_RANGE[0] <= bpm <= BPM_RANGE[1]:
        raise PromptTagError(f"#BPM {bpm} is out of range ({BPM_RANGE[0]}-{BPM_RANGE[1]})")
    return bpm, value[m.end() :]


_KEY_VALUE = re.compile(
    r"([A-Ga-g])\s*([#b♯♭]|\s?sharp|\s?flat)?\s*[:_-]?\s*(major|minor|maj|min|大调|小调|m|M)?" + _VALUE_END,
    re.I,
)


def _parse_key(value: str) -> tuple[str, str]:
    m = _KEY_VALUE.match(value)
    if m is None:
        raise PromptTagError(f"#key {value!r} is not a key; write e.g. 'C major' or 'F# minor'")
    acc = {"sharp": "#", "flat": "b", "♯": "#", "♭": "b"}.get((m[2] or "").strip().lower(), m[2] or "")
    mode = {"大调": "major", "小调": "minor"}.get(m[3] or "", m[3] or "")
    try:
        return parse_tonality(f"{m[1]}{acc} {mode}".strip()).name, value[m.end() :]
    except (EngineError, ValueError):
        raise PromptTagError(f"#key {value!r} is not a key; write e.g. 'C major' or 'F# minor'") from None


def _is_word(token: str) -> bool:
    """A description word rather than a mistyped chord: "then", "Dreamy", "温暖" (not "Xq", "H7")."""
    return bool(_CJK.match(token)) or (token.isalpha() and (token[0].islower() or len(token) >= 3))


def _parse_chords(value: str) -> tuple[str, str]:
    text = value.replace("，", ",").replace("、", ",")
    end, lower, chords = 0, None, 0
    for m in re.finditer(r"\||[^\s,|]+", text):
        token = m[0]
        cjk = _CJK.search(token)
        if cjk and cjk.start() == 0:
            break
        if cjk:
            token = token[: cjk.start()]
        bare = token.rstrip(".;!?")
        if token == "|":
            end = m.end()
            continue
        try:
            parse_chord(bare)
        except ChordError as exc:
            if chords and _is_word(bare):
                break
            raise PromptTagError(f"#chords: {exc}") from None
        if lower is None:
            lower = bare[0].islower()
        elif bare[0].islower() and not lower:
            break  # "C G a breakdown": an article, not an A chord
        chords += 1
        end = m.start() + len(bare)
        if cjk or bare != token:
            break  # the description starts right after this chord
    try:
        return format_bars(parse_bars(text[:end].rstrip(" |,"))), value[end:]
    except ChordError as exc:
        raise PromptTagError(f"#chords: {exc}") from None


_DURATION_FORMS = (
    (re.compile(rf"(\d+):([0-5]\d){_VALUE_END}"), lambda m: int(m[1]) * 60 + int(m[2])),
    (
        re.compile(
            r"(\d+(?:\.\d+)?)\s*(?:minutes?|mins?|m|分钟|分)\s*(?:(\d+)\s*(?:seconds?|secs?|s|秒)?)?"
            + _VALUE_END,
            re.I,
        ),
        lambda m: round(float(m[1]) * 60 + int(m[2] or 0)),
    ),
    (
        re.compile(r"(\d+(?:\.\d+)?)\s*(?:seconds?|secs?|s|秒)?" + _VALUE_END, re.I),
        lambda m: round(float(m[1])),
    ),
)


def _parse_duration(value: str) -> tuple[int, str]:
    for pattern, seconds in _DURATION_FORMS:
        m = pattern.match(value)
        if m:
            duration = seconds(m)
            if duration < MIN_DURATION:
                raise PromptTagError(f"#duration {m[0].strip()!r} is shorter than {MIN_DURATION} s")
            return duration, value[m.end() :]
    raise PromptTagError(f"#duration {value!r} is not a length; write e.g. '100s' or '1:40'")


# Each takes the value's leading tokens that parse and returns (value, the rest: description).
_PARSERS: dict[str, Callable[[str], tuple[Any, str]]] = {
    "bpm": _parse_bpm,
    "key": _parse_key,
    "chords": _parse_chords,
    "duration": _parse_duration,
}


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
        value, rest = _PARSERS[field](m.group(2).strip())
        if field in found and found[field] != value:
            raise PromptTagError(f"#{m.group(1)} is given twice with different values")
        found[field] = value
        kept.append(rest.lstrip(" ,，、;；.。:："))
    return PromptTags(
        text=" ".join(" ".join(kept).split()),
        bpm=found.get("bpm"),  # type: ignore[arg-type]
        tonality=found.get("key"),  # type: ignore[arg-type]
        chords=found.get("chords"),  # type: ignore[arg-type]
        duration=found.get("duration"),  # type: ignore[arg-type]
    )
