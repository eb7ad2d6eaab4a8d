"""Genre profiles: what a style typically sounds like, as numbers the composer can use.

Each profile names General MIDI programs per stem, the pattern families the composer knows
(drums, bass, keys), a tempo range, a typical length and progressions in Roman numerals.
Programs are 0-based GM numbers; drum kits are FluidR3 bank-128 presets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# GM drum kits (bank 128 presets)
KIT_STANDARD, KIT_ROOM, KIT_POWER, KIT_ELECTRONIC, KIT_808, KIT_JAZZ, KIT_BRUSH, KIT_ORCH = (
    0, 8, 16, 24, 25, 32, 40, 48,
)


@dataclass(frozen=True)
class Style:
    key: str  # internal id
    name: str  # what the record and title say
    bpm: tuple[int, int]
    dur: int  # typical length in seconds (capped by the model)
    minor: float  # probability of a minor key when the prompt does not say
    drums: str | None  # drum pattern family, None for no kit
    kit: int
    bass: str  # bass pattern family
    bass_prog: int
    keys: str  # keys pattern family
    keys_prog: int
    lead_prog: int
    lead_density: float  # 0..1, notes per beat roughly
    swing: float = 0.0  # 0 straight .. 0.33 full triplet swing
    pad_prog: int | None = None  # an optional sustained layer in the keys stem
    major_progs: tuple[str, ...] = ("I V vi IV", "I vi IV V", "vi IV I V", "I IV vi V")
    minor_progs: tuple[str, ...] = ("i VI III VII", "i iv V i", "i VII VI V", "i VI iv V")
    sections: tuple[str, ...] = ("intro", "verse", "chorus", "verse", "chorus", "bridge", "chorus", "outro")
    mood: str = "uplifting"
    scene: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)


_POP_MAJ = ("I V vi IV", "I vi IV V", "vi IV I V", "I IV vi V", "I iii IV V")
_POP_MIN = ("i VI III VII", "i iv VI V", "i VII VI V", "i VI iv V")
_EDM = ("sections", ("intro", "build", "drop", "break", "build", "drop", "outro"))
_JAZZ_MAJ = ("Imaj7 vi7 ii7 V7", "ii7 V7 Imaj7 Imaj7", "Imaj7 IVmaj7 iii7 vi7 ii7 V7 Imaj7 V7",
             "iii7 vi7 ii7 V7")
_JAZZ_MIN = ("im7 iv7 V7 im7", "iim7b5 V7 im7 im7", "im7 VImaj7 iim7b5 V7")
_BLUES = ("I7 I7 I7 I7 IV7 IV7 I7 I7 V7 IV7 I7 V7",)
_BLUES_MIN = ("im7 im7 im7 im7 iv7 iv7 im7 im7 VI7 V7 im7 V7",)


def _s(key: str, name: str, bpm: tuple[int, int], dur: int, minor: float, drums: str | None, kit: int,
       bass: str, bass_prog: int, keys: str, keys_prog: int, lead_prog: int, density: float,
       **kw) -> Style:
    return Style(key, name, bpm, dur, minor, drums, kit, bass, bass_prog, keys, keys_prog, lead_prog,
                 density, **kw)


STYLES: dict[str, Style] = {s.key: s for s in [
    _s("pop", "Pop", (96, 124), 180, 0.3, "pop", KIT_STANDARD, "pop", 33, "pulse8", 0, 80, 0.55,
       pad_prog=89, major_progs=_POP_MAJ, minor_progs=_POP_MIN, aliases=("pop", "radio", "mainstream")),
    _s("rock", "Rock", (110, 140), 200, 0.35, "rock", KIT_ROOM, "root8", 34, "power", 29, 30, 0.5,
       major_progs=("I IV V IV", "I V vi IV", "I bVII IV I", "vi IV I V"),
       minor_progs=("i VII VI VII", "i VI VII i", "i iv VII V"), mood="energetic",
       aliases=("rock", "guitar rock", "classic rock", "alt rock", "alternative", "grunge", "stadium")),
    _s("metal", "Metal", (140, 180), 200, 0.95, "metal", KIT_POWER, "root16", 34, "power", 30, 30, 0.6,
       minor_progs=("i VI VII i", "i bII VII i", "i VII VI V", "i iv VI V"), mood="aggressive",
       aliases=("metal", "heavy metal", "thrash", "metalcore", "djent", "headbang")),
    _s("punk", "Punk", (165, 190), 150, 0.2, "punk", KIT_ROOM, "root8", 34, "power", 29, 29, 0.6,
       major_progs=("I IV V I", "I V IV V", "I vi IV V"), mood="rebellious",
       aliases=("punk", "pop punk", "pop-punk", "skate", "hardcore punk")),
    _s("indie", "Indie", (100, 128), 190, 0.4, "pop", KIT_ROOM, "pop", 33, "strum8", 27, 81, 0.5,
       major_progs=("I iii IV IV", "I V vi IV", "IV I V vi", "I IV I V"), minor_progs=_POP_MIN,
       mood="wistful", aliases=("indie", "indie rock", "indie pop", "shoegaze", "dream pop", "bedroom pop")),
    _s("folk", "Folk", (84, 116), 180, 0.3, "folk", KIT_BRUSH, "root_fifth", 32, "strum", 25, 73, 0.45,
       major_progs=("I IV I V", "I V vi IV", "I IV vi V", "vi IV I V"),
       minor_progs=("i VII VI VII", "i III VII i", "i iv i V"), mood="warm",
       aliases=("folk", "acoustic", "singer-songwriter", "campfire", "americana", "celtic")),
    _s("country", "Country", (96, 130), 180, 0.1, "country", KIT_STANDARD, "root_fifth", 33, "strum", 25,
       110, 0.5, major_progs=("I IV V I", "I V IV I", "I IV I V", "I vi IV V"), mood="sunny",
       aliases=("country", "bluegrass", "honky tonk", "nashville", "western")),
    _s("blues", "Blues", (70, 110), 200, 0.25, "shuffle", KIT_STANDARD, "walking", 33, "comp", 16, 27, 0.5,
       swing=0.3, major_progs=_BLUES, minor_progs=_BLUES_MIN, sections=("intro", "verse", "verse", "solo",
       "verse", "outro"), mood="soulful", aliases=("blues", "delta blues", "chicago blues", "twelve bar")),
    _s("jazz", "Jazz", (96, 160), 210, 0.3, "jazz", KIT_JAZZ, "walking", 32, "comp", 0, 65, 0.55,
       swing=0.3, major_progs=_JAZZ_MAJ, minor_progs=_JAZZ_MIN, sections=("intro", "head", "solo", "solo",
       "head", "outro"), mood="sophisticated", aliases=("jazz", "bebop", "cool jazz", "jazzy", "smooth jazz")),
    _s("swing", "Swing", (140, 190), 180, 0.15, "jazz", KIT_JAZZ, "walking", 32, "comp", 0, 56, 0.6,
       swing=0.33, major_progs=("Imaj7 vi7 ii7 V7", "I6 I6 IV7 IV7 I6 vi7 ii7 V7"), minor_progs=_JAZZ_MIN,
       sections=("intro", "head", "solo", "head", "outro"), mood="playful",
       aliases=("swing", "big band", "electro swing", "lindy", "jump blues")),
    _s("bossa", "Bossa Nova", (110, 140), 180, 0.4, "bossa", KIT_BRUSH, "bossa", 32, "bossa", 24, 73, 0.45,
       major_progs=("Imaj7 ii7 V7 Imaj7", "Imaj7 vi7 ii7 V7", "ii7 V7 Imaj7 IVmaj7"),
       minor_progs=("im7 iv7 V7 im7", "im7 iim7b5 V7 im7"), mood="relaxed",
       aliases=("bossa nova", "bossa", "brazilian", "samba", "girl from ipanema")),
    _s("latin", "Latin", (96, 128), 180, 0.55, "latin", KIT_STANDARD, "tumbao", 33, "montuno", 0, 56, 0.55,
       major_progs=("I IV V IV", "I V V I"), minor_progs=("i iv V i", "i VII VI V", "i iv VII III"),
       mood="fiery", aliases=("latin", "salsa", "reggaeton", "cumbia", "mambo", "cha cha", "tango", "flamenco")),
    _s("reggae", "Reggae", (70, 92), 190, 0.35, "onedrop", KIT_STANDARD, "reggae", 33, "skank", 16, 4, 0.4,
       major_progs=("I IV I V", "I V vi IV", "I IV V IV"), minor_progs=("i iv i iv", "i VII i VII", "i iv VII i"),
       mood="laid-back", aliases=("reggae", "dub", "ska", "rocksteady", "dancehall")),
    _s("funk", "Funk", (96, 120), 180, 0.5, "funk", KIT_STANDARD, "funk", 36, "stabs16", 28, 61, 0.55,
       major_progs=("I7 I7 IV7 I7", "I7 IV7 I7 V7"), minor_progs=("im7 im7 iv7 im7", "im7 iv7 im7 V7"),
       mood="groovy", aliases=("funk", "funky", "disco funk", "p-funk", "groove")),
    _s("soul", "Soul", (80, 108), 190, 0.4, "soul", KIT_STANDARD, "pop", 33, "pulse8", 16, 61, 0.45,
       pad_prog=48, major_progs=("I vi IV V", "Imaj7 IV7 iii7 vi7", "I IV I V"),
       minor_progs=("im7 iv7 VII7 III", "i VI iv V"), mood="heartfelt",
       aliases=("soul", "motown", "neo soul", "neo-soul", "gospel")),
    _s("rnb", "R&B", (66, 96), 190, 0.5, "rnb", KIT_ELECTRONIC, "sub", 38, "block", 4, 81, 0.45,
       pad_prog=89, major_progs=("Imaj7 vi7 ii7 V7", "IVmaj7 iii7 vi7 Imaj7", "Imaj7 iii7 IVmaj7 V7"),
       minor_progs=("im7 iv7 VImaj7 V7", "im9 iv7 im7 V7"), mood="sensual",
       aliases=("r&b", "rnb", "r and b", "rhythm and blues", "slow jam", "contemporary r&b")),
    _s("hiphop", "Hip Hop", (84, 100), 180, 0.6, "boombap", KIT_STANDARD, "sub", 38, "block", 0, 11, 0.35,
       swing=0.12, major_progs=("I vi IV V", "Imaj7 vi7 ii7 V7"), minor_progs=("i VI III VII", "i iv VI V",
       "im7 iv7 im7 V7"), mood="confident", aliases=("hip hop", "hip-hop", "hiphop", "rap", "boom bap", "boombap")),
    _s("trap", "Trap", (130, 150), 160, 0.85, "trap", KIT_808, "808", 38, "block", 89, 80, 0.4,
       minor_progs=("i VI III VII", "i iv VI V", "i VI i V"), mood="dark",
       aliases=("trap", "drill", "808", "phonk")),
    _s("lofi", "Lo-fi", (70, 90), 150, 0.4, "boombap", KIT_STANDARD, "sub", 33, "block", 4, 11, 0.35,
       swing=0.18, major_progs=("Imaj7 vi7 ii7 V7", "IVmaj7 iii7 ii7 Imaj7", "Imaj7 IVmaj7 iii7 vi7"),
       minor_progs=("im7 iv7 VImaj7 V7", "im9 iv7 im7 V7"), mood="chill", scene="study",
       sections=("intro", "verse", "chorus", "verse", "chorus", "outro"),
       aliases=("lo-fi", "lofi", "lo fi", "chillhop", "jazzhop")),
    _s("house", "House", (120, 128), 210, 0.5, "four", KIT_ELECTRONIC, "offbeat", 38, "stabs", 4, 81, 0.4,
       pad_prog=89, major_progs=("vi IV I V", "I vi IV V", "ii7 V7 Imaj7 vi7"),
       minor_progs=("i VI III VII", "im7 iv7 VII7 III"), mood="euphoric", **dict([_EDM]),
       aliases=("house", "deep house", "tech house", "disco", "nu disco", "club", "dance", "edm")),
    _s("techno", "Techno", (125, 140), 210, 0.85, "techno", KIT_ELECTRONIC, "offbeat", 38, "stabs", 81, 81,
       0.3, minor_progs=("i i VI VII", "i iv i VII", "i VII i VI"), mood="hypnotic", **dict([_EDM]),
       aliases=("techno", "minimal", "industrial", "warehouse", "rave")),
    _s("trance", "Trance", (132, 140), 220, 0.8, "four", KIT_ELECTRONIC, "offbeat", 38, "arp16", 81, 81, 0.5,
       pad_prog=90, minor_progs=("i VI III VII", "i VI VII i", "i iv VI V"), mood="euphoric",
       **dict([_EDM]), aliases=("trance", "uplifting trance", "psytrance", "progressive")),
    _s("dnb", "Drum and Bass", (170, 176), 200, 0.8, "dnb", KIT_ELECTRONIC, "sub", 38, "block", 89, 81, 0.4,
       pad_prog=91, minor_progs=("i VI III VII", "i iv VI V", "i VII VI VII"), mood="driving",
       **dict([_EDM]), aliases=("drum and bass", "drum & bass", "drum n bass", "dnb", "d&b", "jungle",
                                "liquid")),
    _s("dubstep", "Dubstep", (140, 140), 180, 0.9, "dubstep", KIT_ELECTRONIC, "wobble", 38, "block", 89, 81,
       0.35, minor_progs=("i VI III VII", "i i VI V", "i iv VI V"), mood="heavy", **dict([_EDM]),
       aliases=("dubstep", "brostep", "riddim", "bass music")),
    _s("synthwave", "Synthwave", (84, 118), 200, 0.75, "synthwave", KIT_ELECTRONIC, "arp8", 38, "block", 89,
       81, 0.45, minor_progs=("i VI III VII", "i VI VII i", "i iv VI VII"), mood="nostalgic",
       aliases=("synthwave", "retrowave", "outrun", "80s", "eighties", "vaporwave", "darkwave", "neon")),
    _s("ambient", "Ambient", (60, 80), 200, 0.45, "soft", KIT_ELECTRONIC, "drone", 89, "arp", 88, 98, 0.2,
       pad_prog=89, major_progs=("Imaj7 IVmaj7 Imaj7 vi7", "I V IV I", "IVmaj7 Imaj7 vi7 V"),
       minor_progs=("im7 VImaj7 III VII", "im9 iv7 im7 VImaj7"), sections=("intro", "verse", "chorus",
       "verse", "outro"), mood="calm", scene="meditation",
       aliases=("ambient", "drone", "soundscape", "meditation", "new age", "spa", "sleep", "atmospheric")),
    _s("chillout", "Chillout", (80, 100), 190, 0.45, "chill", KIT_ELECTRONIC, "sub", 38, "block", 4, 73, 0.35,
       pad_prog=89, major_progs=("Imaj7 vi7 IVmaj7 V", "Imaj7 iii7 IVmaj7 Imaj7"),
       minor_progs=("im7 VImaj7 III VII", "im7 iv7 VImaj7 V7"), mood="relaxed",
       aliases=("chillout", "chill out", "chill", "downtempo", "lounge", "trip hop", "trip-hop", "cafe")),
    _s("cinematic", "Cinematic", (76, 110), 180, 0.7, "epic", KIT_ORCH, "sub", 42, "ostinato", 48, 60, 0.35,
       pad_prog=52, major_progs=("I V vi IV", "vi IV I V", "I iii vi IV"),
       minor_progs=("i VI III VII", "i VI iv V", "i iv VI V", "i VII VI V"), mood="epic",
       sections=("intro", "verse", "build", "chorus", "bridge", "chorus", "outro"), scene="trailer",
       aliases=("cinematic", "orchestral", "trailer", "epic", "film score", "soundtrack", "score",
                "movie", "heroic", "hans zimmer")),
    _s("piano", "Classical Piano", (66, 104), 170, 0.45, None, 0, "lh", 0, "alberti", 0, 0, 0.5,
       major_progs=("I IV V I", "I vi IV V", "I V vi iii IV I IV V"), minor_progs=("i iv V i", "i VI iv V",
       "i iv VII III VI iio V i"), mood="elegant", sections=("intro", "verse", "chorus", "verse", "chorus",
       "outro"), aliases=("classical piano", "solo piano", "piano solo", "classical", "nocturne", "sonata",
                          "romantic piano", "chopin", "mozart", "baroque")),
    _s("quartet", "String Quartet", (72, 110), 170, 0.45, None, 0, "cello", 42, "quartet", 41, 40, 0.45,
       major_progs=("I IV V I", "I vi ii V", "I V vi iii IV I ii V"), minor_progs=("i iv V i", "i VI iv V"),
       mood="elegant", sections=("intro", "verse", "chorus", "verse", "chorus", "outro"),
       aliases=("string quartet", "strings quartet", "chamber", "strings", "violin", "cello")),
    _s("chiptune", "Chiptune", (130, 160), 150, 0.4, "chip", KIT_ELECTRONIC, "root8", 80, "arp16", 80, 80,
       0.6, major_progs=("I V vi IV", "I IV V IV", "vi IV V I"), minor_progs=("i VI VII i", "i VII VI VII"),
       mood="playful", scene="game",
       aliases=("chiptune", "8-bit", "8 bit", "chip", "game", "video game", "retro game", "arcade", "nes",
                "pixel")),
    _s("kids", "Children's", (100, 126), 120, 0.02, "kids", KIT_STANDARD, "root_fifth", 32, "pulse8", 0, 9,
       0.5, major_progs=("I IV V I", "I V I IV", "I IV I V"), mood="happy", scene="kids",
       aliases=("children", "children's", "kids", "nursery", "lullaby", "toddler", "playground",
                "cartoon")),
    _s("holiday", "Holiday", (100, 140), 150, 0.1, "holiday", KIT_BRUSH, "walking", 32, "pulse8", 0, 8, 0.5,
       swing=0.25, pad_prog=48, major_progs=("I vi ii7 V7", "I IV V I", "Imaj7 vi7 ii7 V7"),
       mood="festive", scene="holiday",
       aliases=("holiday", "christmas", "xmas", "festive", "winter", "sleigh", "santa", "new year")),
]}

DEFAULT_STYLE = "pop"
