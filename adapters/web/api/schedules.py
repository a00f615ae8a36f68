"""/api/v1/schedules: list, create (a project's publish at a time, or a show: a fresh video on
a recurring time) and cancel, with the chat's own time expressions ("tomorrow 9am", "fri 18:00",
"every monday 9:00", ISO). Creating and cancelling go through the core, as `/schedule` and the
Cancel schedule button do, so the same approval rules, caps and time-zone reading apply.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters.web.access import ADAPTER, Principal
from adapters.web.api import core
from adapters.web.api.projects import PROJECT_ID, found
from adapters.web.api.table import ApiError, Call, Table
from bot.actions import ButtonAction
from bot.events import Event
from bot.project import ProjectStore
from bot.schedule_store import Schedule, ScheduleKind, ScheduleState, ScheduleStore
from bot.when_cron import Recurrence, valid_timezone

table = Table()
TAG = "schedules"
SCHEDULE_ID = r"[A-Za-z0-9_-]{4,12}"
SHOW_THREAD = "shows"
"""The API conversation shows are made in: it never has an active project, so a time that is
not a recurring one cannot fall back on scheduling some project."""


NOT_RECURRING = (
    "body.when: a show needs a recurring time the chat can read, e.g. 'every monday 9:00' "
    "(to publish one project once, give project_id instead of idea)."
)


class ScheduleOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    kind: ScheduleKind
    state: ScheduleState
    description: str = Field(description="the time in words, as the chat shows it")
    timezone: str
    next_at: datetime | None
    project_id: str | None
    version: int | None
    idea: str | None
    auto_publish: bool
    recurring: bool
    created_by: str
    created_by_name: str
    created_at: datetime
    fired: int
    missed: int
    last_fired_at: datetime | None
    upcoming: list[datetime] = Field(
        description="the next firings within eight weeks (a recurring show: each of them; a "
        "one-off: its one time), at most 60; what the library's week view places"
    )


UPCOMING_WEEKS = 8
UPCOMING_MAX = 60


def upcoming(schedule: Schedule) -> list[datetime]:
    """The schedule's firings from `next_at` on, within `UPCOMING_WEEKS`, at most `UPCOMING_MAX`."""
    first = schedule.next_at
    if first is None or schedule.state is not ScheduleState.ACTIVE:
        return []
    if schedule.cron is None:
        return [first]
    rule = Recurrence(schedule.cron, schedule.timezone)
    horizon = first + timedelta(weeks=UPCOMING_WEEKS)
    firings = [first]
    while len(firings) < UPCOMING_MAX and (later := rule.next_after(firings[-1])) < horizon:
        firings.append(later)
    return firings


class ScheduleList(BaseModel):
    model_config = ConfigDict(frozen=True)

    schedules: list[ScheduleOut]


class ScheduleQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_done: bool = Field(default=False, description="also finished and cancelled ones")


class CreateSchedule(BaseModel):
    """Either `project_id` (publish that project's rendered version at `when`, once) or `idea`
    (a show: make a fresh video from the idea at every `when`, a recurring time)."""

    model_config = ConfigDict(extra="forbid")

    when: str = Field(min_length=1, max_length=200, examples=["tomorrow 9am", "every monday 9:00"])
    project_id: str | None = Field(default=None, pattern=f"^{PROJECT_ID}$")
    idea: str | None = Field(default=None, min_length=1, max_length=2000)
    timezone: str | None = Field(
        default=None,
        max_length=64,
        description="IANA zone the time is read in; default: the key's own, else the server's",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        zone = valid_timezone(value)
        if zone is None:
            raise ValueError(f"unknown time zone {value!r}")
        return zone

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.project_id is None) == (self.idea is None):
            raise ValueError("give either project_id or idea")
        return self


class Cancelled(BaseModel):
    model_config = ConfigDict(frozen=True)

    schedule: ScheduleOut


