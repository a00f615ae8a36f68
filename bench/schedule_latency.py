"""How late schedules fire, against a bare timer that enqueues the same jobs with no claiming.

N schedules fall due at the same instant. OURS: K `Scheduler` loops (threads, each with its own
connection, as separate processes would have) claim them through the WATCH/MULTI transaction
that enqueues the RQ job and advances the schedule. REFERENCE: one thread that sleeps until the
instant and enqueues N jobs straight into RQ — the floor for "fire on time" on this machine.
Prints the lag (RQ `enqueued_at` minus the due time) p50/p99/max for both, and the ratios, and
checks every schedule fired exactly once.

    python bench/schedule_latency.py [--schedules 200] [--schedulers 2] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta

import redis
from rq import Queue
from rq.job import Job

from bot.events import Conversation, ReplyTarget
from bot.schedule_store import Schedule, ScheduleKind, ScheduleStore
from novacast.embedded_redis import EmbeddedRedis
from workers.catalog import PUBLISH_QUEUE, SERIALIZER
from workers.due_schedules import Scheduler

LEAD = 1.5
"""Seconds between setting the schedules up and their due time."""


def _schedule(at: datetime, n: int) -> Schedule:
    chat = Conversation(adapter="console", workspace=f"bench{n % 40}", channel="c", user="u")
    return Schedule(
        kind=ScheduleKind.PUBLISH, conversation=chat, target=ReplyTarget.of(chat), created_by="u",
        timezone="UTC", description="bench", project_id=f"{n:08x}", version=1, next_at=at,
    )


def _lags(connection: redis.Redis, due: datetime) -> list[float]:
    queue = Queue(PUBLISH_QUEUE, connection=connection, serializer=SERIALIZER)
    jobs = [Job.fetch(i, connection=connection, serializer=SERIALIZER) for i in queue.job_ids]
    return [(job.enqueued_at.replace(tzinfo=UTC) - due).total_seconds()  # type: ignore[union-attr]
            for job in jobs]


def ours(url: str, count: int, schedulers: int) -> list[float]:
    connection = redis.Redis.from_url(url)
    connection.flushdb()
    store = ScheduleStore(connection, max_active=count + 1)
    due = _next_due()
    for n in range(count):
        store.add(_schedule(due, n))
    stop = threading.Event()
    loops = [Scheduler(redis.Redis.from_url(url), name=f"bench-{i}") for i in range(schedulers)]
    threads = [threading.Thread(target=loop.run, args=(stop,)) for loop in loops]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + LEAD + 30
    queue = Queue(PUBLISH_QUEUE, connection=connection, serializer=SERIALIZER)
    while len(queue) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # a duplicate, if any, would land now
    stop.set()
    for thread in threads:
        thread.join()
    ids = queue.job_ids
    assert len(ids) == len(set(ids)) == count, f"fired {len(ids)} ({len(set(ids))} distinct)"
    return _lags(connection, due)


def reference(url: str, count: int) -> list[float]:
    connection = redis.Redis.from_url(url)
    connection.flushdb()
    queue = Queue(PUBLISH_QUEUE, connection=connection, serializer=SERIALIZER)
    due = _next_due()
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
    for n in range(count):
        queue.enqueue_call("workers.schedule_jobs.fire", args=(f"{n:08x}", due.isoformat()),
                           job_id=f"ref-{n}")
    return _lags(connection, due)


def _next_due() -> datetime:
    """A whole second at least LEAD seconds ahead."""
    ahead = datetime.now(UTC) + timedelta(seconds=LEAD)
    return ahead.replace(microsecond=0) + timedelta(seconds=1)


def _summary(lags: list[float]) -> tuple[float, float, float]:
    ordered = sorted(lags)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99, ordered[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--schedules", type=int, default=200)
    parser.add_argument("--schedulers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with EmbeddedRedis() as server:
        for run in range(1, args.runs + 1):
            mine = _summary(ours(server.url, args.schedules, args.schedulers))
            ref = _summary(reference(server.url, args.schedules))
            print(
                f"run {run}: {args.schedules} due at once, {args.schedulers} schedulers | "
                f"ours p50 {mine[0]*1000:.0f} ms p99 {mine[1]*1000:.0f} ms"
                f" max {mine[2]*1000:.0f} ms"
                f" | bare timer p50 {ref[0]*1000:.0f} ms p99 {ref[1]*1000:.0f} ms"
                f" max {ref[2]*1000:.0f} ms | p99 difference {(mine[1]-ref[1])*1000:.0f} ms,"
                f" ratio {mine[1]/max(ref[1], 1e-3):.1f}x"
            )


if __name__ == "__main__":
    main()
