"""Schedules from the chat to the published file: real scheduler and worker processes, real Redis.

A video scheduled a few seconds ahead goes out once, on time, even when the scheduler is killed
and replaced between scheduling and firing; pressing Schedule and answering "in 1 minute"
schedules it a minute ahead and it goes out once; a show drafts, renders and asks for approval
(or publishes by itself where policy allows). What the worker posts is read from the console's
outbox stream, as a terminal would show it.
"""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from adapters.console import ConsoleAdapter
from adapters.console.outbox import ConsoleOutbox
from bot.actions import Action, AskApproval, Say
from bot.events import Conversation, ReplyTarget
from bot.preferences import PreferenceStore
from bot.project import ProjectState, ProjectStore
from bot.schedule_store import Schedule, ScheduleKind, ScheduleState, ScheduleStore
from novacast.wiring import build_engine
from tests.integration.test_scheduler_process import scheduler_process, wait_for
from tests.workers_support import worker_process
from workers.due_schedules import Scheduler

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def _run(redis_conn: redis.Redis, lines: list[str]) -> tuple[ConsoleAdapter, str]:
    out = io.StringIO()
    adapter = ConsoleAdapter(build_engine(redis_conn).handle, redis_conn, out, patient=True)
    adapter.run(lines)
    return adapter, out.getvalue()


def _published(data_dir: Path) -> list[Path]:
    return list((data_dir / "published").rglob("*.mp4"))


def _collect(outbox: ConsoleOutbox, until: type, seconds: float) -> list[Action]:
    seen: list[Action] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen.extend(outbox.read(block_ms=500))
        if any(isinstance(action, until) for action in seen):
            return seen
    raise AssertionError(f"no {until.__name__} within {seconds} s: {seen}")


def test_a_scheduled_video_goes_out_once_on_time_across_a_scheduler_restart(
    redis_url: str, redis_conn: redis.Redis, data_dir: Path, tmp_path: Path
) -> None:
    with worker_process(redis_url, data_dir):
        adapter, _ = _run(redis_conn, ["/make 10s on tides", "Render"])
        project = ProjectStore(redis_conn).active(adapter.conversation)
        assert project is not None
        due = (datetime.now(UTC) + timedelta(seconds=6)).replace(microsecond=0)
        _, shown = _run(redis_conn, [f"schedule it for {due.isoformat()}"])
        assert shown.startswith(f"Scheduled “{project.script.title}” (v1) for ")
        _, listing = _run(redis_conn, ["/schedules"])
        assert "1 schedule in this workspace" in listing
        assert "Cancel schedule" in listing
        assert _published(data_dir) == []

        log = tmp_path / "scheduler.log"
        with scheduler_process(redis_url, log) as first:
            first.kill()  # dies before the time comes; its replacement must fire it, once
        outbox = ConsoleOutbox(redis_conn, adapter.conversation.workspace)
        outbox.start_reading()
        with scheduler_process(redis_url, log), scheduler_process(redis_url, log):
            wait_for(lambda: bool(_published(data_dir)), 60, "the scheduled publish")
            published_at = datetime.now(UTC)
            said = _collect(outbox, Say, 10)
            time.sleep(2)  # a second firing, if there were one, would show up now
    assert published_at >= due
    # Late by minutes would be a bug (a lost claim, an hour-late skip); the lag itself, ~0.3 s
    # on a quiet machine, is measured by bench/schedule_latency.py, not asserted here where two
    # shared cores under load made a worker start and a publish take 9-13 s.
    assert published_at - due < timedelta(seconds=45), "fired on time, not minutes late"
    assert len(_published(data_dir)) == 1
    texts = [action.text for action in said if isinstance(action, Say)]
    assert any(text.startswith(f"Published “{project.script.title}” (v1)") for text in texts)
    stored = ProjectStore(redis_conn).get(project.id)
    assert stored is not None
    assert stored.state is ProjectState.PUBLISHED
    (schedule,) = ScheduleStore(redis_conn).for_project(project.id, include_done=True)
    assert (schedule.state, schedule.fired) == (ScheduleState.DONE, 1)
    _, listing = _run(redis_conn, ["/schedules"])
    assert "Nothing is scheduled in this workspace" in listing


