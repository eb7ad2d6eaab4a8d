"""The API documentation pages (/docs: Swagger UI, /redoc: ReDoc), with every file served by us.

FastAPI's own pages load their scripts from a CDN, so on a machine without internet /docs was a
blank page. The fastapi-offline package ships the Swagger UI and ReDoc bundles; we serve those
files from /docs/static and build the pages with FastAPI's own helpers pointed at them. The pages
get a Content-Security-Policy of their own: the helpers write one inline <script> (the UI's set-up),
so scripts may be inline here, but nothing may be fetched from any other origin, just as in the
studio, whose stricter policy is untouched.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from songforge.http.errors import ApiError

STATIC_URL = "/docs/static"
ASSETS_DIR = Path(str(resources.files("fastapi_offline") / "static"))

DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
_HEADERS = {"Content-Security-Policy": DOCS_CONTENT_SECURITY_POLICY, "X-Content-Type-Options": "nosniff"}
_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
# No validator badge: Swagger UI would send the spec to an outside validator to draw it.
_SWAGGER_PARAMETERS = {"validatorUrl": None}
# ReDoc's sidebar shows its maker's logo from their CDN; the bundle is served with that one URL
# pointing at a file of ours instead (the CSP would block it, but then the page logs an error).
_OUTSIDE_PICTURES = {
    "redoc.standalone.js": (b"https://cdn.redoc.ly/redoc/logo-mini.svg", b"/docs/static/favicon.png")
}


@functools.cache
def _asset_bytes(name: str) -> bytes:
    data = (ASSETS_DIR / name).read_bytes()
    if name in _OUTSIDE_PICTURES:
        outside, ours = _OUTSIDE_PICTURES[name]
        data = data.replace(outside, ours)
    return data


def docs_router(app: FastAPI) -> APIRouter:
    """Routes for /docs, /docs/oauth2-redirect, /redoc and their files; build the app with
    `docs_url=None, redoc_url=None` so FastAPI does not add its CDN pages as well."""
    router = APIRouter(include_in_schema=False)
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"
    favicon = f"{STATIC_URL}/favicon.png"

    @router.get("/docs")
    async def swagger_ui() -> Response:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=redirect_url,
            swagger_js_url=f"{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=favicon,
            swagger_ui_parameters={**_SWAGGER_PARAMETERS, **(app.swagger_ui_parameters or {})},
        )
        page.headers.update(_HEADERS)
        return page

    @router.get(redirect_url)
    async def swagger_ui_redirect() -> Response:
        page = get_swagger_ui_oauth2_redirect_html()
        page.headers.update(_HEADERS)
        return page

    @router.get("/redoc")
    async def redoc() -> Response:
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{STATIC_URL}/redoc.standalone.js",
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )
        page.headers.update(_HEADERS)
        return page

    @router.get(STATIC_URL + "/{name}")
    async def asset(name: str) -> Response:
        media = _ASSETS.get(name)
        if media is None or not (ASSETS_DIR / name).is_file():
            raise ApiError(404, "Not Found")
        body = await run_in_threadpool(_asset_bytes, name)
        return Response(body, media_type=media, headers={"Cache-Control": "public, max-age=86400"})

    return router
