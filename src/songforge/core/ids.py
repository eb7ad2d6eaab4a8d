"""Item ids: the domain's one name for a job, voice, MIDI file or stems task.

Why only item ids here: how an API spells an id around them (`/v1/tempolor`'s
`user:<tenant>-tempolor:<user_id>-job:<itemId>`) is that dialect's business
(`songforge.dialects.tempolor_v1.ids`); ownership is always checked by looking the item up under
the caller's tenant, never read from an id's text.
"""

from __future__ import annotations

import secrets

__all__ = ["item_id_of", "new_item_id"]


def new_item_id() -> str:
    """15 hex-ish chars like the hosted service's itemIds; random, so ids leak no counts."""
    return secrets.token_hex(8)[:15]


def item_id_of(ref: str) -> str:
    """The item a stored reference names. A job keeps references to uploads as its caller wrote
    them (`JobRequest.midi_id`, ...): a bare item id, or a dialect's id that ends in `:<item id>`
    (item ids never contain ':'). The dialect checked the reference before admitting the job."""
    return ref.rsplit(":", 1)[-1]
