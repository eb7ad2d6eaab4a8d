"""Lengths and eras said in a prompt: "about 60 seconds", "1:30", "a two-minute track", "90s hip hop".

The two share this module because they share digits: "90s" is an era and "90 s" or "90 seconds"
a length, and the reader has to decide between them in one place. A joined decade ("50s" to "90s",
"00s", "'80s", "1980s") is an era unless a length word comes right before it ("length 90s").
"""

from __future__ import annotations

import re

_UNITS_S = r"(?:seconds?|secs?|s)"
_UNITS_M = r"(?:minutes?|mins?|m)"
_SMALL = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_UNITS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_WORD = (
    r"(?:(?:"
    + "|".join(_TENS)
    + r")(?:[- ](?:"
    + "|".join(_UNITS)
    + r"))?|"
    + "|".join(k for k in _SMALL if k not in _TENS)
    + r")"
)
# Digits take short units ("2m", "90 s"); number words only whole ones ("a minute", not "am").
_NUM_M = rf"(?:\d+(?:\.\d+)?\s*-?\s*{_UNITS_M}(?![a-z'])|{_WORD}[- ]\s*(?:minutes?|mins?)(?![a-z']))"
_NUM_S = rf"(?:\d+(?:\.\d+)?\s*-?\s*{_UNITS_S}|{_WORD}[- ]\s*(?:seconds?|secs?))"
_END = r"(?![\w'])"

# Tried in order; the first that matches anywhere wins (the patterns are disjoint in practice).
_FORMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<![\w:])(\d{1,2}):([0-5]\d)(?![\d:])(?!\s*(?:am|pm)\b)"), "clock"),
    (re.compile(rf"(?<![\w.])a\s+minute\s+and\s+a\s+half{_END}"), "minute_and_half"),
    (re.compile(rf"(?<![\w.])half\s+(?:a|one)\s+minute{_END}"), "half_minute"),
    (re.compile(rf"(?<![\w.])(\d+|{_WORD})\s+and\s+a\s+half[- ]?(?:minutes?|mins?){_END}"), "and_half"),
    (
        re.compile(rf"(?<![\w.])({_NUM_M})(?:\s*(?:and\s+)?(\d{{1,2}})\s*-?\s*{_UNITS_S}?{_END})?"),
        "minutes",
    ),
    (re.compile(rf"(?<![\w.'])({_NUM_S}){_END}"), "seconds"),
)

_LENGTH_CUE = re.compile(r"(?:length|duration|runtime|lasting|lasts|long|total)\s*[:=]?\s*$")
_DECADE_JOINED = re.compile(r"^(?:50|60|70|80|90|00|19[2-9]0|20[01]0)$")
_NOT_LENGTHS = {"808", "909", "303"}  # drum machines: "808s" are bass drums, not seconds


def _number(text: str) -> float:
    text = re.sub(r"[- ]*(?:minutes?|mins?|m|seconds?|secs?|s)$", "", text.strip())
    try:
        return float(text)
    except ValueError:
        pass
    parts = re.split(r"[- ]", text)
    return float(sum(_SMALL[p] for p in parts if p in _SMALL))


def find_length(text: str) -> tuple[int, tuple[int, int]] | None:
    """The length the (lower-cased) prompt asks for in seconds, and where it says so."""
    for pattern, form in _FORMS:
        for m in pattern.finditer(text):
            if form == "clock":
                seconds = int(m[1]) * 60 + int(m[2])
            elif form == "minute_and_half":
                seconds = 90
            elif form == "half_minute":
                seconds = 30
            elif form == "and_half":
                seconds = round(_number(m[1]) * 60 + 30)
            elif form == "minutes":
                seconds = round(_number(m[1]) * 60 + int(m[2] or 0))
            else:
                raw = re.sub(r"[- ]*(?:seconds?|secs?|s)$", "", m[1].strip())
                if raw in _NOT_LENGTHS:
                    continue
                joined = re.fullmatch(r"\d+s", m.group(0).strip())
                if joined and _DECADE_JOINED.match(raw) and not _LENGTH_CUE.search(text[: m.start()]):
                    continue  # "90s" is an era
                seconds = round(_number(raw))
            if seconds > 0:
                return seconds, m.span()
    return None


_ERA = re.compile(r"(?<![\w])(?:'|’)?(19[2-9]0|20[01]0|[5-9]0|00)(?:'|’)?s(?![\w])")
_YEAR = re.compile(r"(?<![\w.:])(19[2-9]\d|20[0-2]\d)(?![\w.:])")


def find_era(text: str, words: dict[str, str]) -> str | None:
    """The decade the (lower-cased) prompt names ("80s", "1980s", "eighties", "from 1987")."""
    for m in _ERA.finditer(text):
        if _LENGTH_CUE.search(text[: m.start()]):
            continue
        return _era_name(m[1])
    for word, era in words.items():
        if re.search(rf"(?<![\w]){re.escape(word)}(?![\w])", text):
            return era
    year = _YEAR.search(text)
    if year and not re.match(r"\s*(?:bpm|hz|k\b)", text[year.end() :]):
        return _era_name(year[1][:3] + "0")
    return None


def _era_name(decade: str) -> str:
    if len(decade) == 2:
        return "2000s" if decade == "00" else f"{decade}s"
    if decade.startswith("19") and decade >= "1950":
        return f"{decade[2:]}s"
    return f"{decade}s"
