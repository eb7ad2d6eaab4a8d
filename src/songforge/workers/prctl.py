"""Linux's prctl for child processes: die with the parent, carry a name `ps` shows. Elsewhere (or
without a C library to call) each is a no-op: the process works, only less tidily."""

from __future__ import annotations

import ctypes
import signal

_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15


def _prctl(option: int, *args: object) -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(option, *args)
    except (OSError, AttributeError):
        pass


def signal_with_parent(sig: signal.Signals) -> None:
    """The kernel sends `sig` to this process when the thread that started it ends."""
    _prctl(_PR_SET_PDEATHSIG, int(sig))


def name_this_process(name: bytes) -> None:
    """Sets the name /proc/<pid>/comm and `ps` show (at most 15 bytes)."""
    _prctl(_PR_SET_NAME, ctypes.c_char_p(name[:15]), 0, 0, 0)
