"""The ASGI application: routers, error bodies, and the background parts the server owns.

Every error leaves as {"error": "...", "code": N}, including validation errors, unknown routes and
unexpected exceptions, so clients written for the hosted service never see an HTML error page.
Generation never happens here: worker processes run it (see `songforge.workers.local`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from songforge.config import Settings
from songforge.http.auth_guard import WINDOW_SECONDS as AUTH_WINDOW_SECONDS
from songforge.http.auth_guard import AuthGuard, database_counter
from songforge.http.deps import _TenantCache
from songforge.http.errors import ApiError, api_error_handler
from songforge.http.failsafe import FailsafeMiddleware
from songforge.store.db import Database
from songforge.store.factory import open_blob_store
from songforge.store.fast_reads import JobReader
from songforge.store.private import private_dir
from songforge.wiring import dialects, install

log = logging.getLogger("songforge.http")

PREFIX = "/v1/tempolor"

_HTTP_MESSAGES = {
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request body too large",
    415: "Unsupported Media Type",
}


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path", "header")]
        field = ".".join(loc) or "request"
        parts.append(f"Parameter {field}: {err.get('msg', 'is invalid')}")
    return "; ".join(parts) or "Invalid request"


async def _validation_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"error": _validation_message(exc), "code": 400}, status_code=400)


async def _http_handler(request: Request, exc: Exception) -> Response:
    """The framework's own errors (unknown route, wrong method): in the shape of the dialect whose
    paths they are under, else the plain error body."""
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    message = detail or _HTTP_MESSAGES.get(exc.status_code, "Error")
    headers = getattr(exc, "headers", None)
    for dialect in dialects():
        if request.url.path.startswith(dialect.ERROR_PREFIX):
            return dialect.render_http_error(request, exc.status_code, message, headers)
    return JSONResponse(
        {"error": message, "code": exc.status_code}, status_code=exc.status_code, headers=headers
    )


async def _unexpected_handler(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return JSONResponse({"error": "Internal server error", "code": 500}, status_code=500)


def _document_error_bodies(app: FastAPI) -> None:
    """FastAPI documents a 422 for every route with parameters; ours answer 400 with the error
    body instead, so the schema says that."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for path in schema.get("paths", {}).values():
            for op in path.values():
                responses = op.get("responses", {})
                unprocessable = responses.pop("422", None)
                if unprocessable is not None and "400" not in responses:
                    responses["400"] = {
                        "description": "Bad Request",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
                        },
                    }
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        from songforge.dialects.tempolor_v1.schemas import DOCUMENTED_BODIES

        for model in DOCUMENTED_BODIES:
            components[model.__name__] = model.model_json_schema(ref_template="#/components/schemas/{model}")
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _freeze_startup_heap() -> None:
    """Moves everything alive once the server has started (modules, routes, schemas, the ORM's
    mappings) out of the collector's reach. Python's oldest-generation collections walk every tracked
    object, and each one stalls the event loop for all requests in flight; measured with
    `benchmarks/api_load.py` (2 workers generating, two rounds each way; benchmarks/results/
    api_load_gc_freeze_stop31.txt), submissions' p99 went from 158-169 ms to 107-117 ms with one API
    process, and to 47 ms with two (reads' p99 17 ms)."""
    gc.collect()
    gc.freeze()


