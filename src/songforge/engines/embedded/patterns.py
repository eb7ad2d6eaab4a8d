"""Rhythm patterns per genre family, written as 16-step grids (one 4/4 bar, sixteenth notes), or
12-step grids (triplet eighths) for 6/8.

Grid characters give velocity: ``X`` 118, ``x`` 100, ``o`` 78, ``.`` 52, ``-`` silence.
Every family keeps a timekeeper (hat, shaker, ride, cowbell...) or a kick on every beat, accented
over what it plays between the beats, and its dotted figures (clave, tresillo, syncopated kicks)
quieter than the beat: beat trackers (and listeners) otherwise lock onto half, double, 2/3 or 3/2
of the written tempo.
"""

from __future__ import annotations

# GM percussion keys
KICK, RIM, SNARE, CLAP, HAT, PEDAL, OPEN_HAT, CRASH, RIDE = 36, 37, 38, 39, 42, 44, 46, 49, 51
TOM_LO, TOM_MID, TOM_HI, TAMB, COWBELL, SHAKER, CLAVE, CONGA_HI, CONGA_LO, JINGLE = (
    45,
    47,
    50,
    54,
    56,
    70,
    75,
    62,
    64,
    83,
)

VEL = {"X": 118, "x": 100, "o": 78, ".": 52}

# The drums that keep time: one of them (or a kick) sounds on every beat.
KEEPERS = frozenset({HAT, PEDAL, OPEN_HAT, RIDE, SHAKER, TAMB, COWBELL, JINGLE})

