"""Run a real `novacast worker` process for a test, against the test Redis and data dir."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from rq import Worker

from novacast.processes import worker_process as novacast_worker
from workers.catalog import QUEUES


@contextmanager
def worker_process(
    redis_url: str, data_dir: Path, extra_env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`novacast worker` for this test's Redis and data dir, once it has registered."""
    env = {**os.environ, "REDIS_URL": redis_url, "NOVACAST_DATA_DIR": str(data_dir)}
    with novacast_worker(data_dir / "logs", {**env, **(extra_env or {})}) as child:
        _wait_registered(redis_url, child)
        yield child


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
