"""`novacast worker`: an RQ worker that keeps the voice and ffmpeg warm between jobs.

How a killed worker's job is found and re-run, and how Redis outages are ridden out, is
`workers.recovery`'s docstring: RQ's execution heartbeats and `StartedJobRegistry.cleanup`,
with short TTLs, a heartbeat thread during in-process jobs, and RQ's scheduler as a thread.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

import redis
from rq import Queue, SimpleWorker, worker_registration
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.registry import clean_registries
from rq.utils import now
from rq.worker import WorkerStatus

from pipeline import telemetry
from pipeline.voice import PiperTTS
from workers import runtime
from workers.catalog import QUEUES, SERIALIZER, CatalogJob, job_functions
from workers.fairness import FairQueues
from workers.publishers import unserved_kinds
from workers.recovery import (
    CLEANING_LOCK,
    EXECUTION_TTL,
    HEARTBEAT_EVERY,
    MAINTENANCE_EVERY,
    WORKER_TTL,
    JobHeartbeat,
    OutageLog,
    ThreadedScheduler,
    wait_for_redis,
)

log = logging.getLogger(__name__)

RESTART_CALM = 60.0
"""A worker loop that lasted this long (s) ended by accident; a shorter one backs off."""
RESTART_MAX = 30.0
PUBSUB_WAKE = 1.0


class NovacastWorker(FairQueues, SimpleWorker):
    """Runs jobs in-process (no fork per job), so the Piper voice is loaded once per worker.

    Jobs are functions of ids that re-read state from Redis, so in-process execution is safe;
    run several workers (processes or machines) to render in parallel. A job's execution is
    kept alive by a heartbeat thread, so one that stops beating (the worker was killed) is
    re-run by another worker within a minute (`workers.recovery`).
    """

    job_class = CatalogJob  # runs only the catalog's functions and callbacks

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("worker_ttl", WORKER_TTL)
        kwargs.setdefault("maintenance_interval", MAINTENANCE_EVERY)
        kwargs.setdefault("job_monitoring_interval", HEARTBEAT_EVERY)
        super().__init__(*args, **kwargs)
        self._beat: JobHeartbeat | None = None
        self.outage = OutageLog.named("worker")
        if not any(isinstance(f, _SaidOnce) for f in self.log.filters):
            self.log.addFilter(_SaidOnce(self.outage))

    @property
    def stopping(self) -> bool:
        """A warm or cold shutdown was asked for (SIGTERM, SIGINT)."""
        return self._shutdown_requested_date is not None or self._stop_requested

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """How long an execution lives without a beat, whatever the job's timeout."""
        del job, working_time
        return EXECUTION_TTL

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Run the job (and its failure callback) under the trace id it was enqueued with (a
        new one if none), kept alive by a heartbeat, and counted in `novacast_jobs_total`."""
        execution = self.prepare_execution(job)
        started = time.perf_counter()
        with telemetry.traced(telemetry.job_trace_id(job.meta)):
            with JobHeartbeat(self, job, execution) as beat:
                self._beat = beat
                try:
                    ok = self.perform_job(job, queue, execution)
                finally:
                    self._beat = None
            step, outcome = job_step(job), job_outcome(job, ok)
            seconds = time.perf_counter() - started
            telemetry.count_job(step, outcome, seconds)
            log.info("job %s (%s): %s in %.2f s", job.id, step, outcome, seconds)
        self.set_state(WorkerStatus.IDLE)

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        if self._beat is not None:  # no beat may land after RQ removes the execution
            self._beat.stop()
        super().handle_execution_ended(job, queue, heartbeat_ttl)

    def maintain_heartbeats(self, job: Job, execution: Execution) -> None:
        super().maintain_heartbeats(job, execution)
        self.outage.back()

    def clean_registries(self) -> None:
        """RQ's maintenance pass, under a cleaning lock that outlives a dead cleaner by
        `CLEANING_LOCK` s rather than RQ's 15 minutes."""
        for queue in self.queues:
            if not self.connection.set(queue.registry_cleaning_key, 1, nx=True, ex=CLEANING_LOCK):
                continue
            try:
                clean_registries(queue, self._exc_handlers)
                worker_registration.clean_worker_registry(queue)
                queue.intermediate_queue.cleanup(self, queue)
            finally:
                queue.release_maintenance_lock()  # type: ignore[no-untyped-call]
        self.last_cleaned_at = now()  # type: ignore[assignment]  # RQ annotates it None

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = "%H:%M:%S",
        log_format: str = "%(asctime)s %(message)s",
    ) -> None:
        """RQ's scheduler as a thread of this process (`ThreadedScheduler`)."""
        scheduler = ThreadedScheduler(
            self.queues,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
        )
        self.scheduler = scheduler
        if not burst:
            scheduler.start()
            return
        if scheduler.acquire_locks():
            try:
                scheduler.register_birth()
                scheduler.enqueue_scheduled_jobs()  # type: ignore[no-untyped-call]
            finally:
                scheduler.release_locks()  # type: ignore[no-untyped-call]
                scheduler.register_death()

    def stop_scheduler(self) -> None:
        scheduler = self.scheduler
        if isinstance(scheduler, ThreadedScheduler):
            scheduler.request_stop()
            scheduler.join(timeout=5)

    def subscribe(self) -> None:
        """RQ's command channel (`rq` stop/kill), its thread waking every `PUBSUB_WAKE` s
        (RQ: 60 s, and stopping the worker waits for that thread: a SIGTERM'd idle worker
        could take a minute to exit)."""
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]
            sleep_time=PUBSUB_WAKE, daemon=True, exception_handler=self._pubsub_exception_handler
        )

    def _pubsub_exception_handler(self, exc: Exception, pubsub: Any, pubsub_thread: Any) -> None:
        """Commands (`rq` stop/kill) come over pub/sub; its thread waits out an outage."""
        if not isinstance(exc, redis.ConnectionError):
            super()._pubsub_exception_handler(exc, pubsub, pubsub_thread)
            return
        self.outage.lost(exc)
        threading.Event().wait(2.0)


