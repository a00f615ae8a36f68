"""glibc's malloc arenas, limited to one in the `novacast bot` process.

glibc gives a thread that allocates while another holds the lock an arena of its own (up to 8
per core), and freed memory stays in the arena that served it. In the bot, the model loaded on
the warm-up thread and the core's threads kept arenas of their own: one arena for the whole
process is ~5 MB less resident memory (bench/process_memory.py: 264.7 -> 260.0 MB; two arenas
saved nothing), for no speed: Python allocates small objects in its own pools under the GIL, so
the arenas serve the few native allocations (ONNX Runtime, the tokenizer, OpenSSL), and the bot
runs one chat line through the model at a time. The worker keeps glibc's default (Piper
synthesizes on several threads at once; its idle memory was the same either way).

`limit_arenas()` runs first thing in `novacast bot` (`novacast.server.command`), before any
thread starts: the limit applies to arenas made after it. An operator's `MALLOC_ARENA_MAX`
(which glibc reads itself) wins. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

ARENAS = 1
"""Arenas in the bot: the main one, shared by every thread."""
ENV = "MALLOC_ARENA_MAX"
_M_ARENA_MAX = -8
"""mallopt's parameter number for the arena limit (glibc's malloc.h)."""


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Limit this process to `arenas` malloc arenas; True when the limit is now in force
    (set here, or by `MALLOC_ARENA_MAX` in the environment)."""
    if os.environ.get(ENV, "").strip():
        return True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc: nothing to limit
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, arenas))
