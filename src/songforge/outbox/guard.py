"""Where outbound requests may go: the SSRF guard for callbacks (and anything else we fetch).

A callback URL comes from a client, so sending to it is making this server talk to a place the
client chose. Every address the host resolves to is checked (one bad answer is enough: a client
library would pick one at random), link-local targets (cloud metadata) are never allowed, and
private or loopback ones only where the operator allows them. The request then goes to the
address that was checked (`pinned_request`), so a DNS answer that changes between the check and
the connection cannot redirect it.

Messages name no API field: they read "callback URL must use http or https", and each dialect
names its own field with `CallbackTargetError.for_field` (`for_field("url")`: "url must use http or
https").
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from songforge.errors import InvalidInput

__all__ = [
    "MAX_URL_LENGTH",
    "CallbackTargetError",
    "checked_addresses",
    "pinned_request",
    "validate_callback_url",
]

MAX_URL_LENGTH = 1024

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class CallbackTargetError(InvalidInput):
    """The URL is malformed or points somewhere outbound requests may not go.

    `reason` is the rule it broke, phrased to follow a field name; `str()` puts the generic
    "callback URL" in front. `unresolvable` marks a DNS failure, which may pass later (the
    sender retries it); every other problem is final."""

    SUBJECT = "callback URL"

    def __init__(self, reason: str, *, unresolvable: bool = False) -> None:
        self.reason = reason
        self.unresolvable = unresolvable
        super().__init__(f"{self.SUBJECT} {reason}")

    def for_field(self, field: str) -> str:
        """The message with the caller's own name for the URL: `for_field("url")` reads
        "url must name a host"."""
        return f"{field} {self.reason}"


def _address_problem(ip: IPAddress, allow_private: bool) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_link_local:
        return "link-local addresses (cloud metadata) are never allowed"
    if ip.is_multicast:
        return "multicast addresses are not allowed"
    if allow_private:
        return None
    if ip.is_loopback:
        return "loopback addresses are not allowed"
    if ip.is_unspecified:
        return "unspecified addresses are not allowed"
    if ip.is_private or ip.is_reserved or not ip.is_global:
        return "private or reserved addresses are not allowed"
    return None


def _split_target(url: str) -> tuple[str, str, int]:
    if not isinstance(url, str) or not url:
        raise CallbackTargetError("must be a non-empty string")
    if len(url) > MAX_URL_LENGTH:
        raise CallbackTargetError(f"must be at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise CallbackTargetError(f"is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise CallbackTargetError("must use http or https")
    host = parts.hostname
    if not host:
        raise CallbackTargetError("must name a host")
    return scheme, host, port or (443 if scheme == "https" else 80)


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise CallbackTargetError(f"host {host!r} cannot be resolved", unresolvable=True) from exc
    addresses: list[str] = []
    for info in infos:
        addr = str(info[4][0]).split("%", 1)[0]
        if addr not in addresses:
            addresses.append(addr)
    if not addresses:
        raise CallbackTargetError(f"host {host!r} cannot be resolved", unresolvable=True)
    return addresses


def checked_addresses(url: str, allow_private: bool) -> list[str]:
    """Resolves the URL's host and returns its addresses, raising CallbackTargetError when any
    of them is forbidden."""
    _scheme, host, port = _split_target(url)
    addresses = _resolve(host, port)
    for addr in addresses:
        problem = _address_problem(ipaddress.ip_address(addr), allow_private)
        if problem:
            raise CallbackTargetError(f"host {host!r} resolves to {addr}: {problem}")
    return addresses


def validate_callback_url(url: str, allow_private: bool) -> None:
    """The check at submission time; raises CallbackTargetError (an InvalidInput) when refused."""
    checked_addresses(url, allow_private)


def pinned_request(url: str, address: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The URL rewritten to the checked address, plus the Host header and the httpx request
    extensions (TLS SNI) that keep the original name for the receiver and for certificate checks."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    ip_host = f"[{address}]" if ":" in address else address
    netloc = ip_host if parts.port is None else f"{ip_host}:{parts.port}"
    host_header = parts.netloc.rpartition("@")[2]
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    extensions: dict[str, Any] = {}
    if parts.scheme.lower() == "https":
        extensions["sni_hostname"] = host
    return pinned, {"host": host_header}, extensions
