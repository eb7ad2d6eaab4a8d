"""Reading a free-text prompt: genres, mood, energy, instruments (asked and taken out), length, era,
language, tempo/key words and scene.

Keyword reading with a few rules taken from how people write prompts, so that the result is
predictable and the record can say what was understood:

- Genre words outrank instrument words: "disco with strings" is disco, with strings.
- In a compound the last genre is the head ("jazz hip hop" is hip hop coloured by jazz); a genre in
  a "with ..." clause, or one that describes a part ("lo-fi drums", "orchestral strings"), colours
  the main style without taking over. Every genre named is reported, the main one first.
- "no drums", "without vocals", "drumless", "instrumental" take things out.
- With no genre named, the nearest style wins on the evidence there is: instruments, scene, era,
  descriptive words ("smoky speakeasy" is jazz); only a prompt with no evidence at all gets the
  default style.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache

from songforge.engines.embedded.prompt_language import LANGUAGES, NAMES, find_language
from songforge.engines.embedded.prompt_length import find_era, find_length
from songforge.engines.embedded.prompt_words import (
    DESCRIPTORS,
    ERA_STYLES,
    ERA_WORDS,
    INSTRUMENT_STYLES,
    INSTRUMENTS,
    MODIFIERS,
    MOODS,
    PART_WORDS,
    REMOVABLE,
    SCENES,
    SECONDARY_CUES,
    WEAK,
)
from songforge.engines.embedded.styles import DEFAULT_STYLE, STYLES, Style
from songforge.music.theory import Key, pc_of

__all__ = ["INSTRUMENTS", "MOODS", "SCENES", "Brief", "language_name", "make_title", "parse_prompt"]

_STOP = set(
    """a an the and or of for with in on at to by from into about like my your our their this that these
