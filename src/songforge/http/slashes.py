"""Every path answers with or without its trailing slash; nothing is ever redirected.

The spec's curls write some paths with a trailing slash (`accounts/`, `scheduler/`, `music/?...`)
and others without, and clients copy them as written. Starlette's default answer to the form a
route was not declared with is a 307 redirect, sent before any route runs: it skips the token
check, and clients that do not follow it (or re-send DELETE as GET) see the wrong outcome. The
app is built with `redirect_slashes=False`, every route is declared without its trailing slash
(list routes whose page writes one are declared with it too), and this middleware routes the
other form instead: when a path that ends in a slash matches no route fully and the path without
it does (or only that form is known at all), the request continues as that form. Then the route
runs as usual, token check first, and answers with the statuses its page documents.

`declare_other_forms` declares those forms for a dialect's routers: the bare form of each route
declared with a slash, and each path whose id is left out (`DELETE accounts/`, `DELETE
scheduler/`) as the route with an empty id, so the handler answers its page's 400 or 404 rather
than the framework's 405.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.routing import Match, Router
from starlette.types import ASGIApp, Receive, Scope, Send


class SlashNormaliser:
    """ASGI middleware: `router` is the app's own router, asked (without side effects on the
    request) which form of the path it serves."""

    def __init__(self, app: ASGIApp, router: Router) -> None:
        self.app = app
        self.router = router

    def _match(self, scope: Scope, path: str) -> Match:
        # Matching may note things in nested scope dicts; probe on copies of them.
        probe: dict[str, Any] = {k: dict(v) if isinstance(v, dict) else v for k, v in scope.items()}
        probe["path"] = path
        best = Match.NONE
        for route in self.router.routes:
            match, _child = route.matches(probe)
            if match == Match.FULL:
                return match
            if match == Match.PARTIAL:
                best = Match.PARTIAL
        return best

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        # Every route is declared without its trailing slash (some with it too), so only a path
        # that ends in one can need the other form: the polling hot path pays nothing.
        if len(path) > 1 and path.endswith("/"):
            here = self._match(scope, path)
            if here != Match.FULL:
                there = self._match(scope, path[:-1])
                if there == Match.FULL or (here == Match.NONE and there == Match.PARTIAL):
                    scope = dict(scope)
                    scope["path"] = path[:-1]
                    raw = scope.get("raw_path")
                    if isinstance(raw, bytes) and raw.endswith(b"/"):
                        scope["raw_path"] = raw[:-1]
        await self.app(scope, receive, send)


_TRAILING_ID = re.compile(r"^(?P<prefix>.+)/\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}$")


def _without_id(endpoint: Callable[..., Any], name: str) -> Callable[..., Any]:
    """`endpoint` with its path id fixed to "": the handler's own check then answers (400 for a
    malformed id, 404 for an unknown one), after the token check like any call."""
    sig = inspect.signature(endpoint, eval_str=True)
    params = [p for n, p in sig.parameters.items() if n != name]
    call: Callable[..., Any]
    if inspect.iscoroutinefunction(endpoint):

        async def call(**kwargs: Any) -> Any:
            return await endpoint(**kwargs, **{name: ""})

    else:

        def call(**kwargs: Any) -> Any:
            return endpoint(**kwargs, **{name: ""})

    call.__signature__ = sig.replace(parameters=params)  # type: ignore[union-attr]
    call.__name__ = f"{endpoint.__name__}_without_{name}"
    return call


def declare_other_forms(routers: list[APIRouter]) -> None:
    """Adds to each router, before it is included anywhere: the form without the trailing slash
    of every route declared with one, and, for a route ending in `/{id}`, the same path with the
    id left out (for the methods no other route serves there). `routers` are looked at together,
    so `GET /music/` (a list) is never shadowed by `GET /music/{job_id}` with an empty id."""
    routes = [(r, route) for r in routers for route in r.routes if isinstance(route, APIRoute)]
    served: dict[str, set[str]] = {}
    for _r, route in routes:
        served.setdefault(route.path.rstrip("/"), set()).update(route.methods or ())
    declared = {(route.path, m) for _r, route in routes for m in route.methods or ()}
    for router, route in routes:
        methods = sorted(route.methods or ())
        common: dict[str, Any] = {
            "status_code": route.status_code,
            "response_class": route.response_class,
            "dependencies": route.dependencies,
            "include_in_schema": False,
        }
        bare = route.path.rstrip("/")
        if route.path.endswith("/") and any((bare, m) not in declared for m in methods):
            router.add_api_route(
                bare, route.endpoint, methods=methods, response_model=route.response_model, **common
            )
        m = _TRAILING_ID.match(route.path)
        missing = sorted(set(methods) - served.get(m.group("prefix"), set())) if m else []
        if m and missing:
            router.add_api_route(
                m.group("prefix"),
                _without_id(route.endpoint, m.group("name")),
                methods=missing,
                response_model=None,
                **common,
            )
            served.setdefault(m.group("prefix"), set()).update(missing)
