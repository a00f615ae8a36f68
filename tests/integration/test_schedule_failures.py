"""A scheduled run that fails for good is reported where the schedule was made, with Retry.

The schedule fires through the real scheduler claim into RQ; an in-process SimpleWorker runs
the job, which fails for a real reason (the approved video's file is gone).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from rq import Queue, SimpleWorker

from adapters.console.outbox import ConsoleOutbox
from bot.actions import ButtonAction, Say
from bot.events import Conversation, ReplyTarget
from bot.project import Project, ProjectState, ProjectStore
from bot.schedule_store import Schedule, ScheduleKind, ScheduleState, ScheduleStore
from novacast.wiring import install_worker_runtime
from pipeline.writers.offline import OfflineWriter
from workers.catalog import PUBLISH_QUEUE, SERIALIZER
from workers.due_schedules import Scheduler


def test_a_scheduled_publish_whose_video_is_gone_is_reported_with_retry(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    chat = Conversation(adapter="console", workspace="local", channel="terminal", user="you")
    script = OfflineWriter().script("why the sea is salty", 20)
    project = ProjectStore(redis_conn).create(Project.start(chat, script))
    ProjectStore(redis_conn).update(project.id, lambda p: p.evolve(
        state=ProjectState.APPROVED, rendered_version=1, approved_by="you",
        video_path=str(data_dir / "gone.mp4")))
    store = ScheduleStore(redis_conn)
    due = datetime.now(UTC) - timedelta(seconds=1)
    schedule = store.add(Schedule(
        kind=ScheduleKind.PUBLISH, conversation=chat, target=ReplyTarget.of(chat),
        created_by="you", timezone="UTC", description="Thu 26 Nov at 09:00 (UTC)",
        project_id=project.id, version=1, next_at=due))
    outbox = ConsoleOutbox(redis_conn, "local")
    outbox.start_reading()

    assert Scheduler(redis_conn).tick() == 1
    queue = Queue(PUBLISH_QUEUE, connection=redis_conn, serializer=SERIALIZER)
    install_worker_runtime(redis_conn)
    SimpleWorker([queue], connection=redis_conn, serializer=SERIALIZER).work(burst=True)

    said = [a for a in outbox.read(block_ms=1000) if isinstance(a, Say)]
    expected = (
        "The scheduled run (Thu 26 Nov at 09:00 (UTC)) failed: the rendered video is missing; "
        "press Render to make it again."
    )
    assert re.fullmatch(re.escape(expected) + r" \(ref [0-9a-f]{12}\)", said[-1].text)
    assert [b.action for b in said[-1].buttons] == [ButtonAction.RETRY]
    stored = ProjectStore(redis_conn).get(project.id)
    assert stored is not None
    assert stored.last_error.startswith("scheduled publish: the rendered video is missing")
    after = store.get(schedule.id)
    assert after is not None
    assert after.state is ScheduleState.DONE
