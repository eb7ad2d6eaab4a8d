"""The upstream engine: music from a TemPolor Open API (the real platform, or another Songforge).

`engine` is the engine, `models` the name mapping both ways, `client` the HTTP calls and the
platform's failures, `ledger` what a worker must bind (key pool and task record). See
docs/upstream.md for the operator's side.
"""