# family -> {drum key: grid}; "full" adds to the chorus/drop, "light" is what intros and verses keep.
DRUMS: dict[str, dict[str, dict[int, str]]] = {
    "pop": {
        "base": {KICK: "x-----o-x-------", SNARE: "----x-------x---", HAT: "x-o-x-o-x-o-x-o-"},
        "full": {OPEN_HAT: "--------------o-", TAMB: "----o-------o---"},
        "light": {KICK: "x-------x-------", HAT: "x-o-x-o-x-o-x-o-"},
    },
    "rock": {
        "base": {KICK: "x-------x-x-----", SNARE: "----X-------X---", HAT: "x-o-x-o-x-o-x-o-"},
        "full": {RIDE: "x-o-x-o-x-o-x-o-"},
        "light": {KICK: "x-------x-------", HAT: "x-o-x-o-x-o-x-o-", SNARE: "----o-------o---"},
    },
    "metal": {
        "base": {KICK: "xoxoxoxoxoxoxoxo", SNARE: "----X-------X---", HAT: "x-o-x-o-x-o-x-o-"},
        "full": {CRASH: "o-------o-------"},
        "light": {KICK: "x---x---x---x---", SNARE: "----x-------x---", HAT: "x-o-x-o-x-o-x-o-"},
    },
    "punk": {
        "base": {KICK: "x---x-o-x---x-o-", SNARE: "----X-------X---", HAT: "x-o-x-o-x-o-x-o-"},
        "full": {CRASH: "x-------x-------"},
        "light": {KICK: "x-------x-------", SNARE: "----x-------x---", HAT: "x-o-x-o-x-o-x-o-"},
    },
    "folk": {
        "base": {KICK: "x-------x-------", RIM: "----x-------x---", SHAKER: "x.o.x.o.x.o.x.o."},
        "full": {TAMB: "----o-------o---"},
        "light": {KICK: "x-------x-------", SHAKER: "o.o.o.o.o.o.o.o."},
    },
    "country": {
        "base": {KICK: "x-------x-------", SNARE: "----x-------x---", HAT: "x-o-x-o-x-o-x-o-"},
        "full": {TAMB: "o-o-o-o-o-o-o-o-"},
        "light": {KICK: "x-------x-------", HAT: "x-o-x-o-x-o-x-o-"},
    },
    "shuffle": {
        "base": {KICK: "x-------x-------", SNARE: "----x-------x---", RIDE: "x-.-x-.-x-.-x-.-"},
        "full": {HAT: "----o-------o---"},
        "light": {KICK: "x-------x-------", RIDE: "x-.-x-.-x-.-x-.-"},
    },
    "jazz": {
        "base": {RIDE: "x---x-.-x---x-.-", PEDAL: "----o-------o---", KICK: "o---o---o---o---"},
        "full": {SNARE: "------.-------.-"},
        "light": {RIDE: "x---x-.-x---x-.-", PEDAL: "----o-------o---", KICK: "o---o---o---o---"},
    },
    "bossa": {
        "base": {RIM: "o--.--o---o--.--", KICK: "x--.x--.x--.x--.", HAT: "x-o-x-o-x-o-x-o-"},
        "full": {SHAKER: "x.o.x.o.x.o.x.o."},
        "light": {KICK: "x---x---x---x---", HAT: "x-o-x-o-x-o-x-o-"},
    },
    "latin": {
        "base": {
            KICK: "x---x---x---x---",
            CLAVE: "o--.---o--.-o---",
            CONGA_HI: "--o---o---o-.-o-",
            CONGA_LO: "------x-------x-",
            COWBELL: "x-o-x-o-x-o-x-o-",
        },
        "full": {SNARE: "----o-------o---"},
        "light": {KICK: "x---x---x---x---", CLAVE: "o--.---o--.-o---", COWBELL: "x---x---x---x---"},
    },
    "onedrop": {
        "base": {KICK: "x-------X-------", RIM: "----x-------x---", HAT: "x-o-x-o-x-o-x-o-"},
        "full": {OPEN_HAT: "--o---o---o---o-"},
        "light": {KICK: "x-------x-------", HAT: "x-o-x-o-x-o-x-o-"},
    },
    "funk": {
        "base": {KICK: "x-----o---o--.--", SNARE: "----x--.-.--x--.", HAT: "x.o.x.o.x.o.x.o."},
        "full": {OPEN_HAT: "------.-------.-"},
        "light": {KICK: "x-------x-------", HAT: "x.o.x.o.x.o.x.o."},
    },
    "soul": {
        "base": {KICK: "x-------x-x-----", SNARE: "----x-------x---", HAT: "x-o-x-o-x-o-x-o-"},
        "full": {TAMB: "----x-------x---"},
        "light": {KICK: "x-------x-------", HAT: "x-o-x-o-x-o-x-o-"},
    },
    "rnb": {
        "base": {KICK: "x------o--o-----", CLAP: "----x-------x---", HAT: "x-o-x-o-x-o-xoo-"},
        "full": {SHAKER: "x.o.x.o.x.o.x.o."},
        "light": {KICK: "x-------x-------", HAT: "x-o-x-o-x-o-x-o-"},
    },
    "boombap": {
        "base": {KICK: "x------o--x-----", SNARE: "----X-------X---", HAT: "x-o-x-o-x-o-x-o-"},
        "full": {OPEN_HAT: "--------------o-"},
        "light": {KICK: "x-------x-------", HAT: "x-o-x-o-x-o-x-o-"},
    },
    "trap": {
        "base": {KICK: "x------o--x-----", CLAP: "----x-------x---", HAT: "x-o-x-o-x-oox-o-"},
        "full": {OPEN_HAT: "--------------o-"},
        "light": {KICK: "x-------x-------", HAT: "x-o-x-o-x-o-x-o-"},
    },
    "four": {
        "base": {KICK: "x---x---x---x---", CLAP: "----x-------x---", OPEN_HAT: "--o---o---o---o-"},
        "full": {HAT: "x.o.x.o.x.o.x.o."},
        "light": {KICK: "x---x---x---x---", HAT: "o-.-o-.-o-.-o-.-"},
    },
    "techno": {
        "base": {KICK: "X---X---X---X---", OPEN_HAT: "--o---o---o---o-", RIM: "---.--.----.--.-"},
        "full": {CLAP: "----o-------o---", HAT: "x.o.x.o.x.o.x.o."},
        "light": {KICK: "x---x---x---x---", HAT: "o-.-o-.-o-.-o-.-"},
    },
    "dnb": {
        "base": {KICK: "x---------o-----", SNARE: "----X-------X---", HAT: "x-o-x-o-x-o-x-o-"},
        "full": {RIDE: "o-.-o-.-o-.-o-.-"},
        "light": {KICK: "x-------x-------", HAT: "x-o-x-o-x-o-x-o-"},
    },
    "dubstep": {
        "base": {KICK: "x-----o-x-------", SNARE: "----X-------X---", HAT: "x-o-x-o-x-o-x-o-"},
        "full": {OPEN_HAT: "--.---.---.---.-"},
        "light": {KICK: "x-------x-------", HAT: "x-o-x-o-x-o-x-o-"},
    },
    "synthwave": {
        "base": {KICK: "x---x---x---x---", SNARE: "----X-------X---", HAT: "x-o-x-o-x-o-x-o-"},
        "full": {CLAP: "----x-------x---"},
        "light": {KICK: "x---x---x---x---", HAT: "x-o-x-o-x-o-x-o-"},
    },
    "soft": {
        "base": {KICK: "o-------o-------", SHAKER: "o-.-o-.-o-.-o-.-"},
        "full": {RIM: "----.-------.---"},
        "light": {SHAKER: "o-.-o-.-o-.-o-.-"},
    },
    "chill": {
        "base": {KICK: "x-----o---o-----", RIM: "----x-------x---", SHAKER: "x.o.x.o.x.o.x.o."},
        "full": {HAT: "x-o-x-o-x-o-x-o-"},
        "light": {KICK: "x-------x-------", SHAKER: "x.o.x.o.x.o.x.o."},
    },
    "epic": {
        "base": {KICK: "x---x---x---x---", TOM_LO: "x--.--.-x--.--.-", SNARE: "----x-------x---"},
        "full": {CRASH: "x-------x-------", TOM_MID: "--.---.---.---.-"},
        "light": {KICK: "x---x---x---x---", TOM_LO: "x-------x-------"},
    },
    "chip": {
        "base": {KICK: "x---x---x---x---", SNARE: "----x-------x---", HAT: "x-o-x-o-x-o-x-o-"},
        "full": {OPEN_HAT: "--.---.---.---.-"},
        "light": {KICK: "x-------x-------", HAT: "x-o-x-o-x-o-x-o-"},
    },
    "kids": {
        "base": {KICK: "x-------x-------", SNARE: "----x-------x---", TAMB: "x-o-x-o-x-o-x-o-"},
        "full": {HAT: "x-o-x-o-x-o-x-o-"},
        "light": {KICK: "x-------x-------", TAMB: "x-o-x-o-x-o-x-o-"},
    },
    "holiday": {
        "base": {KICK: "x-------x-------", SNARE: "----x-------x---", JINGLE: "x-o-x-o-x-o-x-o-"},
        "full": {TAMB: "----o-------o---"},
        "light": {KICK: "x-------x-------", JINGLE: "x-o-x-o-x-o-x-o-"},
    },
}

