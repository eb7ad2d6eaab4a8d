"""The adherence benchmark's requests: a TUNING table to tune the engine against and HELD-OUT
tables that are never looked at while tuning, only to quote figures after. HELD-OUT was run once
after the key work and so has been seen; HELD-OUT-2 was dealt before the first tempo work and was
run once after it, so it has been seen too; HELD-OUT-3 was dealt (and committed) before the second
tempo work began and is the untouched table for the figures that follow it.

Both are dealt deterministically from the same catalogue (a seeded `random.Random` per table, so
the tables never change unless this file does; `digest()` names a table's exact content) and each
holds, by construction:

* all 24 keys;
* 22 minor-key requests whose chords are natural-minor only, so that they also fit the relative
  major (i-VI-III-VII, i-VI-VII, i-iv-VII-III, i-VII-VI-VII ...): the shape every key failure had;
* 8 major-key requests over progressions that open on vi and so fit the relative minor too;
* 10 modal vamps, the key named as the tonic's major or minor (dorian i7-IV7, mixolydian I-bVII,
  lydian I-II, phrygian i-bII);
* 10 requests with no chords at all, and 14 others (I-IV-V, ii-V-I, blues, harmonic minor with V);
* the feels that fool beat trackers, twice each (bossa nova, shuffle blues, reggae one drop, trap
  half-time, 6/8 ballad, swing jazz, funk with dotted figures, disco, punk near 180, drum and bass
  at 174), the rest spread over everyday styles; tempos from 50 to 190.

Prompts are written the way people type them into hosted music services; the tuning table uses
different phrasings of each style from the held-out ones (HELD-OUT-2 reuses HELD-OUT's phrasings,
never the tuning ones, with its own seed for everything else). Chord symbols are spelled here from
Roman numerals with no help from the engine's theory code, so a change to the engine cannot move a case.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass

TABLES = ("tuning", "heldout", "held-out-2", "held-out-3")
PREFIX = {"tuning": "T", "heldout": "H", "held-out-2": "N", "held-out-3": "P"}  # case ids: T01, H01, N01, P01
# which half of each style's prompts a table takes
PHRASINGS = {"tuning": 0, "heldout": 1, "held-out-2": 1, "held-out-3": 1}
MODELS = ("i3", "i3.5 beta", "i4")
SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
TONIC_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")  # the API's 24 keys
FLAT_KEYS = {
    ("F", "major"), ("Bb", "major"), ("Eb", "major"), ("Ab", "major"),
    ("D", "minor"), ("G", "minor"), ("C", "minor"), ("F", "minor"), ("Bb", "minor"), ("Eb", "minor"),
}  # fmt: skip
MAJOR_STEPS = (0, 2, 4, 5, 7, 9, 11)
MINOR_STEPS = (0, 2, 3, 5, 7, 8, 10)
ROMAN = {"i": 0, "ii": 1, "iii": 2, "iv": 3, "v": 4, "vi": 5, "vii": 6}


@dataclass(frozen=True)
class Feel:
    name: str
    bpm: tuple[int, int]
    prompts: tuple[str, ...]  # even indices go to the tuning table, odd to the held-out ones
    tricky: bool = False
    sevenths: bool = False  # chords written as sevenths, as players of the style write them


FEELS: tuple[Feel, ...] = (
    Feel(
        "bossa nova",
        (112, 138),
        (
            "bossa nova, nylon guitar and soft brushes, late night in rio",
            "chill bossa for a rainy cafe afternoon",
            "brazilian bossa nova with a gentle flute melody",
            "smooth bossa nova lounge vibe, light percussion, warm upright bass",
        ),
        tricky=True,
        sevenths=True,
    ),
    Feel(
        "shuffle blues",
        (72, 108),
        (
            "slow shuffle blues with a greasy electric guitar",
            "chicago blues shuffle, harmonica and piano, smoky bar",
            "texas shuffle blues, swinging drums and a walking bass",
            "lazy delta blues shuffle on a hot afternoon",
        ),
        tricky=True,
    ),
    Feel(
        "reggae one drop",
        (66, 90),
        (
            "roots reggae one drop riddim, offbeat skank guitar",
            "laid back reggae with a one drop beat and deep bass",
            "island reggae one-drop groove for a beach sunset",
            "dub reggae, one drop drums, echoey organ bubble",
        ),
        tricky=True,
    ),
    Feel(
        "trap half-time",
        (130, 150),
        (
            "dark trap beat, half-time drums, heavy 808s",
            "hard trap instrumental with rolling hi hats and a half time feel",
            "moody trap beat for a night drive, booming 808 and sparse bells",
            "aggressive trap, halftime groove, punchy snare on 3",
        ),
        tricky=True,
    ),
    Feel(
        "6/8 ballad",
        (50, 72),
        (
            "slow 6/8 ballad with piano and strings, waltz-like and tender",
            "emotional ballad in 6/8 time, acoustic guitar and cello",
            "old fashioned 6/8 love ballad, soft drums and warm organ",
            "lullaby-like 6/8 piano ballad for a wedding first dance",
        ),
        tricky=True,
    ),
    Feel(
        "swing jazz",
        (150, 190),
        (
            "uptempo swing jazz, walking bass and ride cymbal",
            "big band swing with punchy horns, 1940s dance hall",
            "fast bebop-flavoured swing jazz trio",
            "swinging jazz quartet with a tenor sax lead",
        ),
        tricky=True,
        sevenths=True,
    ),
    Feel(
        "funk dotted",
        (96, 116),
        (
            "funky groove with slap bass and syncopated dotted riffs",
            "70s funk with clavinet, wah guitar and tight drums",
            "nasty funk jam, dotted sixteenth bass line and horn stabs",
            "p-funk groove, bouncy syncopated bass and rhodes",
        ),
        tricky=True,
        sevenths=True,
    ),
    Feel(
        "disco",
        (114, 128),
        (
            "disco track with strings and clavinet",
            "70s disco, four on the floor, lush strings and funky guitar",
            "nu disco for a rooftop party, octave bass and claps",
            "classic disco groove with a string section and hi hat offbeats",
        ),
        tricky=True,
    ),
    Feel(
        "punk",
        (174, 190),
        (
            "fast punk rock, loud guitars, 180 bpm energy",
            "pop punk anthem, skate park summer",
            "hardcore punk, short and angry",
            "90s punk rock with power chords and a driving beat",
        ),
        tricky=True,
    ),
    Feel(
        "drum and bass",
        (172, 176),
        (
            "drum and bass with rolling breakbeats and a deep reese bass",
            "liquid dnb, soulful pads and fast breaks",
            "jungle drum & bass, chopped amen break",
            "energetic dnb for running, 174",
        ),
        tricky=True,
    ),
    Feel(
        "pop",
        (96, 124),
        (
            "upbeat pop song about summer",
            "catchy radio pop with bright synths",
            "feel good pop instrumental for a commercial",
            "modern pop with a big chorus feel",
        ),
    ),
    Feel(
        "rock",
        (110, 140),
        (
            "driving rock anthem with big guitars",
            "classic rock, 70s style, crunchy guitar riff",
            "alternative rock with a moody verse",
            "stadium rock instrumental",
        ),
    ),
    Feel(
        "indie",
        (100, 128),
        (
            "indie pop with jangly electric guitar",
            "dreamy indie rock, reverb guitars",
            "bedroom pop, lo-fi guitars and soft synths",
            "indie folk-pop with handclaps",
        ),
    ),
    Feel(
        "folk",
        (84, 116),
        (
            "acoustic folk campfire song",
            "celtic folk with fiddle and acoustic guitar",
            "americana road trip, banjo and guitar",
            "gentle singer-songwriter acoustic guitar",
        ),
    ),
    Feel(
        "country",
        (96, 130),
        (
            "country road trip with pedal steel",
            "honky tonk country, twangy guitar",
            "modern country pop instrumental",
            "bluegrass with banjo and fiddle",
        ),
    ),
    Feel(
        "soul",
        (80, 108),
        (
            "soul ballad with warm organ",
            "motown soul groove, tambourine and horns",
            "neo soul with rhodes and lazy drums",
            "gospel-tinged soul instrumental",
        ),
        sevenths=True,
    ),
    Feel(
        "rnb",
        (60, 92),
        (
            "rnb slow jam for late night",
            "smooth r&b with silky keys",
            "contemporary r&b, minimal beat and lush pads",
            "90s rnb groove",
        ),
        sevenths=True,
    ),
    Feel(
        "lofi",
        (70, 90),
        (
            "lo-fi hip hop for study",
            "chill lofi beat, vinyl crackle, mellow piano",
            "lofi chillhop for coding late at night",
            "jazzy lo-fi beat with a dusty drum loop",
        ),
        sevenths=True,
    ),
    Feel(
        "hip hop",
        (84, 100),
        (
            "boom bap hip hop beat with a jazzy sample feel",
            "old school hip hop instrumental",
            "hip hop beat for a freestyle",
            "laid back rap beat with piano",
        ),
    ),
    Feel(
        "house",
        (120, 128),
        (
            "deep house with a warm bassline",
            "tech house groove for a club",
            "soulful house with piano chords",
            "summer house music for a pool party",
        ),
    ),
    Feel(
        "techno",
        (125, 140),
        (
            "dark techno for a warehouse rave",
            "minimal techno, hypnotic and driving",
            "industrial techno with pounding kicks",
            "melodic techno at sunrise",
        ),
    ),
    Feel(
        "trance",
        (132, 140),
        (
            "uplifting trance with soaring leads",
            "progressive trance, long build",
            "euphoric trance anthem",
            "psytrance groove with a rolling bass",
        ),
    ),
    Feel(
        "synthwave",
        (84, 118),
        (
            "synthwave night drive",
            "80s retrowave with neon synths",
            "outrun synthwave with gated drums",
            "dark synthwave soundtrack",
        ),
    ),
    Feel(
        "ambient",
        (50, 80),
        (
            "ambient meditation, slow evolving pads",
            "calm ambient soundscape for sleep",
            "spacey ambient music with soft piano",
            "peaceful ambient for a spa",
        ),
    ),
    Feel(
        "cinematic",
        (56, 110),
        (
            "epic cinematic trailer music",
            "emotional film score with strings",
            "heroic orchestral theme for a movie",
            "tense cinematic underscore",
        ),
    ),
    Feel(
        "piano",
        (54, 100),
        (
            "classical piano nocturne",
            "solo piano, reflective and sad",
            "romantic piano piece like chopin",
            "simple piano melody for a wedding",
        ),
    ),
    Feel(
        "metal",
        (140, 180),
        (
            "heavy metal riff",
            "thrash metal, fast double kick",
            "melodic metalcore instrumental",
            "dark heavy metal with chugging guitars",
        ),
    ),
    Feel(
        "latin",
        (96, 128),
        (
            "latin salsa with piano montuno",
            "reggaeton beat for a summer party",
            "cumbia groove with accordion",
            "latin dance track with congas",
        ),
    ),
    Feel(
        "chillout",
        (80, 100),
        (
            "slow chillout lounge",
            "downtempo trip hop with a dusty beat",
            "chill vibes for a sunset, mellow electric piano",
            "chillout cafe music",
        ),
    ),
    Feel(
        "dubstep",
        (140, 140),
        (
            "dubstep with a heavy wobble bass",
            "melodic dubstep drop",
            "riddim dubstep, aggressive",
            "chill dubstep with atmospheric pads",
        ),
    ),
    Feel(
        "kids",
        (100, 126),
        (
            "happy ukulele children's song",
            "playful kids song with glockenspiel",
            "cartoon theme for children",
            "nursery rhyme style tune",
        ),
    ),
    Feel(
        "chiptune",
        (130, 160),
        (
            "8-bit video game theme",
            "chiptune boss battle",
            "retro game music, happy level",
            "pixel adventure chiptune",
        ),
    ),
)

# Progression templates: lowercase minor, uppercase major; b/# move the root; a suffix is appended
# ("7", "maj7", "m7b5"); "|" separates bars explicitly, otherwise each chord is one bar.
MINOR_RELATIVE = (  # natural minor only: every chord also belongs to the relative major
    "i VI III VII", "i VI VII", "i iv VII III", "i VII VI VII", "i VI iv VII", "i III VII VI",
    "VI VII i i", "i iv VI VII", "i VII iv VI", "i VI | III VII", "i i VI VII", "i III iv VI",
)  # fmt: skip
MINOR_RELATIVE_7 = ("i7 VImaj7 IIImaj7 VII7", "i7 iv7 VII7 IIImaj7", "i7 VImaj7 VII7 i7")
MAJOR_RELATIVE = ("vi IV I V", "vi V IV V", "I vi IV V", "vi ii V I", "vi IV V I", "I iii vi IV")
MAJOR_RELATIVE_7 = ("vi7 ii7 V7 Imaj7", "Imaj7 vi7 ii7 V7")
MODAL = (  # (mode named in the key, mode heard, template)
    ("minor", "dorian", "i7 IV7"),
    ("minor", "dorian", "i IV"),
    ("minor", "dorian", "i7 i7 IV7 IV7"),
    ("major", "mixolydian", "I bVII"),
    ("major", "mixolydian", "I bVII IV I"),
    ("major", "mixolydian", "I v"),
    ("major", "lydian", "I II"),
    ("major", "lydian", "Imaj7 II7"),
    ("minor", "phrygian", "i bII"),
    ("minor", "phrygian", "i bII bVII i"),
)
OTHER = (  # (mode, template): progressions that name their key without ambiguity
    ("major", "I IV V IV"), ("major", "I IV I V"), ("major", "I V IV I"), ("major", "I IV V I"),
    ("major", "I7 IV7 I7 I7 IV7 IV7 I7 I7 V7 IV7 I7 V7"),  # twelve-bar blues
    ("minor", "i iv V i"), ("minor", "i VI V i"), ("minor", "i iv i V"), ("minor", "i VI iv V"),
)  # fmt: skip
OTHER_7 = (("major", "ii7 V7 Imaj7 Imaj7"), ("major", "Imaj7 IVmaj7 ii7 V7"), ("minor", "i7 iv7 V7 i7"),
           ("minor", "iim7b5 V7 i7 i7"))  # fmt: skip
GROUP_SIZES = {"minor-relative": 22, "major-relative": 8, "modal": 10, "no-chords": 10, "other": 14}


@dataclass(frozen=True)
class Case:
    id: str
    table: str
    group: str
    feel: str
    prompt: str
    tonality: str  # the API's form, "A:minor"
    bpm: int
    chords: str | None
    model: str
    seed: int
    seconds: float
    mode: str  # the mode the chords imply: major, minor, dorian, mixolydian, ...
    template: str | None  # the Roman-numeral source of `chords`


def spell(template: str, tonic: str, mode: str) -> str:
    """Roman numerals to chord symbols in `tonic` `mode` (minor numerals read on natural minor)."""
    t = TONIC_NAMES.index(tonic)
    names = FLAT_NAMES if (tonic, mode) in FLAT_KEYS else SHARP_NAMES
    steps = MAJOR_STEPS if mode == "major" else MINOR_STEPS
    bars = []
    for bar in template.split("|"):
        symbols = []
        for token in bar.split():
            acc = 0
            while token[0] in "b#":
                acc += -1 if token[0] == "b" else 1
                token = token[1:]
            numeral = next(r for r in sorted(ROMAN, key=len, reverse=True) if token.lower().startswith(r))
            suffix = token[len(numeral) :]
            degree = ROMAN[numeral]
            # an accidental is read against the major scale (bVII, bII), as players do
            root = (t + (MAJOR_STEPS[degree] + acc if acc else steps[degree])) % 12
            lower = token[: len(numeral)].islower()
            if lower and not suffix.startswith(("m7b5", "dim")):
                suffix = "m" + suffix
            symbols.append(names[root] + suffix)
        bars.append(" ".join(symbols))
    return " | ".join(bars) if "|" in template else " ".join(bars)


class _Deck:
    """Deals items in shuffled rounds, so that every item comes out once before any repeats."""

    def __init__(self, items: list, rng: random.Random) -> None:
        self.items, self.rng, self.pile = list(items), rng, []

    def deal(self):
        if not self.pile:
            self.pile = list(self.items)
            self.rng.shuffle(self.pile)
        return self.pile.pop()


def build(table: str) -> list[Case]:
    if table not in TABLES:
        raise ValueError(f"table must be one of {TABLES}")
    rng = random.Random(f"songforge-adherence-{table}-v1")
    parity = PHRASINGS[table]
    keys = {m: _Deck(list(TONIC_NAMES), rng) for m in ("major", "minor")}
    plan: list[tuple[str, str, str | None, str]] = []  # (group, key mode, template, heard mode)
    minor_rel = _Deck(list(MINOR_RELATIVE), rng)
    for _ in range(GROUP_SIZES["minor-relative"]):
        plan.append(("minor-relative", "minor", minor_rel.deal(), "minor"))
    major_rel = _Deck(list(MAJOR_RELATIVE), rng)
    for _ in range(GROUP_SIZES["major-relative"]):
        plan.append(("major-relative", "major", major_rel.deal(), "major"))
    for key_mode, heard, template in MODAL:
        plan.append(("modal", key_mode, template, heard))
    for i in range(GROUP_SIZES["no-chords"]):
        mode = ("major", "minor")[i % 2]
        plan.append(("no-chords", mode, None, mode))
    other = _Deck(list(OTHER), rng)
    for _ in range(GROUP_SIZES["other"]):
        mode, template = other.deal()
        plan.append(("other", mode, template, mode))

    feels = [f for f in FEELS if f.tricky] * 2
    plain = _Deck([f for f in FEELS if not f.tricky], rng)
    feels += [plain.deal() for _ in range(len(plan) - len(feels))]
    rng.shuffle(feels)

    # the first 12 cases of each mode take every tonic once, whatever group they are in
    cases = []
    for n, ((group, mode, template, heard), feel) in enumerate(zip(plan, feels, strict=True)):
        tonic = keys[mode].deal()
        if template is not None and feel.sevenths:
            if group == "minor-relative":
                template = MINOR_RELATIVE_7[n % len(MINOR_RELATIVE_7)]
            elif group == "major-relative":
                template = MAJOR_RELATIVE_7[n % len(MAJOR_RELATIVE_7)]
            elif group == "other":
                choices = [t for m, t in OTHER_7 if m == mode]
                template = choices[n % len(choices)]
        lo, hi = feel.bpm
        prompt_choices = feel.prompts[parity::2]
        cases.append(
            Case(
                id=f"{PREFIX[table]}{n + 1:02d}",
                table=table,
                group=group,
                feel=feel.name,
                prompt=prompt_choices[rng.randrange(len(prompt_choices))],
                tonality=f"{tonic}:{mode}",
                bpm=rng.randint(max(50, lo), min(190, hi)),
                chords=spell(template, tonic, mode) if template else None,
                model=MODELS[rng.randrange(len(MODELS))],
                seed=rng.randrange(1, 1_000_000),
                seconds=float(rng.choice((30, 35, 40))),
                mode=heard,
                template=template,
            )
        )
    order = list(range(len(cases)))
    rng.shuffle(order)  # groups interleaved, so that --limit N samples every group
    return [Case(**{**asdict(cases[i]), "id": f"{PREFIX[table]}{k + 1:02d}"}) for k, i in enumerate(order)]


def digest(cases: list[Case]) -> str:
    """A short fingerprint of a table's content, printed with every run."""
    blob = json.dumps([asdict(c) for c in cases], sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def coverage(cases: list[Case]) -> dict[str, object]:
    """What the table covers, checked against the issue's minimums by `check`."""
    keys = {c.tonality for c in cases}
    return {
        "cases": len(cases),
        "keys": len(keys),
        "minor_relative": sum(c.group == "minor-relative" for c in cases),
        "modal": sum(c.group == "modal" for c in cases),
        "no_chords": sum(c.chords is None for c in cases),
        "tricky_feels": sorted({c.feel for c in cases if any(f.tricky and f.name == c.feel for f in FEELS)}),
        "bpm_range": (min(c.bpm for c in cases), max(c.bpm for c in cases)),
        "models": sorted({c.model for c in cases}),
    }


def check(cases: list[Case]) -> None:
    cov = coverage(cases)
    assert cov["cases"] >= 60 and cov["keys"] == 24, cov
    assert cov["minor_relative"] >= 20 and cov["modal"] >= 10 and cov["no_chords"] >= 10, cov
    assert len(cov["tricky_feels"]) == sum(f.tricky for f in FEELS), cov
    lo, hi = cov["bpm_range"]
    assert lo <= 60 and hi >= 180, cov


if __name__ == "__main__":
    for name in TABLES:
        table = build(name)
        check(table)
        print(f"{name}: {len(table)} cases, digest {digest(table)}, {coverage(table)}")
        for c in table:
            print(f"  {c.id} {c.group:15} {c.feel:16} {c.tonality:9} {c.bpm:>3} {c.model:9} "
                  f"{c.seconds:>4.0f}s {c.chords or '-':34} | {c.prompt}")  # fmt: skip
