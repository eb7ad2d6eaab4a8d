"""The official TemPolor Open API dialect, served at /open-apis/v1 beside /v1/tempolor.

`router` holds every route; the app mounts it with `app.include_router(router, prefix=PREFIX)`.
"""

from __future__ import annotations

from fastapi import APIRouter

from songforge.dialects.platform.routes import account, files, lyrics, music, stems

PREFIX = "/open-apis/v1"

router = APIRouter(tags=["open-api"])
for _module in (music, lyrics, stems, account, files):
    router.include_router(_module.router)

__all__ = ["PREFIX", "router"]