def job_step(job: Job) -> str:
    """A job's step for metrics: its catalog function's name (`voice`, `publish`, `fire`,
    `speak_ahead`, …); `other` for anything the catalog refuses to run."""
    name = job.func_name if job.func_name in job_functions() else ""
    return name.rsplit(".", 1)[-1] if name else "other"


def job_outcome(job: Job, ok: bool) -> str:
    """`ok`; `failed` (for good); `retried` (RQ queued or scheduled it again)."""
    if ok:
        return "ok"
    return "failed" if job.get_status(refresh=False) is JobStatus.FAILED else "retried"


class _SaidOnce(logging.Filter):
    """RQ logs a Redis outage longer than the connection's own retries at every retry of its
    dequeue loop, or with a traceback as it leaves its loop (`run_worker` starts it again):
    either becomes the outage's one "lost Redis" line."""

    def __init__(self, outage: OutageLog) -> None:
        super().__init__()
        self._outage = outage

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, redis.ConnectionError | redis.TimeoutError):
            self._outage.lost(error)
            return False
        if "could not connect to Redis" in str(record.msg) or "Redis connection timeout" in str(
            record.msg
        ):
            args = record.args if isinstance(record.args, tuple) else ()
            found = next((a for a in args if isinstance(a, BaseException)), None)
            self._outage.lost(found or ConnectionError(record.getMessage()))
            return False
        return True


def run_worker(connection: redis.Redis, *, burst: bool = False, name: str | None = None) -> bool:
    """Work the NOVACAST queues until stopped (or until empty with `burst`).

    The entry point installs the worker runtime first (`workers.runtime`); without one this
    refuses to start rather than fail the first scheduled show, as it does when a publish
    target kind has no publisher. When RQ's loop ends because Redis stayed away longer than
    the connection's retries, this waits for Redis (backoff, logged once) and starts a fresh
    worker; only a shutdown request (or `burst`) ends it."""
    runtime.current()
    if unserved := unserved_kinds():
        raise RuntimeError(f"no publisher serves the target kinds {unserved}")
    PiperTTS().warm_up()
    queues = [Queue(q, connection=connection, serializer=SERIALIZER) for q in QUEUES]
    worked, restarts, pause = False, 0, 1.0
    while True:
        worker = NovacastWorker(
            queues, connection=connection, name=_named(name, restarts), serializer=SERIALIZER
        )
        started = time.monotonic()
        try:
            worked = (
                worker.work(burst=burst, logging_level="WARNING", with_scheduler=True) or worked
            )
        except redis.RedisError as error:  # its last words (death) could not reach Redis
            worker.outage.lost(error)
        if burst or worker.stopping:
            return worked
        restarts += 1
        pause = 1.0 if time.monotonic() - started > RESTART_CALM else min(RESTART_MAX, pause * 2)
        log.warning("worker %s left its loop; starting again once Redis answers", worker.name)
        if not _await_redis(connection, worker.outage, pause):
            return worked


def _named(name: str | None, restarts: int) -> str | None:
    if name is None or restarts == 0:
        return name
    return f"{name}.{restarts}"


def _await_redis(connection: redis.Redis, outage: OutageLog, pause: float) -> bool:
    """After `pause` s, wait for Redis; SIGTERM/SIGINT meanwhile end the worker (False)."""
    stop = threading.Event()
    in_main = threading.current_thread() is threading.main_thread()
    previous = {}
    if in_main:
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        stop.wait(pause)
        return not stop.is_set() and wait_for_redis(connection, outage, stop)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
