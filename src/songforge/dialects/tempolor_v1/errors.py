"""How `/v1/tempolor` words the domain's refusals: its parameter names, its sentences.

The domain raises `InvalidField` with its own name for a value (`max_jobs`) and the rule; the spec's
messages read "Parameter maxJobs must be between 1 and 100", so the names are mapped here, once.
"""

from __future__ import annotations

from songforge.errors import InvalidField

__all__ = ["PARAMETER_NAMES", "parameter_message"]

# The domain's name for a value -> the spec's parameter (a key inside it keeps its own name).
PARAMETER_NAMES = {"max_jobs": "maxJobs", "request_params": "requestParams"}


def parameter_message(exc: InvalidField) -> str:
    """The spec's sentence: "Parameter " + the spec's name (`requestParams.engine`) + the rule."""
    name = PARAMETER_NAMES.get(exc.field, exc.field)
    if exc.key:
        name = f"{name}.{exc.key}"
    return f"Parameter {name} {exc.rule}"
