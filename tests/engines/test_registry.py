"""The engine registry serves every engine an account may name, and nothing else."""

from __future__ import annotations

import pytest

from songforge.config import DEFAULT_ENGINE, ENGINE_NAMES
from songforge.engines import registry


def test_every_engine_an_account_may_choose_is_registered() -> None:
    assert registry.engine_names() == ENGINE_NAMES
    assert DEFAULT_ENGINE in ENGINE_NAMES


def test_get_engine_builds_the_named_engine_and_refuses_unknown_names() -> None:
    engine = registry.get_engine("embedded")
    assert engine.name == "embedded"
    with pytest.raises(KeyError):
        registry.get_engine("suno")
