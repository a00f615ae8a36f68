"""A show fires through the core the worker process installed at start.

The scheduler's real claim enqueues the firing by name; an in-process SimpleWorker, with the
runtime installed the way `novacast worker` installs it, runs that one job: the core writes the
draft in the show's conversation and the render chain is queued through the JobQueue port.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from rq import Queue, SimpleWorker
from rq.job import Job

from adapters.console.outbox import ConsoleOutbox
from bot.actions import Say
from bot.events import Conversation, ReplyTarget
from bot.project import ProjectState, ProjectStore
from bot.schedule_store import Schedule, ScheduleKind, ScheduleStore
from novacast.wiring import install_worker_runtime
from workers.catalog import RENDER_LANES, RENDER_QUEUE, RENDER_STEPS, SERIALIZER
from workers.due_schedules import Scheduler, fire_job_id


def test_a_show_drafts_through_the_installed_core_and_queues_its_render(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    chat = Conversation(adapter="console", workspace="local", channel="terminal", user="you")
    due = datetime.now(UTC) - timedelta(seconds=1)
    schedule = ScheduleStore(redis_conn).add(Schedule(
        kind=ScheduleKind.MAKE, conversation=chat, target=ReplyTarget.of(chat),
        created_by="you", timezone="UTC", description="every year on 1 January at 00:00 (UTC)",
        idea="12s on why the sea is salty", cron="0 0 1 1 *", next_at=due))
    outbox = ConsoleOutbox(redis_conn, "local")
    outbox.start_reading()
    install_worker_runtime(redis_conn)

    assert Scheduler(redis_conn).tick() == 1
    queue = Queue(RENDER_QUEUE, connection=redis_conn, serializer=SERIALIZER)
    SimpleWorker([queue], connection=redis_conn, serializer=SERIALIZER).work(burst=True, max_jobs=1)

    fired = Job.fetch(fire_job_id(schedule.id, due), connection=redis_conn, serializer=SERIALIZER)
    assert fired.get_status() == "finished", fired.latest_result()
    project = ProjectStore(redis_conn).active(chat)
    assert project is not None
    assert project.state is ProjectState.RENDERING
    assert fired.return_value() == f"drafted and rendering project {project.id}"
    said = [a for a in outbox.read(block_ms=1000) if isinstance(a, Say)]
    assert said[0].text.startswith(
        "It's time for your show (every year on 1 January at 00:00 (UTC)).\n\nDraft v1 · "
    )
    lanes = [Queue(name, connection=redis_conn, serializer=SERIALIZER) for name in RENDER_LANES]
    queued = [Job.fetch(i, connection=redis_conn, serializer=SERIALIZER)
              for lane in lanes for i in lane.get_job_ids()]
    deferred = [i for lane in lanes for i in lane.deferred_job_registry.get_job_ids()]
    assert [job.func_name for job in queued] == [RENDER_STEPS[0].function]
    assert len(deferred) == len(RENDER_STEPS) - 1
