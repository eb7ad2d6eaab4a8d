"""Reading a free-text prompt: genre, mood, energy, instruments, tempo/key words and scene.

Plain keyword matching with a few precedence rules. It is predictable, cheap, and the record
says what was understood, so a user can see why the result sounds the way it does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from songforge.engines.embedded.styles import DEFAULT_STYLE, STYLES, Style
from songforge.music.theory import Key, pc_of

# Aliases that name a broad family; a more specific style named in the same prompt wins.
_WEAK = {
    "pop",
    "rock",
    "hip hop",
    "hip-hop",
    "hiphop",
    "rap",
    "jazz",
    "jazzy",
    "folk",
    "acoustic",
    "chill",
    "classical",
    "dance",
    "edm",
    "club",
    "epic",
    "game",
    "groove",
    "score",
    "80s",
    "eighties",
    "soundtrack",
    "movie",
    "guitar rock",
    "progressive",
    "minimal",
    "chip",
    "western",
    "sleep",
    "spa",
    "neon",
    "warehouse",
    "rave",
    "disco",
    "dub",
    "liquid",
    "cafe",
    "strings",
    "funky",
    "808",
    "pixel",
    "winter",
    "heroic",
    "gospel",
    "celtic",
    "indie",
}

# Scene words: what the track is for; they suggest a style when no genre is named.
SCENES: dict[str, tuple[str, str, str]] = {
    # word: (scene, fallback style, mood)
    "trailer": ("trailer", "cinematic", "epic"),
    "film": ("film", "cinematic", "dramatic"),
    "movie": ("film", "cinematic", "dramatic"),
    "study": ("study", "lofi", "focused"),
    "studying": ("study", "lofi", "focused"),
    "focus": ("study", "lofi", "focused"),
    "homework": ("study", "lofi", "focused"),
    "coding": ("study", "lofi", "focused"),
    "wedding": ("wedding", "piano", "romantic"),
    "workout": ("workout", "house", "energetic"),
    "gym": ("workout", "house", "energetic"),
    "running": ("workout", "dnb", "energetic"),
    "party": ("party", "house", "euphoric"),
    "sleep": ("sleep", "ambient", "calm"),
    "meditation": ("meditation", "ambient", "calm"),
    "yoga": ("meditation", "ambient", "calm"),
    "spa": ("relaxation", "ambient", "calm"),
    "game": ("game", "chiptune", "playful"),
    "gaming": ("game", "chiptune", "playful"),
    "commercial": ("advertising", "pop", "uplifting"),
    "advert": ("advertising", "pop", "uplifting"),
    "corporate": ("advertising", "pop", "uplifting"),
    "vlog": ("vlog", "lofi", "cheerful"),
    "podcast": ("podcast", "chillout", "relaxed"),
    "travel": ("travel", "indie", "adventurous"),
    "road trip": ("travel", "rock", "adventurous"),
    "beach": ("summer", "reggae", "sunny"),
    "summer": ("summer", "pop", "sunny"),
    "christmas": ("holiday", "holiday", "festive"),
    "holiday": ("holiday", "holiday", "festive"),
    "birthday": ("party", "kids", "happy"),
    "kids": ("kids", "kids", "happy"),
    "children": ("kids", "kids", "happy"),
    "dinner": ("dinner", "bossa", "relaxed"),
    "coffee": ("cafe", "bossa", "relaxed"),
    "cafe": ("cafe", "bossa", "relaxed"),
    "horror": ("horror", "cinematic", "dark"),
    "romance": ("romance", "rnb", "romantic"),
    "date": ("romance", "rnb", "romantic"),
    "night drive": ("night drive", "synthwave", "nostalgic"),
    "rainy": ("rain", "lofi", "melancholic"),
    "nature": ("nature", "ambient", "peaceful"),
}

# Mood word -> (mood, mode preference (+ major, - minor), energy delta)
MOODS: dict[str, tuple[str, float, float]] = {
    "happy": ("happy", 1, 0.1),
    "joyful": ("happy", 1, 0.15),
    "cheerful": ("cheerful", 1, 0.1),
    "uplifting": ("uplifting", 1, 0.1),
    "hopeful": ("hopeful", 0.8, 0),
    "sunny": ("sunny", 1, 0.05),
    "bright": ("bright", 1, 0.05),
    "triumphant": ("triumphant", 1, 0.3),
    "playful": ("playful", 0.8, 0.1),
    "fun": ("fun", 1, 0.1),
    "romantic": ("romantic", 0.6, -0.15),
    "love": ("romantic", 0.6, -0.1),
    "sad": ("sad", -1, -0.2),
    "melancholic": ("melancholic", -1, -0.15),
    "melancholy": ("melancholic", -1, -0.15),
    "dark": ("dark", -1, 0),
    "moody": ("moody", -0.8, -0.05),
    "mysterious": ("mysterious", -0.8, -0.1),
    "tense": ("tense", -0.8, 0.1),
    "angry": ("angry", -1, 0.3),
    "aggressive": ("aggressive", -1, 0.35),
    "epic": ("epic", -0.3, 0.3),
    "dramatic": ("dramatic", -0.6, 0.2),
    "emotional": ("emotional", -0.4, 0),
    "nostalgic": ("nostalgic", -0.3, -0.05),
    "dreamy": ("dreamy", 0, -0.2),
    "calm": ("calm", 0.3, -0.3),
    "peaceful": ("peaceful", 0.5, -0.3),
    "relaxing": ("relaxed", 0.3, -0.25),
    "relaxed": ("relaxed", 0.3, -0.25),
    "chill": ("chill", 0, -0.2),
    "mellow": ("mellow", 0, -0.25),
    "groovy": ("groovy", 0, 0.1),
    "energetic": ("energetic", 0.3, 0.35),
    "powerful": ("powerful", 0, 0.3),
    "spooky": ("spooky", -1, 0),
    "eerie": ("eerie", -1, -0.1),
    "heroic": ("heroic", 0.5, 0.3),
    "lonely": ("lonely", -1, -0.2),
    "bittersweet": ("bittersweet", -0.5, -0.1),
    "hypnotic": ("hypnotic", -0.3, 0),
    "warm": ("warm", 0.5, -0.1),
    "gloomy": ("gloomy", -1, -0.2),
    "intense": ("intense", -0.3, 0.35),
    "inspiring": ("inspiring", 1, 0.15),
    "motivational": ("motivational", 1, 0.25),
    "sexy": ("sensual", -0.2, -0.1),
    "festive": ("festive", 1, 0.1),
}

# Instrument word -> (record name, GM program, role: lead | keys | bass | pad)
INSTRUMENTS: dict[str, tuple[str, int, str]] = {
    "grand piano": ("piano", 0, "keys"),
    "piano": ("piano", 0, "keys"),
    "electric piano": ("electric piano", 4, "keys"),
    "rhodes": ("electric piano", 4, "keys"),
    "wurlitzer": ("electric piano", 4, "keys"),
    "organ": ("organ", 16, "keys"),
    "hammond": ("organ", 16, "keys"),
    "acoustic guitar": ("acoustic guitar", 25, "keys"),
    "nylon guitar": ("nylon guitar", 24, "keys"),
    "classical guitar": ("nylon guitar", 24, "keys"),
    "electric guitar": ("electric guitar", 27, "keys"),
    "distorted guitar": ("distorted guitar", 30, "keys"),
    "guitar": ("guitar", 25, "keys"),
    "ukulele": ("ukulele", 24, "keys"),
    "banjo": ("banjo", 105, "keys"),
    "harp": ("harp", 46, "keys"),
    "marimba": ("marimba", 12, "keys"),
    "vibraphone": ("vibraphone", 11, "keys"),
    "vibes": ("vibraphone", 11, "keys"),
    "harpsichord": ("harpsichord", 6, "keys"),
    "bass guitar": ("bass guitar", 33, "bass"),
    "upright bass": ("upright bass", 32, "bass"),
    "double bass": ("upright bass", 32, "bass"),
    "synth bass": ("synth bass", 38, "bass"),
    "808": ("808 bass", 38, "bass"),
    "slap bass": ("slap bass", 36, "bass"),
    "strings": ("strings", 48, "pad"),
    "orchestra": ("strings", 48, "pad"),
    "choir": ("choir", 52, "pad"),
    "pad": ("synth pad", 89, "pad"),
    "brass": ("brass", 61, "pad"),
    "horns": ("brass", 61, "pad"),
    "violin": ("violin", 40, "lead"),
    "fiddle": ("fiddle", 110, "lead"),
    "cello": ("cello", 42, "lead"),
    "viola": ("viola", 41, "lead"),
    "flute": ("flute", 73, "lead"),
    "piccolo": ("piccolo", 72, "lead"),
    "saxophone": ("saxophone", 65, "lead"),
    "sax": ("saxophone", 65, "lead"),
    "trumpet": ("trumpet", 56, "lead"),
    "trombone": ("trombone", 57, "lead"),
    "french horn": ("french horn", 60, "lead"),
    "clarinet": ("clarinet", 71, "lead"),
    "oboe": ("oboe", 68, "lead"),
    "bassoon": ("bassoon", 70, "lead"),
    "harmonica": ("harmonica", 22, "lead"),
    "accordion": ("accordion", 21, "lead"),
    "glockenspiel": ("glockenspiel", 9, "lead"),
    "bells": ("bells", 9, "lead"),
    "celesta": ("celesta", 8, "lead"),
    "music box": ("music box", 10, "lead"),
    "kalimba": ("kalimba", 108, "lead"),
    "sitar": ("sitar", 104, "lead"),
    "pan flute": ("pan flute", 75, "lead"),
    "whistle": ("whistle", 78, "lead"),
    "steel drums": ("steel drums", 114, "lead"),
    "bagpipes": ("bagpipes", 109, "lead"),
    "synth lead": ("synth lead", 81, "lead"),
    "synthesizer": ("synth", 81, "lead"),
    "synth": ("synth", 81, "lead"),
    "lead guitar": ("lead guitar", 29, "lead"),
    "guitar solo": ("lead guitar", 29, "lead"),
}

_STOP = set(
    """a an the and or of for with in on at to by from into about like my your our their this that these
