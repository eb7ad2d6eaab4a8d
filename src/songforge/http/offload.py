"""Short blocking work a request waits on (an admission, a key lookup), started in a thread at once.

Starlette's `run_in_threadpool` (anyio) first yields to the event loop and only then hands the call
to a thread, and the answer comes back through the loop again. Under a load of status polls a turn
of the loop is tens of milliseconds, so each hop cost a submission one more turn: measured with
`benchmarks/api_load.py`, the wait from the call to the thread's first line was 20-45 ms through
anyio and 0-10 ms through `loop.run_in_executor`. Long work (decoding an upload) may stay on anyio,
whose limiter bounds it; this pool is for the few milliseconds of database work that an answer needs.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

# As many threads as anyio's default limiter: SQLite admissions queue at the write gate inside them.
_POOL = ThreadPoolExecutor(max_workers=40, thread_name_prefix="songforge-request")


async def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in a thread, in the caller's context (contextvars), without a turn of the loop first."""
    call = functools.partial(contextvars.copy_context().run, fn, *args)
    return await asyncio.get_running_loop().run_in_executor(_POOL, call)