def create_app(
    settings: Settings,
    *,
    run_workers: bool = True,
    run_background: bool = True,
    wake_address: str | None = None,
    freeze_heap: bool = False,
) -> FastAPI:
    """`run_workers=False` and `run_background=False` serve the API alone (tests, benchmarks that
    bring their own workers, `serve --api-processes`' other processes); `songforge serve` runs
    everything. `wake_address`: where those other processes relay their new jobs' wake-ups to this
    one's workers (`songforge.workers.wake_relay`). `freeze_heap`: a server process of its own
    (`songforge serve`) takes its startup heap out of the collector's reach (`_freeze_startup_heap`);
    not where many apps share a process, as in tests."""
    install()  # this process writes job changes too (recovery, reaping): dialects must hear of them
    private_dir(settings.data_dir)  # 0700: tenants' secrets and audio (songforge.store.private)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from songforge.store.migrate import upgrade_database

        await asyncio.to_thread(upgrade_database, settings.db_url)
        stop = asyncio.Event()
        tasks: list[asyncio.Task[Any]] = []
        pool = None
        if run_background:
            from songforge.outbox import run_delivery_loop

            tasks.append(asyncio.create_task(run_delivery_loop(app.state.db, settings, stop)))
        if run_workers and settings.workers > 0 and not settings.queue_url:
            from songforge.workers.local import WorkerPool

            pool = WorkerPool(settings, setup=install)
            app.state.db.on_jobs_queued(pool.wake_up)  # idle workers are woken, not polling
            await asyncio.to_thread(pool.start)
            app.state.worker_pool = pool
            tasks.append(asyncio.create_task(pool.supervise(stop)))
        relay = None
        if pool is not None and wake_address is not None:
            from songforge.workers.wake_relay import WakeListener

            relay = WakeListener(wake_address, pool.wake_up)
            relay.start()
        if freeze_heap:
            _freeze_startup_heap()
        try:
            yield
        finally:
            stop.set()
            if relay is not None:
                relay.close()
            for t in tasks:
                try:
                    await asyncio.wait_for(t, timeout=10)
                except (TimeoutError, asyncio.CancelledError):
                    t.cancel()
                except Exception:  # noqa: BLE001 - shutting down; the error is logged
                    log.exception("background task failed during shutdown")
            if pool is not None:
                await asyncio.to_thread(pool.stop)
            app.state.db.dispose()

    app = FastAPI(
        title="Songforge",
        version="0.1.0",
        description=(
            "Self-hosted music generation with the TemPolor API shapes (`/v1/tempolor`). "
            "Authenticate with `Authorization: Bearer <token>`; create a token with "
            '`songforge token create`. Every error is `{"error": "...", "code": N}`.'
        ),
        lifespan=lifespan,
        redirect_slashes=False,  # never a 307: both forms are routes (songforge.http.slashes)
        docs_url=None,  # /docs and /redoc come from songforge.http.docs, with files served here (no CDN)
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = Database(settings.db_url)
    app.state.blobs = open_blob_store(settings)
    from songforge.http import signing

    signing.use_blob_store(settings.data_dir, app.state.blobs)
    if settings.queue_url:
        # Scale-out: generation runs in `songforge worker` processes fed through Redis.
        from songforge.workers.distributed import dispatch_on_commit

        dispatch_on_commit(app.state.db, settings.queue_url)
    app.state.tenant_cache = _TenantCache()
    # Failures count in the database, once for every API process (`songforge.store.auth_failures`).
    app.state.auth_guard = AuthGuard(
        settings.auth_failures_per_minute, shared=database_counter(app.state.db, AUTH_WINDOW_SECONDS)
    )
    app.state.job_reader = JobReader(app.state.db)

    app.add_exception_handler(ApiError, api_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
    # Inside starlette's ServerErrorMiddleware, which re-raises after its 500 and so made uvicorn reset
    # the keep-alive connection: unexpected errors are answered here instead (see http/failsafe.py).
    # Status polls that will be answered 200 skip the router (dialects/tempolor_v1/status_reads.py).
    from songforge.dialects.tempolor_v1.status_reads import StatusReads

    app.add_middleware(StatusReads, prefix=PREFIX)
    app.add_middleware(FailsafeMiddleware)

    from songforge.dialects import tempolor_v1

    app.include_router(tempolor_v1.router, prefix=tempolor_v1.PREFIX)
    app.include_router(tempolor_v1.files_router)
    app.include_router(tempolor_v1.share_router)
    # The web studio, served at / (it is also the landing page) and /studio.
    from songforge.http import studio

    app.include_router(studio.router)
    from songforge.http.docs import docs_router

    app.include_router(docs_router(app))
    # (added by the Open API engineer) the official platform's dialect, /open-apis/v1.
    from songforge.dialects.platform import PREFIX as OPENAPI_PREFIX
    from songforge.dialects.platform import router as openapi_router

    app.include_router(openapi_router, prefix=OPENAPI_PREFIX)

    _document_error_bodies(app)

    from songforge.http.metrics import router as metrics_router

    app.include_router(metrics_router)
    # The TemPolor upstream's callbacks about tasks the `tempolor` engine sent (docs/upstream.md).
    from songforge.http.upstream_callbacks import router as upstream_callbacks_router

    app.include_router(upstream_callbacks_router)

    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    from songforge.http.slashes import SlashNormaliser

    app.add_middleware(SlashNormaliser, router=app.router)
    return app
