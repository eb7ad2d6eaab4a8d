"""A song's form around its lyrics: intro, the sections in the lyrics' order, a break, the chorus
again at the end, an outro, at a length typical of the style.

Six lines of lyrics sung once, end to end, made a 30-second sketch (issue 22); a song built from
them by the hosted services runs two to four minutes because it is arranged: an instrumental intro,
the verse, the chorus, a solo, the chorus twice, an outro that ends. This module decides that
arrangement in bars, before anything is composed, so that the composer, the singer and the record
all follow one plan. It knows nothing of audio: `song.py` hands the result to both.

Lengths: a length the request or the prompt asks for is met to the bar (the form grows or shrinks
around the lyrics); otherwise the form grows toward the style's typical length from what the lyrics
give (repeats, a longer break, a fuller intro) and never past the model's cap, where sections are
dropped from the end, as a singer cuts a verse to fit the radio edit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from songforge.engines.embedded.styles import Style

TAIL_SECONDS = 2.5  # the last chord rings out this long after the final bar

BARS_PER_LINE = 2  # a sung line's slot; the singer fits at most two lines a bar
MIN_EDGE_S = 4.5  # an instrumental intro or outro lasts at least this long (4 s and the pre-roll)
MAX_EDGE_BARS = 8
MAX_EDGE_S = 16.0
_SUNG_NAMES = ("verse", "pre-chorus", "chorus", "bridge", "intro", "outro")  # the rest sing as verses
DANCE = frozenset({"house", "techno", "trance", "dnb", "dubstep"})
# Styles that end by fading out; the rest stop on a final chord.
FADE_STYLES = frozenset(
    {
        "pop",
        "house",
        "techno",
        "trance",
        "dnb",
        "dubstep",
        "synthwave",
        "reggae",
        "funk",
        "soul",
        "rnb",
        "lofi",
        "chillout",
        "ambient",
        "hiphop",
        "trap",
        "latin",
        "indie",
    }
)
# Styles whose songs sing the chorus twice at the end (the rest once).
DOUBLE_CHORUS = frozenset(
    {
        "pop",
        "rock",
        "punk",
        "metal",
        "indie",
        "country",
        "house",
        "techno",
        "trance",
        "dnb",
        "dubstep",
        "synthwave",
        "hiphop",
        "trap",
        "funk",
        "latin",
        "chiptune",
        "kids",
        "holiday",
    }
)


@dataclass(frozen=True)
class Habits:
    """What a style does around its lyrics."""

    intro_bars: int
    outro_bars: int
    break_bars: int
    break_name: str  # the composer's name for the instrumental break: "solo", "drop" or "break"
    end_choruses: int
    ending: str  # "fade" or "chord"


@dataclass
class FormSection:
    name: str  # the composer's section name (intro, verse, chorus, solo, drop, outro, ...)
    bars: int
    lines: list[str] = field(default_factory=list)  # what is sung, in order (repeats written out)
    lyric: int | None = None  # the lyric section it sings (index into the lyrics), None: instrumental
    take: int = 0  # 0 the first time that lyric section is sung, 1 the next...
    energy: float | None = None  # None: the composer's own for the name
    voice: str | None = None

    @property
    def tag(self) -> str:
        """The section marker the record shows ("[intro]", "[chorus]")."""
        return "break" if self.name in ("solo", "drop", "break") and not self.lines else self.name


@dataclass
class Form:
    sections: list[FormSection]
    ending: str  # "fade" or "chord"
    kept: list[int]  # the lyric sections sung at least once, in the lyrics' order
    length_goal: int  # the bars aimed at

    @property
    def bars(self) -> int:
        return sum(s.bars for s in self.sections)

    def names(self) -> str:
        return " ".join(s.name for s in self.sections)


def bar_seconds(bpm: float) -> float:
    return 4 * 60.0 / bpm


def edge_bars(bpm: float) -> int:
    """The fewest bars an instrumental intro or outro may have: 2, or more at fast tempos."""
    return max(2, math.ceil(MIN_EDGE_S / bar_seconds(bpm)))


def habits(style: Style, bpm: float) -> Habits:
    low = edge_bars(bpm)
    if style.key in DANCE:
        return Habits(8, 8, 16, "drop", 2, "fade")
    return Habits(
        intro_bars=max(low, 4),
        outro_bars=max(low, 4),
        break_bars=8,
        break_name="solo",
        end_choruses=2 if style.key in DOUBLE_CHORUS else 1,
        ending="fade" if style.key in FADE_STYLES else "chord",
    )


def typical_range(style: Style) -> tuple[float, float]:
    """Seconds a song of the style usually lasts (the benchmark's yardstick)."""
    return 0.5 * style.dur, 1.25 * style.dur


# ------------------------------------------------------------------------------------- building


@dataclass
class _Lyric:
    name: str
    lines: list[str]
    voice: str | None


@dataclass
class _Knobs:
    intro: int
    outro: int
    brk: int
    auto_break: bool
    reps: int
    double: bool  # a short chorus (two lines or fewer) sung twice through
    tag_end: bool  # the last chorus ends by singing its last line once more
    keep: int  # lyric sections kept (from the start)


def _sung_lines(lines: list[str], usable: Callable[[str], bool]) -> list[str]:
    return [ln for ln in lines if usable(ln)]


def build(
    sections: list,  # LyricSection-like: .name, .lines, .voice
    style: Style,
    bpm: float,
    goal_bars: int,
    cap_bars: int,
    exact: bool,
    usable: Callable[[str], bool] = lambda ln: bool(ln.strip()),
) -> Form:
    """The form for these lyric sections. `goal_bars` is the length aimed at, met to the bar when
    `exact` (an asked length); `cap_bars` is never exceeded."""
    h = habits(style, bpm)
    lyr = [_Lyric(str(s.name).lower(), _sung_lines(list(s.lines), usable), s.voice) for s in sections]
    # Empty intro/outro sections at the edges are the instrumental intro and outro the form adds anyway.
    while lyr and not lyr[0].lines and lyr[0].name in ("intro", "outro", "inst"):
        lyr.pop(0)
    while lyr and not lyr[-1].lines and lyr[-1].name in ("intro", "outro", "inst"):
        lyr.pop()
    index = _edge_index(sections, usable, len(lyr))  # positions in `lyr` -> the caller's sections
    user_break = any(not s.lines for s in lyr)
    chorus_at = [i for i, s in enumerate(lyr) if s.name == "chorus" and s.lines]
    refrain = chorus_at[0] if chorus_at else None
    if refrain is None and len([s for s in lyr if s.lines]) == 1:
        refrain = next(i for i, s in enumerate(lyr) if s.lines)  # one stanza: it is the refrain
    low = edge_bars(bpm)
    # an intro or outro grows to 8 bars, but not past MAX_EDGE_S: at a ballad's tempo 8 bars are 30 s
    long_edge = max(h.intro_bars, min(MAX_EDGE_BARS, int(MAX_EDGE_S / bar_seconds(bpm))))
    has_refrain = refrain is not None
    # A lone stanza is the song's refrain: its last take ends on its last line sung once more, as
    # singers end a song on its hook (a chorus does the same when the style repeats it at the end).
    lone = refrain is not None and not chorus_at
    # The style's habits first; then grown toward the goal, or shrunk to an asked length or the cap.
    k = _Knobs(
        intro=h.intro_bars,
        outro=h.outro_bars,
        brk=min(8, h.break_bars),
        auto_break=not user_break,
        reps=h.end_choruses if has_refrain else 0,
        double=False,
        tag_end=lone,
        keep=len(lyr),
    )

    def assemble(k: _Knobs) -> list[FormSection]:
        kept = lyr[: k.keep]
        out: list[FormSection] = [FormSection("intro", k.intro)]
        takes: dict[int, int] = {}

        def sung(i: int, energy: float | None = None) -> FormSection:
            s = lyr[i]
            lines = list(s.lines)
            if k.double and (s.name == "chorus" or i == refrain) and len(lines) <= 2:
                lines = lines * 2
            take = takes.get(i, 0)
            takes[i] = take + 1
            name = s.name if s.name in _SUNG_NAMES else "verse"
            return FormSection(name, BARS_PER_LINE * len(lines), lines, index[i], take, energy, s.voice)

        def brk() -> FormSection:
            return FormSection(h.break_name, k.brk)

        # where the automatic break goes: after the second chorus, else the first, else mid-song
        sung_idx = [i for i, s in enumerate(kept) if s.lines]
        choruses = [i for i in sung_idx if kept[i].name == "chorus"]
        if not k.auto_break or not sung_idx:
            after = None
        elif len(choruses) >= 2:
            after = choruses[1]
        elif choruses:
            after = choruses[0]
        else:
            after = sung_idx[(len(sung_idx) - 1) // 2]
        for i, s in enumerate(kept):
            if s.lines:
                out.append(sung(i, 0.9 if s.name == "chorus" else None))
            else:
                out.append(brk())
            if i == after:
                out.append(brk())
        # The chorus at the end: as many times as the style sings it there, counting the choruses the
        # lyrics end with; at least once after a break that ends the lyrics; a lone stanza once.
        trailing = 0
        for placed in reversed(out[1:]):
            if placed.name != "chorus":
                break
            trailing += 1
        reps = max(0, k.reps - trailing)
        if refrain is not None and lyr[refrain].name != "chorus":
            reps = min(reps, 1)
        if out[-1].lines == [] and len(out) > 1:
            reps = max(reps, 1)
        if refrain is not None and refrain < k.keep:
            for _ in range(reps):
                out.append(sung(refrain, 0.95))
        last_sung = next((s for s in reversed(out) if s.lines), None)
        ends_on_refrain = last_sung is not None and refrain is not None and last_sung.lyric == index[refrain]
        if last_sung is not None and (last_sung.name == "chorus" or (lone and ends_on_refrain)):
            if last_sung.name == "chorus":
                last_sung.energy = 1.0
            if k.tag_end and len(last_sung.lines) >= 1:
                last_sung.lines = [*last_sung.lines, last_sung.lines[-1]]
                last_sung.bars += BARS_PER_LINE
        out.append(FormSection("outro", k.outro))
        return [s for s in out if s.bars > 0]

    def total(k: _Knobs) -> int:
        return sum(s.bars for s in assemble(k))

    # Growing toward the goal, most idiomatic first; each step is taken only while the form is short.
    grow: list[Callable[[_Knobs], _Knobs]] = [
        lambda k: replace(k, double=True),
        lambda k: replace(k, tag_end=k.tag_end or h.end_choruses > 1),
        lambda k: replace(k, intro=max(k.intro, long_edge), outro=max(k.outro, long_edge)),
        lambda k: replace(k, brk=max(k.brk, h.break_bars, 12)),  # a dance break keeps its 16
        # a style that sings its chorus once at the end sings it twice when the song is short
        lambda k: replace(k, reps=max(k.reps, 2) if chorus_at else k.reps),
    ]
    for step in grow:
        if total(k) >= goal_bars:
            break
        k = step(k)
    # Shrinking: the extras first, then (for an asked length or the cap) sections from the end.
    limit = min(goal_bars, cap_bars) if exact else cap_bars
    shrink: list[Callable[[_Knobs], _Knobs]] = [
        lambda k: replace(k, brk=min(k.brk, 8)),
        lambda k: replace(k, intro=min(k.intro, h.intro_bars), outro=min(k.outro, h.outro_bars)),
        lambda k: replace(k, tag_end=False),
        lambda k: replace(k, double=False),
        lambda k: replace(k, reps=min(k.reps, 1)),
        lambda k: replace(k, brk=4),
        lambda k: replace(k, intro=low, outro=low),
        lambda k: replace(k, reps=0),
        lambda k: replace(k, auto_break=False),
        lambda k: replace(k, intro=1, outro=1),  # a tight cap: the words before the edges
    ]
    for step in shrink:
        if total(k) <= limit:
            break
        k = step(k)
    while total(k) > limit and k.keep > 1:
        k = replace(k, keep=k.keep - 1)
    secs = assemble(k)
    if exact:
        _fit_exactly(secs, limit)
    _clip_to(secs, cap_bars)
    kept = sorted({s.lyric for s in secs if s.lyric is not None})
    return Form(sections=secs, ending=h.ending, kept=kept, length_goal=goal_bars)


def _edge_index(sections: list, usable: Callable[[str], bool], n: int) -> list[int]:
    """Positions of the caller's sections that survive dropping empty edge sections."""
    idx = list(range(len(sections)))

    def empty_edge(i: int) -> bool:
        s = sections[i]
        return not _sung_lines(list(s.lines), usable) and str(s.name).lower() in ("intro", "outro", "inst")

    while idx and empty_edge(idx[0]):
        idx.pop(0)
    while idx and empty_edge(idx[-1]):
        idx.pop()
    assert len(idx) == n
    return idx


def _fit_exactly(secs: list[FormSection], bars: int) -> None:
    """An asked length, to the bar: the instrumental sections take up or give back the difference
    (the break first, then the outro and the intro), never below a bar."""
    diff = bars - sum(s.bars for s in secs)
    inst = [s for s in secs if not s.lines]
    order = [s for s in inst if s.name not in ("intro", "outro")] + [s for s in inst if s.name == "outro"]
    order += [s for s in inst if s.name == "intro"]
    if not order:
        return
    if diff > 0:
        # grow the break up to 32 bars, then the outro and intro up to 16, then the break again
        for s, top in [(s, 32 if s.name not in ("intro", "outro") else 16) for s in order]:
            add = min(diff, max(0, top - s.bars))
            s.bars += add
            diff -= add
        order[0].bars += diff
    else:
        for s in order:
            take = min(-diff, s.bars - 1)
            s.bars -= take
            diff += take


def _clip_to(secs: list[FormSection], cap_bars: int) -> None:
    """Never past the cap: the last sections lose bars, instrumental ones to nothing, sung ones to a
    bar (sung lines that no longer fit are not sung). Only tiny caps (a test's seconds) get here."""
    over = sum(s.bars for s in secs) - cap_bars
    for floor in (0, 1):
        for s in reversed(secs):
            if over <= 0:
                break
            if floor == 0 and s.lines:
                continue
            take = max(0, min(over, s.bars - max(floor, 1 if s.lines else 0)))
            s.bars -= take
            over -= take
            if s.lines:
                s.lines = s.lines[: max(0, 2 * s.bars)]
    secs[:] = [s for s in secs if s.bars > 0]
