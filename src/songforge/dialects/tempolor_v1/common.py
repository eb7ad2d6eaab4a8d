"""Helpers the routers share: body parsing and job lookup under the caller's tenant."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from songforge.dialects.tempolor_v1.ids import parse_id
from songforge.dialects.tempolor_v1.records import job_id_of
from songforge.errors import InvalidInput
from songforge.http.body import BodyTimeout, BodyTooLarge, check_text, parse_json, read_capped, replay
from songforge.http.errors import ApiError
from songforge.store.models import Job

_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
# Cursors hold a creation time in ms: anything outside a 64-bit column is no cursor we made.
_CURSOR_MS_MAX = 2**63 - 1


def _edge_error(exc: InvalidInput) -> ApiError:
    if isinstance(exc, BodyTooLarge):
        return ApiError(413, str(exc))
    if isinstance(exc, BodyTimeout):
        return ApiError(408, str(exc))
    return ApiError(400, str(exc))


async def read_body(request: Request) -> dict[str, Any]:
    """The body as a dict from JSON or form data. `curl -d '{...}'` sends JSON labelled as a
    urlencoded form, so a form body that looks like JSON is read as JSON.

    The body is capped while it streams (413), must arrive within the body timeout (408), and is
    checked for what cannot be stored (too deep, lone surrogates: 400) before any field is read:
    see `songforge.http.body`."""
    settings = request.app.state.settings
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        raw = await read_capped(request, settings.max_body_bytes, settings.body_timeout_seconds)
        if ctype in _FORM_TYPES:
            if ctype == "application/x-www-form-urlencoded" and raw.lstrip().startswith(b"{"):
                return _json(raw)
            try:
                form = await replay(request, raw).form()
            except Exception as exc:  # noqa: BLE001 - malformed multipart is the client's error
                raise ApiError(400, f"Request body is not valid form data: {exc}") from None
            out: dict[str, Any] = {}
            for key, value in form.multi_items():
                check_text(key, "A form field name")
                if isinstance(value, str):
                    out[key] = check_text(value, f"Parameter {key}")
                elif value.filename is not None:
                    check_text(value.filename, f"The file name of {key}")
            return out
        if not raw.strip():
            return {}
        return _json(raw)
    except InvalidInput as exc:
        raise _edge_error(exc) from None


def _json(raw: bytes) -> dict[str, Any]:
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return data


def parse_job_id(job_id: str) -> str:
    try:
        return parse_id(job_id, "job").item_id
    except ValueError:
        raise ApiError(400, "job_id has incorrect format") from None


def find_job(session: Session, tenant_id: str, job_id: str) -> Job:
    """The caller's job, or 404 as if it did not exist (another tenant's jobs included)."""
    item_id = parse_job_id(job_id)
    job = session.get(Job, item_id)
    if job is None or job.tenant_id != tenant_id or job_id_of(job) != job_id:
        raise ApiError(404, f"No record found for {job_id}")
    return job


def encode_cursor(kind: str, created_ms: int, item_id: str) -> str:
    """An opaque keyset cursor: lists stay stable while new items arrive."""
    raw = json.dumps([kind, created_ms, item_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        ckind, created_ms, item_id = parse_json(raw)
        if (
            ckind != kind
            or not isinstance(created_ms, int)
            or isinstance(created_ms, bool)
            or not 0 <= created_ms <= _CURSOR_MS_MAX
            or not isinstance(item_id, str)
        ):
            raise ValueError
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ApiError(400, "Invalid cursor parameter") from None
    return created_ms, item_id
