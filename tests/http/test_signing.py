from __future__ import annotations

from pathlib import Path

from songforge.http import signing


def test_links_verify_until_they_expire_and_not_when_changed(tmp_path: Path) -> None:
    secret = signing.server_secret(tmp_path)
    assert signing.server_secret(tmp_path) == secret  # kept, not regenerated
    assert (tmp_path / "download-secret.key").stat().st_mode & 0o077 == 0
    link = signing.sign_path(secret, "jobs/abc/abc.wav", 60, now=1000)
    path, query = link.split("?")
    params = dict(p.split("=") for p in query.split("&"))
    assert path == "/files/jobs/abc/abc.wav"
    assert signing.verify(secret, path, params["expires"], params["sig"], now=1000)
    assert not signing.verify(secret, path, params["expires"], params["sig"], now=1061)
    assert not signing.verify(secret, "/files/jobs/abc/abc.mp3", params["expires"], params["sig"], now=1000)
    assert not signing.verify(secret, path, str(int(params["expires"]) + 1), params["sig"], now=1000)
    assert not signing.verify(b"other" * 8, path, params["expires"], params["sig"], now=1000)
    assert not signing.verify(secret, path, None, None)
