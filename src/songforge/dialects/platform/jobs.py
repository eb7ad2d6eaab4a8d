"""Creating work through the Open API dialect, on the same jobs, queue and accounts as /v1/tempolor.

Which account a key acts for: the platform has no accounts, so each key is pinned, on first use,
to one of its tenant's accounts: the only one when the tenant has exactly one (so a tenant set
up through /v1/tempolor sees Open API jobs in its lists), else an account named `openapi`,
created with the default limits when missing. The choice is stored on the key, so adding a
second account later never moves a key's jobs elsewhere.

Jobs are ordinary `Job` rows submitted through `scheduler.submit` (maxJobs applies) from a
`JobRequest`, with the Open API parts kept in its `extra` (stored as `request["openapi"]`): the
callback URL, the platform model name, and for an extension its source. `reply_url` stays
empty, so the /v1/tempolor callback never fires for them; `openapi_callbacks` sends the
platform's events instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from songforge.clock import now_ms
from songforge.config import DEFAULT_ENGINE, UPSTREAM_ENGINE
from songforge.core import scheduler
from songforge.core.accounts import DEFAULT_MAX_JOBS
from songforge.core.availability import Readiness
from songforge.core.jobs import JobRequest, extend_block
from songforge.dialects.platform.callbacks import new_file_token
from songforge.dialects.platform.envelope import OpenApiError, Status
from songforge.dialects.platform.models import ModelChoice
from songforge.engines.registry import engine_ready, refusal
from songforge.store.models import Account, ApiKey, Job

OPENAPI_USER_ID = "openapi"
VOICE_ID_RE = re.compile(r"^SV(\d{6})$")


def account_for_key(session: Session, key: ApiKey) -> Account:
    """The account `key` acts for, choosing and pinning it on first use (see module notes)."""
    if key.user_id:
        account = _account(session, key.tenant_id, key.user_id)
        if account is not None:
            return account
    accounts = list(session.scalars(select(Account).where(Account.tenant_id == key.tenant_id).limit(2)))
    if len(accounts) == 1:
        account = accounts[0]
    else:
        account = _account(session, key.tenant_id, OPENAPI_USER_ID) or _create_openapi_account(
            session, key.tenant_id
        )
    row = session.get(ApiKey, key.id)
    if row is not None:
        row.user_id = account.user_id
    return account


def _account(session: Session, tenant_id: str, user_id: str) -> Account | None:
    return session.scalar(select(Account).where(Account.tenant_id == tenant_id, Account.user_id == user_id))


def _create_openapi_account(session: Session, tenant_id: str) -> Account:
    account = Account(
        tenant_id=tenant_id,
        user_id=OPENAPI_USER_ID,
        max_jobs=DEFAULT_MAX_JOBS,
        engine=DEFAULT_ENGINE,
        request_params={"user_id": OPENAPI_USER_ID, "createdBy": "open-apis/v1"},
        updated_ms=now_ms(),
    )
    try:
        with session.begin_nested():
            session.add(account)
    except IntegrityError:  # a concurrent first request created it
        existing = _account(session, tenant_id, OPENAPI_USER_ID)
        assert existing is not None
        return existing
    return account


def artist_voice_for(voice_id: str) -> str:
    """`SV000001`.. index the artist-voice catalogue in its listed order. Raises ValueError for a
    malformed id or one past the end of our (smaller than the platform's) catalogue."""
    from songforge.engines.singing.voices import CATALOGUE

    m = VOICE_ID_RE.match(voice_id.strip())
    if not m:
        raise ValueError(f"voice_id {voice_id!r} must be SV followed by 6 digits, e.g. SV000001")
    index = int(m.group(1))
    if not 1 <= index <= len(CATALOGUE):
        raise ValueError(
            f"voice_id {voice_id!r} is not in this server's voice catalogue "
            f"(SV000001..SV{len(CATALOGUE):06d})"
        )
    return CATALOGUE[index - 1].item_id


def voice_catalogue() -> list[dict[str, Any]]:
    """The SV ids next to the catalogue entries they stand for (documented in docs/open-api.md)."""
    from songforge.engines.singing.voices import CATALOGUE

    return [
        {"voice_id": f"SV{i:06d}", "itemId": v.item_id, "name": v.name, "labels": list(v.labels)}
        for i, v in enumerate(CATALOGUE, start=1)
    ]


@dataclass(frozen=True)
class Extension:
    """What an extend request continues from."""

    source_item_id: str
    start_time: int  # seconds into the source


@dataclass
class OpenApiWork:
    kind: str  # song | instrumental
    prompt: str  # as the user wrote it (reported back)
    engine_prompt: str  # what the engine reads (prompt tags taken out)
    model: ModelChoice | None  # None only until an extension takes its source's model
    callback_url: str
    base_url: str  # where file links in callbacks point (the URL the client used)
    lyrics: str | None = None
    artist_voice: str | None = None  # our artist voice's item id (an extension's, from its source)
    voice_id: str | None = None  # the request's `voice_id`, resolved by `submit_work`
    tonality: str | None = None
    bpm: int | None = None
    chords: str | None = None
    duration: int | None = None
    extension: Extension | None = None
    source_engine: str | None = None  # for an extension: the engine that made its source


def submit_work(session: Session, account: Account, work: OpenApiWork) -> Job:
    """Queues one job (the platform returns one id per request). Raises scheduler.AccountBusy, and
    OpenApiError 400010 for what the job's engine would refuse."""
    assert work.model is not None
    openapi: dict[str, Any] = {
        "callback_url": work.callback_url,
        "model": work.model.name,
        "prompt": work.prompt,
        "base_url": work.base_url,
        "file_token": new_file_token(),
    }
    if work.extension is not None:
        ext = work.extension
        openapi["extend"] = extend_block(ext.source_item_id, ext.start_time)
    extra: dict[str, Any] = {"openapi": openapi}
    if work.extension is not None:
        # What the worker continues from, under a key of the domain's (any dialect's extension).
        extra["extend"] = dict(openapi["extend"])
    request = JobRequest(
        kind=work.model.kind,
        prompt=work.engine_prompt,
        model=work.model.profile,
        lyrics=work.lyrics,
        tonality=work.tonality,
        bpm=work.bpm,
        chords=work.chords,
        artist_voice_id=work.artist_voice,
        duration=work.duration,
        extra=extra,
    )
    # The engine that will make it: the account's, or the first ready one of the model's route
    # (SONGFORGE_MODEL_ENGINES; for an extension, see `scheduler.engine_for` with the engine that
    # made the source). A voice does not choose the engine, but the engine decides what a voice id means.
    ready = Readiness(session, engine_ready)  # here or on a live worker (`core.availability`)
    engine = scheduler.engine_for(account, request, ready=ready, source_engine=work.source_engine)
    if work.voice_id is not None:
        request = replace(request, artist_voice_id=_voice_for(work.voice_id, engine))
    _check_engine(engine, request, ready(engine))
    jobs = scheduler.submit(session, account=account, request=request, variations=1, engine=engine)
    return jobs[0]


def _voice_for(voice_id: str, engine: str) -> str:
    """What a request's `voice_id` asks of `engine`: on the upstream engine the platform's own
    voice id, passed on as it is (the caller speaks the platform's language, and the upstream is
    the platform); on any other, the voice of ours it numbers (`artist_voice_for`), or 400003."""
    if engine == UPSTREAM_ENGINE:
        return voice_id
    try:
        return artist_voice_for(voice_id)
    except ValueError as exc:
        raise OpenApiError(Status.BAD_PARAMETER, str(exc)) from None


def _check_engine(engine: str, request: JobRequest, ready: bool) -> None:
    """400010 naming the combination when `engine` refuses `request`, before anything is queued.
    `ready`: whether it can take jobs here or on a live worker."""
    extend = request.extra.get("extend")
    reason = refusal(
        engine,
        request.kind,
        request.model,
        voice=request.artist_voice_id,
        cloned_voice=bool(request.cloned_voice_id),
        lyrics=bool(request.lyrics),
        extend_start=extend.get("start_time") if isinstance(extend, dict) else None,
        ready=ready,
    )
    if reason:
        raise OpenApiError(
            Status.MODEL_UNSUPPORTED, f"the {engine} engine cannot make this {request.kind}: {reason}"
        )


def find_jobs(session: Session, tenant_id: str, item_ids: list[str]) -> tuple[list[Job], list[str]]:
    """The tenant's jobs for `item_ids` in the order asked, and the ids it has no job for."""
    rows = {
        j.item_id: j
        for j in session.scalars(select(Job).where(Job.tenant_id == tenant_id, Job.item_id.in_(item_ids)))
    }
    return [rows[i] for i in item_ids if i in rows], [i for i in item_ids if i not in rows]
