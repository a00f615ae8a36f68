"""`novacast chat` and `novacast up`: one-machine runs with Redis and a worker looked after."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from rq import Worker
from rq.worker import BaseWorker

from adapters.console import ConsoleAdapter
from novacast.wiring import build_engine, redis_connection
from pipeline.settings import Settings
from workers.queues import QUEUES

GREETING = (
    "NOVACAST — type /make <idea> to start (e.g. /make 30s on why octopuses have three hearts).\n"
    "Buttons show as [1] Render [2] Revise …: type the number or the label. /help lists the rest."
)


def _live_workers(connection: redis.Redis) -> list[BaseWorker]:
    return [w for w in Worker.all(connection=connection) if set(w.queue_names()) & set(QUEUES)]


@contextmanager
def worker_process(
    settings: Settings, log_name: str = "worker.log"
) -> Iterator[subprocess.Popen[bytes]]:
    """A `novacast worker` child sharing REDIS_URL; its output goes to a log under the data dir."""
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / log_name).open("ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "novacast", "worker"],
            stdout=log,
            stderr=log,
            env=os.environ.copy(),
        )
    try:
        yield child
    finally:
        _stop(child)


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@contextmanager
def _worker_unless_running(
    settings: Settings, connection: redis.Redis, embedded: bool
) -> Iterator[None]:
    if not embedded and _live_workers(connection):
        yield
        return
    with worker_process(settings):
        yield


def _typed_lines() -> Iterator[str]:
    while True:
        try:
            yield input("› ")
        except (EOFError, KeyboardInterrupt):
            print()
            return


def run_chat(settings: Settings) -> int:
    """The console adapter on stdin/stdout, with Redis and a worker if none is running."""
    embedded = not settings.redis_url
    interactive = sys.stdin.isatty()
    with (
        redis_connection(settings) as connection,
        _worker_unless_running(settings, connection, embedded),
    ):
        adapter = ConsoleAdapter(
            build_engine(connection).handle, connection, sys.stdout, patient=not interactive
        )
        if interactive:
            print(GREETING)
        return adapter.run(_typed_lines() if interactive else sys.stdin)


def run_up(settings: Settings) -> int:
    """Redis and one worker until Ctrl-C; prints the REDIS_URL other processes should use."""
    with redis_connection(settings) as connection, worker_process(settings) as child:
        del connection
        print(f"[up] redis {os.environ['REDIS_URL']}", flush=True)
        print(
            f"[up] worker pid {child.pid}; logs in {Path(settings.data_dir) / 'logs'}", flush=True
        )
        try:
            return child.wait()
        except KeyboardInterrupt:
            print("[up] stopping", flush=True)
            return 0
