"""Fetching the audio a `stems` request names by URL, with the callbacks' outbound guard.

A URL from a client is an invitation to make this server fetch something on the client's
behalf, so the same rules as callbacks apply: the host's every address is checked (no
link-local/metadata targets ever; no private or loopback ones unless the operator allows
private callbacks), the request goes to the checked address (DNS cannot change its answer in
between), redirects are followed by hand and each hop is checked again, the body is capped at
`max_bytes` while it streams, and the whole fetch has a deadline.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urljoin

import httpx

from songforge.errors import InvalidInput
from songforge.outbox import CallbackTargetError, checked_addresses, pinned_request

MAX_REDIRECTS = 5
CONNECT_TIMEOUT_S = 10.0
TOTAL_TIMEOUT_S = 120.0


class FetchError(InvalidInput):
    """Why the URL could not be fetched; safe to show the client."""


async def fetch_to_file(
    url: str, dest: Path, *, allow_private: bool, max_bytes: int, total_timeout_s: float = TOTAL_TIMEOUT_S
) -> str:
    """Downloads `url` into `dest`; returns the response's Content-Type (may be empty)."""
    try:
        return await asyncio.wait_for(
            _fetch(url, dest, allow_private=allow_private, max_bytes=max_bytes), timeout=total_timeout_s
        )
    except TimeoutError:
        dest.unlink(missing_ok=True)
        raise FetchError(f"url: the download did not finish within {total_timeout_s:.0f} s") from None


async def _fetch(url: str, dest: Path, *, allow_private: bool, max_bytes: int) -> str:
    timeout = httpx.Timeout(30.0, connect=CONNECT_TIMEOUT_S)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                addresses = await asyncio.to_thread(checked_addresses, url, allow_private)
            except CallbackTargetError as exc:
                raise FetchError(exc.for_field("url")) from None
            pinned, host_header, extensions = pinned_request(url, addresses[0])
            try:
                async with client.stream("GET", pinned, headers=host_header, extensions=extensions) as resp:
                    if resp.status_code in (301, 302, 303, 307, 308):
                        location = resp.headers.get("location")
                        if not location:
                            raise FetchError(f"url: HTTP {resp.status_code} without a Location")
                        url = urljoin(url, location)
                        continue
                    if resp.status_code != 200:
                        raise FetchError(f"url: the server answered HTTP {resp.status_code}")
                    declared = resp.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > max_bytes:
                        raise FetchError(f"url: the file is larger than {max_bytes} bytes")
                    size = 0
                    with dest.open("wb") as f:
                        async for chunk in resp.aiter_bytes():
                            size += len(chunk)
                            if size > max_bytes:
                                raise FetchError(f"url: the file is larger than {max_bytes} bytes")
                            f.write(chunk)
                    if size == 0:
                        raise FetchError("url: the server sent an empty body")
                    return resp.headers.get("content-type", "")
            except httpx.HTTPError as exc:
                dest.unlink(missing_ok=True)
                raise FetchError(f"url could not be fetched: {type(exc).__name__}") from None
            except FetchError:
                dest.unlink(missing_ok=True)
                raise
        raise FetchError(f"url: more than {MAX_REDIRECTS} redirects")
