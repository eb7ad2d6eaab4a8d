"""Joining a deployment (`songforge serve` and `songforge worker` at start) and `songforge deployment`.

Why at start and in the CLI: a process on the wrong database or broker must refuse before it
accepts or takes any job, with status 2 and the reason, as `config.deployment_problem` does for the
configurations that cannot work on their face. Those checks need the settings only; these need the
database and the broker (`songforge.store.deployment`, `songforge.workers.distributed.claim_broker`).

What each process does with the callback-target policy (private/loopback replyUrl targets):

- `songforge serve --allow-private-callbacks` / `--no-allow-private-callbacks` stores it for every
  process of the deployment (a change is announced on stderr); without the flag an API keeps an
  operator's stored choice, and otherwise records its own default (allowed only on a loopback
  `--host`, as before), so the workers follow what the API accepts at submit.
- `songforge worker` never sets it: without the flag it follows the stored policy; a flag that
  contradicts it, or that is given while nothing is stored, is refused with status 2.
- `songforge deployment private-callbacks allow|refuse` sets it without a restart (every process
  reads it again within `store.deployment.POLICY_TTL_S`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from songforge.cli.common import DataDir, DbUrl, QueueUrl, build_settings, err, open_db, out
from songforge.config import Settings

if TYPE_CHECKING:
    from songforge.store.db import Database
    from songforge.store.deployment import CallbackPolicy

__all__ = ["deployment_app", "join_deployment"]

deployment_app = typer.Typer(
    help="The settings every API and worker of a deployment shares (kept in the database).",
    no_args_is_help=True,
)


def _refuse(reason: str) -> NoReturn:
    err.print(f"[red]Cannot start: {reason}[/red]", soft_wrap=True)
    raise typer.Exit(2)


def _db_for_log(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _flag(allowed: bool) -> str:
    return "--allow-private-callbacks" if allowed else "--no-allow-private-callbacks"


def join_deployment(settings: Settings, command: str, private_flag: bool | None) -> None:
    """For `songforge serve` (command "serve") or `songforge worker`: migrates the database, makes
    sure it holds a deployment id and, with a queue, that the broker holds the same one; then
    records (serve) or checks (worker) the callback policy. Exits with status 2 and the reason
    when the process belongs to another deployment than its broker or contradicts the policy."""
    from songforge.store.deployment import deployment_id

    db = open_db(settings)  # every API or worker start may be the database's first
    try:
        own = deployment_id(db)
        if settings.queue_url:
            _compare_broker(settings, own)
        if command == "serve":
            policy = _record_api_policy(db, settings, private_flag)
        else:
            policy = _check_worker_flag(db, private_flag)
    finally:
        db.dispose()
    where = policy.describe() if policy is not None else "no callback policy stored yet (private refused)"
    err.print(f"Deployment {own}: {where}", soft_wrap=True)


def _compare_broker(settings: Settings, own: str) -> None:
    import redis

    from songforge.workers.distributed import broker_for_log, claim_broker

    assert settings.queue_url
    broker = broker_for_log(settings.queue_url)
    try:
        held = claim_broker(settings.queue_url, own)
    except redis.RedisError as exc:
        # Not a reason to stay down (the queue may be restarting); workers compare again every 30 s.
        err.print(f"[yellow]Could not compare deployment ids with the queue {broker}: {exc}[/yellow]")
        return
    if held != own:
        _refuse(
            f"the queue {broker} belongs to deployment {held}, but this process's database "
            f"{_db_for_log(settings.db_url)} is deployment {own}. Every API and worker of one deployment "
            "must use the same --database-url and --queue (processes on different databases sharing a "
            "broker take each other's job messages and drop them): point --database-url at the database "
            "of the processes already on this queue, or give this deployment a queue of its own "
            "(another Redis database, e.g. redis://host:6379/1)"
        )


def _record_api_policy(db: Database, settings: Settings, flag: bool | None) -> CallbackPolicy | None:
    from songforge.store.deployment import set_callback_policy, stored_callback_policy

    stored = stored_callback_policy(db)
    if flag is not None:
        allowed, explicit, set_by = flag, True, f"songforge serve {_flag(flag)}"
    elif stored is not None and stored.explicit:
        return stored  # an operator's choice stands until one is made again
    else:
        # No choice made: this API's default (loopback --host: allowed), recorded so the workers
        # deliver what this API accepts; the next API start re-derives it.
        allowed, explicit = settings.private_callbacks_allowed(), False
        set_by = f"the default of songforge serve --host {settings.host}"
    previous = set_callback_policy(db, allowed, explicit=explicit, set_by=set_by)
    if previous is not None and previous.allowed != allowed:
        now = "allowed" if allowed else "refused"
        err.print(
            f"[yellow]Callback policy changed for every API and worker of this deployment: private/"
            f"loopback targets now {now} (by {set_by}; before: {previous.describe()})[/yellow]",
            soft_wrap=True,
        )
    return stored_callback_policy(db)


def _check_worker_flag(db: Database, flag: bool | None) -> CallbackPolicy | None:
    from songforge.store.deployment import stored_callback_policy

    stored = stored_callback_policy(db)
    if flag is None or (stored is not None and stored.allowed == flag):
        return stored
    verb = "allow" if flag else "refuse"
    if stored is None:
        _refuse(
            f"{_flag(flag)}: a worker does not set the callback policy, and none is stored yet. Every "
            "API and worker follows the one in the database: set it with `songforge deployment "
            f"private-callbacks {verb} --database-url ...` (or start `songforge serve {_flag(flag)}`), "
            "then start workers without the flag"
        )
    _refuse(
        f"{_flag(flag)} contradicts this deployment's policy: {stored.describe()}. Every API and worker "
        "follows the policy stored in the database: start the worker without the flag, or change the "
        f"policy for all of them with `songforge deployment private-callbacks {verb} --database-url ...`"
    )


@deployment_app.command("show")
def show(
    data_dir: Path | None = DataDir, database_url: str | None = DbUrl, queue: str | None = QueueUrl
) -> None:
    """The deployment id (and the queue's, with --queue) and the callback-target policy."""
    from songforge.store.deployment import stored_callback_policy, stored_deployment_id

    settings = build_settings(data_dir, database_url)
    if queue:
        settings.queue_url = queue
    db = open_db(settings)
    try:
        own = stored_deployment_id(db)
        policy = stored_callback_policy(db)
    finally:
        db.dispose()
    out.print(f"Deployment id: {own or '(none yet: written by the first songforge serve or worker)'}")
    if settings.queue_url:
        import redis

        from songforge.workers.distributed import DEPLOYMENT_KEY, broker_for_log

        client = redis.Redis.from_url(settings.queue_url, socket_connect_timeout=3, socket_timeout=10)
        try:
            held = client.get(DEPLOYMENT_KEY)
        finally:
            client.close()
        text = held.decode() if isinstance(held, bytes) else "(none)"
        same = "" if held is None or text == own else "  [red]another deployment's[/red]"
        out.print(f"Queue {broker_for_log(settings.queue_url)}: {text}{same}")
    if policy is None:
        out.print("Callback targets: nothing stored (each process's default; workers refuse private targets)")
    else:
        out.print(f"Callback targets: {policy.describe()}")


@deployment_app.command("private-callbacks")
def private_callbacks(
    choice: str = typer.Argument(..., help="allow or refuse", metavar="allow|refuse"),
    data_dir: Path | None = DataDir,
    database_url: str | None = DbUrl,
) -> None:
    """Allow or refuse replyUrl / callback_url targets on private and loopback addresses, for every
    API (checked at submit) and worker (checked at each delivery) of the deployment, within 5 s."""
    from songforge.store.deployment import set_callback_policy, stored_callback_policy

    if choice not in ("allow", "refuse"):
        err.print("[red]private-callbacks takes allow or refuse[/red]")
        raise typer.Exit(2)
    settings = build_settings(data_dir, database_url)
    db = open_db(settings)
    try:
        set_callback_policy(
            db, choice == "allow", explicit=True, set_by=f"songforge deployment private-callbacks {choice}"
        )
        policy = stored_callback_policy(db)
    finally:
        db.dispose()
    assert policy is not None
    out.print(f"Callback targets: {policy.describe()}")
