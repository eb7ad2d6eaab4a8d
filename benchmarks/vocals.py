"""How well the offline singer sings: intelligibility, pitch and timing on the exact vocals stem.

Run: .venv/bin/python benchmarks/vocals.py [--songs N | --only 6,9] [--methods shipped,fest] [--baseline]

Two singers are compared on the same songs: "shipped" (the melody follows festival's own speech
rhythm, slowed by up to 1.3x with only the line's first stressed syllable put on a beat, the last
syllable held at most 0.35 s, festival speaks each line at the pace it is sung, consonants keep their
spoken length, the tune sits near the bottom of the voice's range)
and "baseline" (the first version: syllables on a grid of their own with stressed syllables pushed onto
beats, speech at its own pace, vowels given >= 40% of each note, the tune centred in the range). The
baseline is measured for WER and synthesis time only.

With `--methods shipped,fest` (the default) festival's singing mode ("fest": the diphone voice sings the
notes' durations from a SINGING score, WORLD then moves its vowel onsets onto the notes and imposes
their pitch) is measured beside the shipped singer on the same melodies; `--baseline` adds the first
version.

For each of 12 songs (given English lyrics, several voices, keys, tempos and chord loops; 8 bars of
verse and 8 of chorus) `sing()` produces the vocals stem, and we measure:
- WER: pocketsphinx (its bundled US English model) decodes each sung line, cut at the line's LRC times
  (+-0.15 s), and the words are aligned against the lyrics (Levenshtein over words). Beside it, the same
  recognizer on the same lines spoken plainly by the same festival voice: the speech ceiling.
- pitch: librosa pyin (10 ms hop) on the stem; for every written note, the voiced frames between 50 ms
  after its start (past the ~40 ms glide) and 20 ms before its end are compared with the note, in cents.
  We report the median absolute deviation over all those frames and the share of notes whose median
  deviation is within 50 cents.
- speed: wall and CPU seconds of `sing()` (CPU includes festival's processes, since the machine may
  be shared), and for a 2-minute song (6 sections, 48 bars at 96 BPM) also the peak resident memory.
- timing: for every note that starts after a rest or on a new pitch, the sung onset is the first pyin
  frame within 50 cents of the note, searched from 100 ms before the written start; we report the share
  within 30 ms of the score and the median absolute error.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import re
import resource
import sys
import time
from collections.abc import Iterator

import librosa
import numpy as np
from scipy.signal import resample_poly

from songforge.engines.singing import melody as melody_mod
from songforge.engines.singing import plan_lyrics, sing
from songforge.engines.singing import singer as singer_mod
from songforge.engines.singing.speech import sanitize, speak_lines
from songforge.engines.singing.voices import artist_voice

SONGS = [
    ("voice_aurora", "C:major", 120, "C G Am F", """[Verse]
I walk along the empty street
The city lights are burning low
I hear a song beneath my feet
And every window starts to glow
[Chorus]
Stay with me until the morning
Hold my hand and sing along
We can dance without a warning
Everything we need is in this song"""),
    ("voice_atlas", "E:minor", 140, "Em C G D", """[Verse]
The thunder rolls across the plain
We ride against the falling rain
Our engines roar into the night
We never stop, we never hide
[Chorus]
Raise your hands and shout it loud
We are the fire in the crowd
Nothing here can hold us down
We will never leave this town"""),
    ("voice_velvet", "F:major", 84, "Fmaj7 Dm7 Gm7 C7", """[Verse]
Coffee in the morning light
Your sweater hanging on the chair
The radio is playing soft
And I can smell you in the air
[Chorus]
Baby, you are all I need
Every word you say is true
Take it slowly, take it easy
I will always come back home to you"""),
    ("voice_ember", "Bb:major", 96, "Bb Gm Eb F", """[Verse]
I was lost in the rain and cold
Till you came and held my hand
Now the story can be told
Of a love I understand
[Chorus]
You lift me higher than the sky
You give me wings so I can fly
When the world is cold and grey
You are the sun that lights my day"""),
    ("voice_luna", "D:major", 76, "D Bm G A", """[Verse]
Silver moon above the sea
Waves are whispering to me
Close your eyes and drift away
Dream until the break of day
[Chorus]
Float with me across the stars
Leave behind the city cars
In the quiet of the night
We will follow the light"""),
    ("voice_drift", "A:minor", 88, "Am F C G", """[Verse]
Paper cups and broken strings
Pictures of forgotten things
Every summer fades to blue
Every road leads back to you
[Chorus]
I don't mind the rain tonight
I don't need the morning light
Let the old songs play again
Let me stay here until then"""),
    ("voice_maple", "G:major", 104, "G C D G", """[Verse]
