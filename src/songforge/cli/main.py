"""The `songforge` command, assembled from one module per command group.

    serve, worker, db upgrade           songforge.cli.serve
    deployment show|private-callbacks   songforge.cli.deployment
    token create|list|revoke            songforge.cli.tokens
    key create|list|revoke              songforge.cli.keys
    upstream add|list|remove|resume     songforge.cli.upstream
    instrumental, song, stems           songforge.cli.render
    extend                              songforge.cli.extend
    prune                               songforge.cli.prune
    engines                             songforge.cli.engines

Those modules share their options and helpers through `songforge.cli.common` and never import
this one, so the groups and the app that holds them form no circle.
"""

from __future__ import annotations

import os

import typer

from songforge.cli import deployment, engines, extend, keys, prune, render, serve, tokens, upstream

__all__ = ["app", "main"]

app = typer.Typer(help="Songforge: self-hosted music generation with the TemPolor API.", no_args_is_help=True)
app.add_typer(serve.app)  # serve, worker
app.add_typer(render.app)  # instrumental, song, stems
app.add_typer(extend.app)  # extend
app.add_typer(prune.app)  # prune
app.add_typer(engines.app)  # engines
app.add_typer(tokens.token_app, name="token")
app.add_typer(serve.db_app, name="db")
app.add_typer(deployment.deployment_app, name="deployment")
app.add_typer(keys.key_app, name="key")
app.add_typer(upstream.upstream_app, name="upstream")


def main() -> None:
    app(prog_name="songforge")


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
