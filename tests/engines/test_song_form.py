"""Songs as long as songs (issue 22): the form around the lyrics, and a real song that follows it."""

from __future__ import annotations

import numpy as np
import pytest

from songforge.config import model_profile
from songforge.engines.base import GenerationRequest
from songforge.engines.embedded import form as forms
from songforge.engines.embedded.styles import STYLES
from songforge.engines.singing.lyrics import parse_lyrics, write_lyrics

SIX = (
    "[Verse]\nI walk along the empty street\nThe city lights are burning low\n"
    "I hear the echo of my feet\nAnd nowhere left for me to go\n"
    "[Chorus]\nHold on, hold on to the night\nWe are burning, burning bright\n"
)
CHORUS = ("Hold on, hold on to the night", "We are burning, burning bright")


def _bars(seconds: float, bpm: float) -> int:
    return int(round(seconds / forms.bar_seconds(bpm)))


def _build(lyrics: str, style: str, bpm: float, goal_s: float = 180, cap_s: float = 270, exact: bool = False):
    return forms.build(parse_lyrics(lyrics), STYLES[style], bpm, _bars(goal_s, bpm), _bars(cap_s, bpm), exact)


def _compact(names: list[str]) -> list[str]:
    """Repeated neighbours once: intro verse chorus solo chorus chorus outro -> ... solo chorus outro."""
    return [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n]


@pytest.mark.parametrize(
    ("style", "bpm", "brk"),
    [("pop", 110, "solo"), ("rock", 126, "solo"), ("folk", 90, "solo"), ("house", 124, "drop")],
)
def test_six_lines_make_intro_verse_chorus_break_chorus_outro(style, bpm, brk):
    form = _build(SIX, style, bpm)
    names = [s.name for s in form.sections]
    assert _compact(names) == ["intro", "verse", "chorus", brk, "chorus", "outro"], names
    assert not form.sections[0].lines and not form.sections[-1].lines  # instrumental edges
    assert (
        form.sections[0].bars * forms.bar_seconds(bpm) >= 4
        and form.sections[-1].bars * forms.bar_seconds(bpm) >= 4
    )
    assert 2 <= form.sections[0].bars <= 8
    sung = [ln for s in form.sections for ln in s.lines]
    assert all(sung.count(line) >= 2 for line in CHORUS)
    assert sum(line == CHORUS[0] for line in sung) >= 2 * sum(
        line == "I walk along the empty street" for line in sung
    )
    assert form.bars * forms.bar_seconds(bpm) >= 90  # from six lines, a song, not a sketch


def test_styles_differ_in_their_ending_and_repeats():
    pop, folk = _build(SIX, "pop", 110), _build(SIX, "folk", 110)
    assert pop.ending == "fade" and folk.ending == "chord"
    assert (
        forms.habits(STYLES["pop"], 110).end_choruses == 2
        and forms.habits(STYLES["folk"], 110).end_choruses == 1
    )
    # with lyrics enough for the style's length, folk sings its chorus once at the end, pop twice
    long = SIX + SIX.replace("[Verse]", "[Verse 2]") + SIX.replace("[Verse]", "[Verse 3]")
    names = [[s.name for s in _build(long, st, 110, goal_s=60).sections] for st in ("pop", "folk")]
    assert names[0][-3:] == ["chorus", "chorus", "outro"] and names[1][-3:] == ["verse", "chorus", "outro"], (
        names
    )
    punk, ballad = _build(SIX, "punk", 180, goal_s=150), _build(SIX, "pop", 72)
    assert punk.bars * forms.bar_seconds(180) < ballad.bars * forms.bar_seconds(72)


def test_one_stanza_still_has_intro_break_and_outro():
    form = _build("one line here\nand another one there\nand a third\n", "pop", 110)
    names = [s.name for s in form.sections]
    assert names[0] == "intro" and names[-1] == "outro" and "solo" in names
    assert names.index("solo") > names.index("verse")
    assert names[names.index("solo") + 1] == "verse"  # the stanza comes back after the break


def test_tags_place_the_break_and_keep_the_lyrics_order():
    text = SIX + "[Solo]\n\n[Bridge]\nAll we had was fire\n[Chorus]\nHold on, hold on to the night\n"
    names = [s.name for s in _build(text, "rock", 120).sections]
    assert _compact(names)[:6] == ["intro", "verse", "chorus", "solo", "bridge", "chorus"], names
    assert names.count("solo") == 1  # the tag's break, no second one of the form's own