def test_schedule_then_in_1_minute_goes_out_once_a_minute_later(
    redis_url: str, redis_conn: redis.Redis, data_dir: Path
) -> None:
    """The issue's case, as a new user types it: Schedule, then "in 1 minute". The real
    scheduler is handed the clock (`Scheduler.tick(now)`), so the minute need not pass."""
    with worker_process(redis_url, data_dir):
        before = datetime.now(UTC)
        adapter, shown = _run(
            redis_conn, ["/make 10s on tides", "Render", "Schedule", "in 1 minute"]
        )
        after = datetime.now(UTC)
        assert "When should it go out?" in shown
        assert "from now on" not in shown, "not a length preference"
        assert PreferenceStore(redis_conn).get(adapter.conversation).empty
        project = ProjectStore(redis_conn).active(adapter.conversation)
        assert project is not None
        assert f"Scheduled “{project.script.title}” (v1) for " in shown
        (schedule,) = ScheduleStore(redis_conn).for_project(project.id)
        due = schedule.next_at
        assert due is not None
        assert before + timedelta(minutes=1) <= due <= after + timedelta(minutes=1)

        scheduler = Scheduler(redis_conn)
        assert scheduler.tick(due - timedelta(seconds=1)) == 0, "not before its time"
        assert _published(data_dir) == []
        outbox = ConsoleOutbox(redis_conn, adapter.conversation.workspace)
        outbox.start_reading()
        assert scheduler.tick(due) == 1
        assert scheduler.tick(due + timedelta(seconds=5)) == 0, "an occurrence fires once"
        wait_for(lambda: bool(_published(data_dir)), 60, "the scheduled publish")
        said = _collect(outbox, Say, 10)
        time.sleep(2)  # a second publish, if there were one, would show up now
    assert len(_published(data_dir)) == 1
    texts = [action.text for action in said if isinstance(action, Say)]
    assert any(text.startswith(f"Published “{project.script.title}” (v1)") for text in texts)
    stored = ProjectStore(redis_conn).get(project.id)
    assert stored is not None
    assert stored.state is ProjectState.PUBLISHED
    (done,) = ScheduleStore(redis_conn).for_project(project.id, include_done=True)
    assert (done.state, done.fired) == (ScheduleState.DONE, 1)


def _show(conversation_workspace: str, at: datetime, *, auto_publish: bool) -> Schedule:
    target = ReplyTarget(adapter="console", workspace=conversation_workspace, channel="terminal",
                         user="you")
    chat = Conversation(adapter="console", workspace=conversation_workspace, channel="terminal",
                        user="you", user_name="you")
    return Schedule(
        kind=ScheduleKind.MAKE,
        conversation=chat,
        target=target.model_copy(update={"channel": chat.channel}),
        created_by="you",
        timezone="UTC",
        # yearly, so no real occurrence can fall due while the test runs (an hourly rule did,
        # when a run crossed the hour)
        description="every year on 1 January at 00:00 (UTC)",
        idea="12s on why the sea is salty",
        cron="0 0 1 1 *",
        next_at=at,
        auto_publish=auto_publish,
    )


@pytest.mark.parametrize("auto_publish", [False, True])
def test_a_show_drafts_renders_and_asks_or_publishes_by_itself(
    redis_url: str, redis_conn: redis.Redis, data_dir: Path, tmp_path: Path, auto_publish: bool
) -> None:
    workspace = "local"
    outbox = ConsoleOutbox(redis_conn, workspace)
    outbox.start_reading()
    store = ScheduleStore(redis_conn)
    show = store.add(_show(workspace, datetime.now(UTC) + timedelta(seconds=2),
                           auto_publish=auto_publish))
    with worker_process(redis_url, data_dir), scheduler_process(redis_url, tmp_path / "s.log"):
        if auto_publish:
            wait_for(lambda: bool(_published(data_dir)), 90, "the show to publish itself")
            seen = list(outbox.read(block_ms=2000))
        else:
            seen = _collect(outbox, AskApproval, 90)
    texts = [a.text for a in seen if isinstance(a, Say)]
    assert texts[0].startswith("It's time for your show (every year on 1 January at 00:00 (UTC)).")
    assert "Draft v1" in texts[0]
    after = store.get(show.id)
    assert after is not None
    assert after.state is ScheduleState.ACTIVE, "a show keeps running"
    assert after.fired == 1
    assert after.next_at is not None
    assert after.next_at > datetime.now(UTC)
    assert (after.next_at.month, after.next_at.day, after.next_at.hour) == (1, 1, 0)
    assert after.next_at.minute == 0
    assert after.next_at.second == 0
    if auto_publish:
        assert len(_published(data_dir)) == 1
    else:
        assert _published(data_dir) == []
