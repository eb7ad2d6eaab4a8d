"""The artist-voice catalogue, voice choice for a prompt, and which languages we can sing.

Every voice is one of festival's English voices (the `base`) shaped by WORLD parameters: a singing
range, a formant warp (`formant` > 1 shortens the apparent vocal tract), a spectral tilt, breathiness
and a vibrato. They are parameter sets, not recordings, so the catalogue lives in code.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from songforge.engines.base import EngineError, VoiceProfile
from songforge.engines.singing.common import hash_int


@dataclass(frozen=True)
class ArtistVoice:
    item_id: str
    name: str
    gender: str  # "female" | "male"
    labels: tuple[str, ...]  # gender first, then range and style words (the API lists them)
    weight: int
    low_midi: int
    high_midi: int
    base: str  # festival voice: "slt" (HTS, female) or "kal" (diphone, male)
    formant: float  # spectral-envelope frequency warp factor
    tilt_db: float  # brightness: dB per octave above 1 kHz
    breathiness: float  # 0..1 extra aperiodicity
    vibrato_rate: float  # Hz
    vibrato_cents: float  # depth (peak) on long notes
    styles: tuple[str, ...]  # prompt words this voice suits

    @property
    def median_midi(self) -> float:
        return (self.low_midi + self.high_midi) / 2

    def profile(self) -> VoiceProfile:
        """The voice as the singer takes it. With `SONGFORGE_SINGER=neural` it is built on the neural
        base of its gender, its range moved by `NEURAL_RANGE_SHIFT` (see there)."""
        from songforge.config import singer_engine
        from songforge.engines.singing.bases import default_base

        neural = singer_engine() == "neural"
        shift = NEURAL_RANGE_SHIFT[self.gender] if neural else 0
        return VoiceProfile(
            item_id=self.item_id,
            gender="male" if self.gender == "male" else "female",
            low_midi=self.low_midi + shift,
            high_midi=self.high_midi + shift,
            median_midi=self.median_midi + shift,
            extra={
                "name": self.name,
                "base": default_base(self.gender) if neural else self.base,
                "formant": self.formant,
                "tilt_db": self.tilt_db,
                "breathiness": self.breathiness,
                "vibrato_rate": self.vibrato_rate,
                "vibrato_cents": self.vibrato_cents,
            },
        )


# Semitones a catalogue range moves on the neural bases. hibari's `heart` speaks near MIDI 54, and
# re-pitching its vocoder far above that costs quality: on two tuning songs the vocals' DNSMOS OVRL was
# 2.34 / 2.53 at the catalogue ranges, 2.85 / 2.75 five semitones down and 2.94 / 2.89 eight down.
# joe speaks near MIDI 51, inside the male ranges.
NEURAL_RANGE_SHIFT = {"female": -8, "male": 0}

_V = ArtistVoice
CATALOGUE: tuple[ArtistVoice, ...] = (
    _V(
        "voice_aurora",
        "Aurora",
        "female",
        ("female", "mezzo", "bright", "pop"),
        100,
        60,
        77,
        "slt",
        1.0,
        1.0,
        0.05,
        5.6,
        22.0,
        ("pop", "dance", "happy", "summer", "upbeat", "bright"),
    ),
    _V(
        "voice_velvet",
        "Velvet",
        "female",
        ("female", "alto", "warm", "soul"),
        95,
        55,
        72,
        "slt",
        0.94,
        -1.5,
        0.12,
        5.2,
        26.0,
        ("soul", "r&b", "rnb", "jazz", "blues", "warm", "smooth", "gospel"),
    ),
    _V(
        "voice_luna",
        "Luna",
        "female",
        ("female", "soprano", "airy", "dreamy"),
        90,
        62,
        79,
        "slt",
        1.05,
        0.5,
        0.3,
        5.0,
        18.0,
        ("dream", "ambient", "indie", "ethereal", "chill", "night", "lofi"),
    ),
    _V(
        "voice_maple",
        "Maple",
        "female",
        ("female", "mezzo", "clear", "folk"),
        85,
        57,
        74,
        "slt",
        0.98,
        0.0,
        0.08,
        5.4,
        20.0,
        ("folk", "country", "acoustic", "ballad", "campfire"),
    ),
    _V(
        "voice_nova",
        "Nova",
        "female",
        ("female", "soprano", "crisp", "electronic"),
        80,
        61,
        78,
        "slt",
        1.03,
        2.0,
        0.04,
        5.8,
        12.0,
        ("electronic", "edm", "synth", "techno", "house", "future"),
    ),
    _V(
        "voice_atlas",
        "Atlas",
        "male",
        ("male", "baritone", "strong", "rock"),
        100,
        47,
        64,
        "kal",
        0.97,
        1.0,
        0.04,
        5.3,
        22.0,
        ("rock", "anthem", "epic", "power", "grunge", "metal"),
    ),
    _V(
        "voice_ember",
        "Ember",
        "male",
        ("male", "tenor", "warm", "soul"),
        95,
        50,
        67,
        "kal",
        1.0,
        -1.0,
        0.1,
        5.4,
        26.0,
        ("soul", "r&b", "rnb", "funk", "gospel", "love"),
    ),
    _V(
        "voice_drift",
        "Drift",
        "male",
        ("male", "baritone", "soft", "indie"),
        90,
        48,
        64,
        "kal",
        0.96,
        -2.0,
        0.3,
        5.0,
        14.0,
        ("indie", "lofi", "chill", "sad", "acoustic", "rain", "bedroom"),
    ),
    _V(
        "voice_granite",
        "Granite",
        "male",
        ("male", "bass-baritone", "deep", "dramatic"),
        85,
        43,
        60,
        "kal",
        0.92,
        -1.5,
        0.06,
        4.8,
        24.0,
        ("country", "ballad", "dark", "cinematic", "dramatic", "blues"),
    ),
    _V(
        "voice_flare",
        "Flare",
        "male",
        ("male", "tenor", "bright", "pop"),
        80,
        52,
        69,
        "kal",
        1.03,
        1.5,
        0.05,
        5.7,
        18.0,
        ("pop", "dance", "happy", "upbeat", "reggae", "latin"),
    ),
)
_BY_ID = {v.item_id: v for v in CATALOGUE}


def artist_voices() -> list[dict]:
    """The catalogue as the API lists it (the API adds the preview URLs it serves)."""
    return [
        {
            "itemId": v.item_id,
            "name": v.name,
            "labels": list(v.labels),
            "weight": v.weight,
            "gender": v.gender,
            "range": {"lowMidi": v.low_midi, "highMidi": v.high_midi},
            "timbre": {
                "base": v.base,
                "formant": v.formant,
                "tiltDb": v.tilt_db,
                "breathiness": v.breathiness,
                "vibratoRate": v.vibrato_rate,
                "vibratoCents": v.vibrato_cents,
            },
            "styles": list(v.styles),
        }
        for v in CATALOGUE
    ]


def artist_voice(item_id: str) -> VoiceProfile | None:
    v = _BY_ID.get(item_id)
    return v.profile() if v else None


PREVIEW_LYRICS = "[Verse]\nI hear the morning calling me\nAnd every road is open wide"


def pick_voice(prompt: str, sections: list, seed: int) -> VoiceProfile:
    """A catalogue voice for a prompt: the [Male]/[Female] tag (the first one sung) decides the gender,
    else gender words in the prompt; among those, the voice whose style words the prompt mentions most,
    ties broken by the seed so that different seeds hear different singers."""
    words = set(re.findall(r"[a-z&]+", (prompt or "").lower()))
    gender: str | None = None
    for s in sections:
        if getattr(s, "voice", None) in ("male", "female") and getattr(s, "lines", None):
            gender = s.voice
            break
    if gender is None:
        if words & {"male", "man", "boy", "baritone", "tenor", "he", "guy", "crooner"}:
            gender = "male"
        elif words & {"female", "woman", "girl", "soprano", "diva", "she", "alto"}:
            gender = "female"
    pool = [v for v in CATALOGUE if gender is None or v.gender == gender]
    scored = sorted(
        pool,
        key=lambda v: (-len(words & set(v.styles)), (hash_int(v.item_id) + seed * 7919) % 1000),
    )
    return scored[0].profile()


# --- languages -------------------------------------------------------------------------------

_SCRIPTS = (
    ("HANGUL", "Korean"),
    ("HIRAGANA", "Japanese"),
    ("KATAKANA", "Japanese"),
    ("CJK", "Chinese"),
    ("CYRILLIC", "Russian"),
    ("ARABIC", "Arabic"),
    ("HEBREW", "Hebrew"),
    ("THAI", "Thai"),
    ("DEVANAGARI", "Hindi"),
    ("GREEK", "Greek"),
    ("BENGALI", "Bengali"),
    ("TAMIL", "Tamil"),
)

# Frequent function words that are not English words; a share of them marks the language.
_STOPWORDS = {
    "Spanish": {
        "el",
        "los",
        "las",
        "que",
        "y",
        "en",
        "por",
        "con",
        "una",
        "mi",
        "tu",
        "es",
        "del",
        "para",
        "como",
        "pero",
        "mas",
        "más",
        "corazón",
        "yo",
        "te",
        "se",
        "lo",
        "muy",
        "sin",
        "amor",
    },
    "French": {
        "le",
        "les",
        "et",
        "je",
        "tu",
        "est",
        "une",
        "des",
        "pas",
        "mon",
        "ne",
        "qui",
        "avec",
        "dans",
        "pour",
        "mais",
        "sur",
        "nous",
        "vous",
        "toi",
        "moi",
        "suis",
        "c'est",
        "ma",
        "ton",
        "au",
    },
    "German": {
        "der",
        "die",
        "das",
        "und",
        "ich",
        "du",
        "nicht",
        "ist",
        "ein",
        "eine",
        "mit",
        "auf",
        "für",
        "mein",
        "dein",
        "wir",
        "ihr",
        "sie",
        "es",
        "zu",
        "den",
        "dem",
        "auch",
        "noch",
        "liebe",
    },
    "Portuguese": {
        "o",
        "os",
        "que",
        "e",
        "não",
        "um",
        "uma",
        "com",
        "meu",
        "minha",
        "você",
        "do",
        "da",
        "em",
        "para",
        "mas",
        "coração",
        "eu",
        "seu",
        "sua",
        "nos",
        "ao",
    },
    "Italian": {
        "il",
        "che",
        "e",
        "non",
        "di",
        "un",
        "una",
        "per",
        "con",
        "mio",
        "mia",
        "sono",
        "del",
        "della",
        "ma",
        "io",
        "ti",
        "cuore",
        "amore",
        "gli",
        "nel",
        "questa",
    },
}
_ENGLISH = {
    "the",
    "and",
    "i",
    "you",
    "a",
    "to",
    "in",
    "of",
    "my",
    "me",
    "we",
    "it",
    "is",
    "on",
    "your",
    "all",
    "love",
    "be",
    "for",
    "with",
    "that",
    "this",
    "so",
    "now",
    "night",
    "heart",
    "down",
    "up",
}


def detect_language(text: str) -> str:
    """ "English", or the name of the language the text is most likely in."""
    counts: dict[str, int] = {}
    letters = 0
    for ch in text:
        if not ch.isalpha():
            continue
        letters += 1
        name = unicodedata.name(ch, "")
        for tag, lang in _SCRIPTS:
            if tag in name:
                counts[lang] = counts.get(lang, 0) + 1
                break
    if letters and counts:
        lang, n = max(counts.items(), key=lambda kv: kv[1])
        if n >= max(2, 0.2 * letters):
            return lang
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text.lower())
    if not words:
        return "English"
    english = sum(w in _ENGLISH for w in words)
    best, best_n = "English", english
    for lang, stop in _STOPWORDS.items():
        n = sum(w in stop and w not in _ENGLISH for w in words)
        if n > best_n and n >= max(2, 0.12 * len(words)):
            best, best_n = lang, n
    return best


_TAG = re.compile(r"\[[^\]]*\]")


def check_language(lyrics: str, model: str) -> None:
    """Refuse lyrics we cannot sing intelligibly. Only English is sung: festival's voices here are
    English, and an English voice reading another language is not intelligible singing, whatever
    the model name promises."""
    from songforge.engines.singing.lyrics import LyricsError, has_words

    text = _TAG.sub(" ", lyrics or "")
    lang = detect_language(text)
    if lang != "English":
        raise EngineError(
            f"Lyrics in {lang} cannot be sung by this server (model {model}): only English lyrics are "
            "supported by its offline singing voices"
        )
    if text.strip() and not has_words(text):
        raise LyricsError(
            "Lyrics hold no words to sing (only emoji or symbols): write the words in English "
            "letters, or send only section tags to have the lyrics written from the prompt"
        )
