"""File names for downloads: a work's title, made safe for every file system and for an HTTP header.

Titles are written by users and engines, so they may hold anything: slashes, quotes, control
characters, emoji. A browser names a download after the server's `Content-Disposition`, not the
page's `download` attribute, so the name has to be right here. The header carries it twice
(RFC 6266): an ASCII `filename` for old clients and the exact UTF-8 name in `filename*`.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

MAX_STEM = 120  # characters before the extension; file systems allow 255 bytes
_RESERVED = re.compile(r'[\\/:*?"<>|]+')  # not allowed in a name on Windows, or a path on POSIX
_SPACES = re.compile(r"\s+")
_RFC5987_SAFE = "!#$&+-.^_`|~"  # attr-char besides letters and digits (RFC 5987)


def safe_stem(text: str, fallback: str = "track", limit: int = MAX_STEM) -> str:
    """`text` without control characters and path or reserved characters, on one line."""
    kept = "".join(" " if unicodedata.category(c).startswith("C") else c for c in text or "")
    kept = _SPACES.sub(" ", _RESERVED.sub("_", unicodedata.normalize("NFC", kept))).strip(" ._")
    return kept[:limit].rstrip(" ._") or fallback


def download_name(title: str, extension: str, variation: int = 1, fallback: str = "track") -> str:
    """`Title.mp3`, or `Title (2).mp3` for the second variation of a request that shares its title."""
    stem = safe_stem(title, fallback)
    if variation > 1:
        stem = f"{stem} ({variation})"
    ext = re.sub(r"[^A-Za-z0-9]", "", extension)
    return f"{stem}.{ext}" if ext else stem


def content_disposition(name: str) -> str:
    """`attachment` with an ASCII fallback name and the exact one, percent-encoded as UTF-8."""
    name = safe_stem(name, "download", limit=200)  # it may come from a link's query: clean it again
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r"[^\w .()\-\[\]+,&!#$@^~']", "_", ascii_name)
    ascii_name = _SPACES.sub(" ", ascii_name).strip(" _") or "download"
    if "." in name and "." not in ascii_name:
        ascii_name += name[name.rfind(".") :].encode("ascii", "ignore").decode()
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe=_RFC5987_SAFE)}"
