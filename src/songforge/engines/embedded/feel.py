"""Rhythmic feel: the one the prompt names ("in 6/8", "half-time", "shuffle") or the style's own.

The feel decides how the beat is subdivided (straight or swung eighths, triplets under a 6/8
pulse) and where the backbeat falls (half-time puts the snare on 3). It never changes what a beat
is: the requested BPM is always the pulse a listener taps, which is what `musicMaterial.feel`
reports next to `bpm`. In 6/8 the beat is the dotted quarter, as 6/8 tempos are counted.
"""

from __future__ import annotations

import re

from songforge.engines.embedded.styles import Style

FEELS = (
    "straight",
    "swing",
    "shuffle",
    "half-time",
    "6/8",
    "one-drop",
    "bossa",
    "clave",
    "four-on-the-floor",
)

# Most specific first: "a swinging 6/8 ballad" is a 6/8 ballad.
_WORDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"(?<![\d/])(?:6/8|12/8)(?![\d/])|\bsix[- ]eight\b|\bcompound (?:time|met(?:er|re))\b"),
        "6/8",
    ),
    (re.compile(r"\bhalf[- ]?time\b"), "half-time"),
    (re.compile(r"\bshuffl(?:e|ed|ing)\b"), "shuffle"),
    (re.compile(r"\bswing(?:ing|y|s)?\b|\bswung\b"), "swing"),
    (re.compile(r"\bstraight(?:[- ](?:eighths|8ths|feel|beat|time|ahead))\b"), "straight"),
)

# The feel a drum family plays when the prompt names none.
_FAMILY_FEEL = {
    "shuffle": "shuffle",
    "jazz": "swing",
    "bossa": "bossa",
    "latin": "clave",
    "onedrop": "one-drop",
    "four": "four-on-the-floor",
    "techno": "four-on-the-floor",
}


def requested_feel(prompt: str | None) -> str | None:
    """The feel the prompt's words ask for, or None when they name none."""
    text = (prompt or "").lower()
    for pattern, feel in _WORDS:
        if pattern.search(text):
            return feel
    return None


def style_feel(style: Style) -> str:
    if style.drums in _FAMILY_FEEL:
        return _FAMILY_FEEL[style.drums]
    return "swing" if style.swing >= 0.2 else "straight"


def resolve_feel(style: Style, requested: str | None) -> str:
    return requested if requested in FEELS else style_feel(style)


def swing_amount(style: Style, feel: str, requested: str | None) -> float:
    """How late off-beat eighths fall (0 straight .. 1/3 a full triplet). 6/8 rides on triplets;
    a swing or shuffle the prompt asks for is at least a firm one; "straight" straightens."""
    if feel == "6/8":
        return 1 / 3
    if requested in ("swing", "shuffle"):
        return max(style.swing, 0.3)
    if requested == "straight":
        return 0.0
    return style.swing
