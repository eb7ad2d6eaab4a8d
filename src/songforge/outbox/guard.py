"""Where outbound requests may go: the SSRF guard for callbacks (and anything else we fetch).

A callback URL comes from a client, so sending to it is making this server talk to a place the
client chose. Every address the host resolves to is checked (one bad answer is enough: a client
library would pick one at random), link-local targets (cloud metadata) are never allowed, and
private or loopback ones only where the operator allows them, and cloud metadata services (by
address or by name, `METADATA_ADDRESSES` / `METADATA_HOSTNAMES`) never. An IPv6 address that carries an
IPv4 one (IPv4-mapped, SIIT-translated, IPv4-compatible, NAT64, 6to4, Teredo) is judged by the IPv4
address too, since that is where a translator delivers it. The request then goes to the
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
    "METADATA_ADDRESSES",
    "METADATA_HOSTNAMES",
    "CallbackTargetError",
    "checked_addresses",
    "embedded_ipv4",
    "pinned_request",
    "url_for_log",
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


# Cloud metadata services: credentials for the machine itself. Refused whatever the private-target
# setting says (an operator allowing a private webhook receiver never means "and the instance role").
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Hetzner...
        "169.254.170.2",  # AWS ECS task metadata and credentials
        "169.254.170.23",  # AWS EKS Pod Identity agent
        "169.254.0.23",  # Tencent Cloud
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS EKS Pod Identity agent over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
    )
)
METADATA_HOSTNAMES: frozenset[str] = frozenset(
    {
        "metadata.google.internal",
        "metadata.goog",
        "metadata",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
        "metadata.tencentyun.com",
        "metadata.platformequinix.com",
    }
)

_NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # SIIT's IPv4-translated addresses
_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated IPv4-compatible addresses


def _v4(bits: int) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(bits & 0xFFFFFFFF)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address an IPv6 address carries by a standard translation or tunnelling scheme:
    a packet to it may end up at that IPv4 address, so the IPv4 address is what must be judged."""
    value = int(ip)
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:  # ::ffff:0:0/96
        found.append(ip.ipv4_mapped)
    if ip in _TRANSLATED or ip in _NAT64_WELL_KNOWN or ip in _COMPATIBLE:
        found.append(_v4(value))
    if ip.sixtofour is not None:  # 2002::/16
        found.append(ip.sixtofour)
    if ip.teredo is not None:  # 2001::/32: (server, client)
        found.extend(ip.teredo)
    if ip in _NAT64_LOCAL:
        # RFC 6052 places the IPv4 address after the prefix, skipping bits 64..71; a local-use prefix
        # may be /48, /56, /64 or /96 long, so every position a translator could read is judged.
        found.append(_v4(((value >> 64) & 0xFFFF) << 16 | (value >> 40) & 0xFFFF))  # /48
        found.append(_v4(((value >> 64) & 0xFF) << 24 | (value >> 32) & 0xFFFFFF))  # /56
        found.append(_v4(value >> 24))  # /64
        found.append(_v4(value))  # /96
    return found


def _address_problem(ip: IPAddress, allow_private: bool) -> str | None:
    candidates: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        candidates += embedded_ipv4(ip)
    # What no setting allows is named first, so the refusal says so even in strict mode.
    for allow in (True,) if allow_private else (True, False):
        for candidate in candidates:
            problem = _plain_problem(candidate, allow)
            if problem:
                return problem if candidate == ip else f"{problem} ({ip} carries {candidate})"
    return None


def _plain_problem(ip: IPAddress, allow_private: bool) -> str | None:
    if ip.is_link_local:
        return "link-local addresses (cloud metadata) are never allowed"
    if ip in METADATA_ADDRESSES:
        return "cloud metadata addresses are never allowed"
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
    if host.rstrip(".").lower() in METADATA_HOSTNAMES:
        raise CallbackTargetError(f"host {host!r} is a cloud metadata service: never allowed")
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


def url_for_log(url: str) -> str:
    """The URL as logs may show it: scheme, host, port and path. The query, the fragment and any
    user:password are left out: receivers put their secrets there."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparseable URL>"
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


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
