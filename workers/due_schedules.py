"""`novacast scheduler`: fires due schedules into RQ, each occurrence once, however many run.

Every firing is one `ScheduleStore.claim` transaction that also holds the RQ enqueue (the job's
hash and the queue push go into the same MULTI), so a scheduler killed at any point has either
fired and advanced a schedule, or done neither. Run one per machine or several: they share the
work and never double-fire. RQ workers execute what fires (`workers.schedule_jobs.fire`).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from datetime import UTC, datetime

import redis
from redis.client import Pipeline
from rq import Callback, Queue

from bot.schedule_store import Fire, Schedule, ScheduleStore
from pipeline import telemetry
from workers.catalog import (
    FIRE_FUNCTION,
    FIRE_QUEUE,
    FIRE_RETRY,
    FIRE_TIMEOUT,
    ON_FAILURE,
    RESULT_TTL,
    SERIALIZER,
)
from workers.recovery import OutageLog

log = logging.getLogger(__name__)

HEARTBEAT_KEY = "nc:schedulers:alive"
"""Zset: scheduler name -> when its heartbeat runs out (epoch seconds)."""
HEARTBEAT_TTL = 15.0
HEARTBEAT_EVERY = 2.0
MIN_PAUSE = 0.05
"""Never spin faster than this, even when something due could not fire."""
MAX_BACKOFF = 5.0
"""Longest pause between two attempts to reach Redis: a schedule due while Redis was away
fires at most this long after it is back."""
BATCH = 100


def fire_job_id(schedule_id: str, fire_at: datetime) -> str:
    """One RQ job id per occurrence, so an occurrence is recognisable wherever it went."""
    return f"nc-sched-{schedule_id}-{int(fire_at.timestamp())}"


def fire_job(schedule: Schedule, fire_at: datetime, pipeline: Pipeline) -> None:
    """Enqueue `workers.schedule_jobs.fire` (by name) inside `pipeline`, which is in MULTI.

    The queue needs a plain connection of its own only to read the server version once; every
    write (queue registration, job hash, status, queue push) goes into `pipeline`.
    """
    connection = redis.Redis(connection_pool=pipeline.connection_pool)
    queue = Queue(FIRE_QUEUE[schedule.kind], connection=connection, serializer=SERIALIZER)
    queue.enqueue_call(
        FIRE_FUNCTION,
        args=(schedule.id, fire_at.astimezone(UTC).isoformat()),
        job_id=fire_job_id(schedule.id, fire_at),
        timeout=FIRE_TIMEOUT,
        result_ttl=RESULT_TTL,
        failure_ttl=RESULT_TTL,
        retry=FIRE_RETRY,
        on_failure=Callback(ON_FAILURE),
        pipeline=pipeline,
        meta=telemetry.job_meta(),
    )


def live_schedulers(connection: redis.Redis) -> list[str]:
    """Names of the schedulers whose heartbeat has not run out."""
    names = connection.zrangebyscore(HEARTBEAT_KEY, time.time(), "+inf")
    return sorted(n.decode() if isinstance(n, bytes) else str(n) for n in names)


def _default_name() -> str:
    return f"{socket.gethostname()}.{os.getpid()}.{secrets.token_hex(2)}"


class Scheduler:
    """Claims due schedules and fires them; `run` loops until its stop event is set."""

    def __init__(
        self,
        connection: redis.Redis,
        *,
        poll_seconds: float = 0.5,
        fire: Fire = fire_job,
        name: str | None = None,
        store: ScheduleStore | None = None,
    ) -> None:
        self.connection = connection
        self.store = store or ScheduleStore(connection)
        self.poll_seconds = poll_seconds
        self.fire = fire
        self.name = name or _default_name()
        self._last_beat = 0.0

    def tick(self, now: datetime | None = None) -> int:
        """Claim everything due at `now` (default: the current time); how many fired."""
        now = now or datetime.now(UTC)
        fired, seen = 0, set[str]()
        while True:
            ids = [i for i in self.store.due(now, BATCH) if i not in seen]
            for schedule_id in ids:
                fired += self._claim(schedule_id, now)
            seen.update(ids)
            if len(ids) < BATCH:
                return fired

    def _claim(self, schedule_id: str, now: datetime) -> int:
        """One occurrence, fired under a trace id of its own (its jobs carry it on)."""
        with telemetry.traced():
            return self._claim_traced(schedule_id, now)

    def _claim_traced(self, schedule_id: str, now: datetime) -> int:
        try:
            schedule = self.store.claim(schedule_id, now, self.fire)
        except (redis.ConnectionError, redis.TimeoutError):
            raise  # the loop backs off; the schedule is untouched
        except Exception:
            log.exception("schedule %s could not fire; it stays due", schedule_id)
            return 0
        if schedule is None:
            return 0
        assert schedule.last_fired_at is not None
        telemetry.schedule_fired((now - schedule.last_fired_at).total_seconds())
        local = schedule.local(schedule.last_fired_at)
        log.info(
            "fired schedule %s (%s) for %s %s",
            schedule.id,
            schedule.kind.value,
            local.strftime("%Y-%m-%d %H:%M"),
            schedule.timezone,
        )
        return 1

    def run(self, stop: threading.Event) -> None:
        """Fire what is due until `stop` is set; Redis errors are logged and retried."""
        log.info("scheduler %s started", self.name)
        outage = OutageLog.named(f"scheduler {self.name}")
        backoff = 0.0
        while not stop.is_set():
            try:
                self.heartbeat()
                self.tick()
                pause = self._pause()
                backoff = 0.0
                outage.back()
            except redis.RedisError as error:
                backoff = min(MAX_BACKOFF, max(0.5, backoff * 2))
                outage.lost(error)  # said once per outage; "back" once it answers
                pause = backoff
            stop.wait(pause)
        self._leave()
        log.info("scheduler %s stopped", self.name)

    def _pause(self) -> float:
        """Until the soonest schedule is due, or `poll_seconds`, whichever is sooner."""
        earliest = self.store.earliest()
        if earliest is None:
            return max(MIN_PAUSE, self.poll_seconds)
        until = (earliest - datetime.now(UTC)).total_seconds()
        return max(MIN_PAUSE, min(self.poll_seconds, until))

    def heartbeat(self) -> None:
        """Tell `live_schedulers` this one is alive (at most every `HEARTBEAT_EVERY` s)."""
        now = time.time()
        if now - self._last_beat < HEARTBEAT_EVERY:
            return
        with self.connection.pipeline() as pipe:
            pipe.zadd(HEARTBEAT_KEY, {self.name: now + HEARTBEAT_TTL})
            pipe.zremrangebyscore(HEARTBEAT_KEY, "-inf", now)
            pipe.execute()
        self._last_beat = now

    def _leave(self) -> None:
        try:
            self.connection.zrem(HEARTBEAT_KEY, self.name)
        except redis.RedisError:
            log.warning("could not remove this scheduler's heartbeat; it runs out by itself")
