"""`novacast scheduler` SIGKILLed while a schedule is due and not yet fired: the next
scheduler fires it, once. The scheduler is frozen (SIGSTOP) first, so the schedule is surely
due and unfired at the moment of the kill; the fired RQ job is only inspected in its queue."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from bot.schedule_store import ScheduleStore
from tests.integration.test_scheduler_process import queued, schedule, scheduler_process, wait_for
from workers.due_schedules import fire_job_id, live_schedulers

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]


def test_a_scheduler_killed_with_a_schedule_due_is_replaced_and_it_fires_once(
    redis_url: str, redis_conn: redis.Redis, tmp_path: Path
) -> None:
    store = ScheduleStore(redis_conn)
    with scheduler_process(redis_url, tmp_path / "first.log") as first:
        first.send_signal(signal.SIGSTOP)
        at = datetime.now(UTC) - timedelta(seconds=1)
        item = store.add(schedule(at))  # due now, and nobody awake to fire it
        time.sleep(0.5)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    assert queued(redis_conn) == []
    unfired = store.get(item.id)
    assert unfired is not None
    assert unfired.fired == 0
    with scheduler_process(redis_url, tmp_path / "second.log") as second:
        wait_for(lambda: bool(queued(redis_conn)), 10, "the firing")
        time.sleep(1.0)  # room for a second firing, which must not come
        beating = live_schedulers(redis_conn)
        assert any(f".{second.pid}." in name for name in beating)
    assert queued(redis_conn) == [fire_job_id(item.id, at)]
    fired = store.get(item.id)
    assert fired is not None
    assert fired.fired == 1
