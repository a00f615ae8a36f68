"""Run a real `novacast worker` process for a test, against the test Redis and data dir."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from rq import Worker

from workers.queues import QUEUES


@contextmanager
def worker_process(
    redis_url: str, data_dir: Path, extra_env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "NOVACAST_DATA_DIR": str(data_dir),
        **(extra_env or {}),
    }
    log = (data_dir / "worker-test.log").open("ab")
    child = subprocess.Popen(
        [sys.executable, "-m", "novacast", "worker"], env=env, stdout=log, stderr=log
    )
    try:
        _wait_registered(redis_url, child)
        yield child
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        log.close()


def _wait_registered(redis_url: str, child: subprocess.Popen[bytes], timeout: float = 60) -> None:
    connection = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if child.poll() is not None:
                raise RuntimeError(f"worker exited with {child.returncode}")
            if any(set(w.queue_names()) & set(QUEUES) for w in Worker.all(connection=connection)):
                return
            time.sleep(0.1)
        raise TimeoutError("worker did not register")
    finally:
        connection.close()
