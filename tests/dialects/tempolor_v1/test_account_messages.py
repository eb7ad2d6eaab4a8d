"""POST /v1/tempolor/accounts words the domain's account refusals as the spec does ("Parameter
requestParams.engine must be one of: ..."): the domain names `request_params` and `max_jobs`, this
dialect its own parameters. The texts are the ones clients saw when the domain still wrote them.
Runs the real app in-process on a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from songforge.config import ENGINE_NAMES, Settings
from songforge.core.tenants import create_token
from songforge.dialects.tempolor_v1.errors import parameter_message
from songforge.errors import InvalidField
from songforge.server import create_app

ENGINES = ", ".join(ENGINE_NAMES)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    app = create_app(Settings(data_dir=tmp_path, workers=0), run_workers=False, run_background=False)
    with TestClient(app) as test_client:
        with app.state.db.session() as s:
            created = create_token(s, "t")
        yield test_client, {"Authorization": f"Bearer {created.token}"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Parameter requestParams is required"),
        ({"requestParams": [1]}, "Parameter requestParams must be an object"),
        ({"requestParams": {}, "maxJobs": 0}, "Parameter maxJobs must be between 1 and 100"),
        ({"requestParams": {}, "maxJobs": 101}, "Parameter maxJobs must be between 1 and 100"),
        ({"requestParams": {}, "maxJobs": "x"}, "Parameter maxJobs must be an integer between 1 and 100"),
        (
            {"requestParams": {"engine": "suno"}},
            f"Parameter requestParams.engine must be one of: {ENGINES} (got 'suno')",
        ),
        (
            {"requestParams": {"user_id": "a/b"}},
            "Parameter requestParams.user_id must be at most 128 letters, digits or ._@+-",
        ),
        (
            {"requestParams": {"ucid": "x" * 129}},
            "Parameter requestParams.ucid must be at most 128 letters, digits or ._@+-",
        ),
    ],
)
def test_account_refusals_read_as_the_spec_words_them(
    client: tuple[TestClient, dict[str, str]], body: dict[str, Any], message: str
) -> None:
    test_client, bearer = client
    r = test_client.post("/v1/tempolor/accounts", json=body, headers=bearer)
    assert (r.status_code, r.json()) == (400, {"error": message, "code": 400})


def test_parameter_message_maps_the_domain_name_and_keeps_the_key() -> None:
    assert parameter_message(InvalidField("max_jobs", "must be between 1 and 100")) == (
        "Parameter maxJobs must be between 1 and 100"
    )
    assert parameter_message(InvalidField("request_params", "is required", key="lang")) == (
        "Parameter requestParams.lang is required"
    )
    # A name this dialect has no spelling for is said as the domain says it.
    assert (
        parameter_message(InvalidField("seconds", "must be positive")) == "Parameter seconds must be positive"
    )
