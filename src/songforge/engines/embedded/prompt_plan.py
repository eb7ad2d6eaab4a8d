"""What the prompt's brief changes in the plan, the score and the record, beyond style/key/tempo.

Kept out of the engine so that the engine reads as the order of decisions, and so that every rule
here ("the prompt's length beats the style's habit", "no piano means the keys play something else")
sits next to the words it reports in `musicMaterial`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from songforge.engines.base import GenerationRequest
from songforge.engines.embedded.composer import Plan, Score
from songforge.engines.embedded.prompt import Brief, language_name
from songforge.engines.embedded.prompt_words import INSTRUMENTS

MIN_SECONDS = 4.0  # the engine's shortest track

# GM programs a removed name takes out (a name missing here takes out its own program).
_FAMILIES: dict[str, set[int]] = {
    "piano": {0, 1, 2, 3},
    "electric piano": {4, 5},
    "organ": set(range(16, 21)),
    "guitar": set(range(24, 32)),
    "acoustic guitar": {25},
    "nylon guitar": {24},
    "electric guitar": {26, 27, 28},
    "distorted guitar": {29, 30},
    "lead guitar": {29, 30},
    "strings": {44, 45, 48, 49, 50, 51},
    "choir": {52, 53, 54, 91},
    "brass": {61, 62, 63},
    "trumpet": {56, 59},
    "saxophone": {64, 65, 66, 67},
    "synth": set(range(80, 88)),
    "synth lead": set(range(80, 88)),
    "synth pad": set(range(88, 96)),
}
# What a part plays instead when its instrument was taken out, in order of preference.
_STAND_INS = {"keys": (4, 0, 25, 27, 11), "lead": (81, 73, 11, 56, 65, 40), "bass": (33, 38, 32)}
# Parts taken out wholesale (their notes are dropped after composing): removed name -> stem.
_SILENCED = {"drums": "drums", "bass": "bass", "melody": "lead"}


def _removed_programs(brief: Brief) -> set[int]:
    programs: set[int] = set()
    by_name = {name: program for name, program, _role in INSTRUMENTS.values()}
    for name in brief.removed:
        programs |= _FAMILIES.get(name, {by_name[name]} if name in by_name else set())
    return programs


def tempo_range(brief: Brief) -> tuple[int, int]:
    """The main style's tempo range, narrowed to the part shared with the other genres named
    ("jazz hip hop" sits at the top of hip hop's range), when they share one."""
    lo, hi = brief.style.bpm
    for other in brief.styles[1:]:
        a, b = max(lo, other.bpm[0]), min(hi, other.bpm[1])
        if a <= b:
            lo, hi = a, b
    return lo, hi


def target_length(brief: Brief, request: GenerationRequest, cap: float, typical: float) -> tuple[float, str]:
    """Seconds to aim for and where that came from: an API field, the prompt, or the style."""
    if request.seconds is not None:
        return max(min(cap, MIN_SECONDS), min(cap, float(request.seconds))), "request"
    if brief.seconds is not None:
        return max(min(cap, MIN_SECONDS), min(cap, float(brief.seconds))), "prompt"
    if request.max_seconds is not None:
        return cap, "request"
    return min(cap, typical), "style"


def apply_to_plan(plan: Plan, brief: Brief) -> None:
    """Instruments taken out, and genres that describe one part ("funk bass line"), before composing.
    Instruments the prompt names were set already and win over both."""
    style = plan.style
    for role, lent in brief.part_styles.items():
        if role == "drums":
            plan.style = style = replace(style, kit=lent.kit)
        elif role == "bass" and plan.bass_prog is None:
            plan.bass_prog = lent.bass_prog
        elif role == "keys" and plan.keys_prog is None:
            plan.keys_prog = lent.keys_prog
        elif role == "lead" and plan.lead_prog is None:
            plan.lead_prog = lent.lead_prog
    named_lead = any(role == "lead" for _n, _p, role in brief.instruments)
    if not named_lead and plan.lead_prog is None and len(brief.styles) > 1:
        plan.lead_prog = brief.styles[1].lead_prog  # the second genre lends its lead voice
    gone = _removed_programs(brief)
    if not gone:
        return
    for role in ("keys", "lead", "bass"):
        own = getattr(plan, f"{role}_prog")
        current = own if own is not None else getattr(style, f"{role}_prog")
        if current in gone:
            setattr(plan, f"{role}_prog", next((p for p in _STAND_INS[role] if p not in gone), current))
    pad = plan.pad_prog if plan.pad_prog is not None else style.pad_prog
    if pad is not None and pad in gone:
        plan.pad_prog = None
        plan.style = replace(style, pad_prog=None)


def apply_to_score(score: Score, brief: Brief) -> None:
    """Parts the prompt takes out wholesale ("no drums", "no bass"): composed, then left silent, so
    that everything else is exactly what it would have been."""
    for name, stem in _SILENCED.items():
        if name in brief.removed:
            for part in score.stems.get(stem, []):
                part.notes = []


def material(brief: Brief, request: GenerationRequest, length_source: str, target: float) -> dict[str, Any]:
    """What the record says the prompt was understood as, beyond the spec's fields."""
    out: dict[str, Any] = {
        "styles": [s.name for s in brief.styles] or [brief.style.name],
        "instrumentsAsked": [name for name, _program, _role in brief.instruments],
        "removed": list(brief.removed),
        "lengthSource": length_source,
    }
    if brief.seconds is not None:
        out["lengthAsked"] = brief.seconds
        if length_source == "prompt" and round(target) < brief.seconds:
            out["lengthNote"] = f"The prompt asks for {brief.seconds} s; this model allows {round(target)} s"
    if brief.era:
        out["era"] = brief.era
    if brief.language:
        name = language_name(brief.language)
        out["languageRequested"] = brief.language
        if request.kind == "song":
            out["languageSung"] = "en"
            if brief.language != "en":
                out["languageNote"] = (
                    f"The prompt asks for {name} words, but this server's singing voices sing English "
                    "only: the lyrics are sung in English."
                )
        elif brief.language != "en":
            out["languageNote"] = (
                f"The prompt asks for {name} words; this track is instrumental, so none are sung."
            )
    if "vocals" in brief.removed and request.kind == "song":
        out["vocalsNote"] = (
            "The prompt asks for no vocals, but songs are sung: make an instrumental for none."
        )
    return out
