"""Request dependencies shared by every router: the store handles and the caller's tenant.

Auth runs on every request, including the hot status-read path, so tenant lookups are cached
in-process for a few seconds. The cache is keyed by the token's hash; a revoked token stops
working within `TOKEN_CACHE_SECONDS` (revocation happens from the CLI, another process). Failures
are limited per client address and unknown hashes remembered briefly (`songforge.http.auth_guard`),
so guessing tokens can neither go fast nor cost a database lookup each.
"""

from __future__ import annotations

import time

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from songforge.config import Settings
from songforge.core.tenants import hash_token
from songforge.http.auth_guard import AuthGuard, client_address
from songforge.http.errors import ApiError
from songforge.http.offload import off_loop
from songforge.store.blobs import BlobStore
from songforge.store.db import Database
from songforge.store.models import Account, Tenant

TOKEN_CACHE_SECONDS = 5.0
_CACHE_MAX = 10_000


class _TenantCache:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Tenant]] = {}

    def get(self, token_hash: str) -> Tenant | None:
        hit = self._entries.get(token_hash)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, token_hash: str, tenant: Tenant) -> None:
        if len(self._entries) >= _CACHE_MAX:
            self._entries.clear()
        self._entries[token_hash] = (time.monotonic() + TOKEN_CACHE_SECONDS, tenant)

    def clear(self) -> None:
        self._entries.clear()


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized")


# The dependencies are coroutines, though they never wait: FastAPI runs a plain `def` dependency in its
# thread pool, and every hop there and back costs the request a turn of the event loop. Under a load
# of status polls a turn is tens of milliseconds, so four sync dependencies made each submission wait
# four turns before its own work began.
async def get_db(request: Request) -> Database:
    return request.app.state.db


async def get_blobs(request: Request) -> BlobStore:
    return request.app.state.blobs


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def tenant_for_token(
    db: Database, cache: _TenantCache, token_hash: str, guard: AuthGuard | None = None
) -> Tenant | None:
    """The tenant of the token whose `hash_token` is `token_hash`, or None. With `guard`, a hash
    that missed moments ago is not looked up."""
    tenant = cache.get(token_hash)
    if tenant is not None:
        return tenant
    if guard is not None and guard.known_miss(token_hash):
        return None
    with db.session() as s:
        tenant = s.scalar(select(Tenant).where(Tenant.token_hash == token_hash))
        if tenant is None or tenant.revoked_ms is not None:
            if guard is not None:
                guard.missed(token_hash)
            return None
        s.expunge(tenant)
    cache.put(token_hash, tenant)
    if guard is not None:
        guard.succeeded(token_hash)
    return tenant


def too_many_failures(retry_after: int) -> ApiError:
    return ApiError(
        429,
        f"Too many failed authentication attempts from this address; retry in {retry_after} s",
        headers={"Retry-After": str(retry_after)},
    )


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


async def current_tenant(request: Request) -> Tenant:
    """The dependency form of `authenticate`, on the event loop when the token is in the cache (all
    but one request in `TOKEN_CACHE_SECONDS`; see `get_db`), else in a thread: a miss costs a lookup
    and a failed one a write (`AuthGuard.failed`), and neither should hold the loop."""
    token = bearer_token(request)
    if token is None:
        raise unauthorized()
    token_hash = hash_token(token)  # once per request: the status-poll path counts microseconds
    if request.app.state.tenant_cache.get(token_hash) is not None:
        return authenticate_hash(request, token_hash)
    return await off_loop(authenticate_hash, request, token_hash)


def authenticate(request: Request) -> Tenant:
    """The tenant whose Bearer token came with the request; 401 otherwise.

    The returned object is detached and shared between requests: read it, never change it.
    """
    token = bearer_token(request)
    if token is None:
        raise unauthorized()
    return authenticate_hash(request, hash_token(token))


def authenticate_hash(request: Request, token_hash: str) -> Tenant:
    """`authenticate` for a caller that has hashed the request's token already."""
    state = request.app.state
    guard: AuthGuard | None = getattr(state, "auth_guard", None)
    if guard is None:
        tenant = tenant_for_token(state.db, state.tenant_cache, token_hash)
    else:
        address = client_address(request, state.settings)
        wait = guard.retry_after(address, token_hash)
        if wait is not None:
            raise too_many_failures(wait)
        # Only a miss that cost a lookup counts: repeating one wrong token is neither a guess nor a load.
        looked_up = not guard.known_miss(token_hash)
        tenant = tenant_for_token(state.db, state.tenant_cache, token_hash, guard)
        if tenant is None and looked_up:
            guard.failed(address)
    if tenant is None:
        raise unauthorized()
    return tenant


def resolve_account(session: Session, tenant_id: str, user_id: str | None) -> Account:
    """The account a request acts for. `user_id` may be left out only when it is unambiguous."""
    if user_id is not None and str(user_id).strip() != "":
        account = session.scalar(
            select(Account).where(Account.tenant_id == tenant_id, Account.user_id == str(user_id))
        )
        if account is None:
            raise ApiError(404, f"Account {user_id} not found. Configure it with POST /accounts")
        return account
    accounts = list(session.scalars(select(Account).where(Account.tenant_id == tenant_id).limit(2)))
    if not accounts:
        raise ApiError(404, "No accounts configured. Configure one with POST /accounts")
    if len(accounts) > 1:
        raise ApiError(400, "Parameter user_id is required: this token has several accounts")
    return accounts[0]
