"""Work that can wait for a burst to end: a draft's bookkeeping that the user does not read.

Under a burst of `/make` the bot's CPU is what the drafts wait for; what the draft does not show
(remembering the project, queueing its picture prefetch) is postponed here and done once no new
work has been postponed for `QUIET_SECONDS`, or once the oldest has waited `MAX_SECONDS`, and
before the process exits. Work is kept per key, in order; whoever needs a key's work done first
(a read of that workspace's memory, a Render of that project) calls `settle(key)`.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

QUIET_SECONDS = 0.3
"""Postponed work starts once nothing new has been postponed for this long (the burst is over)..."""
MAX_SECONDS = 5.0
"""...or once the oldest has waited this long (a burst that does not end)."""


class Later:
    """Work postponed per key (a workspace, a project), run in order by one daemon thread when
    things are quiet; `settle(key)` runs a key's pending work in the caller first."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._pending: dict[str, list[Callable[[], object]]] = {}
        self._oldest = 0.0
        self._newest = 0.0
        self._changed = threading.Condition()
        self._writing = threading.Lock()  # held while writes run: a reader waits for them
        self._thread: threading.Thread | None = None

    def add(self, key: str, write: Callable[[], object]) -> None:
        with self._changed:
            now = time.monotonic()
            if not self._pending:
                self._oldest = now
            self._newest = now
            self._pending.setdefault(key, []).append(write)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name,
                                                daemon=True)
                self._thread.start()
                atexit.register(self.settle_all)
            self._changed.notify()

    def pending(self) -> int:
        """How many pieces of work wait."""
        with self._changed:
            return sum(len(writes) for writes in self._pending.values())

    def settle(self, key: str) -> None:
        """Do `key`'s postponed work now, in this thread (and wait for any being done)."""
        if not self._pending and not self._writing.locked():
            return  # the usual case: nothing postponed, no lock taken
        with self._writing:
            with self._changed:
                writes = self._pending.pop(key, [])
            _run_all(writes)

    def settle_all(self) -> None:
        """Do all postponed work now."""
        while True:
            with self._writing:
                with self._changed:
                    if not self._pending:
                        return
                    _, writes = self._pending.popitem()
                _run_all(writes)

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._pending:
                    self._changed.wait()
                while True:  # wait for a quiet moment, or until the oldest has waited enough
                    now = time.monotonic()
                    quiet = self._newest + QUIET_SECONDS - now
                    due = self._oldest + MAX_SECONDS - now
                    if min(quiet, due) <= 0:
                        break
                    self._changed.wait(min(quiet, due))
            self.settle_all()


def _run_all(writes: list[Callable[[], object]]) -> None:
    for write in writes:
        try:
            write()
        except Exception:  # the postponed work reports its own trouble; this is a last guard
            log.exception("postponed work failed")
