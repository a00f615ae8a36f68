"""`novacast chat` and `novacast up`: one-machine runs with Redis and a worker looked after."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
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
    log_dir: Path, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A `novacast worker` child (REDIS_URL from `env`, default this process's environment).

    Its output goes to `worker.log` in `log_dir`; it is stopped (warm, then hard) on exit.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "worker.log").open("ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "novacast", "worker"],
            stdout=log,
            stderr=log,
            env=dict(env) if env is not None else os.environ.copy(),
        )
    try:
        yield child
    finally:
        _stop(child)


def _exit_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so the embedded Redis and the worker child are stopped."""

    def leave(signum: int, frame: object) -> None:
        del frame
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, leave)


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
    with worker_process(settings.data_dir / "logs"):
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
    _exit_on_sigterm()
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
    _exit_on_sigterm()
    logs = settings.data_dir / "logs"
    with redis_connection(settings) as connection, worker_process(logs) as child:
        del connection
        print(f"[up] redis {os.environ['REDIS_URL']}", flush=True)
        print(f"[up] worker pid {child.pid}; logs in {logs}", flush=True)
        try:
            return child.wait()
        except KeyboardInterrupt:
            print("[up] stopping", flush=True)
            return 0
