"""A publish lock held by a process that is SIGKILLed: its job's next run takes it over at
once, anyone else waits for it to run out; while its holder lives it never runs out.

The holder is a real Python process taking the lock as the publish job does."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from workers.publish_ledger import LOCK_SECONDS, PublishLedger

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

HOLDER = """
import sys, time, redis
from workers.publish_ledger import PublishLedger
ledger = PublishLedger(redis.Redis.from_url(sys.argv[1]), "p1", 1)
with ledger.lock("youtube", owner="nc-p1-v1-publish") as mine:
    print("held" if mine else "refused", flush=True)
    time.sleep(600)
"""


def _holder(redis_url: str) -> subprocess.Popen[str]:
    root = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, redis_url],
        stdout=subprocess.PIPE,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "held"
    return child


def _taken(ledger: PublishLedger, owner: str = "") -> bool:
    with ledger.lock("youtube", owner=owner) as mine:
        return mine


def test_a_killed_holders_lock_is_taken_over_by_its_job_at_once(
    redis_url: str, redis_conn: redis.Redis
) -> None:
    ledger = PublishLedger(redis_conn, "p1", 1)
    holder = _holder(redis_url)
    try:
        time.sleep(LOCK_SECONDS + 3)  # longer than the lock lives: its holder keeps it
        assert not _taken(ledger, owner="nc-sched-other")
    finally:
        holder.kill()
        holder.wait(timeout=10)
        assert holder.stdout is not None
        holder.stdout.close()
    assert not _taken(ledger)  # dead, but its lock has not run out yet (at most LOCK_SECONDS)
    assert _taken(ledger, owner="nc-p1-v1-publish")  # the same job, run again: at once
