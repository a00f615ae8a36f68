"""`novacast scheduler` as real processes: on time, across a kill -9, and two at once.

The fired RQ jobs are only inspected in their queues, never executed.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from rq.job import Job

from bot.events import Conversation, ReplyTarget
from bot.schedule_store import Schedule, ScheduleKind, ScheduleStore
from novacast.processes import stop
from workers.catalog import FIRE_FUNCTION, PUBLISH_QUEUE, RENDER_QUEUE, SERIALIZER
from workers.due_schedules import fire_job_id, live_schedulers

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]


def schedule(at: datetime, n: int = 0) -> Schedule:
    chat = Conversation(adapter="telegram", workspace="-100123", channel="-100123", user="42")
    kind = ScheduleKind.MAKE if n % 2 else ScheduleKind.PUBLISH
    extra: dict[str, object] = (
        {"idea": "a 30s space-news recap"}
        if kind is ScheduleKind.MAKE
        else {"project_id": "abc123", "version": 1}
    )
    return Schedule(
        kind=kind,
        conversation=chat,
        target=ReplyTarget.of(chat),
        created_by="42",
        timezone="Europe/Berlin",
        description="soon",
        next_at=at,
        **extra,
    )


@contextmanager
def scheduler_process(redis_url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`novacast scheduler` on the test database, once its heartbeat shows it is running."""
    env = {**os.environ, "REDIS_URL": redis_url, "NOVACAST_DATA_DIR": str(log.parent)}
    with log.open("ab") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "novacast", "scheduler"], stdout=out, stderr=out, env=env
        )
    connection = redis.Redis.from_url(redis_url)
    try:
        wait_for(lambda: _beating(connection, child), 20, f"scheduler start; see {log}")
        yield child
    finally:
        stop(child)
        connection.close()


def _beating(connection: redis.Redis, child: subprocess.Popen[bytes]) -> bool:
    if child.poll() is not None:
        raise AssertionError(f"the scheduler exited with {child.returncode}")
    return any(f".{child.pid}." in name for name in live_schedulers(connection))


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def queued(connection: redis.Redis) -> list[str]:
    return [
        job_id.decode()
        for name in (PUBLISH_QUEUE, RENDER_QUEUE)
        for job_id in connection.lrange(f"rq:queue:{name}", 0, -1)
    ]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_a_schedule_fires_on_time_and_sigterm_exits_cleanly(
    redis_url: str, redis_conn: redis.Redis, tmp_path: Path
) -> None:
    store = ScheduleStore(redis_conn)
    log = tmp_path / "scheduler.log"
    with scheduler_process(redis_url, log) as child:
        at = datetime.now(UTC) + timedelta(seconds=2)
        item = store.add(schedule(at))
        job_id = fire_job_id(item.id, at)
        wait_for(lambda: job_id in queued(redis_conn), 6, "the firing")
        job = Job.fetch(job_id, connection=redis_conn, serializer=SERIALIZER)
        assert job.enqueued_at is not None
        late = _aware(job.enqueued_at) - at
        assert timedelta(0) <= late < timedelta(seconds=2)
        assert job.func_name == FIRE_FUNCTION
        assert tuple(job.args) == (item.id, at.isoformat())
        assert job.origin == PUBLISH_QUEUE
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=10) == 0
    assert queued(redis_conn) == [job_id]
    fired = store.get(item.id)
    assert fired is not None
    assert (fired.state, fired.fired) == ("done", 1)
    text = log.read_text()
    assert f"fired schedule {item.id} (publish)" in text
    assert "Europe/Berlin" in text
    assert not live_schedulers(redis_conn)  # it left on its way out


def test_a_scheduler_killed_before_the_time_is_replaced_without_a_double_firing(
    redis_url: str, redis_conn: redis.Redis, tmp_path: Path
) -> None:
    store = ScheduleStore(redis_conn)
    with scheduler_process(redis_url, tmp_path / "first.log") as first:
        at = datetime.now(UTC) + timedelta(seconds=4)
        item = store.add(schedule(at))
        time.sleep(1.0)  # it has seen the schedule and waits for its time
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert datetime.now(UTC) < at
    assert queued(redis_conn) == []
    with scheduler_process(redis_url, tmp_path / "second.log"):
        wait_for(lambda: bool(queued(redis_conn)), 8, "the firing")
        time.sleep(1.0)  # room for a second firing, which must not come
    assert queued(redis_conn) == [fire_job_id(item.id, at)]
    fired = store.get(item.id)
    assert fired is not None
    assert fired.fired == 1


def test_two_schedulers_fire_twenty_schedules_due_together_once_each(
    redis_url: str, redis_conn: redis.Redis, tmp_path: Path
) -> None:
    store = ScheduleStore(redis_conn)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    with (
        scheduler_process(redis_url, logs[0]),
        scheduler_process(redis_url, logs[1]),
    ):
        at = datetime.fromtimestamp(math.ceil(time.time()) + 2, UTC)
        items = [store.add(schedule(at, n)) for n in range(20)]
        wait_for(lambda: len(queued(redis_conn)) >= 20, 8, "twenty firings")
        time.sleep(1.0)  # room for duplicates, which must not come
    ids = queued(redis_conn)
    assert sorted(ids) == sorted(fire_job_id(item.id, at) for item in items)
    for item in items:
        stored = store.get(item.id)
        assert stored is not None
        assert stored.fired == 1
    lines = [
        line for log in logs for line in log.read_text().splitlines() if "fired schedule" in line
    ]
    assert len(lines) == 20


def test_up_runs_a_scheduler_next_to_the_worker_and_the_bot(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(
        NOVACAST_DATA_DIR=str(tmp_path / "var"),
        NOVACAST_HTTP_PORT=str(_free_port()),
        NOVACAST_MEMORY="off",
    )
    up = subprocess.Popen(
        [sys.executable, "-m", "novacast", "up"], env=env, stdout=subprocess.PIPE, text=True
    )
    assert up.stdout is not None
    try:
        lines = [up.stdout.readline()]
        while not lines[-1].startswith("[up] bot pid") and len(lines) < 200:
            lines.append(up.stdout.readline())
        said = {line.split()[1]: line.split()[2:] for line in lines if line.startswith("[up] ")}
        assert "***@" in said["redis"][0]  # printed without the embedded Redis's password
        pid = int(said["scheduler"][1])
        url = (tmp_path / "var" / "redis" / "url").read_text()  # 0600, with the password
        connection = redis.Redis.from_url(url)
        wait_for(lambda: any(f".{pid}." in n for n in live_schedulers(connection)), 20, "beat")
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=30)
        up.stdout.close()
    assert up.returncode == 0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    connection.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