def schedule_out(schedule: Schedule) -> ScheduleOut:
    return ScheduleOut(
        id=schedule.id,
        kind=schedule.kind,
        state=schedule.state,
        description=schedule.description,
        timezone=schedule.timezone,
        next_at=schedule.next_at,
        project_id=schedule.project_id,
        version=schedule.version,
        idea=schedule.idea,
        auto_publish=schedule.auto_publish,
        recurring=schedule.cron is not None,
        created_by=schedule.created_by,
        created_by_name=schedule.created_by_name,
        created_at=schedule.created_at,
        fired=schedule.fired,
        missed=schedule.missed,
        last_fired_at=schedule.last_fired_at,
        upcoming=upcoming(schedule),
    )


def _store(call: Call) -> ScheduleStore:
    return ScheduleStore(call.deps.connection)


def _in_zone(event: Event, zone: str | None) -> Event:
    """`event` with the speaker's time zone set (what a platform profile would tell)."""
    if zone is None:
        return event
    speaker = event.speaker.model_copy(update={"timezone": zone})
    return event.model_copy(update={"speaker": speaker})


def _event(call: Call, body: CreateSchedule) -> Event:
    who: Principal = call.principal
    if body.project_id is not None:
        if core.reads_as_show(body.when):
            raise ApiError(422, "body.when: a time, not a show (give `idea` for a show).")
        project = found(call, body.project_id)
        core.activate(ProjectStore(call.deps.connection), who, project.id)
        return core.command(who, "schedule", body.when, project_id=project.id)
    show = f"{body.when}, {body.idea}"
    if not core.reads_as_show(show):
        raise ApiError(422, NOT_RECURRING)
    return core.command(who, "schedule", show, project_id=SHOW_THREAD)


@table.route(
    "GET",
    "/schedules",
    summary="The workspace's schedules, soonest first",
    right="view",
    response=ScheduleList,
    query=ScheduleQuery,
    tag=TAG,
)
async def list_schedules(call: Call) -> ScheduleList:
    include_done = call.query_as(ScheduleQuery).include_done
    listed = _store(call).for_workspace(ADAPTER, call.workspace, include_done=include_done)
    return ScheduleList(schedules=[schedule_out(s) for s in listed])


@table.route(
    "POST",
    "/schedules",
    summary="Schedule a project's publish, or a recurring show (the chat's time words)",
    right="schedule",
    response=ScheduleOut,
    body=CreateSchedule,
    status=201,
    errors=(404, 409, 429),
    tag=TAG,
)
async def create_schedule(call: Call) -> ScheduleOut:
    body = call.body_as(CreateSchedule)
    answer = await core.ask(call, _in_zone(_event(call, body), body.timezone))
    made = answer.button_ids(ButtonAction.UNSCHEDULE)
    schedule = _store(call).get(made[0]) if made else None
    if schedule is None:
        raise answer.refusal(call)
    return schedule_out(schedule)


@table.route(
    "DELETE",
    "/schedules/{schedule_id}",
    summary="Cancel a schedule (the Cancel button)",
    right="schedule",
    response=Cancelled,
    errors=(404, 409, 429),
    tag=TAG,
    path_patterns={"schedule_id": SCHEDULE_ID},
)
async def cancel_schedule(call: Call) -> Cancelled:
    schedule_id = call.path["schedule_id"]
    before = _store(call).get(schedule_id)
    if before is None or (before.conversation.adapter, before.conversation.workspace) != (
        ADAPTER,
        call.workspace,
    ):
        raise ApiError(404, f"There is no schedule {schedule_id} in this workspace.")
    event = core.button(call.principal, ButtonAction.UNSCHEDULE, schedule_id, thread="")
    answer = await core.ask(call, event)
    after = _store(call).get(schedule_id)
    if after is None or after.state is not ScheduleState.CANCELLED or before.state is after.state:
        raise answer.refusal(call)
    return Cancelled(schedule=schedule_out(after))
