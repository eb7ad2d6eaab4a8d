"""Lyrics planning, the artist catalogue and the language check (no audio)."""

from __future__ import annotations

import pytest

from songforge.engines.base import EngineError
from songforge.engines.singing import lyrics_text, plan_lyrics
from songforge.engines.singing.lyrics import rhymes
from songforge.engines.singing.voices import artist_voice, artist_voices, check_language, pick_voice

TAGGED = """[Intro]
[Verse]
[Male]
I walk along the empty street
The city lights are burning low
[Pre-Chorus]
Here it comes
[Chorus: Female]
Stay with me until the morning
Hold my hand and sing along
[Bridge]
One more time
[Inst]
[Outro]
"""


def test_tagged_lyrics_keep_sections_lines_and_voices() -> None:
    secs = plan_lyrics(TAGGED, "anything", 3)
    assert [s.name for s in secs] == ["intro", "verse", "pre-chorus", "chorus", "bridge", "inst", "outro"]
    assert secs[1].lines == ["I walk along the empty street", "The city lights are burning low"]
    assert secs[1].voice == "male" and secs[3].voice == "female"
    assert secs[0].lines == [] and secs[5].lines == []
    text = lyrics_text(secs)
    assert "[Pre-Chorus]" in text and "[Female]" in text and "Hold my hand and sing along" in text
    assert [s.lines for s in plan_lyrics(text, "", 0)] == [s.lines for s in secs]


def test_untagged_repeated_stanza_is_the_chorus() -> None:
    text = "one line here\nanother\n\nhook line\nhook two\n\nthird verse\nmore\n\nhook line\nhook two"
    secs = plan_lyrics(text, "", 0)
    assert [s.name for s in secs] == ["verse", "chorus", "verse", "chorus"]


def test_written_lyrics_rhyme_differ_per_prompt_and_are_deterministic() -> None:
    a = plan_lyrics(None, "neon city night drive", 1)
    assert a == plan_lyrics(None, "neon city night drive", 1)
    assert lyrics_text(a) != lyrics_text(plan_lyrics(None, "neon city night drive", 2))
    b = plan_lyrics(None, "sad winter snow ballad", 1)
    assert lyrics_text(a) != lyrics_text(b)
    names = [s.name for s in a]
    assert "verse" in names and "chorus" in names
    sung = [s for s in a if s.lines]
    all_lines = [ln for s in sung if s.name != "chorus" for ln in s.lines]
    assert len(all_lines) == len(set(all_lines)), "no repeated filler outside the chorus"
    for s in sung:
        if s.name in ("verse", "chorus"):
            # Every line rhymes with another of its section, or is the chorus's hook sung again (the
            # schemes themselves are checked in test_written_lyrics.py).
            ends = [ln.split()[-1].strip(",.!?") for ln in s.lines]
            for i, e in enumerate(ends):
                others = [ends[j] for j in range(len(ends)) if j != i and s.lines[j] != s.lines[i]]
                repeated = s.lines.count(s.lines[i]) > 1
                assert repeated or any(rhymes(e, o) for o in others), (s.name, s.lines)
    assert any(w in lyrics_text(a).lower() for w in ("neon", "city", "night", "drive"))


def test_catalogue_has_eight_voices_of_both_genders() -> None:
    voices = artist_voices()
    assert len(voices) >= 8
    assert {v["gender"] for v in voices} == {"female", "male"}
    for v in voices:
        assert v["itemId"].startswith("voice_") and v["name"] and v["labels"] and v["weight"] > 0
        prof = artist_voice(v["itemId"])
        assert prof is not None and prof.high_midi - prof.low_midi >= 12
    assert artist_voice("voice_nope") is None


def test_pick_voice_follows_tags_and_prompt() -> None:
    male = plan_lyrics("[Male]\n[Verse]\nhello there", "", 0)
    assert pick_voice("dreamy pop", male, 0).gender == "male"
    assert pick_voice("a soprano ballad sung by a woman", [], 0).gender == "female"
    assert pick_voice("heavy rock anthem male vocals", [], 0).item_id == "voice_atlas"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("사랑해 너를 영원히", "Korean"),
        ("君のことが好きです", "Japanese"),
        ("我爱你中国", "Chinese"),
        ("el amor de mi vida es una canción para ti y que", "Spanish"),
        ("Я тебя люблю", "Russian"),
    ],
)
def test_check_language_refuses_what_we_cannot_sing(text: str, lang: str) -> None:
    with pytest.raises(EngineError, match=lang):
        check_language(f"[Verse]\n{text}", "v3.5")


def test_check_language_accepts_english() -> None:
    check_language(TAGGED, "v3")
