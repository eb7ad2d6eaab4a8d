"""Open API prompt tags take the leading token(s) that parse as their value and leave the rest of
the prompt as description, for every tag, in English and in the Chinese forms; a value that does
not parse at all is still refused, naming the tag."""

from __future__ import annotations

import re

import pytest

from songforge.dialects.platform.prompt_tags import PromptTagError, parse_prompt_tags


def _tags(prompt: str) -> tuple[object, ...]:
    t = parse_prompt_tags(prompt)
    return t.text, t.bpm, t.tonality, t.chords, t.duration


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        # bpm
        ("#BPM 90 warm tape hiss", ("warm tape hiss", 90, None, None, None)),
        ("#bpm: 72.6 lazy swing", ("lazy swing", 73, None, None, None)),
        ("#tempo 120bpm driving", ("driving", 120, None, None, None)),
        ("#BPM 128 BPM, big room", ("big room", 128, None, None, None)),
        ("#节奏：BPM 85 温暖的钢琴", ("温暖的钢琴", 85, None, None, None)),
        ("#速度：100温暖", ("温暖", 100, None, None, None)),
        # key
        ("#key F# minor lush pads", ("lush pads", None, "F#:minor", None, None)),
        ("#key Bb blues feel", ("blues feel", None, "Bb:major", None, None)),
        ("#key Am, rainy night", ("rainy night", None, "A:minor", None, None)),
        ("#tonality E flat major with horns", ("with horns", None, "Eb:major", None, None)),
        ("#调性：A小调 梦幻", ("梦幻", None, "A:minor", None, None)),
        ("#调：C大调温暖的弦乐", ("温暖的弦乐", None, "C:major", None, None)),
        # chords
        ("#chords Am F C G then a breakdown", ("then a breakdown", None, None, "Am F C G", None)),
        ("#chords C,Am,F,G, dreamy", ("dreamy", None, None, "C Am F G", None)),
        ("#chord Am7 | D7 G Dreamy outro", ("Dreamy outro", None, None, "Am7 | D7 G", None)),
        ("#chords C G a breakdown", ("a breakdown", None, None, "C G", None)),
        ("#和弦：C,Am,F,G 温暖", ("温暖", None, None, "C Am F G", None)),
        ("#和弦：Am、F、C、G温暖的结尾", ("温暖的结尾", None, None, "Am F C G", None)),
        # duration
        ("#duration 2:30 dreamy outro", ("dreamy outro", None, None, None, 150)),
        ("#duration 100s warm fade", ("warm fade", None, None, None, 100)),
        ("#length 2 min 30 s fade out", ("fade out", None, None, None, 150)),
        ("#duration 90 then silence", ("then silence", None, None, None, 90)),
        ("#时长: 100秒 安静的结尾", ("安静的结尾", None, None, None, 100)),
        ("#时长：2分钟30秒渐弱", ("渐弱", None, None, None, 150)),
        # all together, description after the last tag
        (
            "lo-fi #BPM 85 #key C major #chords C,Am,F,G #duration 100s with vinyl crackle",
            ("lo-fi with vinyl crackle", 85, "C:major", "C Am F G", 100),
        ),
        (
            "#节奏：BPM 85 #调性：Cmajor #和弦：C,Am,F,G #时长：100秒 温暖的钢琴",
            ("温暖的钢琴", 85, "C:major", "C Am F G", 100),
        ),
    ],
)
def test_tag_takes_its_value_and_leaves_the_description(prompt: str, expected: tuple[object, ...]) -> None:
    assert _tags(prompt) == expected


@pytest.mark.parametrize(
    ("prompt", "words"),
    [
        ("#BPM fast and loud", "#BPM needs a number, got 'fast and loud'"),
        ("#节奏：很快", "#BPM needs a number"),
        ("#BPM 300 mayhem", "#BPM 300 is out of range"),
        ("#key lush pads", "#key 'lush pads' is not a key"),
        ("#调性：温暖", "#key '温暖' is not a key"),
        ("#chords then a breakdown", "#chords: Unknown chord symbol: 'then'"),
        ("#chords C Xq", "'Xq'"),
        ("#chords C G H7 later", "'H7'"),
        ("#和弦：温暖", "#chords"),
        ("#duration forever and ever", "#duration 'forever and ever' is not a length"),
        ("#时长：很长", "#duration '很长' is not a length"),
        ("#duration 5s blip", "#duration '5s' is shorter than 10 s"),
    ],
)
def test_a_value_that_does_not_parse_names_the_tag(prompt: str, words: str) -> None:
    with pytest.raises(PromptTagError, match=re.escape(words)):
        parse_prompt_tags(prompt)