def test_an_asked_length_wins_and_the_cap_holds():
    bpm = 120
    asked = _build(SIX, "pop", bpm, goal_s=60, exact=True)
    assert asked.bars == _bars(60, bpm) and asked.sections[0].name == "intro"
    longer = _build(SIX, "pop", bpm, goal_s=240, exact=True)
    assert longer.bars == _bars(240, bpm)
    forty = "\n".join("[Verse]\n" + "\n".join(f"line {i} of verse {v}" for i in range(8)) for v in range(5))
    cap = model_profile("v3").max_seconds
    capped = _build(forty, "pop", bpm, goal_s=180, cap_s=cap - 2.5)
    assert capped.bars * forms.bar_seconds(bpm) <= cap - 2.5
    assert capped.sections[-1].name == "outro"


def test_written_lyrics_fill_a_whole_form():
    sections = write_lyrics("a summer pop song about the sea", 4)
    bpm = 112
    form = forms.build(sections, STYLES["pop"], bpm, _bars(180, bpm), _bars(267, bpm), False)
    sung = {i for i, s in enumerate(sections) if s.lines}
    assert set(form.kept) == sung  # every written section is sung
    assert [s.name for s in form.sections].count("chorus") >= 3


@pytest.mark.slow
def test_a_six_line_song_follows_its_form():
    from songforge.engines.embedded import EmbeddedEngine, check_ready

    check_ready()
    req = GenerationRequest(kind="song", prompt="upbeat pop song", model="v3", seed=5, lyrics=SIX)
    res = EmbeddedEngine().generate(req, lambda p, s: None)
    seconds = len(res.mix) / 44100
    assert 90 <= seconds <= model_profile("v3").max_seconds
    assert res.material["dur"] == int(seconds)
    assert res.material["form"].split()[0] == "intro" and res.material["form"].split()[-1] == "outro"
    entries = res.extra["lyrics_lines"]
    markers = [t for _, _, t in entries if t.startswith("[")]
    sung = [(s, e, t) for s, e, t in entries if not t.startswith("[")]
    assert markers[0] == "[intro]" and markers[-1] == "[outro]" and "[chorus]" in markers
    assert [s for s, _, _ in entries] == sorted(s for s, _, _ in entries)
    for line in CHORUS:
        assert sum(t == line for _, _, t in sung) >= 2
    assert sung[0][0] >= 4.0  # an instrumental intro before the first word
    assert seconds - sung[-1][1] >= 4.0  # and an outro after the last
    assert float(np.max(np.abs(sum(res.stems.values()) - res.mix))) < 1e-5  # stems still sum to the mix
    # the chorus sung again is sung again: its second take is not a copy of the first
    voc = res.stems["vocals"][:, 0]
    takes = [(s, e) for s, e, t in sung if t == CHORUS[0]]
    (a0, a1), (b0, _) = takes[0], takes[-1]
    n = int((a1 - a0) * 44100)
    first, last = voc[int(a0 * 44100) :][:n], voc[int(b0 * 44100) :][:n]
    assert np.sqrt(np.mean(first**2)) > 0.01 and np.sqrt(np.mean(last**2)) > 0.01
    assert not np.allclose(first / np.abs(first).max(), last / np.abs(last).max(), atol=1e-3)


def test_a_lone_stanza_ends_on_its_last_line_sung_again():
    plain = (
        "The river runs beside the road\nI carry what I cannot hold\n"
        "And every mile I leave behind\nIs one more night upon my mind\n"
    )
    form = _build(plain, "pop", 86)
    sung_sections = [s for s in form.sections if s.lines]
    assert len(sung_sections) >= 2  # sung, a break, sung again
    last = sung_sections[-1]
    assert last.lines[-2:] == ["Is one more night upon my mind"] * 2, last.lines
    sung = [ln for s in form.sections for ln in s.lines]
    assert sung.count("Is one more night upon my mind") == len(sung_sections) + 1
    # an asked length that leaves no room drops the tag (and the repeat) before any sung line
    tight = _build(plain, "pop", 86, goal_s=40, cap_s=270, exact=True)
    assert [ln for s in tight.sections for ln in s.lines] == plain.splitlines()
