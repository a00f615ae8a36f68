"""`novacast worker`: an RQ worker that keeps the voice and ffmpeg warm between jobs."""

from __future__ import annotations

import logging

import redis
from rq import Queue, SimpleWorker

from pipeline.voice import PiperTTS
from workers import runtime
from workers.catalog import QUEUES, SERIALIZER
from workers.publishers import unserved_kinds

log = logging.getLogger(__name__)


class NovacastWorker(SimpleWorker):
    """Runs jobs in-process (no fork per job), so the Piper voice is loaded once per worker.

    Jobs are functions of ids that re-read state from Redis, so in-process execution is safe;
    run several workers (processes or machines) to render in parallel.
    """


def run_worker(connection: redis.Redis, *, burst: bool = False, name: str | None = None) -> bool:
    """Work the NOVACAST queues until stopped (or until empty with `burst`).

    The entry point installs the worker runtime first (`workers.runtime`); without one this
    refuses to start rather than fail the first scheduled show, as it does when a publish
    target kind has no publisher."""
    runtime.current()
    if unserved := unserved_kinds():
        raise RuntimeError(f"no publisher serves the target kinds {unserved}")
    PiperTTS().warm_up()
    queues = [Queue(q, connection=connection, serializer=SERIALIZER) for q in QUEUES]
    worker = NovacastWorker(queues, connection=connection, name=name, serializer=SERIALIZER)
    worked: bool = worker.work(burst=burst, logging_level="WARNING", with_scheduler=True)
    return worked
