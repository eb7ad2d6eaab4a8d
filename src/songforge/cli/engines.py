"""`songforge engines`: the engines this process can run, whether each is ready, the model routes, and
the engines each worker of the deployment reported.

Why a command: which engine serves a request is configuration (an account's `engine`, the routes of
SONGFORGE_MODEL_ENGINES), and an engine that is not ready (weights missing, a setting wrong) should be
seen before a request finds out. The check loads nothing (`songforge.engines.registry.readiness`);
`--load` also loads the acestep pipeline once, the way a worker does, and says how long it took.
What this process could load is not what the workers have (a GPU worker runs elsewhere), so the
workers' own reports are listed too, from the database (`songforge.store.worker_engines`): each
worker, when it was last seen, and whether it is live (seen in the last `LIVE_SECONDS`). The
database is only read: a SQLite file that does not exist is not created.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from songforge.cli.common import DataDir, DbUrl, build_settings, err, out

__all__ = ["app"]

app = typer.Typer()


@app.command("engines")
def engines(
    as_json: bool = typer.Option(False, "--json", help="One JSON object instead of a table"),
    load: bool = typer.Option(False, "--load", help="Also load the acestep pipeline (slow; uses the GPU)"),
    data_dir: Path | None = DataDir,
    database_url: str | None = DbUrl,
) -> None:
    """List the engines, whether each is ready in this process and on each worker, and which models
    are routed to which."""
    from songforge import config
    from songforge.engines.registry import engine_names, readiness

    rows = []
    for name in engine_names():
        reason = readiness(name)
        rows.append({"engine": name, "ready": reason is None, "detail": reason or "ready"})
    try:
        routes = {model: list(chain) for model, chain in config.model_engines().items()}
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if load:
        row = next(r for r in rows if r["engine"] == "acestep")
        if row["ready"]:
            from songforge.engines.acestep.engine import AceStepEngine

            try:
                loaded = AceStepEngine().warm()
            except Exception as exc:  # noqa: BLE001 - reported as the reason
                row.update(ready=False, detail=f"loading failed: {exc}")
            else:
                row["detail"] = (
                    f"loaded {loaded.variant} on {loaded.device} ({loaded.dtype}"
                    f"{', offload' if loaded.offload else ''}) in {loaded.load_seconds:.1f} s"
                )
        else:
            err.print("acestep is not ready: nothing to load")
    database, workers, note = _workers(build_settings(data_dir, database_url).db_url)
    if as_json:
        answer = {
            "engines": rows,
            "routes": routes,
            "default": config.DEFAULT_ENGINE,
            "database": database,
            "workers": workers,
            "note": note,
        }
        out.print_json(json.dumps(answer))
    else:
        out.print("In this process:")
        for row in rows:
            mark = "[green]ready[/green]" if row["ready"] else "[yellow]not ready[/yellow]"
            out.print(f"{row['engine']:<10} {mark}  {row['detail'] if not row['ready'] else ''}".rstrip())
            if row["ready"] and row["detail"] != "ready":
                out.print(f"{'':<10} {row['detail']}")
        out.print(f"default engine: {config.DEFAULT_ENGINE} (an account's requestParams.engine wins)")
        for model, chain in routes.items():
            out.print(f"model {model} -> {' | '.join(chain)}")
        _print_workers(database, workers, note)
    if not all(row["ready"] for row in rows if row["engine"] in ("embedded",)):
        raise typer.Exit(1)


def _workers(url: str) -> tuple[str | None, list[dict[str, Any]], str | None]:
    """(the database, shown without its password; each worker's last report; a note when there is
    nothing to read)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from songforge.clock import now_ms
    from songforge.store.db import Database
    from songforge.store.worker_engines import LIVE_SECONDS, reports

    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).is_file():
        return shown, [], "no database there yet: no worker has reported"
    db = Database(url)
    try:
        with db.session() as s:
            found = reports(s)
    except SQLAlchemyError as exc:
        reason = str(exc).splitlines()[0]
        return shown, [], f"could not read the workers' reports ({reason}); `songforge db upgrade` adds them"
    finally:
        db.dispose()
    t = now_ms()
    workers = [
        {
            "worker": w.worker_id,
            "kind": w.kind,
            "live": w.live(t),
            "started_ms": w.started_ms,
            "seen_ms": w.seen_ms,
            "seen_seconds_ago": round(max(0, t - w.seen_ms) / 1000, 1),
            "engines": [
                {"engine": e.engine, "ready": e.ready, "detail": e.detail or "ready"} for e in w.engines
            ],
        }
        for w in found
    ]
    note = None if workers else f"no worker has reported (live: seen in the last {LIVE_SECONDS:g} s)"
    return shown, workers, note


def _print_workers(database: str | None, workers: list[dict[str, Any]], note: str | None) -> None:
    from songforge.store.worker_engines import LIVE_SECONDS

    out.print(f"Workers (reports in {database}; live: seen in the last {LIVE_SECONDS:g} s):")
    if note:
        out.print(f"  {note}")
    for w in workers:
        state = "[green]live[/green]" if w["live"] else "[yellow]gone[/yellow]"
        out.print(f"  {w['worker']}  {w['kind']}  {state}, seen {w['seen_seconds_ago']:g} s ago")
        for e in w["engines"]:
            mark = "[green]ready[/green]" if e["ready"] else "[yellow]not ready[/yellow]"
            out.print(f"    {e['engine']:<10} {mark}  {e['detail'] if not e['ready'] else ''}".rstrip())
