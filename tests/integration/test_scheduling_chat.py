"""Scheduling from the chat, through the real core on real Redis: what people type and read.

Times are checked against instants computed independently with zoneinfo from the same `now`
window, so a test started a second before midnight cannot flake: each check accepts only the
instants that are right for the moment the message was handled.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis

from bot import replies
from bot.actions import ButtonAction, Say
from bot.engine import Engine
from bot.events import MessageEvent, Speaker
from bot.project import ProjectState, ProjectStore
from bot.schedule_store import ScheduleKind, ScheduleState, ScheduleStore
from pipeline.writers.offline import OfflineWriter
from policy import parse_policy
from tests.integration.test_engine import (
    RecordingJobs,
    buttons,
    cmd,
    conv,
    make,
    msg,
    press,
    reply_for,
    said,
    to_preview,
)

S = ProjectState


@pytest.fixture(autouse=True)
def _default_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOVACAST_TIMEZONE", raising=False)


@pytest.fixture
def jobs() -> RecordingJobs:
    return RecordingJobs()


@pytest.fixture
def engine(redis_conn: redis.Redis, jobs: RecordingJobs) -> Engine:
    return Engine(redis_conn, OfflineWriter(), jobs, parse_policy({}))


@pytest.fixture
def store(redis_conn: redis.Redis) -> ProjectStore:
    return ProjectStore(redis_conn)


@pytest.fixture
def schedules(redis_conn: redis.Redis) -> ScheduleStore:
    return ScheduleStore(redis_conn)


def tomorrow_at(hour: int, zone: str, now: datetime) -> datetime:
    local = now.astimezone(ZoneInfo(zone)).date() + timedelta(days=1)
    moment = datetime(local.year, local.month, local.day, hour, tzinfo=ZoneInfo(zone))
    return moment.astimezone(UTC)


def test_the_schedule_button_asks_when_then_a_time_schedules_the_publish(
    engine: Engine, store: ProjectStore, schedules: ScheduleStore
) -> None:
    project = to_preview(engine, store, make(engine, store))
    asked = reply_for(engine, press("schedule", project.id))
    assert asked == replies.ask_when("UTC")
    before = datetime.now(UTC)
    actions = engine.handle(msg("tomorrow 9am"))
    after = datetime.now(UTC)
    text = said(actions)
    assert text.startswith(f"Scheduled “{project.script.title}” (v1) for ")
    assert "to folder. Approved by U1-name." in text
    assert buttons(actions) == [ButtonAction.UNSCHEDULE]
    (schedule,) = schedules.for_project(project.id)
    assert schedule.kind is ScheduleKind.PUBLISH
    assert schedule.next_at in {tomorrow_at(9, "UTC", before), tomorrow_at(9, "UTC", after)}
    assert schedule.description in text
    stored = store.get(project.id)
    assert stored is not None
    assert stored.state is S.APPROVED
    assert stored.approved_by == "U1"
    assert engine.handle(msg("tomorrow 10am")) != actions, "the question was answered once"


def test_schedule_it_in_one_line_reads_the_users_time_zone(
    engine: Engine, store: ProjectStore, schedules: ScheduleStore
) -> None:
    project = to_preview(engine, store, make(engine, store))
    set_reply = reply_for(engine, msg("my time zone is Asia/Tokyo"))
    assert set_reply.startswith("Time zone set to Asia/Tokyo (it's ")
    before = datetime.now(UTC)
    text = reply_for(engine, msg("schedule it for tomorrow 9am"))
    after = datetime.now(UTC)
    assert "(Asia/Tokyo)" in text
    (schedule,) = schedules.for_project(project.id)
    expected = {tomorrow_at(9, "Asia/Tokyo", before), tomorrow_at(9, "Asia/Tokyo", after)}
    assert schedule.next_at in expected
    assert schedule.timezone == "Asia/Tokyo"
    assert reply_for(engine, cmd("timezone")) == replies.timezone_is("Asia/Tokyo")


def test_a_platform_profile_zone_is_used_until_the_user_sets_one(
    engine: Engine, store: ProjectStore, schedules: ScheduleStore
) -> None:
    project = to_preview(engine, store, make(engine, store))
    profile = Speaker.of(conv(), timezone="America/New_York")
    line = MessageEvent(conversation=conv(), speaker=profile, text="schedule it for tomorrow 9am")
    before = datetime.now(UTC)
    text = reply_for(engine, line)
    after = datetime.now(UTC)
    assert "(America/New_York)" in text
    (schedule,) = schedules.for_project(project.id)
    zone = "America/New_York"
    assert schedule.next_at in {tomorrow_at(9, zone, before), tomorrow_at(9, zone, after)}
    engine.handle(msg("my time zone is Europe/Berlin"))
    text = reply_for(engine, line)
    assert "(Europe/Berlin)" in text, "what the user said wins over the profile"


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("yesterday", "past"),
        ("32nd of May", "May"),
        ("banana o'clock", "tomorrow 9am"),
        ("2020-01-01 09:00", "past"),
    ],
)
def test_bad_times_are_answered_clearly_and_change_nothing(
    engine: Engine, store: ProjectStore, schedules: ScheduleStore, when: str, expected: str
) -> None:
    project = to_preview(engine, store, make(engine, store))
    text = reply_for(engine, msg(f"schedule it for {when}"))
    assert expected in text
    assert "Traceback" not in text
    assert schedules.for_project(project.id) == []
    stored = store.get(project.id)
    assert stored is not None
    assert stored.state is S.PREVIEW


def test_a_recurring_time_for_one_video_points_to_shows(
    engine: Engine, store: ProjectStore
) -> None:
    to_preview(engine, store, make(engine, store))
    assert reply_for(engine, msg("schedule it for every monday 9:00")) == replies.ONE_VIDEO_ONCE


def test_a_draft_must_be_rendered_before_it_is_scheduled(
    engine: Engine, store: ProjectStore
) -> None:
    make(engine, store)
    assert reply_for(engine, msg("schedule it for tomorrow 9am")).startswith("Render it first")
    assert reply_for(engine, msg("schedule it")) .startswith("Render it first")


def test_only_approvers_may_schedule(
    redis_conn: redis.Redis, jobs: RecordingJobs, store: ProjectStore, schedules: ScheduleStore
) -> None:
    policy = parse_policy({"approvers": {"requester_may_approve": False,
                                         "admins_may_approve": False,
                                         "workspaces": {"slack": {"T1": {"users": ["U9"]}}}}})
    engine = Engine(redis_conn, OfflineWriter(), jobs, policy)
    project = to_preview(engine, store, make(engine, store))
    (refusal,) = engine.handle(msg("schedule it for tomorrow 9am"))
    assert isinstance(refusal, Say)
    assert refusal.ephemeral
    assert schedules.for_project(project.id) == []
    editor = conv(user="U9")
    assert reply_for(engine, press("schedule", project.id, editor)) == replies.ask_when("UTC")
    assert reply_for(engine, msg("tomorrow 9am", editor)).startswith("Scheduled")
    (schedule,) = schedules.for_project(project.id)
    assert schedule.created_by == "U9"
    (no_show,) = engine.handle(cmd("make", "every monday 9:00, a space-news recap"))
    assert isinstance(no_show, Say)
    assert (no_show.text, no_show.ephemeral) == (replies.SHOWS_NEED_APPROVERS, True)
    assert reply_for(engine, cmd("make", "every monday 9:00, a space-news recap", editor)
                     ).startswith("Show set up: ")


def test_schedules_lists_them_and_cancel_returns_the_video_to_its_preview(
    engine: Engine, store: ProjectStore, schedules: ScheduleStore
) -> None:
    project = to_preview(engine, store, make(engine, store))
    reply_for(engine, msg("schedule it for tomorrow 9am"))
    listing = engine.handle(cmd("schedules"))
    header, line = listing
    assert isinstance(header, Say)
    assert header.text.startswith("1 schedule in this workspace")
    assert isinstance(line, Say)
    assert f"publish “{project.script.title}” (v1), set by U1-name" in line.text
    (button,) = line.buttons
    assert button.action is ButtonAction.UNSCHEDULE
    cancelled = engine.handle(press("unschedule", button.project_id))
    assert said(cancelled).startswith(f"Cancelled: “{project.script.title}” won't go out")
    assert ButtonAction.APPROVE in buttons(cancelled)
    stored = store.get(project.id)
    assert stored is not None
    assert stored.state is S.PREVIEW
    assert stored.approved_by is None
    schedule = schedules.get(button.project_id)
    assert schedule is not None
    assert schedule.state is ScheduleState.CANCELLED
    again = reply_for(engine, press("unschedule", button.project_id))
    assert again == "That schedule is already cancelled; nothing to cancel."
    assert reply_for(engine, cmd("schedules")) == replies.NO_SCHEDULES


def test_another_workspace_cannot_see_or_cancel_a_schedule(
    engine: Engine, store: ProjectStore
) -> None:
    to_preview(engine, store, make(engine, store))
    engine.handle(msg("schedule it for tomorrow 9am"))
    listing = engine.handle(cmd("schedules"))
    schedule_id = listing[1].buttons[0].project_id  # type: ignore[attr-defined]
    elsewhere = conv(workspace="T2")
    assert reply_for(engine, cmd("schedules", c=elsewhere)) == replies.NO_SCHEDULES
    text = reply_for(engine, press("unschedule", schedule_id, elsewhere))
    assert text == replies.UNKNOWN_SCHEDULE


def test_scheduling_again_replaces_the_earlier_time(
    engine: Engine, store: ProjectStore, schedules: ScheduleStore
) -> None:
    project = to_preview(engine, store, make(engine, store))
    engine.handle(msg("schedule it for tomorrow 9am"))
    engine.handle(msg("schedule it for tomorrow 10am"))
    active = schedules.for_project(project.id)
    assert len(active) == 1
    assert active[0].next_at is not None
    assert active[0].next_at.astimezone(UTC).hour == 10


def test_a_show_is_a_recurring_make(
    engine: Engine, store: ProjectStore, redis_conn: redis.Redis
) -> None:
    actions = engine.handle(cmd("make", "every monday 9:00, a 30s space-news recap"))
    text = said(actions)
    assert text.startswith("Show set up: every Monday at 09:00 (UTC)")
    assert "“a 30s space-news recap”, render it and ask for approval here" in text
    (schedule,) = ScheduleStore(redis_conn).for_workspace("slack", "T1")
    assert (schedule.kind, schedule.cron, schedule.idea) == (
        ScheduleKind.MAKE, "0 9 * * 1", "a 30s space-news recap")
    assert schedule.next_at is not None
    assert schedule.next_at.weekday() == 0
    assert store.active(conv()) is None, "no draft now: the show drafts when it runs"


def test_a_show_may_not_run_more_often_than_policy_allows(
    redis_conn: redis.Redis, jobs: RecordingJobs, engine: Engine
) -> None:
    assert reply_for(engine, cmd("make", "every hour: the latest headlines")).startswith(
        "Show set up: ")
    strict = Engine(redis_conn, OfflineWriter(), jobs,
                    parse_policy({"schedules": {"min_recurring_minutes": 120}}))
    text = reply_for(strict, cmd("make", "every hour: the latest headlines", conv(user="U2")))
    assert text == replies.too_often(120)
    assert len(ScheduleStore(redis_conn).for_workspace("slack", "T1")) == 1


def test_retry_publishes_again_after_a_failure(
    engine: Engine, store: ProjectStore, jobs: RecordingJobs
) -> None:
    project = to_preview(engine, store, make(engine, store))
    engine.handle(press("approve", project.id))
    assert len(jobs.publishes) == 1
    assert reply_for(engine, press("approve", project.id)) == (
        "Already approved — publishing is under way.")
    assert len(jobs.publishes) == 1
    store.transition(project.id, {S.APPROVED}, S.APPROVED, last_error="publish: x: down")
    text = reply_for(engine, press("retry", project.id))
    assert text == "Trying again: publishing v1 to folder…"
    assert len(jobs.publishes) == 2
    stored = store.get(project.id)
    assert stored is not None
    assert stored.last_error == ""


def test_concurrent_approvals_enqueue_one_publish(
    engine: Engine, store: ProjectStore, jobs: RecordingJobs
) -> None:
    project = to_preview(engine, store, make(engine, store))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: engine.handle(press("approve", project.id)), range(16)))
    assert len(jobs.publishes) == 1


def test_a_time_is_awaited_until_it_comes_and_other_lines_still_work(
    engine: Engine, store: ProjectStore, schedules: ScheduleStore
) -> None:
    project = to_preview(engine, store, make(engine, store))
    engine.handle(press("schedule", project.id))
    assert reply_for(engine, msg("banana")).startswith("I couldn't read")
    assert "past" in reply_for(engine, msg("yesterday"))
    assert reply_for(engine, msg("make it shorter")).startswith("v2")
    assert schedules.for_project(project.id) == []
    project = to_preview(engine, store, store.get(project.id))  # type: ignore[arg-type]
    assert reply_for(engine, msg("in 2 hours")).startswith("Scheduled")


def test_rejecting_a_scheduled_video_points_to_cancel_schedule(
    engine: Engine, store: ProjectStore, schedules: ScheduleStore
) -> None:
    project = to_preview(engine, store, make(engine, store))
    engine.handle(msg("schedule it for tomorrow 9am"))
    (schedule,) = schedules.for_project(project.id)
    for event in (press("reject", project.id), msg("reject it"), msg("cancel")):
        actions = engine.handle(event)
        assert said(actions).startswith(f"“{project.script.title}” is scheduled to go out ")
        assert buttons(actions) == [ButtonAction.UNSCHEDULE]
    stored = store.get(project.id)
    assert stored is not None
    assert stored.state is S.APPROVED
    assert schedules.for_project(project.id) == [schedule]


def test_two_bot_replicas_approving_at_once_enqueue_one_publish(
    redis_conn: redis.Redis, engine: Engine, store: ProjectStore, jobs: RecordingJobs
) -> None:
    replica = Engine(redis.Redis(connection_pool=redis_conn.connection_pool), OfflineWriter(),
                     jobs, parse_policy({}))
    project = to_preview(engine, store, make(engine, store))
    presses = [(engine if n % 2 else replica, press("approve", project.id)) for n in range(16)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda pair: pair[0].handle(pair[1]), presses))
    assert len(jobs.publishes) == 1
