"""Festival speaks each lyric line once; we keep its audio and its word/syllable/phone timings.

The timings are what make singing from speech possible: the singer needs to know where every
consonant and vowel is so that it can keep consonants at spoken length and stretch only vowels.
One festival process speaks all the lines of a song (start-up costs about half a second).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from songforge.engines.base import EngineError

# festival voice commands, by the short names the catalogue uses.
FESTIVAL_VOICES = {
    "slt": "voice_cmu_us_slt_arctic_hts",
    "kal": "voice_kal_diphone",
    "ked": "voice_ked_diphone",
}
FESTIVAL_TIMEOUT_S = 120


@dataclass
class Phone:
    name: str
    start: float
    end: float
    vowel: bool


@dataclass
class Syllable:
    word: str
    stress: int  # 0 unstressed, 1 primary, 2 secondary
    phones: list[Phone]
    word_start: bool  # first syllable of its word
    word_syllables: int = 1  # how many syllables its word has

    @property
    def start(self) -> float:
        return self.phones[0].start

    @property
    def end(self) -> float:
        return self.phones[-1].end


@dataclass
class SpokenLine:
    text: str
    audio: np.ndarray  # mono float32
    sr: int
    syllables: list[Syllable] = field(default_factory=list)


_UNSAFE = re.compile(r"[^A-Za-z0-9' ,.!?-]+")


def sanitize(text: str) -> str:
    """What festival may read: letters, digits, apostrophes and plain punctuation. Quotes, brackets and
    backslashes are removed, so user text can never close the Scheme string it is placed in."""
    text = text.replace("’", "'").replace("‘", "'").replace("&", " and ")
    text = _UNSAFE.sub(" ", text)
    return re.sub(r"\s+", " ", text).strip()


def festival_path() -> str:
    path = shutil.which("festival")
    if not path:
        raise EngineError("Singing needs festival; run scripts/setup-system.sh to install it")
    return path


_SCHEME_DUMP = """
(define (sf-dump utt)
  (mapcar (lambda (w)
    (format t "W %s\\n" (item.name w))
    (mapcar (lambda (syl)
       (format t "S %s\\n" (item.feat syl "stress"))
       (mapcar (lambda (seg)
          (format t "P %s %f %f %s\\n" (item.name seg) (item.feat seg "segment_start")
                  (item.feat seg "end") (item.feat seg "ph_vc")))
          (item.daughters syl)))
     (item.daughters (item.relation w 'SylStructure))))
    (utt.relation.items utt 'Word))
  t)
"""


def _slow_down(base: str, stretch: float) -> str:
    """Scheme that makes the next utterance `stretch` times slower. The diphone voices honour
    Duration_Stretch; the HTS voice ignores it and takes hts_engine's speech-rate option (`-r`) instead."""
    if base == "slt":
        return (
            "(set! hts_engine_params (append cmu_us_slt_arctic_hts::hts_engine_params "
            f'(list (list "-r" {1.0 / stretch:.4f}))))'
        )
    return f"(Parameter.set 'Duration_Stretch {stretch:.4f})"


def speak_lines(lines: list[str], base: str = "slt", stretch: float | list[float] = 1.0) -> list[SpokenLine]:
    """Speak each (already sanitized, non-empty) line; returns audio and timings per line.

    `stretch` > 1 slows the speech down (one factor for all lines, or one per line): singing from
    slowed speech needs less vowel stretching, which is what costs intelligibility.
    """
    if base not in FESTIVAL_VOICES:
        raise EngineError(f"Unknown festival voice {base!r}")
    if not lines:
        return []
    stretches = [float(stretch)] * len(lines) if isinstance(stretch, int | float) else list(stretch)
    if len(stretches) != len(lines) or not all(0.5 <= s <= 3.0 for s in stretches):
        raise EngineError("speak_lines needs one stretch in 0.5..3 per line")
    with tempfile.TemporaryDirectory(prefix="sf-speech-") as tmp:
        d = Path(tmp)
        script = [f"({FESTIVAL_VOICES[base]})", _SCHEME_DUMP]
        for i, line in enumerate(lines):
            safe = sanitize(line)
            if not safe:
                raise EngineError(f"Nothing to sing in line {line!r}")
            wav = d / f"{i}.wav"
            script.append(_slow_down(base, stretches[i]))
            script.append(f'(format t "L {i}\\n")')
            script.append(f'(set! utt (SynthText "{safe}"))')
            script.append(f'(utt.save.wave utt "{wav}" \'riff)')
            script.append("(sf-dump utt)")
        (d / "run.scm").write_text("\n".join(script) + "\n")
        try:
            proc = subprocess.run(
                [festival_path(), "-b", str(d / "run.scm")],
                capture_output=True,
                text=True,
                timeout=FESTIVAL_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise EngineError("The speech synthesizer timed out") from exc
        out = _parse_dump(proc.stdout, len(lines))
        spoken = []
        for i, line in enumerate(lines):
            wav = d / f"{i}.wav"
            if not wav.exists():
                raise EngineError(f"The speech synthesizer failed: {proc.stderr.strip()[-300:]}")
            audio, sr = sf.read(str(wav), dtype="float32", always_2d=False)
            if audio.ndim > 1:
                audio = audio.mean(axis=1)
            spoken.append(SpokenLine(text=line, audio=audio, sr=int(sr), syllables=out[i]))
    return spoken


def _parse_dump(text: str, n: int) -> list[list[Syllable]]:
    result: list[list[Syllable]] = [[] for _ in range(n)]
    cur: list[Syllable] | None = None
    word = ""
    word_syls: list[Syllable] = []
    for raw in text.splitlines():
        parts = raw.split()
        if not parts:
            continue
        tag = parts[0]
        if tag == "L" and len(parts) == 2:
            cur = result[int(parts[1])]
        elif cur is None:
            continue
        elif tag == "W":
            word = parts[1] if len(parts) > 1 else ""
            word_syls = []
        elif tag == "S" and len(parts) == 2:
            syl = Syllable(word=word, stress=int(float(parts[1])), phones=[], word_start=not word_syls)
            word_syls.append(syl)
            for s in word_syls:
                s.word_syllables = len(word_syls)
            cur.append(syl)
        elif tag == "P" and len(parts) == 5 and cur:
            cur[-1].phones.append(Phone(parts[1], float(parts[2]), float(parts[3]), parts[4] == "+"))
    for syls in result:
        syls[:] = [s for s in syls if s.phones]
    return result


# --- festival's singing mode -----------------------------------------------------------------

# One syllable as festival's singing mode is told to sing it: (frequency Hz, seconds).
SungSyllable = tuple[float, float]
# One word: (festival's word, its syllables, seconds of rest after it).
SungWord = tuple[str, tuple[SungSyllable, ...], float]

_XML_HEAD = (
    '<?xml version="1.0"?>\n<!DOCTYPE SINGING PUBLIC "-//SINGING//DTD SINGING mark up//EN" '
    '"Singing.v0_1.dtd" []>\n<SINGING BPM="60">\n'
)


def _score_xml(words: tuple[SungWord, ...]) -> str:
    """The SINGING mark-up for one line. Durations are written in SECONDS, which sidesteps the mode's
    BPM/50 beats-per-second slip; the words are festival's own (from its speech of the same text),
    so that each DURATION holds exactly one word and its syllable count matches the lexicon's."""
    from xml.sax.saxutils import escape

    parts = [_XML_HEAD]
    for word, syls, rest in words:
        freqs = ",".join(f"{f:.2f}" for f, _ in syls)
        secs = ",".join(f"{d:.4f}" for _, d in syls)
        parts.append(f'<PITCH FREQ="{freqs}"><DURATION SECONDS="{secs}">{escape(word)}</DURATION></PITCH>\n')
        if rest > 0.0005:
            parts.append(f'<REST SECONDS="{rest:.4f}"></REST>\n')
    parts.append("</SINGING>\n")
    return "".join(parts)


def sing_scores(scores: list[tuple[SungWord, ...]], base: str = "kal") -> list[SpokenLine | None]:
    """Festival's built-in singing mode (diphone voices only: the HTS voice ignores the score) sings
    each line's words to the given durations and pitches, in one festival process. Returns the audio
    and the phone timings festival used per line, or None for a line festival could not sing (the
    caller falls back to speech for it)."""
    if base not in ("kal", "ked"):
        raise EngineError(f"Festival's singing mode needs a diphone voice, not {base!r}")
    if not scores:
        return []
    with tempfile.TemporaryDirectory(prefix="sf-sing-") as tmp:
        d = Path(tmp)
        script = [
            f"({FESTIVAL_VOICES[base]})",
            _SCHEME_DUMP,
            "(define (sf-save utt) (utt.save.wave utt sf-out 'riff) "
            '(format t "L %s\\n" sf-line) (sf-dump utt) utt)',
            "(set! tts_hooks (list utt.synth sf-save))",
        ]
        for i, words in enumerate(scores):
            if not words:
                continue
            (d / f"{i}.xml").write_text(_score_xml(words))
            script.append(f'(set! sf-out "{d / f"{i}.wav"}")')
            script.append(f'(set! sf-line "{i}")')
            script.append(f'(tts "{d / f"{i}.xml"}" \'singing)')
        (d / "run.scm").write_text("\n".join(script) + "\n")
        try:
            proc = subprocess.run(
                [festival_path(), "-b", str(d / "run.scm")],
                capture_output=True,
                text=True,
                timeout=FESTIVAL_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise EngineError("The speech synthesizer timed out") from exc
        timings = _parse_dump(proc.stdout, len(scores))
        out: list[SpokenLine | None] = []
        for i, words in enumerate(scores):
            wav = d / f"{i}.wav"
            if not words or not wav.exists() or not timings[i]:
                out.append(None)
                continue
            audio, sr = sf.read(str(wav), dtype="float32", always_2d=False)
            if audio.ndim > 1:
                audio = audio.mean(axis=1)
            out.append(
                SpokenLine(
                    text=" ".join(w for w, _, _ in words), audio=audio, sr=int(sr), syllables=timings[i]
                )
            )
    return out