those some very really quite bit more less song songs track tracks music tune tunes beat beats instrumental
vibe vibes style type sound sounds feel feeling background mood piece loop bpm key major minor tempo
slow fast upbeat uptempo mid midtempo downtempo gentle soft loud heavy light high low energy but make
create generate please something kind sort using featuring feat lots plenty nice good great cool no not
without minus just only any seconds second secs sec minutes minute mins min long length around roughly
approximately half lyrics vocals vocal sung singing drums drum percussion bass bassline line then""".split()
)

_BPM = re.compile(r"(\d{2,3})\s*(?:bpm|beats per minute)", re.I)
# A root written in capitals ("in A", "key of Bb", "in Am"), or any case with a mode or accidental
# spelled out ("in e flat major", "in a minor"): "in a cozy cafe" names no key.
_KEY = re.compile(
    r"(?i:\b(?:in|key of|key)\s+)(?:([A-G])(#|b|♯|♭|(?i:\s?sharp|\s?flat))?\s*((?i:major|minor|maj|min)|m)?"
    r"|([a-gA-G])(#|♯|♭|(?i:\s?sharp|\s?flat))?\s*((?i:major|minor)))\b(?!\w)"
)

# Score of one genre word: specific or broad, the head of the phrase or a colour of another genre.
_STRONG, _BROAD = 10.0, 6.0
_COLOUR, _PART = 0.4, 0.35  # factors for a colouring genre and for one that describes a part
_INSTRUMENT_HINT, _SCENE_HINT, _ERA_HINT, _WORD_HINT = 2.0, 2.5, 1.5, 1.0

_NEGATION = re.compile(
    r"(?<![\w-])(?:no|without|w/o|minus|sans|zero|not any|none of the|excluding|exclude|leave out"
    r"|skip the|lose the|ditch the|don't want|do not want|don't use|do not use)\s+"
)
_NEGATION_FILLER = {"any", "the", "a", "an", "real", "live", "more", "other", "extra", "loud", "heavy", "big"}
_LESS = re.compile(r"(?<![\w-])([a-z0-9]+)(?:-?less|-free|\s+free)(?![\w-])")
_LATER = re.compile(
    r"\s*(?:in|during|for|until|till)\s+(?:the\s+)?(?:intro|beginning|start|first|verse|outro)"
)
_INSTRUMENTAL = re.compile(r"(?<![\w-])(?:instrumental|instrumentals|instrumental only|no singing)(?![\w-])")
_CLAUSE = re.compile(r"[,.;:!?()\[\]]|\s-\s|\bbut\b|\bjust\b|\bonly\b")
_LYRICS = re.compile(r"\s+(?:lyrics?|words|vocals?|text|verses?)(?![\w-])")
_TERMS = sorted(set(INSTRUMENTS) | set(REMOVABLE), key=len, reverse=True)
_TERM = re.compile(r"(" + "|".join(re.escape(t) for t in _TERMS) + r")(?:s|es)?(?![\w-])")


@dataclass
class Brief:
    """What the prompt asked for. None means "not said": the engine then picks a typical value."""

    style: Style
    genre: str  # the genre words as written ("deep house")
    mood: str
    mode_bias: float  # >0 major, <0 minor
    energy: float  # 0..1
    instruments: list[tuple[str, int, str]] = field(default_factory=list)
    bpm: int | None = None
    tempo_word: str | None = None  # "slow" | "fast" | None
    key: Key | None = None
    scene: str = ""
    styles: list[Style] = field(default_factory=list)  # every genre named, the main one first
    removed: list[str] = field(default_factory=list)  # "drums", "vocals", "bass", instrument names
    seconds: int | None = None  # the length the prompt asks for
    era: str | None = None  # "80s", "2000s", "1920s"
    language: str | None = None  # ISO code of the language asked for the words
    # Styles a genre word lent to one part ("funk bass line": the bass plays funk's bass).
    part_styles: dict[str, Style] = field(default_factory=dict)

    @property
    def instrumental(self) -> bool:
        return "vocals" in self.removed


def language_name(code: str | None) -> str:
    """ "Spanish" for "es"; the code itself for one the table does not know."""
    return NAMES.get(code or "", code or "")


def _fold(prompt: str) -> str:
    text = unicodedata.normalize("NFKD", (prompt or "").replace("’", "'").replace("‘", "'"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("–", "-").replace("—", " - ")
    # "motown-style", "jazz-influenced": the genre word stands on its own
    text = re.sub(
        r"-(style|styled|inspired|influenced|tinged|infused|flavou?red|esque|ish|like)(?![\w-])", r" \1", text
    )
    return " ".join(text.split())


@cache
def _word(phrase: str, plural: bool = False) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])" + re.escape(phrase) + (r"(?:s|es)?" if plural else "") + r"(?![\w-])")


def _span(text: str, phrase: str, start: int = 0) -> re.Match[str] | None:
    return _word(phrase, True).search(text, start)


def _find(words: str, phrase: str) -> int:
    m = _word(phrase).search(words)
    return m.start() if m else -1


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for a, b in spans:
        chars[a:b] = " " * (b - a)
    return "".join(chars)


def _term_at(text: str, pos: int) -> tuple[str, int] | None:
    """The instrument or removable word starting at `pos` (longest first), and where it ends."""
    m = _TERM.match(text, pos)
    return (m[1], m.end()) if m else None


def _removed_name(term: str) -> str:
    return REMOVABLE[term] if term in REMOVABLE else INSTRUMENTS[term][0]


def _negations(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """What the prompt takes out, and the stretches of text that say so (read for nothing else)."""
    removed: list[str] = []
    spans: list[tuple[int, int]] = []
    for m in _NEGATION.finditer(text):
        pos, names = m.end(), []
        while True:
            while True:  # "no real drums", "without any percussion"
                w = re.compile(r"([a-z']+)\s+").match(text, pos)
                if not (w and w[1] in _NEGATION_FILLER):
                    break
                pos = w.end()
            found = _term_at(text, pos)
            if found is None:
                break
            names.append(_removed_name(found[0]))
            pos = found[1]
            more = re.compile(r"\s*(?:,?\s*(?:and|or|nor)|/|&)\s+").match(text, pos)
            if not (more and _term_at(text, more.end()) or (more and _filler_then_term(text, more.end()))):
                break
            pos = more.end()
        if not names:
            continue
        spans.append((m.start(), pos))
        if _LATER.match(text, pos):
            continue  # "no drums in the intro": the track still has drums
        removed += [n for n in names if n not in removed]
    for m in _LESS.finditer(text):
        found = _term_at(m[1], 0)
        if found and found[1] == len(m[1]):
            spans.append(m.span())
            name = _removed_name(found[0])
            if name not in removed:
                removed.append(name)
    if _INSTRUMENTAL.search(text) and "vocals" not in removed:
        removed.append("vocals")
    return removed, spans


def _filler_then_term(text: str, pos: int) -> bool:
    w = re.compile(r"([a-z']+)\s+").match(text, pos)
    return bool(w and w[1] in _NEGATION_FILLER and _term_at(text, w.end()))


def _instruments(text: str) -> list[tuple[int, tuple[str, int, str]]]:
    found: list[tuple[int, tuple[str, int, str]]] = []
    taken = text
    for word in sorted(INSTRUMENTS, key=len, reverse=True):
        m = _span(taken, word)
        while m:
            found.append((m.start(), INSTRUMENTS[word]))
            taken = taken[: m.start()] + " " * (m.end() - m.start()) + taken[m.end() :]
            m = _span(taken, word, m.end())
    found.sort(key=lambda f: f[0])
    out: list[tuple[int, tuple[str, int, str]]] = []
    for pos, inst in found:
        if all(inst[0] != o[1][0] for o in out):
            out.append((pos, inst))
    return out


@dataclass
class _Hit:
    start: int
    end: int
    style: str
    alias: str
    weight: float
    part: str | None = None  # the part word it describes ("drums"), if it describes one


_ERA_ALIASES = {"80s", "eighties", "'80s"}
_GENRE_ALIASES = sorted(
    (
        (alias, style.key)
        for style in STYLES.values()
        for alias in style.aliases
        if alias not in INSTRUMENTS and alias not in _ERA_ALIASES
    ),
    key=lambda a: len(a[0]),
    reverse=True,
)


def _genre_hits(text: str) -> list[_Hit]:
    hits: list[_Hit] = []
    taken = text
    for alias, key in _GENRE_ALIASES:
        pattern = _word(alias)
        if alias not in taken:
            continue
        for m in pattern.finditer(taken):
            if alias in LANGUAGES and _LYRICS.match(taken, m.end()):
                continue  # "latin lyrics" name a language
            base = _BROAD if alias in WEAK else _STRONG
            hits.append(_Hit(m.start(), m.end(), key, alias, base))
        taken = pattern.sub(lambda m: " " * len(m.group()), taken)
    hits.sort(key=lambda h: h.start)
    # compounds: genres side by side ("jazz hip hop", "lofi house"); the last specific one is the head
    groups: list[list[_Hit]] = []
    for h in hits:
        if groups and re.fullmatch(r"[\s/&+-]*", text[groups[-1][-1].end : h.start]):
            groups[-1].append(h)
        else:
            groups.append([h])
    for group in groups:
        heads = [h for h in group if h.alias not in MODIFIERS] or group
        strong = [h for h in heads if h.weight == _STRONG]
        head = (strong or heads)[-1]
        for h in group:
            if h is not head:
                h.weight *= _COLOUR
    for h in hits:
        if h.alias in MODIFIERS and len(hits) > 1:
            h.weight = min(h.weight, _BROAD * _COLOUR)
        nxt = re.compile(r"[\s-]*([a-z0-9&']+)").match(text, h.end)
        if nxt and (nxt[1] in PART_WORDS or _term_at(nxt[1], 0)):
            h.weight *= _PART
            h.part = nxt[1]
            continue
        clause = _CLAUSE.split(text[: h.start])[-1]
        others = any(o.style != h.style for o in hits)
        if others and any(
            re.search(rf"(?<![\w-]){re.escape(cue)}(?![\w-])", clause) for cue in SECONDARY_CUES
        ):
            h.weight *= _COLOUR
    return hits


_PART_ROLES = {
    "drum": "drums",
    "drums": "drums",
    "percussion": "drums",
    "breaks": "drums",
    "fills": "drums",
    "bass": "bass",
    "bassline": "bass",
    "basslines": "bass",
    "guitar": "keys",
    "guitars": "keys",
    "chord": "keys",
    "chords": "keys",
    "keys": "keys",
    "piano": "keys",
    "riff": "keys",
    "riffs": "keys",
    "melody": "lead",
    "melodies": "lead",
    "lead": "lead",
    "solo": "lead",
    "hook": "lead",
    "synth": "lead",
    "synths": "lead",
    "horns": "lead",
}


def _rank(
    text: str, work: str, hits: list[_Hit], instruments: list[str], era: str | None
) -> dict[str, float]:
    score: dict[str, float] = {}

    def add(key: str | None, value: float) -> None:
        if key in STYLES:
            score[key] = score.get(key, 0.0) + value

    n = max(1, len(text))
    for h in hits:
        add(h.style, h.weight + (0.5 * (1 - h.start / n) if h.weight >= _BROAD else 0.0))
    for name in instruments:
        add(INSTRUMENT_STYLES.get(name), _INSTRUMENT_HINT)
    for word, (_scene, style, _mood) in SCENES.items():
        if _find(work, word) >= 0:
            add(style, _SCENE_HINT)
    if era:
        add(ERA_STYLES.get(era), _ERA_HINT)
    spans = [(h.start, h.end) for h in hits]
    for tok in re.findall(r"[a-z0-9][a-z0-9'&-]*", _blank(work, spans)):
        for word in {tok, *tok.split("-")}:
            add(DESCRIPTORS.get(word), _WORD_HINT)
    return score


def _key(prompt: str) -> Key | None:
    km = _KEY.search(prompt or "")
    if not km:
        return None
    root, acc, mode_word = (km[1], km[2], km[3]) if km[1] else (km[4].upper(), km[5], km[6])
    acc = (acc or "").strip().lower()
    acc = {"sharp": "#", "flat": "b", "♯": "#", "♭": "b"}.get(acc, acc)
    mode_word = mode_word or "major"
    # "in Am" -> A minor; "in A" -> A major
    mode = "minor" if mode_word.lower() in ("minor", "min") or mode_word == "m" else "major"
    try:
        return Key(pc_of(root.upper() + acc), mode)
    except ValueError:
        return None


def parse_prompt(prompt: str) -> Brief:
    text = _fold(prompt)
    removed, negated = _negations(text)
    work = _blank(text, negated)
    length = find_length(work)
    era = find_era(work, ERA_WORDS)
    if length is not None:
        work = _blank(work, [length[1]])
    found = _instruments(work)
    instruments = [inst for _pos, inst in found if inst[0] not in removed]
    hits = _genre_hits(work)
    score = _rank(text, work, hits, [i[0] for i in instruments], era)
    if score:
        primary = max(score, key=lambda k: score[k])
    else:
        primary = DEFAULT_STYLE
    style = STYLES[primary]
    named = sorted({h.style for h in hits if h.weight >= _BROAD * _COLOUR}, key=lambda k: -score.get(k, 0.0))
    styles = [style] + [STYLES[k] for k in named if k != primary]
    best_hit = max((h for h in hits if h.style == primary), key=lambda h: h.weight, default=None)
    genre = best_hit.alias if best_hit is not None else ""
    part_styles: dict[str, Style] = {}
    for h in hits:
        role = _PART_ROLES.get(h.part or "")
        if role and h.style != primary and role not in part_styles:
            part_styles[role] = STYLES[h.style]

    scenes = sorted((p, sc) for word, sc in SCENES.items() if (p := _find(work, word)) >= 0)
    scene, scene_mood = (scenes[0][1][0], scenes[0][1][2]) if scenes else ("", None)
    mood, mode_bias, energy = style.mood, 0.0, 0.6
    moods = sorted((p, m) for word, m in MOODS.items() if (p := _find(work, word)) >= 0)
    for _p, (_md, bias, de) in moods:
        mode_bias += bias
        energy += de
    if moods:
        mood = moods[0][1][0]
    elif scene_mood:
        mood = scene_mood
    for word, de in (
        ("upbeat", 0.2),
        ("high energy", 0.3),
        ("high-energy", 0.3),
        ("driving", 0.2),
        ("gentle", -0.2),
        ("soft", -0.2),
        ("quiet", -0.2),
        ("minimal", -0.1),
        ("slow", -0.15),
        ("fast", 0.15),
        ("banger", 0.3),
        ("hard", 0.15),
    ):
        if _find(work, word) >= 0:
            energy += de
    energy = max(0.1, min(1.0, energy))

    bpm = None
    m = _BPM.search(text)
    if m:
        bpm = max(50, min(190, int(m.group(1))))
    tempo_word = None
    if re.search(r"\b(slow|slowly|ballad|downtempo|laid[- ]back|lazy)\b", text):
        tempo_word = "slow"
    if re.search(r"\b(fast|upbeat|up-tempo|uptempo|energetic|high[- ]energy|quick|frantic)\b", text):
        tempo_word = "fast"
    return Brief(
        style=style,
        genre=genre,
        mood=mood,
        mode_bias=mode_bias,
        energy=energy,
        instruments=instruments,
        bpm=bpm,
        tempo_word=tempo_word,
        key=_key(prompt),
        scene=scene,
        styles=styles,
        removed=removed,
        seconds=length[0] if length else None,
        era=era,
        language=find_language(prompt),
        part_styles=part_styles,
    )


def make_title(prompt: str, brief: Brief) -> str:
    """Short and human: two telling words of the prompt plus the style ("Rainy Night Lo-fi")."""
    text = re.sub(_BPM, " ", (prompt or "").lower())
    text = re.sub(_KEY, " ", text)
    length = find_length(text)
    if length is not None:
        text = _blank(text, [length[1]])
    skip = set(_STOP) | set(LANGUAGES)
    for style in STYLES.values():
        for alias in style.aliases:
            skip.update(alias.split())
    for word in INSTRUMENTS:
        skip.update(word.split())
        skip.update(w + "s" for w in word.split())
    tokens = re.findall(r"[a-z][a-z']+", text)
    run: list[str] = []
    best: list[str] = []
    for tok in tokens + ["."]:
        if tok not in skip and len(tok) > 2 and tok != ".":
            run.append(tok)
            if len(run) == 2:
                best = run
                break
        else:
            if run and not best:
                best = run
            run = []
    words = [w.capitalize() for w in best[:2]]
    if not words:
        words = [brief.mood.capitalize()]
    title = " ".join(words + [brief.style.name])
    return title[:60]
