"""`novacast chat` and `novacast up`: one-machine runs with Redis and a worker looked after."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import redis
from rq import Worker
from rq.worker import BaseWorker

from adapters.console import ConsoleAdapter
from novacast.wiring import RedisHandle, build_engine, redis_connection
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


def _wait_for_worker(
    connection: redis.Redis, child: subprocess.Popen[bytes], timeout: float = 120.0
) -> bool:
    """True once a worker serves our queues (so other processes can rely on it)."""
    deadline = time.monotonic() + timeout
    while child.poll() is None and time.monotonic() < deadline:
        if _live_workers(connection):
            return True
        time.sleep(0.1)
    return False


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
    settings: Settings, handle: RedisHandle
) -> Iterator[subprocess.Popen[bytes] | None]:
    """Start a worker unless one is serving this Redis already.

    A server this process just started has no live worker, whatever stale registrations its
    append-only file still holds, so one is always started for it.
    """
    if not handle.started_here and _live_workers(handle.connection):
        yield None
        return
    with worker_process(settings.data_dir / "logs") as child:
        yield child


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
    interactive = sys.stdin.isatty()
    with (
        redis_connection(settings) as handle,
        _worker_unless_running(settings, handle) as child,
    ):
        connection = handle.connection
        adapter = ConsoleAdapter(
            build_engine(connection).handle,
            connection,
            sys.stdout,
            patient=not interactive,
            workers_alive=_alive_check(connection, child),
        )
        if interactive:
            print(GREETING)
        try:
            return adapter.run(_typed_lines() if interactive else sys.stdin)
        except KeyboardInterrupt:
            print("\nStopped. Drafts are kept; run `novacast chat` again to pick up.")
            return 130


def _alive_check(
    connection: redis.Redis, child: subprocess.Popen[bytes] | None
) -> Callable[[], bool]:
    if child is not None:
        return lambda: child.poll() is None
    return lambda: bool(_live_workers(connection))


def run_up(settings: Settings) -> int:
    """Redis and one worker until Ctrl-C; prints the REDIS_URL other processes should use."""
    _exit_on_sigterm()
    logs = settings.data_dir / "logs"
    with redis_connection(settings) as handle, worker_process(logs) as child:
        if not _wait_for_worker(handle.connection, child):
            print(f"[up] the worker did not start; see {logs / 'worker.log'}", flush=True)
            return 1
        print(f"[up] redis {handle.url}", flush=True)
        print(f"[up] worker pid {child.pid}; logs in {logs}", flush=True)
        try:
            return child.wait()
        except KeyboardInterrupt:
            print("[up] stopping", flush=True)
            return 0
