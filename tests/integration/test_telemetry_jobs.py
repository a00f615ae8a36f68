"""The trace id through RQ: the core's enqueues put it in job meta, a worker restores it while the
job runs, and what that job enqueues carries it on (a show: firing -> draft -> render chain)."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from prometheus_client import REGISTRY
from rq import Queue
from rq.job import Job

from adapters.console.outbox import ConsoleOutbox
from bot.actions import Say
from bot.events import Conversation, ReplyTarget
from bot.project import Project, ProjectState, ProjectStore
from bot.schedule_store import Schedule, ScheduleKind, ScheduleStore
from novacast.wiring import install_worker_runtime
from pipeline import telemetry
from pipeline.writers.offline import OfflineWriter
from workers.catalog import QUEUES, RENDER_LANES, RENDER_QUEUE, SERIALIZER
from workers.due_schedules import Scheduler, fire_job_id
from workers.queues import RQJobQueue
from workers.worker import NovacastWorker

CHAT = Conversation(adapter="console", workspace="local", channel="terminal", user="you")


def chain_traces(connection: redis.Redis, ids: list[str]) -> set[str | None]:
    jobs = Job.fetch_many(ids, connection=connection, serializer=SERIALIZER)
    return {telemetry.job_trace_id(job.meta) for job in jobs if job is not None}


def rendering_project(connection: redis.Redis) -> Project:
    store = ProjectStore(connection)
    project = store.create(Project.start(CHAT, OfflineWriter().script("why the sea is salty", 12)))
    store.update(project.id, lambda p: p.evolve(state=ProjectState.RENDERING))
    return project


def test_a_render_chain_carries_the_events_trace_id(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    project = rendering_project(redis_conn)
    with telemetry.traced("a1b2c3d4e5f6"):
        ids = RQJobQueue(redis_conn).render(project.id, 1, ReplyTarget.of(CHAT))
    assert chain_traces(redis_conn, ids) == {"a1b2c3d4e5f6"}


def test_a_chain_queued_outside_any_trace_shares_one_of_its_own(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    project = rendering_project(redis_conn)
    ids = RQJobQueue(redis_conn).render(project.id, 1, ReplyTarget.of(CHAT))
    (trace,) = chain_traces(redis_conn, ids)
    assert trace is not None


def test_a_show_passes_the_firings_trace_id_to_the_render_it_queues(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    due = datetime.now(UTC) - timedelta(seconds=1)
    schedule = ScheduleStore(redis_conn).add(Schedule(
        kind=ScheduleKind.MAKE, conversation=CHAT, target=ReplyTarget.of(CHAT),
        created_by="you", timezone="UTC", description="every year on 1 January at 00:00 (UTC)",
        idea="12s on why the sea is salty", cron="0 0 1 1 *", next_at=due))
    install_worker_runtime(redis_conn)
    assert Scheduler(redis_conn).tick() == 1
    fired = Job.fetch(fire_job_id(schedule.id, due), connection=redis_conn, serializer=SERIALIZER)
    trace = telemetry.job_trace_id(fired.meta)
    assert trace is not None
    ok = {"step": "fire", "outcome": "ok"}
    before = REGISTRY.get_sample_value("novacast_jobs_total", ok) or 0

    queue = Queue(RENDER_QUEUE, connection=redis_conn, serializer=SERIALIZER)
    NovacastWorker([queue], connection=redis_conn, serializer=SERIALIZER).work(
        burst=True, max_jobs=1)

    assert fired.get_status() == "finished"
    assert REGISTRY.get_sample_value("novacast_jobs_total", ok) == before + 1
    lanes = [Queue(name, connection=redis_conn, serializer=SERIALIZER) for name in RENDER_LANES]
    queued = [i for lane in lanes for i in (*lane.get_job_ids(),
                                           *lane.deferred_job_registry.get_job_ids())]
    assert queued
    assert chain_traces(redis_conn, queued) == {trace}


class Lines(logging.Handler):
    """Log lines with the trace id each was logged under (what the JSON line would say)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen: list[tuple[str, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.getMessage(), telemetry.trace_id()))


def test_a_user_told_a_job_failed_gets_the_ref_the_workers_log_lines_carry(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    store = ProjectStore(redis_conn)
    project = store.create(Project.start(CHAT, OfflineWriter().script("why the sea is salty", 12)))
    store.update(project.id, lambda p: p.evolve(
        state=ProjectState.APPROVED, rendered_version=1, approved_by="you",
        video_path=str(data_dir / "gone.mp4")))
    outbox = ConsoleOutbox(redis_conn, "local")
    outbox.start_reading()
    with telemetry.traced() as trace:  # the Approve press
        RQJobQueue(redis_conn).publish(project.id, 1, "you", ReplyTarget.of(CHAT))
    install_worker_runtime(redis_conn)
    lines = Lines()
    logging.getLogger("workers").addHandler(lines)
    try:
        queues = [Queue(q, connection=redis_conn, serializer=SERIALIZER) for q in QUEUES]
        NovacastWorker(queues, connection=redis_conn, serializer=SERIALIZER).work(burst=True)
    finally:
        logging.getLogger("workers").removeHandler(lines)

    said = [a.text for a in outbox.read(block_ms=1000) if isinstance(a, Say)]
    (told,) = [text for text in said if text.startswith("Publishing failed")]
    ref = re.fullmatch(r"Publishing failed: .+\. Press Retry publishing to try again\. "
                       r"\(ref ([0-9a-f]{12})\)", told)
    assert ref is not None, told
    assert ref.group(1) == trace
    failed = [t for message, t in lines.seen if "failed for good" in message]
    assert failed == [trace]
