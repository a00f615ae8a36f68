"""The process that started a `novacast worker` (as `novacast up` does) is SIGKILLed: the
worker is told to stop (SIGTERM, a warm stop) and exits, instead of running on unsupervised."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from novacast.processes import live_workers
from tests.e2e.faults_support import alive, env_for, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

PARENT = """
import sys, time
from pathlib import Path
from novacast.processes import worker_process
with worker_process(Path(sys.argv[1])) as child:
    print(child.pid, flush=True)
    time.sleep(600)
"""


def test_a_worker_stops_when_the_process_that_started_it_is_killed(
    redis_url: str, redis_conn: redis.Redis, data_dir: Path
) -> None:
    root = Path(__file__).resolve().parents[2]
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(data_dir / "logs")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=root,
        env={**env_for(redis_url, data_dir), "PYTHONPATH": str(root)},
    )
    assert parent.stdout is not None
    worker = int(parent.stdout.readline())
    try:
        wait_for(lambda: bool(live_workers(redis_conn)), 60, "the worker to register")
        parent.kill()
        parent.wait(timeout=10)
        wait_for(lambda: not alive(worker), 30, "the orphaned worker to stop")
        wait_for(lambda: not live_workers(redis_conn), 10, "the worker to leave RQ's registry")
    finally:
        parent.stdout.close()
        if alive(worker):
            os.kill(worker, 9)
