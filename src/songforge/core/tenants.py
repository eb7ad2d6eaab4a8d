"""API tokens. Each token is a tenant; only its SHA-256 is stored.

Tokens look like `sf_<prefix>_<secret>`; the prefix is stored in clear so `token list` and
`token revoke` can name a token without ever showing it again.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from songforge.clock import now_ms
from songforge.store.models import Tenant


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_signing_secret() -> str:
    """Standard Webhooks secrets are `whsec_` + base64 of random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


@dataclass(frozen=True)
class CreatedToken:
    tenant_id: str
    name: str
    token: str
    prefix: str
    signing_secret: str


def create_token(session: Session, name: str = "") -> CreatedToken:
    # Tenant ids appear inside job ids, so keep them to the [A-Za-z0-9_] the id grammar allows.
    tenant_id = str(secrets.randbelow(10**9 - 10**8) + 10**8)
    while session.get(Tenant, tenant_id) is not None:
        tenant_id = str(secrets.randbelow(10**9 - 10**8) + 10**8)
    prefix = secrets.token_hex(4)
    token = f"sf_{prefix}_{secrets.token_urlsafe(32)}"
    secret = new_signing_secret()
    session.add(
        Tenant(
            id=tenant_id,
            name=name,
            token_hash=hash_token(token),
            token_prefix=prefix,
            signing_secret=secret,
            created_ms=now_ms(),
        )
    )
    session.flush()
    return CreatedToken(tenant_id, name, token, prefix, secret)


def list_tokens(session: Session) -> list[Tenant]:
    return list(session.scalars(select(Tenant).order_by(Tenant.created_ms, Tenant.id)))


def find_tenant_by_token(session: Session, token: str) -> Tenant | None:
    tenant = session.scalar(select(Tenant).where(Tenant.token_hash == hash_token(token)))
    if tenant is None or tenant.revoked_ms is not None:
        return None
    return tenant


def revoke_token(session: Session, ref: str) -> Tenant:
    """Revokes the token whose tenant id, name or prefix is `ref`. Raises LookupError when none
    or several match, so a typo never revokes the wrong token."""
    ref = ref.strip()
    if not ref:
        raise LookupError("give a token prefix, tenant id or name")
    if ref.startswith("sf_"):
        ref = ref[3:].split("_", 1)[0]
    matches = [
        t
        for t in list_tokens(session)
        if t.revoked_ms is None
        and (t.id == ref or t.token_prefix.startswith(ref) or (t.name and t.name == ref))
    ]
    if not matches:
        raise LookupError(f"no active token matches {ref!r}")
    if len(matches) > 1:
        raise LookupError(f"{len(matches)} tokens match {ref!r}; give more of the prefix or the tenant id")
    matches[0].revoked_ms = now_ms()
    return matches[0]
