"""Artist-voice previews: two short sung lines per catalogue voice, so a listener can judge it.

Apart from `voices` because it runs the whole singer, which itself picks voices from the catalogue.
"""

from __future__ import annotations

from pathlib import Path

from songforge.engines.singing.voices import PREVIEW_LYRICS, artist_voice

# Bumped whenever the singer changes how a voice sounds: previews are kept once rendered (in the blob
# store, under this revision), so an upgraded server renders them again instead of serving the old
# singer's. 2: joe re-pitched by overlap-add, chorus parts as takes of their own.
# 3: word-initial consonants held longer, the formant warp on consonants too.
PREVIEW_REVISION = 3


def preview_key(item_id: str) -> str:
    """Where a voice's preview is kept: per revision and per singer (`SONGFORGE_SINGER`), so an
    operator who switches singers hears the one that sings their songs."""
    from songforge.config import singer_engine

    return f"artist-voices/r{PREVIEW_REVISION}/{singer_engine()}/{item_id}.mp3"


def render_preview(item_id: str, path: Path) -> None:
    """Sing two short lines in this voice so that a listener can judge it. Written as WAV or MP3
    according to `path`'s suffix. Raises KeyError for an unknown voice."""
    import numpy as np
    import soundfile as sf

    from songforge.engines.singing.lyrics import plan_lyrics
    from songforge.engines.singing.singer import sing

    voice = artist_voice(item_id)
    if voice is None:
        raise KeyError(item_id)
    sections = plan_lyrics(PREVIEW_LYRICS, "", 0)
    chords = ["C", "Am", "F", "G"] if voice.gender == "female" else ["G", "Em", "C", "D"]
    key = "C:major" if voice.gender == "female" else "G:major"
    vocals = sing(
        sections=sections,
        key=key,
        bpm=96,
        bar_chords=chords,
        section_bars=[("verse", 0, 4)],
        voice=voice,
        seed=7,
    )
    audio = vocals.audio
    peak = float(np.max(np.abs(audio))) or 1.0
    audio = (audio * (0.8 / peak)).astype(np.float32)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = "MP3" if path.suffix.lower() == ".mp3" else "WAV"
    sf.write(str(path), audio, 44100, format=fmt)
