"""The language a prompt asks the words to be in: "a song in Spanish", "French lyrics", "en español".

A language name alone is not a request: "French house", "Spanish guitar" and "Latin" name styles.
It counts when it is tied to the words: "in <language>", "<language> lyrics/vocals/rap", a
"<language> ... song" within a few words, or the language's own name for itself ("en español").
The record says what was asked, so a track sung in another language never ignores it silently.
"""

from __future__ import annotations

import re
import unicodedata

# English name -> ISO 639-1 code (639-3 where there is no 639-1 code).
LANGUAGES: dict[str, str] = {
    "english": "en",
    "spanish": "es",
    "castilian": "es",
    "french": "fr",
    "german": "de",
    "italian": "it",
    "portuguese": "pt",
    "brazilian portuguese": "pt",
    "japanese": "ja",
    "korean": "ko",
    "chinese": "zh",
    "mandarin": "zh",
    "cantonese": "yue",
    "hindi": "hi",
    "urdu": "ur",
    "punjabi": "pa",
    "bengali": "bn",
    "tamil": "ta",
    "telugu": "te",
    "russian": "ru",
    "ukrainian": "uk",
    "polish": "pl",
    "czech": "cs",
    "arabic": "ar",
    "hebrew": "he",
    "turkish": "tr",
    "persian": "fa",
    "farsi": "fa",
    "greek": "el",
    "dutch": "nl",
    "swedish": "sv",
    "norwegian": "no",
    "danish": "da",
    "finnish": "fi",
    "hungarian": "hu",
    "romanian": "ro",
    "vietnamese": "vi",
    "thai": "th",
    "indonesian": "id",
    "malay": "ms",
    "tagalog": "tl",
    "filipino": "tl",
    "swahili": "sw",
    "yoruba": "yo",
    "zulu": "zu",
    "gaelic": "ga",
    "welsh": "cy",
    "catalan": "ca",
    "latin": "la",
}

# A language's name for itself: unambiguous wherever it appears.
ENDONYMS: dict[str, str] = {
    "espanol": "es",
    "castellano": "es",
    "francais": "fr",
    "francaise": "fr",
    "deutsch": "de",
    "deutsche": "de",
    "italiano": "it",
    "portugues": "pt",
    "nihongo": "ja",
    "中文": "zh",
    "汉语": "zh",
    "普通话": "zh",
    "国语": "zh",
    "粤语": "yue",
    "日语": "ja",
    "日文": "ja",
    "日本語": "ja",
    "韩语": "ko",
    "韩文": "ko",
    "한국어": "ko",
    "英文": "en",
    "英语": "en",
}

NAMES: dict[str, str] = {
    code: name.title() for name, code in reversed(list(LANGUAGES.items())) if " " not in name
} | {"es": "Spanish", "zh": "Chinese", "tl": "Tagalog", "fa": "Persian", "pt": "Portuguese"}

_WORDS = (
    r"(?:lyrics?|vocals?|vocalist|words|rap|rapping|raps|singing|sung|verses?|chorus|lines?|language|singer)"
)
_SONG = r"(?:song|songs|ballad|lullaby|anthem|hymn|chanson|serenade|love song|rap)"
# Languages that name a style when they stand before a genre; they count only tied to the words.
_STYLE_ADJECTIVES = {"latin"}


def _fold(text: str) -> str:
    """Lower case without accents ("Español" -> "espanol"), CJK left as it is."""
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def find_language(prompt: str) -> str | None:
    """The ISO code of the language the prompt asks the words to be in, or None."""
    text = _fold(prompt or "")
    for word, code in ENDONYMS.items():
        if re.search(rf"(?<![\w]){re.escape(word)}(?![\w])", text) or (not word.isascii() and word in text):
            return code
    names = "|".join(sorted((re.escape(n) for n in LANGUAGES), key=len, reverse=True))
    found: list[tuple[int, str]] = []
    style_free = "|".join(
        sorted((re.escape(n) for n in LANGUAGES if n not in _STYLE_ADJECTIVES), key=len)[::-1]
    )
    tied = (
        rf"(?<![\w])(?:in|into)\s+({style_free})(?![\w])(?!\s+(?:style|styled|vibes?|flavou?r|feel)\b)",
        rf"(?<![\w])({names})[- ]{_WORDS}(?![\w])",
        rf"(?<![\w]){_WORDS}\s+(?:in|into)\s+({names})(?![\w])",
        rf"(?<![\w])(?:sung|sing|singing|rapped|rap|rapping|written|performed)\s+in\s+({names})(?![\w])",
    )
    for pattern in tied:
        found += [(m.start(1), m[1]) for m in re.finditer(pattern, text)]
    for m in re.finditer(rf"(?<![\w])({names})((?:\s+[\w'&-]+){{0,3}}?)\s+{_SONG}(?![\w])", text):
        if m[1] not in _STYLE_ADJECTIVES:
            found.append((m.start(1), m[1]))
    if not found:
        return None
    return LANGUAGES[min(found)[1]]
