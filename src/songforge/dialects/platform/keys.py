"""Open API keys: the `Tempo-<32 chars>-3w` credentials the official TemPolor platform issues.

A key is a second way into a tenant, next to its Bearer token, so jobs made through either
dialect belong to the same tenant and show up in both. Only the SHA-256 of a key is stored; the
short prefix kept in clear lets the CLI list and revoke keys without ever showing them again.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from songforge.clock import now_ms
from songforge.store.models import ApiKey, Tenant

KEY_RE = re.compile(r"^Tempo-[A-Za-z0-9]{32}-3w$")
PREFIX_LEN = 8
_ALPHABET = string.ascii_letters + string.digits


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """32 random alphanumerics (~190 bits) between the platform's `Tempo-` and `-3w`."""
    return "Tempo-" + "".join(secrets.choice(_ALPHABET) for _ in range(32)) + "-3w"


def key_from_header(header: str | None) -> str | None:
    """The key in an Authorization header: raw, as the platform sends it, or after `Bearer `."""
    if not header:
        return None
    value = header.strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "bearer":
        value = rest.strip()
    return value if KEY_RE.match(value) else None


@dataclass(frozen=True)
class CreatedKey:
    id: int
    tenant_id: str
    key: str
    prefix: str
    name: str


def create_key(session: Session, tenant_id: str, name: str = "") -> CreatedKey:
    """Raises LookupError when the tenant does not exist or is revoked: a key must never
    outlive or precede the tenant it opens."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None or tenant.revoked_ms is not None:
        raise LookupError(f"no active tenant {tenant_id!r}")
    key = new_key()
    row = ApiKey(
        tenant_id=tenant_id,
        key_hash=hash_key(key),
        prefix=key[6 : 6 + PREFIX_LEN],
        name=name,
        created_ms=now_ms(),
    )
    session.add(row)
    session.flush()
    return CreatedKey(row.id, tenant_id, key, row.prefix, name)


def find_key(session: Session, key: str) -> ApiKey | None:
    """The active key row for `key`, or None when unknown, revoked, or its tenant is revoked."""
    if not KEY_RE.match(key or ""):
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    if row is None or row.revoked_ms is not None:
        return None
    tenant = session.get(Tenant, row.tenant_id)
    if tenant is None or tenant.revoked_ms is not None:
        return None
    return row


def list_keys(session: Session, tenant_id: str | None = None) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.created_ms, ApiKey.id)
    if tenant_id is not None:
        query = query.where(ApiKey.tenant_id == tenant_id)
    return list(session.scalars(query))


def revoke_key(session: Session, ref: str) -> ApiKey:
    """Revokes the active key whose prefix (or whole key) is `ref`. Raises LookupError when none
    or several match, so a short prefix never revokes the wrong key."""
    ref = ref.strip()
    if ref.startswith("Tempo-"):
        ref = ref[6 : 6 + PREFIX_LEN]
    if not ref:
        raise LookupError("give a key prefix")
    matches = [k for k in list_keys(session) if k.revoked_ms is None and k.prefix.startswith(ref)]
    if not matches:
        raise LookupError(f"no active key matches {ref!r}")
    if len(matches) > 1:
        raise LookupError(f"{len(matches)} keys match {ref!r}; give more of the prefix")
    matches[0].revoked_ms = now_ms()
    return matches[0]
