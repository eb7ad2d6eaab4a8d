"""Signed, expiring download links that work without the Bearer token.

A link is `/files/<blob key>?expires=<unix s>&sig=<hex HMAC-SHA256(secret, "<path>\\n<expires>")>`.
The secret is generated once and kept under the data dir (mode 0600), so links survive a
restart and every server process sharing the data dir agrees on them.

With a blob store that serves files itself (S3), `signed_url` returns the store's presigned URL
instead, with the same lifetime: routers keep calling `signed_url` and need not know which store
is configured. `use_blob_store` makes that choice once, when the app is built.

Share links (`/share/<token>`, a read-only page with one work's player) are signed with the same
secret: the token is `<item id>.<expires>.<base64url HMAC-SHA256(secret, "share\n<item id>\n<expires>")>`.
Nothing is stored, so a link cannot be revoked on its own: it ends when it expires, when its work
is deleted, or when the secret is replaced. The "share" prefix keeps the two kinds of MAC apart (a
file link's message starts with "/files/").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

FILES_PREFIX = "/files/"
_SECRET_NAME = "download-secret.key"
_cache: dict[Path, bytes] = {}
_presigners: dict[Path, Callable[[str, int], str | None]] = {}


def use_blob_store(data_dir: Path, store: Any) -> None:
    """Links for blobs of the app at `data_dir` come from `store.presign` when it gives one."""
    _presigners[Path(data_dir).resolve()] = store.presign


def server_secret(data_dir: Path) -> bytes:
    path = (Path(data_dir) / _SECRET_NAME).resolve()
    cached = _cache.get(path)
    if cached is not None:
        return cached
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{_SECRET_NAME}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)  # atomic create-if-absent: a concurrent first start keeps one secret
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    key = bytes.fromhex(path.read_text().strip())
    _cache[path] = key
    return key


def _mac(secret: bytes, path: str, expires: int) -> str:
    return hmac.new(secret, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()


def sign_path(secret: bytes, blob_key: str, ttl_seconds: int, now: float | None = None) -> str:
    """Path and query for `blob_key`, valid for `ttl_seconds`."""
    expires = int((now if now is not None else time.time()) + ttl_seconds)
    path = FILES_PREFIX + quote(blob_key)
    return f"{path}?expires={expires}&sig={_mac(secret, path, expires)}"


def signed_url(data_dir: Path, base_url: str, blob_key: str, ttl_seconds: int) -> str:
    """A full URL for `blob_key` (other routers, e.g. stems results, use this too)."""
    presign = _presigners.get(Path(data_dir).resolve())
    if presign is not None:
        url = presign(blob_key, ttl_seconds)
        if url is not None:
            return url
    return base_url.rstrip("/") + sign_path(server_secret(data_dir), blob_key, ttl_seconds)


def verify(secret: bytes, path: str, expires: str | None, sig: str | None, now: float | None = None) -> bool:
    if not expires or not sig or not expires.isdigit():
        return False
    if int(expires) < (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(_mac(secret, path, int(expires)), sig)


class ShareLinkInvalid(Exception):
    """The token was not made by this server (edited, truncated, or signed with another secret)."""


class ShareLinkExpired(Exception):
    """The token is this server's, but its time is up."""


def _share_mac(secret: bytes, item_id: str, expires: int) -> str:
    digest = hmac.new(secret, f"share\n{item_id}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def share_token(secret: bytes, item_id: str, ttl_seconds: int, now: float | None = None) -> tuple[str, int]:
    """A token for the share page of work `item_id`, and the unix second it stops working."""
    if not item_id or "." in item_id:
        raise ValueError("an item id has no dots")
    expires = int((now if now is not None else time.time()) + ttl_seconds)
    return f"{item_id}.{expires}.{_share_mac(secret, item_id, expires)}", expires


def read_share_token(secret: bytes, token: str, now: float | None = None) -> tuple[str, int]:
    """The item id and expiry a share token names. The signature is checked before the expiry, so
    an expired answer (a 410) is only ever given for a token this server really made."""
    parts = (token or "").split(".")
    if len(parts) != 3 or not parts[0] or not parts[1].isdigit() or len(parts[1]) > 12:
        raise ShareLinkInvalid(token)
    item_id, expires_text, mac = parts
    expires = int(expires_text)
    if not hmac.compare_digest(_share_mac(secret, item_id, expires).encode(), mac.encode()):
        raise ShareLinkInvalid(token)
    if expires < (now if now is not None else time.time()):
        raise ShareLinkExpired(token)
    return item_id, expires