Down the valley by the mill
There's a cabin on the hill
Mama's singing by the door
Like she always did before
[Chorus]
Take me home to Tennessee
Where the river runs so free
Where the fields are gold and green
Prettiest place I've ever seen"""),
    ("voice_granite", "D:minor", 72, "Dm Bb F A7", """[Verse]
The lonely train is calling out
Across the dark and silent land
I left my heart in Baton Rouge
With a ring still on her hand
[Chorus]
Oh my darling, don't you cry
I will see you by and by
When the morning sun is high
I'll come home before I die"""),
    ("voice_nova", "A:minor", 128, "Am F C G", """[Verse]
Lights are flashing on the floor
Bodies moving to the beat
Open up another door
Feel the rhythm in your feet
[Chorus]
Turn it up and let it go
Feel the bass and feel the flow
We are young and we are free
Dance the night away with me"""),
    ("voice_flare", "E:major", 116, "E B C#m A", """[Verse]
Sunshine on the boulevard
Windows down and music loud
Every heart is beating hard
Everybody in the crowd
[Chorus]
This is our summer, this is our time
Every little moment feels like mine
Hold on tight and don't let go
This is the best day that we know"""),
    ("voice_aurora", "Eb:major", 160, "Eb Bb Cm Ab", """[Verse]
Running fast across the bridge
Jumping over every ridge
Nothing's gonna slow us down
We are racing through the town
[Chorus]
Go, go, go, we never stop
We will make it to the top
Faster, faster, feel the speed
You are everything I need"""),
    ("voice_atlas", "G:minor", 66, "Gm Eb Bb D", """[Verse]
Snow is falling on the hill
All the world is white and still
Candles burning in the hall
Shadows dancing on the wall
[Chorus]
Hold me close this winter night
Keep me safe and hold me tight
When the cold wind starts to blow
I will never let you go"""),
]


BASELINE = {
    (melody_mod, "RHYTHM"): "grid", (melody_mod, "TESSITURA"): 0.5, (melody_mod, "ARCH"): 4.0,
    (melody_mod, "MAX_HOLD_S"): 2.0, (melody_mod, "LENGTHEN_P"): 0.35, (melody_mod, "TARGET_SYLLABLE_S"): 0.3,
    (singer_mod, "METHOD"): "stretch",
}


@contextlib.contextmanager
def baseline() -> Iterator[None]:
    """The first version's choices, restored afterwards."""
    saved = {k: getattr(*k) for k in BASELINE}
    for (mod, name), value in BASELINE.items():
        setattr(mod, name, value)
    try:
        yield
    finally:
        for (mod, name), value in saved.items():
            setattr(mod, name, value)


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def _edits(ref: list[str], hyp: list[str]) -> int:
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
            prev, d[j] = d[j], cur
    return d[len(hyp)]


class Recognizer:
    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self.dec = Decoder(samprate=16000, loglevel="FATAL")

    def __call__(self, audio: np.ndarray, sr: int) -> str:
        x = resample_poly(audio.astype(np.float64), 16000, sr) if sr != 16000 else audio
        pcm = (np.clip(x, -1, 1) * 32767).astype(np.int16).tobytes()
        self.dec.start_utt()
        self.dec.process_raw(pcm, full_utt=True)
        self.dec.end_utt()
        hyp = self.dec.hyp()
        return hyp.hypstr if hyp else ""


# Methods compared side by side: name -> overrides of the voice's parameters (None: the voice as shipped).
# "fest": festival's singing mode on the diphone voice (kal for male voices; for female voices kal
# re-pitched up by WORLD with its formants warped up by `FEMALE_FORMANT`), then WORLD pitch correction.
FEMALE_FORMANT = 1.18
METHODS: dict[str, dict | None] = {"shipped": None, "fest": {"method": "festival"}}


def _variant(voice, overrides: dict | None):
    if overrides is None:
        return voice
    extra = {**voice.extra, **overrides}
    if overrides.get("method") == "festival" and extra.get("base") not in ("kal", "ked"):
        extra["base"] = overrides.get("female_base", "kal")
        extra["formant"] = float(overrides.get("female_formant", FEMALE_FORMANT)) * float(
            voice.extra.get("formant", 1.0))
    return dataclasses.replace(voice, extra=extra)


