"""Child processes that do not outlive the thread that started them (Linux)."""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def signal_on_parent_death(signum: signal.Signals) -> Callable[[], None] | None:
    """A `preexec_fn` making the child get `signum` when the thread that started it dies, even
    by SIGKILL; None where the platform has no prctl. The libc function is resolved here, before
    any fork, so the child runs one libc call and nothing else."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    number = int(signum)
    return lambda: prctl(_PR_SET_PDEATHSIG, number)
