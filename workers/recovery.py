"""Nothing stuck after a crash, and Redis may go away: the worker's side, with RQ's own parts.

**A killed worker's job is found by RQ's execution heartbeats.** RQ 3 records each running job
as an `Execution` in its queue's `StartedJobRegistry`, a sorted set scored by when the
execution's heartbeat runs out. `StartedJobRegistry.cleanup()` — run by every live worker's
maintenance pass — takes an execution whose score has passed as abandoned: it calls the job's
failure callback with `AbandonedJobError`, then retries the job when it has retries left
(after its retry interval) or moves it to the failed registry. We use that rather than a
registry of our own because it already works across machines, needs no extra keys, and goes
through the same retry budget and failure callback (`workers.failures.on_failure`) as any other
failure, so an abandoned step ends as a retry or as one clear failure with Retry.

What RQ leaves to us, and what `NovacastWorker` (`workers.worker`) sets here:
- `SimpleWorker` runs the job in its own thread and sends no heartbeat until the job returns,
  so it scores the execution `job timeout + 60 s` ahead (16 min for a full render; a killed
  worker's render sat ~27 min at its last percentage). Here an execution lives
  `EXECUTION_TTL` (15 s) and a `JobHeartbeat` thread calls RQ's own
  `worker.maintain_heartbeats` every `HEARTBEAT_EVERY` (3 s) while the job runs, so a live
  long ffmpeg run is never taken as abandoned and a dead one is, 15 s after its last beat.
- Maintenance runs every `MAINTENANCE_EVERY` (5 s) instead of 10 min, and an idle worker
  wakes from its blocking dequeue every `DEQUEUE_WAKE` (5 s) to do it. Its lock (RQ holds it
  899 s, and a worker that dies while cleaning leaves it) expires after `CLEANING_LOCK` s.
  A step abandoned by a SIGKILL is thus re-run 15-25 s after the kill (plus the step's retry
  interval, 2 s for a render), by any live worker: bench/crash_recovery.py measures it.
- RQ's scheduler (what moves a delayed retry into its queue) runs as a thread of the worker
  (`ThreadedScheduler`), not a forked child: it dies with the worker (killing only the
  worker's Python process orphaned the child), and it rides out Redis outages with backoff
  instead of dying (a 4 s outage killed the child, and delayed retries then waited ~13 min
  for the next maintenance pass). Its queue locks expire after `SCHEDULER_LOCK` (10 s, RQ's
  61 s), so another worker's scheduler takes over a killed one's soon enough for a retry.

**Redis outages.** The worker's connection retries every command with exponential backoff
(up to `RETRY_CAP` s apart) for as long as Redis is away (`resilient_connection`): a worker has
nothing to do without Redis, so RQ's code never sees the outage — the job in flight pauses at
its next Redis call (a progress edit) and goes on when Redis is back, its heartbeat resumes.
RQ's scheduler thread retries briefly and backs off in its own loop. Each part logs "lost Redis"
once when it starts failing and "Redis is back" once when it answers again (`OutageLog`, fed by
`LoggedRetry`). Should RQ's work loop end anyway, `workers.worker.run_worker` starts a fresh
worker once Redis answers, and a job left running is found abandoned and re-run like a killed
one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry as RedisRetry
from rq.scheduler import RQScheduler
from rq.scripts import ACQUIRE_OR_REFRESH_LOCK_SCRIPT, acquire_or_refresh_lock
from rq.utils import now, utcformat

if TYPE_CHECKING:
    from rq.executions import Execution
    from rq.job import Job
    from rq.worker import BaseWorker

log = logging.getLogger(__name__)

EXECUTION_TTL = 15
"""Seconds a running job's execution lives without a heartbeat before RQ takes it as
abandoned."""
HEARTBEAT_EVERY = 3
"""Seconds between heartbeats of a running job (five chances before `EXECUTION_TTL`)."""
MAINTENANCE_EVERY = 5
"""Seconds between a worker's maintenance passes (abandoned jobs, registries, its scheduler)."""
WORKER_TTL = 20
"""RQ's worker TTL; an idle worker blocks on the queues `WORKER_TTL - 15` s at a time."""
DEQUEUE_WAKE = WORKER_TTL - 15
CLEANING_LOCK = 60
"""Seconds the per-queue cleaning lock lives if its holder dies while cleaning."""
SCHEDULER_LOCK = 10
"""Seconds a scheduler's queue lock lives without being refreshed (refreshed every second)."""
SCHEDULER_RETAKE_EVERY = 2.0
"""How often a scheduler without every lock tries to take the missing ones."""