# 6/8 felt as 12/8: a 4/4 bar of dotted-quarter beats, each split into three triplet eighths (a 6/8
# bar is two beats). Kick on each 6/8 downbeat, backbeat on its second beat, hats on the triplets.
DRUMS["six8"] = {
    "base": {KICK: "x-----x-----", RIM: "---x-----x--", HAT: "x..x..x..x.."},
    "full": {SNARE: "---o-----o--", RIDE: "o..o..o..o.."},
    "light": {KICK: "x-----o-----", HAT: "x..x..x..x.."},
}

_BACKBEAT = (SNARE, CLAP, RIM)
_STRENGTH = "-.oxX"


def half_time(family: dict[str, dict[int, str]]) -> dict[str, dict[int, str]]:
    """The same family with its backbeat on beat 3 (half-time): snare/clap/rim hits on 2 and 4 are
    replaced by one on 3, and the kick leaves 3 to it. The timekeepers keep every beat."""
    out: dict[str, dict[int, str]] = {}
    for name, grids in family.items():
        g = dict(grids)
        moved = False
        for drum in _BACKBEAT:
            row = list(g.get(drum, ""))
            if len(row) != 16 or (row[4] == "-" and row[12] == "-"):
                continue
            row[8] = max(row[4], row[12], key=_STRENGTH.index)
            row[4] = row[12] = "-"
            g[drum] = "".join(row)
            moved = True
        if moved and len(g.get(KICK, "")) == 16:
            g[KICK] = g[KICK][:8] + "-" + g[KICK][9:]
        out[name] = g
    return out