those some very really quite bit more less song songs track tracks music tune tunes beat beats instrumental
vibe vibes style type sound sounds feel feeling background mood piece loop bpm key major minor tempo
slow fast upbeat uptempo mid midtempo downtempo gentle soft loud heavy light high low energy but make
create generate please something kind sort using featuring feat lots plenty nice good great cool""".split()
)

_BPM = re.compile(r"(\d{2,3})\s*(?:bpm|beats per minute)", re.I)
_KEY = re.compile(
    r"\b(?:in|key of|key)\s+([A-G])(#|b|♯|♭|\s?sharp|\s?flat)?\s*(major|minor|maj|min|m)?\b(?!\w)", re.I
)


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


def _find(words: str, phrase: str) -> int:
    m = re.search(r"(?<![\w-])" + re.escape(phrase) + r"(?![\w-])", words)
    return m.start() if m else -1


def parse_prompt(prompt: str) -> Brief:
    text = (prompt or "").lower().replace("’", "'")
    # genre: strong aliases beat weak ones, then longer aliases, then earlier ones
    best: tuple[int, int, int, str, str] | None = None
    for style in STYLES.values():
        for alias in style.aliases:
            pos = _find(text, alias)
            if pos < 0:
                continue
            rank = (0 if alias in _WEAK else 1, len(alias), -pos, style.key, alias)
            if best is None or rank > best:
                best = rank
    scene, scene_style, scene_mood = "", None, None
    for word, (sc, st, md) in SCENES.items():
        if _find(text, word) >= 0:
            scene, scene_style, scene_mood = sc, st, md
            break
    if best is not None:
        style, genre = STYLES[best[3]], best[4]
    elif scene_style:
        style, genre = STYLES[scene_style], STYLES[scene_style].name.lower()
    else:
        style, genre = STYLES[DEFAULT_STYLE], ""
    mood, mode_bias, energy = style.mood, 0.0, 0.6
    mood_found = False
    for word, (md, bias, de) in MOODS.items():
        if _find(text, word) >= 0:
            if not mood_found:
                mood = md
                mood_found = True
            mode_bias += bias
            energy += de
    if not mood_found and scene_mood:
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
        if _find(text, word) >= 0:
            energy += de
    energy = max(0.1, min(1.0, energy))

    instruments: list[tuple[str, int, str]] = []
    taken = text
    for word in sorted(INSTRUMENTS, key=len, reverse=True):
        pos = _find(taken, word)
        if pos >= 0:
            instruments.append(INSTRUMENTS[word])
            taken = taken[:pos] + " " * len(word) + taken[pos + len(word) :]

    bpm = None
    m = _BPM.search(text)
    if m:
        bpm = max(50, min(190, int(m.group(1))))
    tempo_word = None
    if re.search(r"\b(slow|slowly|ballad|downtempo|laid[- ]back|lazy)\b", text):
        tempo_word = "slow"
    if re.search(r"\b(fast|upbeat|up-tempo|uptempo|energetic|high[- ]energy|quick|frantic)\b", text):
        tempo_word = "fast"
    key = None
    km = _KEY.search(prompt or "")
    if km:
        acc = (km.group(2) or "").strip().lower()
        acc = {"sharp": "#", "flat": "b", "♯": "#", "♭": "b"}.get(acc, acc)
        mode_word = (km.group(3) or "major").lower()
        # "in Am" -> A minor; "in A" -> A major
        mode = "minor" if mode_word in ("minor", "min", "m") else "major"
        try:
            key = Key(pc_of(km.group(1).upper() + acc), mode)
        except ValueError:
            key = None
    return Brief(
        style=style,
        genre=genre,
        mood=mood,
        mode_bias=mode_bias,
        energy=energy,
        instruments=instruments,
        bpm=bpm,
        tempo_word=tempo_word,
        key=key,
        scene=scene,
    )


def make_title(prompt: str, brief: Brief) -> str:
    """Short and human: two telling words of the prompt plus the style ("Rainy Night Lo-fi")."""
    text = re.sub(_BPM, " ", (prompt or "").lower())
    text = re.sub(_KEY, " ", text)
    skip = set(_STOP)
    for style in STYLES.values():
        for alias in style.aliases:
            skip.update(alias.split())
    for word in INSTRUMENTS:
        skip.update(word.split())
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
    if best and len(best) < 2:
        # keep looking for a longer run; settle for the first single word otherwise
        pass
    words = [w.capitalize() for w in best[:2]]
    if not words:
        words = [brief.mood.capitalize()]
    title = " ".join(words + [brief.style.name])
    return title[:60]
