"""`/v1/tempolor` ids (`user:<tenant>-tempolor:<user_id>-<kind>:<itemId>`): written, parsed, and read
by the domain (`core.ids.item_id_of`) as the item at their end, which is what workers rely on."""

from __future__ import annotations

import pytest

from songforge.core.ids import item_id_of, new_item_id
from songforge.dialects.tempolor_v1.ids import KINDS, make_id, parse_id


@pytest.mark.parametrize("kind", KINDS)
def test_ids_round_trip_and_end_in_the_item(kind: str) -> None:
    item = new_item_id()
    value = make_id("7", "alice@x.org", item, kind)
    assert value == f"user:7-tempolor:alice@x.org-{kind}:{item}"
    parsed = parse_id(value, kind)
    assert (parsed.tenant_id, parsed.user_id, parsed.kind, parsed.item_id) == ("7", "alice@x.org", kind, item)
    assert item_id_of(value) == item


def test_malformed_or_other_kind_is_refused_with_the_spec_text() -> None:
    with pytest.raises(ValueError, match="^job_id has incorrect format$"):
        parse_id("nope")
    with pytest.raises(ValueError, match="^voice_id has incorrect format$"):
        parse_id(make_id("7", "u", "abc", "midi"), "voice")
    assert make_id("7", "u", "abc") == "user:7-tempolor:u-job:abc"
