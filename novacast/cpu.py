"""The `novacast bot` process kept on one CPU.

The bot is Python under one GIL: the event loop (webhooks, acks, sends) and the core's threads
(the core, its picture chooser) take turns holding it, and little else runs in parallel (socket
waits; the embedding model runs one thread). Under a burst those threads hand the GIL over
thousands of times a second; spread over two CPUs, every hand-over woke a thread on the other
CPU, with its caches cold. Kept on one CPU, a burst of 200 Telegram `/make` cost the bot ~25 %
less CPU until the last draft (1.64-1.76 -> 1.19-1.32 s, system time 0.30 -> 0.17 s; drafts'
p99 1.75-1.85 -> 1.36-1.46 s; 3 runs each, interleaved, on this 2-core machine). The worker
and the scheduler are separate processes and are not pinned.

`one_cpu()` runs first thing in `novacast bot` (`novacast.server.command`), before any thread
starts: threads inherit the affinity of the thread that starts them. It picks the last CPU the
process may use (the first tends to take more interrupts). `NOVACAST_BOT_CPUS` overrides: CPU
numbers (`"3"`, `"2,3"`), or `all` to leave the affinity alone. Where the platform has no
`sched_setaffinity` (not Linux), nothing is done.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

ENV = "NOVACAST_BOT_CPUS"


def chosen_cpus(allowed: set[int], setting: str) -> set[int] | None:
    """The CPUs to keep the bot on: `setting`'s (those of them it may use), else the last
    allowed one; None to leave the affinity alone (`all`, nothing usable, one CPU anyway)."""
    setting = setting.strip().lower()
    if setting == "all" or len(allowed) <= 1:
        return None
    if not setting:
        return {max(allowed)}
    wanted = {int(part) for part in setting.split(",") if part.strip().isdigit()}
    usable = wanted & allowed
    return usable or None


def one_cpu() -> set[int] | None:
    """Keep this process (and the threads it starts from now on) on the chosen CPUs; returns
    them, or None when the affinity was left alone."""
    get_affinity = getattr(os, "sched_getaffinity", None)
    set_affinity = getattr(os, "sched_setaffinity", None)
    if get_affinity is None or set_affinity is None:
        return None
    cpus = chosen_cpus(set(get_affinity(0)), os.environ.get(ENV, ""))
    if cpus is None:
        return None
    try:
        set_affinity(0, cpus)
    except OSError as error:  # a container that forbids it: run unpinned
        log.warning("could not keep the bot on CPU %s (%s)", sorted(cpus), error.strerror)
        return None
    return cpus
