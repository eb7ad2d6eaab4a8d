"""Item ids (`songforge.core.ids`): random, and found again inside whatever reference a job stored."""

from __future__ import annotations

from songforge.core.ids import item_id_of, new_item_id


def test_new_item_ids_are_short_random_and_alphanumeric() -> None:
    ids = {new_item_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 15 and i.isalnum() and ":" not in i for i in ids)


def test_item_id_of_reads_a_bare_id_or_the_end_of_a_dialect_id() -> None:
    assert item_id_of("abc123") == "abc123"
    assert item_id_of("user:7-tempolor:u:1-voice:abc123") == "abc123"
    assert item_id_of("anything:else:abc123") == "abc123"
