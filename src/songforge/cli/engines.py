"""`songforge engines`: the engines this process can run, whether each is ready, and the model routes.

Why a command: which engine serves a request is configuration (an account's `engine`, the routes of
SONGFORGE_MODEL_ENGINES), and an engine that is not ready (weights missing, a setting wrong) should be
seen before a request finds out. The check loads nothing (`songforge.engines.registry.readiness`);
`--load` also loads the acestep pipeline once, the way a worker does, and says how long it took.
"""

from __future__ import annotations

import json

import typer

from songforge.cli.common import err, out

__all__ = ["app"]

app = typer.Typer()


@app.command("engines")
def engines(
    as_json: bool = typer.Option(False, "--json", help="One JSON object instead of a table"),
    load: bool = typer.Option(False, "--load", help="Also load the acestep pipeline (slow; uses the GPU)"),
) -> None:
    """List the engines, whether each is ready in this process, and which models are routed to which."""
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
    if as_json:
        out.print_json(json.dumps({"engines": rows, "routes": routes, "default": config.DEFAULT_ENGINE}))
    else:
        for row in rows:
            mark = "[green]ready[/green]" if row["ready"] else "[yellow]not ready[/yellow]"
            out.print(f"{row['engine']:<10} {mark}  {row['detail'] if not row['ready'] else ''}".rstrip())
            if row["ready"] and row["detail"] != "ready":
                out.print(f"{'':<10} {row['detail']}")
        out.print(f"default engine: {config.DEFAULT_ENGINE} (an account's requestParams.engine wins)")
        for model, chain in routes.items():
            out.print(f"model {model} -> {' | '.join(chain)}")
    if not all(row["ready"] for row in rows if row["engine"] in ("embedded",)):
        raise typer.Exit(1)
