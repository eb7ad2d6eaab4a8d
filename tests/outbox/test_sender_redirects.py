"""A receiver answering with a redirect gets the event again later (never at the Location), a
delivery lost for good is a WARNING, and no log line shows a callback URL's query string (receivers
put their secrets there): the real delivery loop against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from outbox_helpers import add_job, enqueue_events
from test_sender import Receiver, _run_until, _settings, _states

from songforge.outbox import store
from songforge.outbox.guard import url_for_log
from songforge.store.db import Database


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_retried_and_never_followed(tmp_path: Path, db: Database, status: int) -> None:
    recv = Receiver(statuses=[status, status])
    try:
        add_job(db, "a")
        enqueue_events(db, "a", recv.url, 1)
        asyncio.run(_run_until(db, _settings(tmp_path), lambda: _states(db)[0][2] != "pending"))
    finally:
        recv.close()
    assert _states(db) == [("a", 1, "sent", 3)]
    assert [path for _h, _b, path in recv.requests] == ["/hook?token=abc"] * 3  # never /elsewhere


def test_logs_show_host_and_path_only_and_a_lost_event_is_a_warning(
    tmp_path: Path, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    recv = Receiver(statuses=[500, 410])
    url = recv.url.replace("token=abc", "token=s3cr3t-query")
    try:
        add_job(db, "a")
        enqueue_events(db, "a", url, 1)
        with caplog.at_level(logging.DEBUG):
            asyncio.run(_run_until(db, _settings(tmp_path), lambda: _states(db)[0][2] != "pending"))
    finally:
        recv.close()
    assert _states(db) == [("a", 1, store.FAILED, 2)]
    assert "s3cr3t-query" not in caplog.text
    mine = [r for r in caplog.records if r.name == "songforge.callbacks"]
    assert [r.levelno for r in mine] == [logging.INFO, logging.WARNING]  # retried, then lost for good
    assert url.split("?")[0] in mine[-1].getMessage()
    assert not [r for r in caplog.records if r.name.startswith("httpx") and r.levelno < logging.WARNING]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pw@hooks.example.com:8443/cb/x?sig=abc#frag", "https://hooks.example.com:8443/cb/x"),
        ("http://[::1]:9/a?b", "http://[::1]:9/a"),
        ("http://[::1", "<unparseable URL>"),
    ],
)
def test_url_for_log(url: str, shown: str) -> None:
    assert url_for_log(url) == shown