def _sing(idx: int, overrides: dict | None = None):
    voice_id, key, bpm, chords, lyrics = SONGS[idx]
    voice = artist_voice(voice_id)
    assert voice is not None
    voice = _variant(voice, overrides)
    sections = plan_lyrics(lyrics, "", idx)
    t0, c0 = time.perf_counter(), _cpu()
    v = sing(sections=sections, key=key, bpm=bpm, bar_chords=chords.split() * 4,
             section_bars=[("verse", 0, 8), ("chorus", 8, 8)], voice=voice, seed=idx)
    return v, time.perf_counter() - t0, _cpu() - c0


def _sung_errors(v, rec: Recognizer) -> tuple[int, int]:
    """(word errors, reference words) of the recognizer on each sung line, cut at its LRC times."""
    sr = 44100
    mono = v.audio[:, 0].astype(np.float64)
    errors = words = 0
    for s, e, text in v.lines:
        a, b = max(0, int((s - 0.15) * sr)), int((e + 0.15) * sr)
        ref = _words(text)
        words += len(ref)
        errors += _edits(ref, _words(rec(mono[a:b], sr)))
    return errors, words


def _pitch_timing(v) -> dict:
    """Pitch deviation per voiced frame, notes within 50 cents, and onset errors, from pyin."""
    mono = v.audio[:, 0].astype(np.float64)
    y = resample_poly(mono, 160, 441)
    f0, voiced, _ = librosa.pyin(y, fmin=65, fmax=1100, sr=16000, frame_length=1024, hop_length=160)
    times = np.arange(len(f0)) * 0.01
    devs: list[float] = []
    note_ok = notes_n = 0
    onset_errs: list[float] = []
    prev_end, prev_midi = -1.0, -1
    for start, dur, midi in v.melody:
        hz = librosa.midi_to_hz(midi)
        m = (times >= start + 0.05) & (times <= start + dur - 0.02) & voiced
        if np.any(m):
            c = 1200 * np.log2(f0[m] / hz)
            devs.extend(np.abs(c).tolist())
            notes_n += 1
            note_ok += abs(float(np.median(c))) <= 50
        if start - prev_end > 0.01 or midi != prev_midi:
            w = (times >= start - 0.1) & (times <= start + 0.15)
            idxs = np.nonzero(w & voiced)[0]
            hit = [i for i in idxs if abs(1200 * np.log2(f0[i] / hz)) <= 50]
            if hit:
                onset_errs.append(times[hit[0]] - start)
        prev_end, prev_midi = start + dur, midi
    return {"devs": devs, "notes": notes_n, "notes_ok": note_ok, "onsets": onset_errs}


def measure(idx: int, rec: Recognizer, methods: dict[str, dict | None], with_baseline: bool) -> dict:
    voice_id, key, bpm, _, _ = SONGS[idx]
    row: dict = {"song": idx + 1, "voice": voice_id, "bpm": bpm, "key": key, "methods": {}}
    v0 = None
    for name, overrides in methods.items():
        v, synth_s, synth_cpu = _sing(idx, overrides)
        if overrides is None:
            v0 = v
        sung_err, ref_n = _sung_errors(v, rec)
        row["words"] = ref_n
        row["dur_s"] = len(v.audio) / 44100
        row["methods"][name] = {"synth_s": synth_s, "synth_cpu": synth_cpu, "sung_err": sung_err,
                                "base": v.extra["base"], **_pitch_timing(v)}
    # The speech ceiling: the same recognizer on the same lines spoken plainly by the shipped voice.
    if v0 is None:
        v0, _, _ = _sing(idx)
    spoken_err = 0
    spoken = speak_lines([sanitize(t) for _, _, t in v0.lines], v0.extra["base"])
    for (_, _, text), sp in zip(v0.lines, spoken, strict=True):
        spoken_err += _edits(_words(text), _words(rec(sp.audio, sp.sr)))
    row["spoken_err"] = spoken_err
    row["base_err"], row["base_s"], row["base_cpu"] = 0, 0.0, 0.0
    if with_baseline:
        with baseline():
            bv, bs, bc = _sing(idx)
        row["base_err"], row["base_s"], row["base_cpu"] = _sung_errors(bv, rec)[0], bs, bc
    return row


TWO_MINUTES = """[Verse]
I walk along the empty street
The city lights are burning low
I hear a song beneath my feet
And every window starts to glow
[Chorus]
Stay with me until the morning
Hold my hand and sing along
We can dance without a warning
Everything we need is in this song
[Verse]
The coffee's cold, the night is long
I count the cars that pass me by
I write your name inside a song
And watch the clouds roll through the sky
[Chorus]
Stay with me until the morning
Hold my hand and sing along
We can dance without a warning
Everything we need is in this song
[Bridge]
Every road has led me here
Every star is shining near
[Chorus]
Stay with me until the morning
Hold my hand and sing along
We can dance without a warning
Everything we need is in this song"""


