"""The rules an upload must meet, shared by the route that accepts it and the worker that analyses it.

Why here: the `/v1/tempolor` route refuses a voice sample by its declared length before storing it,
and the upload worker checks the decoded length again (a header can lie); both must use the same
numbers, and the HTTP layer must not import the workers to get them.
"""

from __future__ import annotations

__all__ = ["VOICE_MAX_SECONDS", "VOICE_MIN_SECONDS"]

# A cloned-voice sample: long enough to measure a range and a timbre, short enough to analyse quickly.
VOICE_MIN_SECONDS = 5.0
VOICE_MAX_SECONDS = 300.0
