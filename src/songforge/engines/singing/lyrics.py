"""Lyrics: reading the user's tagged lyrics, and writing lyrics from a prompt when there are none.

The writer (`writer.py`) is a small grammar, not a language model: the prompt read into theme
phrases, line templates whose end words rhyme in CMUdict, steady syllable counts per section, and a
chorus built on a hook line that holds the song's title.
"""

from __future__ import annotations

import re

from songforge.engines.singing.common import SECTION_NAMES, LyricSection
from songforge.engines.singing.writer import (
    line_syllables,
    pronunciation,
    rhyme_part,
    rhymes,
    syllable_count,
    write_lyrics,
)
from songforge.errors import EngineError, InvalidInput


class LyricsError(InvalidInput, EngineError):
    """Lyrics that cannot be sung (no words in them). Bad input an engine found, like ChordError:
    the dialects answer it with a 400 at submission, a worker records it as the job's failure."""


MAX_LINE_WORDS = 16  # a longer line is sung as several: one breath does not carry more


def split_long(line: str, max_words: int = MAX_LINE_WORDS) -> list[str]:
    """A line of more than `max_words` words as several lines, cut at commas where they fall, else
    into near-equal runs of words, so that a 5,000-character line is sung rather than crammed."""
    words = line.split()
    if len(words) <= max_words:
        return [line]
    out: list[str] = []
    cur: list[str] = []
    for w in words:
        cur.append(w)
        if len(cur) >= max_words or (w.endswith((",", ";", ".", "!", "?")) and len(cur) >= max_words // 2):
            out.append(" ".join(cur))
            cur = []
    if cur:
        out.append(" ".join(cur))
    return out


def has_words(line: str) -> bool:
    """Whether a line holds anything a voice can say (letters or digits), not only emoji or symbols."""
    return any(ch.isascii() and ch.isalnum() for ch in line)


# --- reading ----------------------------------------------------------------------------------

_TAG_LINE = re.compile(r"^\s*\[([^\]]{1,40})\]\s*(.*)$")
_SECTION_WORDS = (
    ("pre-chorus", ("pre-chorus", "prechorus", "pre chorus", "build")),
    ("chorus", ("chorus", "hook", "refrain")),
    ("verse", ("verse",)),
    ("bridge", ("bridge", "middle 8", "breakdown")),
    ("intro", ("intro",)),
    ("outro", ("outro", "ending", "coda", "end")),
    ("inst", ("inst", "instrumental", "solo", "interlude", "break")),
)


def _read_tag(tag: str) -> tuple[str | None, str | None]:
    """(section name or None, voice or None) for one bracketed tag such as `Verse 2: Female`."""
    t = tag.lower().strip()
    voice = None
    if re.search(r"\bfemale\b|\bwoman\b|\bgirl\b", t):
        voice = "female"
    elif re.search(r"\bmale\b|\bman\b|\bboy\b", t):
        voice = "male"
    for name, words in _SECTION_WORDS:
        if any(re.search(rf"(^|[^a-z-]){re.escape(w)}($|[^a-z])", t) for w in words):
            return name, voice
    return None, voice


def parse_lyrics(text: str) -> list[LyricSection]:
    """Tagged lyrics -> sections. Untagged stanzas (blank-line separated) become verses, except that a
    stanza sung more than once is the chorus. A [Male]/[Female] tag holds until the next one."""
    sections: list[LyricSection] = []
    voice: str | None = None
    current: LyricSection | None = None
    untagged_stanzas = True
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.strip()
        m = _TAG_LINE.match(line)
        if m:
            name, v = _read_tag(m.group(1))
            if v:
                voice = v
            if name:
                untagged_stanzas = False
                current = LyricSection(name=name, lines=[], voice=voice)
                sections.append(current)
            elif current is not None and v:
                current.voice = v
            rest = m.group(2).strip()
            if rest:
                line = rest
            else:
                continue
        if not line:
            if untagged_stanzas and current is not None and current.lines:
                current = None
            continue
        if current is None:
            current = LyricSection(name="verse", lines=[], voice=voice)
            sections.append(current)
        current.lines.extend(split_long(line))
    if untagged_stanzas:
        seen: dict[tuple[str, ...], int] = {}
        for s in sections:
            seen[tuple(s.lines)] = seen.get(tuple(s.lines), 0) + 1
        for s in sections:
            if seen[tuple(s.lines)] > 1:
                s.name = "chorus"
    # Sung sections need lines; a tagged section left empty is instrumental unless it is an intro/outro.
    for s in sections:
        if not s.lines and s.name not in ("intro", "outro", "inst"):
            s.name = "inst"
        assert s.name in SECTION_NAMES
    return sections


def lyrics_text(sections: list[LyricSection]) -> str:
    out: list[str] = []
    voice: str | None = None
    for s in sections:
        tag = {"pre-chorus": "Pre-Chorus", "inst": "Inst"}.get(s.name, s.name.capitalize())
        if s.voice and s.voice != voice:
            out.append(f"[{s.voice.capitalize()}]")
            voice = s.voice
        out.append(f"[{tag}]")
        out.extend(s.lines)
        out.append("")
    return "\n".join(out).strip() + "\n"


def plan_lyrics(lyrics: str | None, prompt: str, seed: int) -> list[LyricSection]:
    if lyrics and lyrics.strip():
        sections = parse_lyrics(lyrics)
        if any(s.lines for s in sections):
            return sections
    return write_lyrics(prompt, seed)


# --- pronunciation and writing ------------------------------------------------------------------
# The writer (and the CMUdict pronunciations it rhymes and counts syllables with) lives in `writer`;
# its names are re-exported here, where the singer and the tests have always found them.

__all__ = [
    "LyricsError",
    "has_words",
    "line_syllables",
    "lyrics_text",
    "parse_lyrics",
    "plan_lyrics",
    "pronunciation",
    "rhyme_part",
    "rhymes",
    "split_long",
    "syllable_count",
    "write_lyrics",
]
