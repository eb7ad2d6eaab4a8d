"""The web studio: one page and its static files, served next to the API they drive.

The studio talks to the server only through the public `/v1/tempolor` API, so this router serves
files and nothing else. The share page (`/share/<token>`, routed by the dialect that knows works)
is served from here too (`page_response`, `message_page`), under the same policy. The files ship
as package data (no build step, no CDN): the page's Content-Security-Policy allows only this
origin, so a browser on an offline machine — or a regression that adds an external URL — cannot
reach the network from the studio.
"""

from __future__ import annotations

import html
from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from songforge.http.errors import ApiError

router = APIRouter(include_in_schema=False)

STATIC_DIR = Path(str(resources.files("songforge.http") / "studio_static"))

# `blob:` lets the player hand unzipped stems to <audio>; `data:` only for inline SVG icons.
# Inline styles are allowed because wavesurfer.js styles its shadow DOM with a <style> element;
# scripts stay restricted to our own files.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

# Explicit, because the platform's mimetypes table decides otherwise (and browsers refuse
# ES modules served as text/plain).
_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
}

_SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def static_path(relative: str) -> Path:
    """The file under STATIC_DIR that `relative` names; 404 for anything outside it.

    Resolving before the containment check defeats `..` segments and symlinks alike.
    """
    root = STATIC_DIR.resolve()
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        raise ApiError(404, "Not Found")
    if candidate.suffix.lower() not in _MEDIA_TYPES:
        raise ApiError(404, "Not Found")
    return candidate


# Pages behind a share link: not for search engines, and not kept by caches (the link expires).
SHARED_PAGE_HEADERS = {**_SECURITY_HEADERS, "Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


def page_response(relative: str, status: int = 200) -> Response:
    """An HTML page of STATIC_DIR under the studio's Content-Security-Policy."""
    page = static_path(relative)
    media = _MEDIA_TYPES[".html"]
    return FileResponse(page, status_code=status, media_type=media, headers=SHARED_PAGE_HEADERS)


def message_page(status: int, title: str, text: str) -> Response:
    """A page that only says something (a share link that is not valid, or has expired): no script,
    the studio's style sheet, the status in the HTTP answer as well as in words."""
    t, body = html.escape(title), html.escape(text)
    page = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="light dark">\n<meta name="robots" content="noindex">\n'
        f"<title>{t} · Songforge</title>\n"
        '<link rel="icon" href="/studio/static/favicon.svg" type="image/svg+xml">\n'
        '<link rel="stylesheet" href="/studio/static/studio.css">\n</head>\n<body class="share-page">\n'
        f'<main id="main">\n<section class="panel narrow" aria-labelledby="message-title">\n'
        f'<h1 id="message-title">{t}</h1>\n<p>{body}</p>\n</section>\n</main>\n</body>\n</html>\n'
    )
    return HTMLResponse(page, status_code=status, headers=SHARED_PAGE_HEADERS)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
@router.get("/studio", response_class=HTMLResponse)
async def studio_page() -> Response:
    """The studio is the landing page too: it links /docs and says how to get a token."""
    # no-cache: the page is tiny and must pick up new asset names after an upgrade.
    page = static_path("index.html")
    return FileResponse(
        page,
        media_type=_MEDIA_TYPES[".html"],
        headers={**_SECURITY_HEADERS, "Cache-Control": "no-cache"},
    )


@router.get("/studio/")
async def studio_slash() -> Response:
    return RedirectResponse("/studio", status_code=308)


@router.get("/studio/static/{relative:path}")
async def studio_static(relative: str) -> Response:
    path = static_path(relative)
    return FileResponse(
        path,
        media_type=_MEDIA_TYPES[path.suffix.lower()],
        headers={**_SECURITY_HEADERS, "Cache-Control": "no-cache"},
    )
