"""Child processes of `novacast up` and `novacast chat`: started, watched, stopped cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TextIO

import redis
from rq import Worker
from rq.worker import BaseWorker

from pipeline.parent_death import signal_on_parent_death
from workers.catalog import QUEUES

STOP_SECONDS = 15.0


def live_workers(connection: redis.Redis) -> list[BaseWorker]:
    return [w for w in Worker.all(connection=connection) if set(w.queue_names()) & set(QUEUES)]


def wait_for_worker(
    connection: redis.Redis, child: subprocess.Popen[bytes], timeout: float = 120.0
) -> bool:
    """True once a worker serves our queues (so other processes can rely on it)."""
    deadline = time.monotonic() + timeout
    while child.poll() is None and time.monotonic() < deadline:
        if live_workers(connection):
            return True
        time.sleep(0.1)
    return False


_PREEXEC = signal_on_parent_death(signal.SIGTERM)
"""Children get SIGTERM (a warm stop) when `novacast up` dies, even by SIGKILL: none of its worker,
scheduler or bot runs on unsupervised (the bot would hold the port a restarted `up` needs)."""


def _novacast(command: str) -> list[str]:
    return [sys.executable, "-m", "novacast", command]


def _env(env: Mapping[str, str] | None) -> dict[str, str]:
    return dict(env) if env is not None else os.environ.copy()


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
            _novacast("worker"),
            stdout=log,
            stderr=log,
            env=_env(env),
            preexec_fn=_PREEXEC,  # noqa: PLW1509 (one libc call, resolved before the fork)
        )
    try:
        yield child
    finally:
        stop(child)


@contextmanager
def prefixed_process(
    command: str, out: TextIO, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`novacast <command>` with every line it prints shown as `[command] line` on `out`."""
    child = subprocess.Popen(
        _novacast(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=_env(env),
        preexec_fn=_PREEXEC,  # noqa: PLW1509 (one libc call, resolved before the fork)
    )
    assert child.stdout is not None
    relay = threading.Thread(target=_relay, args=(child.stdout, f"[{command}] ", out), daemon=True)
    relay.start()
    try:
        yield child
    finally:
        stop(child)
        relay.join(timeout=5)
        child.stdout.close()


def _relay(stream: IO[bytes], prefix: str, out: TextIO) -> None:
    for raw in stream:
        out.write(prefix + raw.decode("utf-8", "replace").rstrip() + "\n")
        out.flush()


def stop(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a warm shutdown: the current job finishes or is requeued), then SIGKILL."""
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