# Bass: (start beat, length in beats, role) per bar. Roles: R root/bass, 5 fifth, 8 octave,
# 3 third, A approach to the next bar's root.
BASS: dict[str, list[tuple[float, float, str]]] = {
    "pop": [(0, 1.5, "R"), (1.5, 0.5, "R"), (2, 1, "R"), (3, 0.5, "5"), (3.5, 0.5, "A")],
    "root8": [(i * 0.5, 0.45, "R") for i in range(8)],
    "root16": [(i * 0.25, 0.22, "R") for i in range(16)],
    "root_fifth": [(0, 1, "R"), (1, 0.5, "5"), (2, 1, "5"), (3, 0.5, "R"), (3.5, 0.5, "A")],
    "bossa": [(0, 1.5, "R"), (1.5, 0.5, "5"), (2, 1.5, "5"), (3.5, 0.5, "R")],
    "tumbao": [(0, 1, "R"), (1.5, 1.5, "5"), (3, 1, "R")],
    "reggae": [(0, 1, "R"), (1.5, 0.5, "R"), (2, 0.5, "5"), (2.5, 0.5, "8"), (3, 1, "5")],
    "funk": [
        (0, 0.5, "R"),
        (0.75, 0.25, "8"),
        (1.5, 0.25, "R"),
        (2, 0.5, "R"),
        (2.75, 0.25, "8"),
        (3.25, 0.25, "5"),
        (3.5, 0.5, "R"),
    ],
    "sub": [(0, 2.5, "R"), (2.5, 1.5, "R")],
    "808": [(0, 1.5, "R"), (1.75, 1.0, "R"), (3, 1, "5")],
    "offbeat": [(i + 0.5, 0.4, "R") for i in range(4)],
    "wobble": [(0, 1, "R"), (1, 1, "R"), (2, 1, "8"), (3, 1, "R")],
    "arp8": [(i * 0.5, 0.45, "R" if i % 2 == 0 else "8") for i in range(8)],
    "drone": [(0, 4, "R")],
    "lh": [(0, 2, "R"), (2, 2, "5")],
    "cello": [(0, 2, "R"), (2, 2, "5")],
    "six8": [(0, 1.9, "R"), (2, 1, "5"), (3, 1, "R")],
}

# Keys: (start beat, length in beats, accent) per bar for the chordal families.
KEYS_RHYTHM: dict[str, list[tuple[float, float, float]]] = {
    "pulse8": [(i * 0.5, 0.45, 1.0 if i % 2 == 0 else 0.8) for i in range(8)],
    "power": [(i * 0.5, 0.4, 1.0 if i % 2 == 0 else 0.85) for i in range(8)],
    "strum": [(0, 1, 1.0), (1, 0.5, 0.8), (1.5, 1, 0.75), (2.5, 0.5, 0.8), (3, 0.5, 0.9), (3.5, 0.5, 0.75)],
    "strum8": [(i * 0.5, 0.45, 1.0 if i % 2 == 0 else 0.75) for i in range(8)],
    "comp": [(0, 0.75, 1.0), (1.5, 0.5, 0.85), (2.5, 0.5, 0.8)],
    "bossa": [(0, 0.5, 1.0), (1.5, 0.5, 0.85), (2.5, 0.5, 0.85), (3.5, 0.5, 0.8)],
    "skank": [(1, 0.3, 1.0), (3, 0.3, 1.0)],
    "stabs": [(0.5, 0.3, 1.0), (1.5, 0.3, 0.9), (2.5, 0.3, 1.0), (3.5, 0.3, 0.9)],
    "stabs16": [
        (0, 0.2, 1.0),
        (0.75, 0.2, 0.7),
        (1.5, 0.2, 0.85),
        (2.25, 0.2, 0.7),
        (3, 0.2, 0.9),
        (3.5, 0.2, 0.7),
    ],
    "block": [(0, 3.95, 0.9)],
    "quartet": [(0, 1.95, 0.9), (2, 1.95, 0.85)],
}