RETRY_BASE = 0.1
RETRY_CAP = 2.0
FOREVER = -1
"""redis-py's retry count meaning "until it answers"."""
BEAT_JOIN_SECONDS = 10.0
"""How long a finishing job waits for a heartbeat in flight (a stuck one is a daemon thread)."""
MAX_BACKOFF = 5.0
"""Longest pause between two reconnection attempts of a loop (schedulers, the worker)."""

T = TypeVar("T")


class OutageLog:
    """One part's view of Redis: says "lost" once when it fails, "back" once when it answers."""

    _all: ClassVar[dict[str, OutageLog]] = {}
    _all_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, who: str) -> None:
        self.who = who
        self._lock = threading.Lock()
        self._since: float | None = None

    @classmethod
    def named(cls, who: str) -> OutageLog:
        """The one log for `who` in this process (every connection of that part shares it)."""
        with cls._all_lock:
            found = cls._all.get(who)
            if found is None:
                found = cls._all[who] = OutageLog(who)
            return found

    @property
    def down(self) -> bool:
        return self._since is not None

    def lost(self, error: BaseException) -> None:
        with self._lock:
            if self._since is not None:
                return
            self._since = time.monotonic()
        log.warning("%s lost Redis (%s); reconnecting with backoff", self.who, _short(error))

    def back(self) -> None:
        if self._since is None:
            return
        with self._lock:
            since, self._since = self._since, None
        if since is not None:
            log.warning("%s: Redis is back after %.1f s", self.who, time.monotonic() - since)


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


