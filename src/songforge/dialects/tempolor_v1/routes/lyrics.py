"""POST /music/lyrics: lyrics written from a prompt, to read and edit before the song is made (a
route of our own, for the studio's "Write lyrics").

The spec has no lyrics call (the Open API's lyrics/generate has one, behind its own keys). These
are the lyrics a song asked for without any gets: the same writer (`engines.singing.plan_lyrics`
given no lyrics), so what the user reads is what a song from this prompt would sing; sent back as
the song's `lyrics`, it is exactly what the song sings. Writing takes a moment (a grammar, not a
model), so the answer carries the lyrics: nothing is queued or stored, and the account's slots are
not touched. Each call writes anew (a fresh seed), so asking again gives other lyrics.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from songforge.dialects.tempolor_v1.common import read_body
from songforge.dialects.tempolor_v1.params import PROMPT_MAX, _text
from songforge.dialects.tempolor_v1.schemas import doc
from songforge.errors import InvalidInput
from songforge.http.deps import current_tenant
from songforge.http.errors import ApiError
from songforge.store.models import Tenant

router = APIRouter(tags=["music"])


class WrittenLyrics(BaseModel):
    lyrics: str = Field(description="Section-tagged lyrics ([Verse], [Chorus], ...), one line a line")


def write_lyrics(prompt: str, seed: int | None = None) -> str:
    from songforge.engines.singing import lyrics_text, plan_lyrics

    seed = secrets.randbelow(2**31 - 1) if seed is None else seed
    return lyrics_text(plan_lyrics(None, prompt, seed)).strip() + "\n"


@router.post(
    "/music/lyrics",
    response_model=None,
    responses=doc(WrittenLyrics, 400, 401),
    summary="Write lyrics from a prompt, to edit and send as a song's lyrics (a route of our own)",
    description=(
        f"Body (JSON or form data): `prompt`, required, at most {PROMPT_MAX} characters, as for POST "
        "/music/song. The answer's `lyrics` are what a song from this prompt without lyrics would "
        "sing; each call writes anew."
    ),
)
async def post_lyrics(request: Request, tenant: Tenant = Depends(current_tenant)) -> Any:
    body = await read_body(request)
    try:
        prompt = _text(body, "prompt", PROMPT_MAX, required=True)
    except InvalidInput as exc:
        raise ApiError(400, str(exc)) from None
    assert prompt is not None
    if not any(c.isalnum() for c in prompt):
        raise ApiError(400, "Parameter prompt must have words to write lyrics from")
    return {"lyrics": await run_in_threadpool(write_lyrics, prompt.strip())}
