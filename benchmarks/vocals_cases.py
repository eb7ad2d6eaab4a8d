"""The songs benchmarks/vocals.py sings, fixed before any tuning (issue 13).

TUNING is what the singer may be tuned on; HELD_OUT is never looked at while tuning and gives the
closing figures. Each song is one short verse and one short chorus (two lines each, two bars a line,
as the embedded engine lays lines out), so that the tuning set runs in minutes on two cores.
Both sets cover both voice families (the female catalogue voices and the male ones), 70-170 BPM,
slow ballads and fast rock/pop, and lyrics given as well as lyrics written from a prompt (`lyrics`
None: the writer's first verse and chorus, trimmed to two lines each).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    name: str
    voice: str  # catalogue item id
    key: str
    bpm: int
    chords: str  # one chord per bar, looped
    lyrics: str | None  # tagged lyrics, or None: written from `prompt`
    prompt: str = ""
    seed: int = 1


TUNING: tuple[Case, ...] = (
    Case(
        "t01-pop-f",
        "voice_aurora",
        "C:major",
        120,
        "C G Am F",
        """[Verse]
I walk along the empty street
The city lights are burning low
[Chorus]
Stay with me until the morning
Hold my hand and sing along""",
    ),
    Case(
        "t02-rock-m",
        "voice_atlas",
        "E:minor",
        150,
        "Em C G D",
        """[Verse]
The thunder rolls across the plain
We ride against the falling rain
[Chorus]
Raise your hands and shout it loud
We are the fire in the crowd""",
    ),
    Case(
        "t03-soul-f",
        "voice_velvet",
        "F:major",
        84,
        "Fmaj7 Dm7 Gm7 C7",
        """[Verse]
Coffee in the morning light
Your sweater hanging on the chair
[Chorus]
Baby, you are all I need
Every word you say is true""",
    ),
    Case(
        "t04-ballad-m",
        "voice_ember",
        "Bb:major",
        72,
        "Bb Gm Eb F",
        """[Verse]
I was lost in the rain and cold
Till you came and held my hand
[Chorus]
You lift me higher than the sky
You give me wings so I can fly""",
    ),
    Case(
        "t05-dream-f",
        "voice_luna",
        "D:major",
        76,
        "D Bm G A",
        """[Verse]
Silver moon above the sea
Waves are whispering to me
[Chorus]
Float with me across the stars
Leave behind the city cars""",
    ),
    Case(
        "t06-indie-m",
        "voice_drift",
        "A:minor",
        96,
        "Am F C G",
        """[Verse]
Paper cups and broken strings
Pictures of forgotten things
[Chorus]
I don't mind the rain tonight
I don't need the morning light""",
    ),
    Case(
        "t07-folk-f",
        "voice_maple",
        "G:major",
        104,
        "G C D G",
        """[Verse]
Down the valley by the mill
There's a cabin on the hill
[Chorus]
Take me home to Tennessee
Where the river runs so free""",
    ),
    Case(
        "t08-country-m",
        "voice_granite",
        "D:minor",
        70,
        "Dm Bb F A7",
        """[Verse]
The lonely train is calling out
Across the dark and silent land
[Chorus]
Oh my darling, don't you cry
I will see you by and by""",
    ),
    Case(
        "t09-dance-f",
        "voice_nova",
        "A:minor",
        128,
        "Am F C G",
        """[Verse]
Lights are flashing on the floor
Bodies moving to the beat
[Chorus]
Turn it up and let it go
Feel the bass and feel the flow""",
    ),
    Case(
        "t10-pop-m",
        "voice_flare",
        "E:major",
        116,
        "E B C#m A",
        """[Verse]
Sunshine on the boulevard
Windows down and music loud
[Chorus]
Hold on tight and don't let go
This is the best day that we know""",
    ),
    Case(
        "t11-fastpop-f",
        "voice_aurora",
        "Eb:major",
        170,
        "Eb Bb Cm Ab",
        """[Verse]
Running fast across the bridge
Nothing's gonna slow us down
[Chorus]
Faster, faster, feel the speed
You are everything I need""",
    ),
    Case(
        "t12-written-ballad-f",
        "voice_velvet",
        "Ab:major",
        74,
        "Ab Fm Db Eb",
        None,
        "a slow soul ballad about missing someone at night",
        3,
    ),
    Case(
        "t13-written-rock-m",
        "voice_atlas",
        "A:minor",
        160,
        "Am G F G",
        None,
        "fast punk rock anthem about leaving town",
        4,
    ),
    Case(
        "t14-written-pop-f",
        "voice_nova",
        "D:major",
        124,
        "D A Bm G",
        None,
        "upbeat electronic pop song about summer",
        5,
    ),
    Case(
        "t15-written-folk-m",
        "voice_granite",
        "G:major",
        88,
        "G Em C D",
        None,
        "acoustic folk song about an old river",
        6,
    ),
    Case(
        "t16-written-pop-m",
        "voice_flare",
        "C:major",
        136,
        "C Am F G",
        None,
        "happy latin pop song about dancing",
        7,
    ),
)

HELD_OUT: tuple[Case, ...] = (
    Case(
        "h01-pop-f",
        "voice_aurora",
        "G:major",
        112,
        "G D Em C",
        """[Verse]
Every morning feels the same
Till I hear you call my name
[Chorus]
Light me up and let me shine
Tell me that your heart is mine""",
    ),
    Case(
        "h02-rock-m",
        "voice_atlas",
        "D:minor",
        164,
        "Dm Bb C Dm",
        """[Verse]
Steel and fire in the yard
Hold the line and hit it hard
[Chorus]
We will stand against the storm
Keep the engine running warm""",
    ),
    Case(
        "h03-ballad-f",
        "voice_maple",
        "E:major",
        70,
        "E C#m A B",
        """[Verse]
Quiet snow upon the field
Every wound is slow to heal
[Chorus]
Wait for me beside the door
I will love you more and more""",
    ),
    Case(
        "h04-soul-m",
        "voice_ember",
        "F:minor",
        82,
        "Fm Db Ab C",
        """[Verse]
Sugar in my morning tea
You were always good to me
[Chorus]
Come back home and stay a while
Show me that familiar smile""",
    ),
    Case(
        "h05-dance-f",
        "voice_luna",
        "B:minor",
        140,
        "Bm G D A",
        """[Verse]
Neon rivers in the sky
Watch the midnight hours fly
[Chorus]
Move your body, feel alive
We were born to take the drive""",
    ),
    Case(
        "h06-written-ballad-m",
        "voice_drift",
        "C:minor",
        76,
        "Cm Ab Eb Bb",
        None,
        "a sad indie ballad about an empty house",
        11,
    ),
    Case(
        "h07-written-rock-f",
        "voice_nova",
        "E:minor",
        170,
        "Em D C D",
        None,
        "fast rock song about running through the city",
        12,
    ),
    Case(
        "h08-written-pop-m",
        "voice_flare",
        "A:major",
        120,
        "A E F#m D",
        None,
        "bright pop song about a new beginning",
        13,
    ),
)

SETS = {"tuning": TUNING, "held-out": HELD_OUT}
