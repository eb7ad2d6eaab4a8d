"""Where links point: the base URL of download links, preview links and Open API file links.

Why not `request.base_url`: it is built from the `Host` header, which the client writes, so
`Host: evil.example` made this server hand out `http://evil.example/...` links (and store them in Open
API records, whose callbacks carry them to other systems). In order:

1. `SONGFORGE_PUBLIC_URL` (`Settings.public_base_url`) when set: every link uses it. The setting to use
   behind a reverse proxy or a load balancer.
2. Otherwise the request's host, but only a host this server may be called by: one named in
   `SONGFORGE_TRUSTED_HOSTS`, or, when that list is empty, a loopback name or address or the address
   the server is bound to. `X-Forwarded-Host` / `X-Forwarded-Proto` replace the request's own only when
   the connection comes from an address in `SONGFORGE_TRUSTED_PROXIES`.
3. Anything else: the server's own address (`Settings.base_url`, http://host:port).
"""

from __future__ import annotations

import ipaddress
import re

from starlette.requests import Request

from songforge.config import Settings

__all__ = ["public_base_url"]

# host (a name, an IPv4 address or a bracketed IPv6 address) and an optional port; nothing else.
_HOST_RE = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\])(?::(?P<port>\d{1,5}))?$"
)
_LOOPBACK_NAMES = ("localhost",)


def _name_of(host: str) -> str | None:
    m = _HOST_RE.match(host)
    if m is None or (m.group("port") and int(m.group("port")) > 65535):
        return None
    return m.group("name").strip("[]").rstrip(".").lower()


def _is_loopback(name: str) -> bool:
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _host_allowed(name: str, settings: Settings) -> bool:
    if settings.trusted_hosts:
        return any(name == h.lower().rstrip(".") for h in settings.trusted_hosts)
    bound = settings.host.strip("[]").lower()
    return _is_loopback(name) or (name == bound and bound not in ("0.0.0.0", "::", ""))


def _from_trusted_proxy(request: Request, settings: Settings) -> bool:
    if not settings.trusted_proxies or request.client is None:
        return False
    try:
        peer = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    for entry in settings.trusted_proxies:
        try:
            if peer in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def public_base_url(request: Request, settings: Settings) -> str:
    """The base links start with, without a trailing slash (see the module docstring)."""
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    scheme = request.url.scheme
    host = request.headers.get("host", "")
    if _from_trusted_proxy(request, settings):
        forwarded_host = request.headers.get("x-forwarded-host", "").split(",")[0].strip()
        forwarded_proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        if forwarded_host:
            host = forwarded_host
        if forwarded_proto in ("http", "https"):
            scheme = forwarded_proto
    name = _name_of(host)
    if name is None or not _host_allowed(name, settings):
        return settings.base_url
    root = request.scope.get("root_path", "").rstrip("/")
    return f"{scheme}://{host.lower()}{root}"
