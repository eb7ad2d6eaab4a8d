"""Keys and scale degrees (`songforge.music.theory`)."""

from __future__ import annotations

from songforge.music.theory import Key, parse_tonality, remap_pitch


def test_tonality_and_degree_remap() -> None:
    assert parse_tonality("F#:minor") == Key(6, "minor")
    assert parse_tonality("Bb:major") == Key(10, "major")
    # E (the third of C major) goes to C (the third of A minor), not to C# (a plain shift)
    assert remap_pitch(64, Key(0, "major"), Key(9, "minor")) % 12 == 0
