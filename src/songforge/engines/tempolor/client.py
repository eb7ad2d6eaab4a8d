"""The upstream's Open API over httpx: generate, extend, query, download, and its failures as classes.

Why the failures are classes, not codes: the engine's loop decides by kind what a failure costs
(wait and resend, drop the key, fail the job), and the kinds are the platform's own. The business
code is in the body's `status` (HTTP is 200 for most failures), so both are read. The key is sent
raw in `Authorization`, as the platform wants, and only to the upstream's API host: the audio
links it returns are fetched without it (they are signed, and may live on another host).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from songforge.errors import EngineError

__all__ = [
    "BadKey",
    "ContentViolation",
    "InsufficientPoints",
    "OpenApiClient",
    "PlatformBusy",
    "PlatformRefused",
    "Transient",
    "UpstreamError",
    "WorkLost",
]

# What each kind's query answers in (`data.<field>`), and the actions a kind is created by.
QUERY_FIELDS = {"song": "songs", "instrumental": "instrumentals", "lyrics": "lyrics", "stems": "stems"}
ACTIONS = {
    "song": ("generate", "extend"),
    "instrumental": ("generate", "extend"),
    "lyrics": ("generate",),
    "stems": ("generate",),
}
# Create endpoints that are not `/<kind>/<action>`: stems are created by `POST /stems`.
_PATHS = {("stems", "generate"): "/stems"}


class UpstreamError(EngineError):
    """Something the upstream answered (or failed to answer); `status` is its business code, or 0."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class PlatformBusy(UpstreamError):
    """400007 (queue full) or 400006 (server busy): send again later; costs the job nothing."""


class Transient(UpstreamError):
    """A timeout, a connection failure, a 5xx or 400001: the same call may work again."""


class BadKey(UpstreamError):
    """400002: the key is not (or no longer) accepted. The key is disabled, the job goes on."""


class InsufficientPoints(UpstreamError):
    """400005: the key's account is out of points. The key is paused and the job fails."""


class ContentViolation(UpstreamError):
    """400004: the platform refused the content; the job fails with its message."""


class WorkLost(UpstreamError):
    """400008: the upstream no longer knows the task."""


class PlatformRefused(UpstreamError):
    """Any other business code (400003 bad parameter, 400010 model unsupported ...): fails the job."""


_BY_STATUS: dict[int, type[UpstreamError]] = {
    400001: Transient,
    400002: BadKey,
    400004: ContentViolation,
    400005: InsufficientPoints,
    400006: PlatformBusy,
    400007: PlatformBusy,
    400008: WorkLost,
}


def error_for(status: int, message: str) -> UpstreamError:
    cls = _BY_STATUS.get(status, PlatformRefused)
    return cls(f"TemPolor upstream {status}: {message}", status)


class OpenApiClient:
    """One key against one base URL. `timeout` bounds every call; a hung upstream is a Transient."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": api_key, "Content-Type": "application/json; charset=utf-8"}
        self._timeout = timeout

    def __repr__(self) -> str:  # never the key
        return f"OpenApiClient({self.base_url!r})"

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}/open-apis/v1{path}"
        try:
            response = httpx.post(url, json=body, headers=self._headers, timeout=self._timeout)
        except httpx.TimeoutException as exc:
            raise Transient(f"TemPolor upstream timed out on {path}: {type(exc).__name__}") from None
        except httpx.HTTPError as exc:
            raise Transient(f"TemPolor upstream unreachable on {path}: {type(exc).__name__}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise Transient(f"TemPolor upstream answered HTTP {response.status_code} on {path}")
        try:
            envelope = response.json()
        except ValueError:
            raise Transient(f"TemPolor upstream answered HTTP {response.status_code} without JSON") from None
        if not isinstance(envelope, dict):
            raise Transient(f"TemPolor upstream answered an unexpected body on {path}")
        status = envelope.get("status")
        if status != 200000:
            code = status if isinstance(status, int) else 0
            raise error_for(code, str(envelope.get("message") or f"HTTP {response.status_code}"))
        data = envelope.get("data")
        return data if isinstance(data, dict) else {}

    def generate(self, kind: str, body: dict[str, Any], action: str = "generate") -> str:
        """The new task's item id. `action`: `generate`, or `extend` (a song or instrumental
        continued from the platform's own item: the body names it by `item_id`)."""
        if action not in ACTIONS.get(kind, ()):
            raise ValueError(f"the Open API has no {kind}/{action}")
        data = self._post(_PATHS.get((kind, action), f"/{kind}/{action}"), body)
        ids = data.get("item_ids")
        if not isinstance(ids, list) or not ids or not isinstance(ids[0], str):
            raise Transient("TemPolor upstream accepted the task but returned no item id")
        return ids[0]

    def query(self, kind: str, item_id: str) -> dict[str, Any]:
        """The task's item; WorkLost when the upstream does not return it."""
        data = self._post(f"/{kind}/query", {"item_ids": [item_id]})
        for item in data.get(QUERY_FIELDS[kind]) or []:
            if isinstance(item, dict) and item.get("item_id") == item_id:
                return item
        raise WorkLost(f"TemPolor upstream does not report task {item_id}", 400008)


def download(url: str, path: Path, *, timeout: float = 120.0, max_bytes: int = 512 * 1024 * 1024) -> Path:
    """Fetches a signed file link as it is (no Authorization: the key never leaves for a file host)."""
    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
            if response.status_code >= 500:
                raise Transient(f"downloading {path.name} from the upstream: HTTP {response.status_code}")
            if response.status_code != 200:
                raise UpstreamError(f"downloading {path.name} from the upstream: HTTP {response.status_code}")
            size = 0
            with open(path, "wb") as fh:
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise UpstreamError(f"downloading {path.name}: larger than {max_bytes} bytes")
                    fh.write(chunk)
    except httpx.HTTPError as exc:
        raise Transient(f"downloading {path.name} from the upstream: {type(exc).__name__}") from None
    return path