def two_minute_song() -> str:
    sections = plan_lyrics(TWO_MINUTES, "", 0)
    bars = [("verse", 0, 8), ("chorus", 8, 8), ("verse", 16, 8), ("chorus", 24, 8), ("bridge", 32, 8),
            ("chorus", 40, 8)]
    t0, c0 = time.perf_counter(), _cpu()
    v = sing(sections=sections, key="C:major", bpm=96, bar_chords=["C", "G", "Am", "F"] * 12,
             section_bars=bars, voice=artist_voice("voice_aurora"), seed=1)
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return (f"2-minute song ({len(v.audio) / 44100:.0f} s, {len(v.lines)} lines, voice_aurora, 96 BPM): "
            f"sing() {wall:.1f} s wall, {cpu:.1f} s CPU incl. festival; peak RSS of this process so far "
            f"{peak:.0f} MB")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--songs", type=int, default=len(SONGS))
    ap.add_argument("--only", type=str, default="", help="comma-separated song numbers (1-based)")
    ap.add_argument("--baseline", action="store_true", help="also run the first version's singer")
    ap.add_argument("--methods", type=str, default=",".join(METHODS), help="comma-separated METHODS names")
    args = ap.parse_args()
    methods = {m: METHODS[m] for m in args.methods.split(",")}
    picks = ([int(x) - 1 for x in args.only.split(",")] if args.only
             else list(range(min(args.songs, len(SONGS)))))
    rec = Recognizer()
    rows = []
    print(f"{'song':>4} {'voice':<14} {'bpm':>4} {'dur':>5} {'method':<8} {'base':<4} "
          f"{'synth':>6} {'cpu':>5} "
          f"{'sungWER':>8} {'speechWER':>9} {'medCents':>8} {'notes<50c':>9} {'onset<30ms':>10} "
          f"{'medOnset':>8}")
    for i in picks:
        r = measure(i, rec, methods, args.baseline)
        rows.append(r)
        for name, m in r["methods"].items():
            on = np.abs(np.array(m["onsets"])) if m["onsets"] else np.array([np.nan])
            print(f"{r['song']:>4} {r['voice']:<14} {r['bpm']:>4} {r['dur_s']:>5.1f} {name:<8} "
                  f"{m['base']:<4} "
                  f"{m['synth_s']:>5.2f}s {m['synth_cpu']:>4.1f}s {100 * m['sung_err'] / r['words']:>7.1f}% "
                  f"{100 * r['spoken_err'] / r['words']:>8.1f}% "
                  f"{np.median(m['devs']):>8.1f} {100 * m['notes_ok'] / max(m['notes'], 1):>8.1f}% "
                  f"{100 * np.mean(on <= 0.03):>9.1f}% {1000 * np.median(on):>6.0f}ms", flush=True)
    words = sum(r["words"] for r in rows)
    dur = sum(r["dur_s"] for r in rows)
    print(f"TOTAL {len(rows)} songs, {dur:.0f} s of vocals, {words} words; speech ceiling (same recognizer, "
          f"same lines spoken by the shipped voice) "
          f"{100 * sum(r['spoken_err'] for r in rows) / words:.1f}% WER")
    for name in methods:
        ms = [r["methods"][name] for r in rows]
        devs = np.concatenate([np.array(m["devs"]) for m in ms])
        ons = np.abs(np.concatenate([np.array(m["onsets"]) for m in ms]))
        synth, cpu = sum(m["synth_s"] for m in ms), sum(m["synth_cpu"] for m in ms)
        print(f"  {name}: sung WER {100 * sum(m['sung_err'] for m in ms) / words:.1f}% (target <= 40%); "
              f"pitch median {np.median(devs):.1f} cents (target < 25), notes within 50 cents "
              f"{100 * sum(m['notes_ok'] for m in ms) / max(sum(m['notes'] for m in ms), 1):.1f}% "
              f"(target >= 90%); onsets within 30 ms {100 * np.mean(ons <= 0.03):.1f}% of {len(ons)}, "
              f"median {1000 * np.median(ons):.0f} ms; synthesis {synth:.1f} s wall "
              f"({dur / synth:.1f}x real time), {cpu:.1f} s CPU")
    if args.baseline:
        bs, bc = sum(r["base_s"] for r in rows), sum(r["base_cpu"] for r in rows)
        print(f"  baseline (first version): sung WER {100 * sum(r['base_err'] for r in rows) / words:.1f}%, "
              f"synthesis {bs:.1f} s wall, {bc:.1f} s CPU")
    print("  " + two_minute_song())
    return 0


if __name__ == "__main__":
    sys.exit(main())
