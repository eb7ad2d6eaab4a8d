"""Links never take their host from the raw Host header: a configured public URL wins, then a trusted
host, and X-Forwarded-* counts only from a configured proxy (the artist-voice catalogue's preview links,
through the real app, and `public_base_url` on its own)."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.requests import Request

from inprocess_app import open_app
from songforge.config import Settings
from songforge.http.public_url import public_base_url


def _preview(tmp_path: Path, headers: dict[str, str], **settings: object) -> str:
    with open_app(tmp_path, **settings) as api:
        r = api.client.post(
            "/v1/tempolor/accounts", json={"requestParams": {"user_id": "u1"}}, headers=api.bearer
        )
        assert r.status_code == 200
        r = api.client.get("/v1/tempolor/music/artist-voices/", headers={**api.bearer, **headers})
        assert r.status_code == 200
        return str(r.json()["records"][0]["resourceUrl"])


def test_a_forged_host_header_does_not_make_links(tmp_path: Path) -> None:
    url = _preview(tmp_path, {"host": "evil.example"}, port=8123)
    assert url.startswith("http://127.0.0.1:8123/v1/tempolor/music/artist-voices/")


def test_the_configured_public_url_wins(tmp_path: Path) -> None:
    url = _preview(tmp_path, {"host": "evil.example"}, public_base_url="https://music.example.com/")
    assert url.startswith("https://music.example.com/v1/tempolor/music/artist-voices/")


def test_public_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SONGFORGE_PUBLIC_URL", "https://m.example.org")
    assert Settings().public_base_url == "https://m.example.org"


def _request(host: str, client: str = "203.0.113.9", **headers: str) -> Request:
    raw = [(b"host", host.encode())] + [
        (k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()
    ]
    scope = {
        "type": "http",
        "scheme": "http",
        "path": "/",
        "root_path": "",
        "headers": raw,
        "client": (client, 1),
    }
    return Request(scope)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost:8000", "http://localhost:8000"),
        ("127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("[::1]:8000", "http://[::1]:8000"),
        ("evil.example", "http://127.0.0.1:8000"),
        ("evil.example/x?y", "http://127.0.0.1:8000"),
        ("", "http://127.0.0.1:8000"),
        ("localhost:99999", "http://127.0.0.1:8000"),
    ],
)
def test_without_settings_only_loopback_hosts_are_trusted(host: str, expected: str) -> None:
    assert public_base_url(_request(host), Settings(workers=0)) == expected


def test_trusted_hosts_list() -> None:
    settings = Settings(workers=0, trusted_hosts=("music.example.com",))
    assert public_base_url(_request("MUSIC.example.com:8443"), settings) == "http://music.example.com:8443"
    assert public_base_url(_request("localhost"), settings) == "http://127.0.0.1:8000"


def test_forwarded_headers_only_from_trusted_proxies() -> None:
    fwd = {"x_forwarded_host": "music.example.com", "x_forwarded_proto": "https"}
    trusting = Settings(workers=0, trusted_proxies=("10.0.0.0/8",), trusted_hosts=("music.example.com",))
    assert (
        public_base_url(_request("10.0.0.2:80", "10.1.2.3", **fwd), trusting) == "https://music.example.com"
    )
    # The same headers from an address that is not a configured proxy are ignored.
    assert public_base_url(_request("10.0.0.2:80", "203.0.113.9", **fwd), trusting) == "http://127.0.0.1:8000"
    assert (
        public_base_url(_request("localhost", "10.1.2.3", **fwd), Settings(workers=0)) == "http://localhost"
    )
