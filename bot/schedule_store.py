"""Schedules: publish an approved version, or /make an idea, at a time or on a recurrence.

Stored in Redis. A scheduler process (any number of them) asks `due` for what is due and
`claim`s each one: a single WATCH/MULTI transaction re-reads the schedule, advances it (or ends
a one-off) and lets the caller add the work it fires (an RQ job) to the same transaction. A crash
therefore either fires and advances, or does neither; two schedulers never fire one occurrence.

Keys (prefix `nc:`):
- `nc:schedule:<id>`: the schedule as JSON; a finished one expires after `FINISHED_TTL`.
- `nc:schedules:due`: zset of active ids scored by `next_at` (epoch seconds).
- `nc:schedules:workspace:<adapter>:<workspace>`: set of every id of the workspace (ids whose
  JSON expired are pruned on read); `nc:schedules:active:<adapter>:<workspace>`: the active ones.
- `nc:schedules:project:<project_id>`: set of the ids of a project's schedules.

Missed occurrences: a recurring schedule fires at most once per claim, for its latest occurrence
that is due, and only if that occurrence is less than `GRACE` (one hour) old; every older or
in-between occurrence is skipped and counted in `missed`. So a scheduler that was down for three
days fires an hourly show once, and a daily 9:00 show not at all when it comes back at 15:00
(its next firing is tomorrow's). A one-off has a single occurrence: it fires however late, once;
the job gets the planned time and can say that it is late.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator
from redis import Redis, WatchError
from redis.client import Pipeline

from bot.events import Conversation, ReplyTarget
from bot.when import Recurrence

log = logging.getLogger(__name__)

MAX_ACTIVE_PER_WORKSPACE = 50
GRACE = timedelta(hours=1)
"""An occurrence at most this late still fires; older ones are skipped (see the module doc)."""
FINISHED_TTL = timedelta(days=30)
"""How long a done or cancelled schedule stays listable (`include_done`) and reportable."""
MISSED_COUNT_LIMIT = 10_000
"""Skipped occurrences counted one by one per claim; past this the count is a lower bound."""

_ID_PATTERN = r"^[A-Za-z0-9_-]{4,12}$"
_ID = re.compile(_ID_PATTERN)

Fire = Callable[["Schedule", datetime, Pipeline], None]
"""Adds what a firing does (e.g. an RQ enqueue) to a pipeline that is already in MULTI."""


class ScheduleKind(StrEnum):
    PUBLISH = "publish"
    """Publish an approved project version."""
    MAKE = "make"
    """/make an idea: write, render and ask for approval."""


class ScheduleState(StrEnum):
    ACTIVE = "active"
    DONE = "done"
    CANCELLED = "cancelled"


def new_schedule_id() -> str:
    """8 url-safe characters: short enough for a button payload `nc1:unschedule:<id>`."""
    return secrets.token_urlsafe(6)


def _now() -> datetime:
    return datetime.now(UTC)


class Schedule(BaseModel):
    """One scheduled action. Times are aware and stored in UTC; `timezone` is the user's."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=new_schedule_id, pattern=_ID_PATTERN)
    kind: ScheduleKind
    conversation: Conversation
    target: ReplyTarget
    created_by: str = Field(min_length=1)
    created_by_name: str = ""
    created_at: AwareDatetime = Field(default_factory=_now)
    timezone: str
    description: str = Field(min_length=1, max_length=500)
    """The plain words the bot showed, e.g. "every Monday at 09:00 (Europe/Paris)"."""
    project_id: str | None = None
    version: int | None = Field(default=None, ge=1)
    idea: str | None = Field(default=None, min_length=1)
    auto_publish: bool = False
    """A show that publishes once its checks pass instead of asking for approval."""
    cron: str | None = None
    """None for a one-off."""
    next_at: AwareDatetime | None
    """When it fires next (UTC); None once it is done or cancelled."""
    state: ScheduleState = ScheduleState.ACTIVE
    fired: int = Field(default=0, ge=0)
    missed: int = Field(default=0, ge=0)
    """Occurrences skipped because no scheduler ran within `GRACE` of them."""
    last_fired_at: AwareDatetime | None = None
    """The planned time of the occurrence that fired last (UTC)."""
    cancelled_by: str | None = None

    @field_validator("created_at", "next_at", "last_fired_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Schedule:
        if self.kind is ScheduleKind.PUBLISH and (self.project_id is None or self.version is None):
            raise ValueError("a publish schedule needs a project id and a version")
        if self.kind is ScheduleKind.MAKE and self.idea is None:
            raise ValueError("a make schedule needs an idea")
        if self.kind is not ScheduleKind.MAKE and self.auto_publish:
            raise ValueError("only a make schedule can publish by itself")
        if self.state is ScheduleState.ACTIVE and self.next_at is None:
            raise ValueError("an active schedule needs next_at")
        _ = self.recurrence  # a cron the recurrence can't read fails here, not when it fires
        conversation, target = self.conversation, self.target
        if (target.adapter, target.workspace) != (conversation.adapter, conversation.workspace):
            raise ValueError("the reply target must be in the conversation's workspace")
        return self

    @property
    def recurrence(self) -> Recurrence | None:
        return None if self.cron is None else Recurrence(cron=self.cron, timezone=self.timezone)

    @property
    def workspace_key(self) -> str:
        return f"{self.conversation.adapter}:{self.conversation.workspace}"

    def local(self, moment: datetime) -> datetime:
        """`moment` in the schedule's time zone."""
        return moment.astimezone(ZoneInfo(self.timezone))

    def evolve(self, **changes: Any) -> Schedule:
        """A validated copy with `changes` applied."""
        return Schedule.model_validate({**self.model_dump(), **changes})


class ScheduleRefusal(ValueError):
    """A schedule the store will not take; `str()` is plain words for the user."""


class ScheduleStore:
    """Schedules in Redis with the due index, per-workspace and per-project sets."""

    def __init__(
        self,
        connection: Redis,
        prefix: str = "nc:",
        *,
        max_active: int = MAX_ACTIVE_PER_WORKSPACE,
        grace: timedelta = GRACE,
        retries: int = 50,
    ) -> None:
        self.redis = connection
        self.prefix = prefix
        self.max_active = max_active
        self.grace = grace
        self.retries = retries

    def _key(self, schedule_id: str) -> str:
        return f"{self.prefix}schedule:{schedule_id}"

    @property
    def _due_key(self) -> str:
        return f"{self.prefix}schedules:due"

    def _workspace_key(self, workspace_key: str) -> str:
        return f"{self.prefix}schedules:workspace:{workspace_key}"

    def _active_key(self, workspace_key: str) -> str:
        return f"{self.prefix}schedules:active:{workspace_key}"

    def _project_key(self, project_id: str) -> str:
        return f"{self.prefix}schedules:project:{project_id}"

    def add(self, schedule: Schedule) -> Schedule:
        """Store a new active schedule; `ScheduleRefusal` when the workspace is at its cap."""
        if schedule.state is not ScheduleState.ACTIVE:
            raise ValueError("only an active schedule can be added")
        for _ in range(self.retries):
            with self.redis.pipeline() as pipe:
                try:
                    return self._add_once(pipe, schedule)
                except WatchError:
                    continue
        raise RuntimeError(f"schedule {schedule.id}: too many concurrent adds")

    def _add_once(self, pipe: Any, schedule: Schedule) -> Schedule:
        key, active = self._key(schedule.id), self._active_key(schedule.workspace_key)
        pipe.watch(key, active)
        if pipe.exists(key):
            raise ValueError(f"schedule {schedule.id} already exists")
        if pipe.scard(active) >= self.max_active:
            raise ScheduleRefusal(
                f"This workspace already has {self.max_active} active schedules, the most it "
                "can have. Cancel one from /schedules first."
            )
        pipe.multi()
        pipe.sadd(self._workspace_key(schedule.workspace_key), schedule.id)
        if schedule.project_id is not None:
            pipe.sadd(self._project_key(schedule.project_id), schedule.id)
        self._write(pipe, schedule)
        pipe.execute()
        return schedule

    def get(self, schedule_id: str) -> Schedule | None:
        if not _ID.fullmatch(schedule_id):
            return None
        raw = self.redis.get(self._key(schedule_id))
        return None if raw is None else Schedule.model_validate_json(raw)

    def cancel(
        self, schedule_id: str, by: str, *, adapter: str | None = None, workspace: str | None = None
    ) -> Schedule | None:
        """Cancel an active schedule, atomically; returns it as it now is.

        A schedule that already finished (a one-off that fired, or one cancelled before) comes
        back unchanged, so the caller can say so. None when there is no such schedule, or it is
        not in `adapter`/`workspace` when those are given.
        """
        if not _ID.fullmatch(schedule_id):
            return None
        for _ in range(self.retries):
            with self.redis.pipeline() as pipe:
                try:
                    return self._cancel_once(pipe, schedule_id, by, adapter, workspace)
                except WatchError:
                    continue
        raise RuntimeError(f"schedule {schedule_id}: too many concurrent updates")

    def _cancel_once(
        self,
        pipe: Any,
        schedule_id: str,
        by: str,
        adapter: str | None,
        workspace: str | None,
    ) -> Schedule | None:
        key = self._key(schedule_id)
        pipe.watch(key)
        raw = pipe.get(key)
        schedule = None if raw is None else Schedule.model_validate_json(raw)
        if schedule is None or not _belongs(schedule, adapter, workspace):
            return None
        if schedule.state is not ScheduleState.ACTIVE:
            return schedule
        cancelled = schedule.evolve(state=ScheduleState.CANCELLED, cancelled_by=by, next_at=None)
        pipe.multi()
        self._write(pipe, cancelled)
        pipe.execute()
        return cancelled

    def for_workspace(
        self, adapter: str, workspace: str, *, include_done: bool = False
    ) -> list[Schedule]:
        """The workspace's schedules, soonest first (finished ones last, when included)."""
        workspace_key = f"{adapter}:{workspace}"
        index = (
            self._workspace_key(workspace_key) if include_done else self._active_key(workspace_key)
        )
        return self._listed(index, include_done)

    def for_project(self, project_id: str, *, include_done: bool = False) -> list[Schedule]:
        """A project's schedules, soonest first."""
        return self._listed(self._project_key(project_id), include_done)

    def _listed(self, index: str, include_done: bool) -> list[Schedule]:
        members: set[bytes] = self.redis.smembers(index)  # type: ignore[assignment]
        ids = sorted(_text(i) for i in members)
        if not ids:
            return []
        raws = self.redis.mget([self._key(i) for i in ids])
        gone = [i for i, raw in zip(ids, raws, strict=True) if raw is None]
        if gone:
            self.redis.srem(index, *gone)
        found = [Schedule.model_validate_json(raw) for raw in raws if raw is not None]
        listed = [s for s in found if include_done or s.state is ScheduleState.ACTIVE]
        return sorted(listed, key=_listing_order)

    def due(self, now: datetime, limit: int = 100) -> list[str]:
        """Ids of active schedules with `next_at` ≤ `now`, most overdue first."""
        ids: list[bytes] = self.redis.zrangebyscore(  # type: ignore[assignment]
            self._due_key, "-inf", now.timestamp(), start=0, num=limit
        )
        return [_text(i) for i in ids]

    def earliest(self) -> datetime | None:
        """When the soonest active schedule fires, if there is one."""
        first: list[tuple[bytes, float]] = self.redis.zrange(  # type: ignore[assignment]
            self._due_key, 0, 0, withscores=True
        )
        return datetime.fromtimestamp(first[0][1], UTC) if first else None

    def claim(self, schedule_id: str, now: datetime, fire: Fire) -> Schedule | None:
        """Fire the schedule if it is active and due, advancing it, all in one transaction.

        Returns the schedule as it is after firing, or None when nothing fired: not due, not
        active, every due occurrence older than the grace window (then it only advances), or
        another scheduler changed it first (a `WatchError`: that one fired it, or cancelled it).
        """
        with self.redis.pipeline() as pipe:
            try:
                return self._claim_once(pipe, schedule_id, now, fire)
            except WatchError:
                return None

    def _claim_once(
        self, pipe: Any, schedule_id: str, now: datetime, fire: Fire
    ) -> Schedule | None:
        key = self._key(schedule_id)
        pipe.watch(key)
        raw = pipe.get(key)
        schedule = None if raw is None else Schedule.model_validate_json(raw)
        if schedule is None or schedule.state is not ScheduleState.ACTIVE:
            pipe.multi()
            pipe.zrem(self._due_key, schedule_id)  # a stale index entry; nothing to fire
            pipe.execute()
            return None
        if schedule.next_at is None or schedule.next_at > now:
            pipe.unwatch()
            return None
        fire_at, updated = self._advance(schedule, now)
        pipe.multi()
        if fire_at is not None:
            fire(updated, fire_at, pipe)
        self._write(pipe, updated)
        pipe.execute()
        if fire_at is None:
            log.info("schedule %s: %d missed occurrence(s) skipped", schedule.id, updated.missed)
            return None
        return updated

    def _advance(self, schedule: Schedule, now: datetime) -> tuple[datetime | None, Schedule]:
        """The occurrence to fire now (if any) and the schedule as it is after this claim."""
        assert schedule.next_at is not None
        recurrence = schedule.recurrence
        if recurrence is None:
            fire_at: datetime | None = schedule.next_at
            changes: dict[str, Any] = {"state": ScheduleState.DONE, "next_at": None}
            skipped = 0
        else:
            fire_at, next_at, skipped = _occurrence(recurrence, schedule.next_at, now, self.grace)
            changes = {"next_at": next_at}
        if fire_at is not None:
            changes.update(fired=schedule.fired + 1, last_fired_at=fire_at)
        return fire_at, schedule.evolve(missed=schedule.missed + skipped, **changes)

    def _write(self, pipe: Pipeline, schedule: Schedule) -> None:
        """Queue the schedule's JSON and its index entries on `pipe` (in MULTI)."""
        key, active = self._key(schedule.id), self._active_key(schedule.workspace_key)
        if schedule.state is ScheduleState.ACTIVE:
            assert schedule.next_at is not None
            pipe.set(key, schedule.model_dump_json())
            pipe.zadd(self._due_key, {schedule.id: schedule.next_at.timestamp()})
            pipe.sadd(active, schedule.id)
        else:
            pipe.set(key, schedule.model_dump_json(), ex=FINISHED_TTL)
            pipe.zrem(self._due_key, schedule.id)
            pipe.srem(active, schedule.id)


def _occurrence(
    recurrence: Recurrence, due_at: datetime, now: datetime, grace: timedelta
) -> tuple[datetime | None, datetime, int]:
    """(the occurrence to fire or None, the first occurrence after `now`, how many skipped).

    Occurrences from `due_at` up to `now - grace` are skipped; of those after it (and not after
    `now`), the latest fires and the others are skipped.
    """
    window_start = now - grace
    moment, skipped = due_at, 0
    while moment <= window_start and skipped < MISSED_COUNT_LIMIT:
        moment, skipped = recurrence.next_after(moment), skipped + 1
    if moment <= window_start:
        moment = recurrence.next_after(window_start)
    fire_at: datetime | None = None
    while moment <= now:
        if fire_at is not None:
            skipped += 1
        fire_at, moment = moment, recurrence.next_after(moment)
    return fire_at, moment, skipped


def _belongs(schedule: Schedule, adapter: str | None, workspace: str | None) -> bool:
    conversation = schedule.conversation
    return (adapter is None or conversation.adapter == adapter) and (
        workspace is None or conversation.workspace == workspace
    )


def _listing_order(schedule: Schedule) -> tuple[bool, datetime]:
    when = schedule.next_at or schedule.last_fired_at or schedule.created_at
    return schedule.next_at is None, when


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
