"""POST /v1/tempolor/music/lyrics, our own route for the studio's "Write lyrics" (in-process app):
token first, a prompt required, section-tagged lyrics back at once (nothing queued, no slot used),
and the written lyrics, sent as a song's `lyrics`, are what the song is asked to sing."""

from __future__ import annotations

import re
from pathlib import Path

from inprocess_app import open_app
from songforge.store.models import Job

T = "/v1/tempolor"
PROMPT = "a song about a train leaving town at dawn"


def test_lyrics_are_written_from_the_prompt_with_section_tags(tmp_path: Path) -> None:
    with open_app(tmp_path) as box:
        for path in (f"{T}/music/lyrics", f"{T}/music/lyrics/"):
            r = box.client.post(path, json={"prompt": PROMPT}, headers=box.bearer)
            assert r.status_code == 200, r.text
            lyrics = r.json()["lyrics"]
            assert set(r.json()) == {"lyrics"}
            lines = [line for line in lyrics.splitlines() if line.strip()]
            tags = [line for line in lines if re.fullmatch(r"\[[^\]]+\]", line)]
            sung = [line for line in lines if line not in tags]
            assert "[Verse]" in tags and "[Chorus]" in tags, lyrics
            assert len(sung) >= 6 and all(re.search(r"[A-Za-z]", line) for line in sung), lyrics
            assert lines[0] in tags  # a section tag heads the lyrics
        # Nothing was queued or stored.
        with box.app.state.db.session() as s:
            assert s.query(Job).count() == 0


def test_written_lyrics_sent_with_a_song_are_what_it_sings(tmp_path: Path) -> None:
    with open_app(tmp_path) as box:
        c, h = box.client, box.bearer
        assert c.post(f"{T}/accounts", json={"requestParams": {"user_id": "u"}}, headers=h).status_code == 200
        lyrics = c.post(f"{T}/music/lyrics", json={"prompt": PROMPT}, headers=h).json()["lyrics"]
        r = c.post(f"{T}/music/song", json={"prompt": PROMPT, "lyrics": lyrics, "user_id": "u"}, headers=h)
        assert r.status_code == 200, r.text
        record = c.get(f"{T}/music/{r.json()['jobs'][0]}", headers=h).json()
        assert record["settings"]["lyrics"] == lyrics


def test_token_first_then_a_prompt_with_words(tmp_path: Path) -> None:
    with open_app(tmp_path) as box:
        assert box.client.post(f"{T}/music/lyrics", json={"prompt": PROMPT}).status_code == 401
        for body, message in (
            ({}, "Parameter prompt is required"),
            ({"prompt": "   "}, "Parameter prompt is required"),
            ({"prompt": ["x"]}, "Parameter prompt must be a string"),
            ({"prompt": "x" * 2001}, "Parameter prompt must be at most 2000 characters (got 2001)"),
            ({"prompt": "?!  ..."}, "Parameter prompt must have words to write lyrics from"),
        ):
            r = box.client.post(f"{T}/music/lyrics", json=body, headers=box.bearer)
            assert r.status_code == 400, (body, r.text)
            assert r.json() == {"error": message, "code": 400}