class LoggedRetry(RedisRetry):
    """redis-py's retry with exponential backoff, reporting to the `OutageLog` of `who`.

    Connections deep-copy their retry policy, so this holds the part's name, not its log."""

    def __init__(self, who: str, attempts: int = FOREVER) -> None:
        super().__init__(ExponentialBackoff(cap=RETRY_CAP, base=RETRY_BASE), attempts)
        self.who = who

    def call_with_retry(
        self,
        do: Callable[[], T],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        outage = OutageLog.named(self.who)
        failed = False

        def noted(error: Exception, *count: int) -> Any:
            nonlocal failed
            failed = True
            outage.lost(error)
            return fail(error, *count)

        result = super().call_with_retry(do, noted, is_retryable, with_failure_count)
        if failed or outage.down:
            outage.back()
        return result


def resilient_connection(url: str, who: str) -> redis.Redis:
    """A connection to `url` whose commands wait out Redis restarts (see `LoggedRetry`)."""
    connection: redis.Redis = redis.Redis.from_url(
        url, retry=LoggedRetry(who), health_check_interval=15
    )
    return connection


def wait_for_redis(connection: redis.Redis, outage: OutageLog, stop: threading.Event) -> bool:
    """Ping with backoff until Redis answers (True) or `stop` is set (False)."""
    pause = 0.5
    while not stop.is_set():
        try:
            connection.ping()
        except redis.RedisError as error:
            outage.lost(error)
            stop.wait(pause)
            pause = min(MAX_BACKOFF, pause * 2)
            continue
        outage.back()
        return True
    return False


class JobHeartbeat:
    """While a job runs in the worker's own thread, keep its execution alive from another.

    It calls RQ's `maintain_heartbeats` (worker key, execution score, job hash), whose
    execution TTL is the worker's `get_heartbeat_ttl` (`EXECUTION_TTL`)."""

    def __init__(self, worker: BaseWorker, job: Job, execution: Execution) -> None:
        self._worker, self._job, self._execution = worker, job, execution
        self._stop = threading.Event()
        self._outage = OutageLog.named("worker")
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{job.id}", daemon=True)

    def __enter__(self) -> JobHeartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """No more beats (before RQ removes the execution, so none recreates its hash)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=BEAT_JOIN_SECONDS)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_EVERY):
            try:
                self._worker.maintain_heartbeats(self._job, self._execution)
            except redis.RedisError as error:  # the execution may lapse; then it is re-run
                self._outage.lost(error)
            except Exception:
                log.exception("heartbeat of job %s failed", self._job.id)


class ThreadedScheduler(RQScheduler):
    """RQ's scheduler (delayed jobs and retries into their queues) as a thread of the worker.

    Same locks and registries as RQ's forked scheduler, but: it dies with the worker process;
    a Redis error pauses it (backoff, logged once) instead of ending it; its locks live
    `SCHEDULER_LOCK` s and missing ones are retaken every `SCHEDULER_RETAKE_EVERY` s, so a
    killed worker's queues are scheduled again by another worker within seconds."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # its own connections retry briefly; longer outages are this loop's (logged once)
        self._pool_kwargs = {**self._pool_kwargs, "retry": LoggedRetry("RQ scheduler", 3)}
        self._wake = threading.Event()
        self._last_retake = 0.0
        self._outage = OutageLog.named("RQ scheduler")

    def start(self) -> threading.Thread:
        self._status = self.Status.STARTED
        self._stop_requested = False
        self._wake.clear()
        thread = threading.Thread(target=self._run, name="rq-scheduler", daemon=True)
        self._process = thread  # type: ignore[assignment]  # RQ only asks it is_alive()
        thread.start()
        return thread

    def request_stop(self, signum: object = None, frame: object = None) -> None:
        del signum, frame  # RQ's signal-handler signature; this thread installs no handler
        self._stop_requested = True
        self._wake.set()

    def join(self, timeout: float) -> None:
        thread = self._process
        if isinstance(thread, threading.Thread) and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        log.info("RQ scheduler thread for %s started", ", ".join(sorted(self._queue_names)))
        pause = 0.0
        while not self._stop_requested:
            try:
                self._once()
            except redis.RedisError as error:
                self._outage.lost(error)
                pause = min(MAX_BACKOFF, max(0.5, pause * 2))
            except Exception:
                log.exception("RQ scheduler pass failed; trying again")
                pause = MAX_BACKOFF
            else:
                self._outage.back()
                pause = float(self.interval)
            self._wake.wait(pause)
        try:
            self.stop()  # type: ignore[no-untyped-call]
        except redis.RedisError:
            log.warning("RQ scheduler could not release its locks; they run out by themselves")

    def _once(self) -> None:
        if self.last_heartbeat is None:
            self.register_birth()
        if self._queue_names != self.acquired_locks and (
            time.monotonic() - self._last_retake >= SCHEDULER_RETAKE_EVERY
        ):
            self._last_retake = time.monotonic()
            self.acquire_locks()
        self.heartbeat()
        if self.acquired_locks:
            self.enqueue_scheduled_jobs()  # type: ignore[no-untyped-call]

    def acquire_locks(self, auto_start: bool = False) -> set[str]:
        """RQ's `acquire_locks` with locks living `SCHEDULER_LOCK` s."""
        taken = set()
        for name in self._queue_names:
            outcome = acquire_or_refresh_lock(
                self.connection, self.get_locking_key(name), self.name, SCHEDULER_LOCK
            )
            if outcome in ("acquired", "refreshed"):
                taken.add(name)
        if taken != self._acquired_locks:
            log.info("RQ scheduler %s schedules %s", self.name, ", ".join(sorted(taken)) or "none")
        self._scheduled_job_registries = []
        self._acquired_locks = taken
        self.lock_acquisition_time = None
        if auto_start and not (self._process and self._process.is_alive()):
            self.start()
        return taken

    def heartbeat(self) -> None:
        """RQ's `heartbeat`, refreshing the locks for `SCHEDULER_LOCK` s."""
        self.last_heartbeat = now()
        names = sorted(self._acquired_locks)
        script = self.connection.register_script(ACQUIRE_OR_REFRESH_LOCK_SCRIPT)
        with self.connection.pipeline() as pipeline:
            pipeline.hset(self.key, "last_heartbeat", utcformat(self.last_heartbeat))
            pipeline.expire(self.key, SCHEDULER_LOCK + 60)
            for name in names:
                script(keys=[self.get_locking_key(name)], args=[self.name, SCHEDULER_LOCK],
                       client=pipeline)
            results = pipeline.execute()
        lost = {name for name, outcome in zip(names, results[2:], strict=True) if outcome == 0}
        if lost:
            log.warning("RQ scheduler locks for %s were taken over", ", ".join(sorted(lost)))
            self._acquired_locks -= lost
            self._scheduled_job_registries = []
