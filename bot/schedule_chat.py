"""Scheduling from the chat: "schedule it for tomorrow 9am", shows, /schedules and Cancel.

A scheduled publish is an approval given now for a time later: only approvers may set it, the
project moves to approved at once (so nothing can change it meanwhile) and the scheduler
publishes it when its time comes. A show ("/make every monday 9:00 a space-news recap") writes
and renders a fresh video each time and asks for approval in the conversation, or publishes
straight away where policy allows it. Times are read in the user's time zone: one they set by
talking ("my time zone is Europe/Berlin"), else the platform profile's, else the default.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from redis import Redis

from bot import replies
from bot.actions import Action, Button, ButtonAction, Say
from bot.handlers import Context, approval_by
from bot.moderation import Moderator
from bot.project import Project, ProjectState, ProjectStore, StateRefusal
from bot.schedule_store import Schedule, ScheduleKind, ScheduleRefusal, ScheduleState, ScheduleStore
from bot.when import When, WhenError, parse_when, valid_timezone
from policy import Policy, approval_permission

TIMEZONE_ENV = "NOVACAST_TIMEZONE"
"""The zone used for users who never said theirs and whose platform doesn't tell (default UTC)."""
PENDING_SECONDS = 15 * 60
_SHOW_START = re.compile(
    r"^(?P<when>(?:every|each|daily|weekdays|weekends|weekly|monthly|hourly)\b.*?)"
    r"(?:\s*[,;]\s*|:\s+|\s+[-–—]\s+)(?P<idea>\S.*)$",
    re.IGNORECASE | re.DOTALL,
)
_TIMEISH = re.compile(
    r"\b(?:tomorrow|today|tonight|yesterday|noon|midnight|o'?clock|"
    r"mon|tues?|wed|thu|thurs|fri|sat|sun)(?:day)?\b|"
    r"\b(?:jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b|"
    r"\d(?:st|nd|rd|th)?\s+(?:of\s+)?may\b|\bmay\s+\d|"
    r"\b\d{1,2}(?::\d\d)?\s*(?:am|pm)\b|\b\d{1,2}:\d\d\b|\b\d{4}-\d\d-\d\d|"
    r"\b\d{1,2}(?:st|nd|rd|th)\b|"
    r"\bin\s+(?:an?\s+(?:sec|min|hour|day|week)|\d+\s*(?:sec|min|hour|day|week|[hms]\b|h\d))",
    re.IGNORECASE,
)
"""Words that make a line a (possibly broken) time: answered as one while a time is awaited
("in 30 seconds" too: a time, though one the scheduler can't count in)."""
_BARE_SPAN = re.compile(
    r"^(?:an?|\d+)\s*(?:seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w)"
    r"(?:\s*(?:and\s+)?\d+\s*(?:minutes?|mins?|m))?[\s.!]*$",
    re.IGNORECASE,
)
"""A span with nothing around it ("2 hours", "1h30m"): in answer to "When?", "in 2 hours"."""

MayApprove = Callable[[Context, Project], str]


def as_answer(text: str) -> str:
    """`text` as an answer to "When should it go out?": a bare span counts from now."""
    stripped = text.strip()
    return f"in {stripped}" if _BARE_SPAN.match(stripped) else text


def looks_like_time(text: str) -> bool:
    """True when `text`, as an answer to "When?", names a time, even one that can't be ("32nd
    of May", "in 30 seconds"): such a line is answered as a time while one is awaited."""
    return _TIMEISH.search(as_answer(text)) is not None


def split_show(idea: str) -> tuple[str, str] | None:
    """("every monday 9:00", "a 30s space-news recap") from "every monday 9:00, a 30s …"."""
    match = _SHOW_START.match(idea.strip())
    return None if match is None else (match["when"].strip(), match["idea"].strip())


_ZONE_FILLER = re.compile(
    r"\b(?:my|set|change|use|time\s*zone|timezone|tz|time|clock|is|to|as|on|in|for|me|i'?m|i\s+am|"
    r"i\s+live|please|should\s+be|times|that|the|be)\b|[,.!?]",
    re.IGNORECASE,
)


def find_timezone(text: str) -> str | None:
    """The zone named in a sentence: "I'm on New York time" → America/New_York."""
    zone = valid_timezone(text.strip())
    if zone is not None:
        return zone
    words = _ZONE_FILLER.sub(" ", text).split()
    for size in range(min(len(words), 3), 0, -1):
        for start in range(len(words) - size + 1):
            zone = valid_timezone(" ".join(words[start : start + size]))
            if zone is not None:
                return zone
    return None


class TimeZones:
    """Each user's time zone, kept in Redis without expiry."""

    def __init__(self, redis: Redis, prefix: str = "novacast") -> None:
        self.redis = redis
        self.prefix = prefix

    def of(self, ctx: Context) -> str:
        stored = self.redis.get(self._key(ctx))
        if stored is not None:
            return stored.decode() if isinstance(stored, bytes) else str(stored)
        profile = ctx.event.speaker.timezone  # the platform's, validated on the event
        return profile or valid_timezone(os.environ.get(TIMEZONE_ENV, "UTC")) or "UTC"

    def set(self, ctx: Context, zone: str) -> None:
        self.redis.set(self._key(ctx), zone)

    def _key(self, ctx: Context) -> str:
        c = ctx.conversation
        return f"{self.prefix}:tz:{c.adapter}:{c.workspace}:{c.user}"


class Scheduling:
    """The scheduling handlers; `may_approve` is the approve button's permission check."""

    def __init__(
        self,
        redis: Redis,
        store: ProjectStore,
        policy: Policy,
        moderator: Moderator,
        may_approve: MayApprove,
        *,
        prefix: str = "novacast",
    ) -> None:
        self.redis = redis
        self.store = store
        self.policy = policy
        self.moderator = moderator
        self.may_approve = may_approve
        self.prefix = prefix
        self.schedules = ScheduleStore(
            redis, max_active=policy.schedules.max_active_per_workspace
        )
        self.zones = TimeZones(redis, prefix)

    def reads_as_time(self, ctx: Context, text: str) -> bool:
        """True when `text` is a time this user could schedule at (for telling shows apart)."""
        try:
            parse_when(text, self.zones.of(ctx), datetime.now(UTC))
        except WhenError:
            return False
        return True

    # --- the time zone ------------------------------------------------------------------------

    def set_timezone(self, ctx: Context, text: str) -> list[Action]:
        name = text.strip()
        zone = find_timezone(name) if name else None
        if zone is None:
            current = self.zones.of(ctx)
            if not name:
                return ctx.say(replies.timezone_is(current))
            return ctx.say(replies.unknown_timezone(name, current))
        self.zones.set(ctx, zone)
        return ctx.say(replies.timezone_set(zone, datetime.now(UTC)))

    # --- scheduling a publish -----------------------------------------------------------------

    def schedule(self, ctx: Context, project: Project | None, when_text: str) -> list[Action]:
        """The Schedule button (no time yet: ask) or "schedule it for tomorrow 9am"."""
        show = split_show(when_text)
        if show is not None:
            return self.schedule_show(ctx, *show)
        project = project or self.store.active(ctx.conversation)
        if project is None:
            return ctx.say(replies.NOTHING_TO_SCHEDULE)
        denied = self.may_approve(ctx, project)
        if denied:
            return ctx.tell(denied)
        if project.state not in (ProjectState.PREVIEW, ProjectState.APPROVED):
            return ctx.say(replies.cannot_schedule(project))
        if not when_text.strip():
            self._set_pending(ctx, project.id)
            return ctx.say(replies.ask_when(self.zones.of(ctx)))
        return self._schedule_publish(ctx, project, when_text)

    def awaiting(self, ctx: Context) -> Project | None:
        """The video whose time the bot asked for here ("When should it go out?"), while the
        question is open: until it is answered, expires, or the video leaves its preview."""
        project_id = self._pending(ctx)
        if project_id is None:
            return None
        project = self.store.get(project_id)
        if project is None or project.state is not ProjectState.PREVIEW:
            self._clear_pending(ctx)
            return None
        return project

    def answer_pending(self, ctx: Context, text: str) -> list[Action]:
        """Answer "When should it go out?" with `text` (`bot.reading` decided that it is the
        answer): a time schedules and closes the question; a broken one is explained and the
        question stays open. A bare span ("2 hours") counts from now."""
        return self.schedule(ctx, self.awaiting(ctx), as_answer(text))

    def _schedule_publish(self, ctx: Context, project: Project, when_text: str) -> list[Action]:
        zone = self.zones.of(ctx)
        try:
            when = parse_when(when_text, zone, datetime.now(UTC))
        except WhenError as error:
            return ctx.say(str(error))
        if when.recurrence is not None:
            return ctx.say(replies.ONE_VIDEO_ONCE)
        if project.state is ProjectState.APPROVED and not self._scheduled(project):
            return ctx.say(replies.refusal("approve", project))
        try:
            project = self.store.transition(
                project.id,
                {ProjectState.PREVIEW, ProjectState.APPROVED},
                ProjectState.APPROVED,
                approved_by=project.approved_by or ctx.conversation.user,
                approved_at=project.approved_at or datetime.now(UTC),
                last_error="",
            )
        except StateRefusal as refused:
            return ctx.say(replies.refusal("approve", refused.project))
        for earlier in self._scheduled(project):
            self.schedules.cancel(earlier.id, ctx.conversation.user)
        schedule = _new_schedule(
            ctx, ScheduleKind.PUBLISH, zone, when, project_id=project.id, version=project.current
        )
        try:
            self.schedules.add(schedule)
        except ScheduleRefusal as refusal:
            self._unapprove(project)
            return ctx.say(str(refusal))
        self._clear_pending(ctx)
        targets = self.policy.publish_targets(project.conversation.adapter, project.workspace)
        return ctx.say(
            replies.scheduled_publish(project, schedule, targets, ctx.who),
            [Button(action=ButtonAction.UNSCHEDULE, project_id=schedule.id)],
        )

    def blocks(self, ctx: Context, project: Project) -> list[Action] | None:
        """Rejecting or cancelling a video that is scheduled: say how, instead of "too late"."""
        if project.state is not ProjectState.APPROVED:
            return None
        waiting = self._scheduled(project)
        if not waiting:
            return None
        return ctx.say(
            replies.scheduled_first(project, waiting[0]),
            [Button(action=ButtonAction.UNSCHEDULE, project_id=waiting[0].id)],
        )

    def _scheduled(self, project: Project) -> list[Schedule]:
        return [
            s
            for s in self.schedules.for_project(project.id)
            if s.state is ScheduleState.ACTIVE and s.kind is ScheduleKind.PUBLISH
        ]

    def _unapprove(self, project: Project) -> None:
        with contextlib.suppress(StateRefusal):
            self.store.transition(
                project.id,
                {ProjectState.APPROVED},
                ProjectState.PREVIEW,
                approved_by=None,
                approved_at=None,
            )

    # --- shows: a /make on a schedule ---------------------------------------------------------

    def schedule_show(self, ctx: Context, when_text: str, idea: str) -> list[Action]:
        c = ctx.conversation
        if not (
            self.policy.approvers.requester_allowed(c.adapter, c.workspace)
            or self._is_approver(ctx)
        ):
            return ctx.tell(replies.SHOWS_NEED_APPROVERS)
        refusal = self.moderator.check_idea(idea)
        if refusal is not None:
            return ctx.say(refusal.reason)
        zone = self.zones.of(ctx)
        try:
            when = parse_when(when_text, zone, datetime.now(UTC))
        except WhenError as error:
            return ctx.say(str(error))
        minimum = self.policy.schedules.min_recurring_minutes
        if when.recurrence and when.recurrence.min_interval().total_seconds() < minimum * 60:
            return ctx.say(replies.too_often(minimum))
        auto = self._may_auto_publish(ctx)
        schedule = _new_schedule(
            ctx, ScheduleKind.MAKE, zone, when, idea=idea, auto_publish=auto,
            cron=when.recurrence.cron if when.recurrence else None,
        )
        try:
            self.schedules.add(schedule)
        except ScheduleRefusal as refusal:
            return ctx.say(str(refusal))
        targets = self.policy.publish_targets(ctx.conversation.adapter, ctx.conversation.workspace)
        return ctx.say(
            replies.scheduled_show(schedule, targets if auto else []),
            [Button(action=ButtonAction.UNSCHEDULE, project_id=schedule.id)],
        )

    def _may_auto_publish(self, ctx: Context) -> bool:
        """Policy allows it here and the person is an approver by role, not as requester."""
        c = ctx.conversation
        return self.policy.schedules.may_auto_publish(c.adapter, c.workspace) and (
            self._is_approver(ctx)
        )

    # --- listing and cancelling ---------------------------------------------------------------

    def list_schedules(self, ctx: Context, _: str = "") -> list[Action]:
        c = ctx.conversation
        active = self.schedules.for_workspace(c.adapter, c.workspace)
        if not active:
            return ctx.say(replies.NO_SCHEDULES)
        actions: list[Action] = [
            Say(target=ctx.target, text=replies.schedules_header(len(active), self.zones.of(ctx)))
        ]
        for schedule in active:
            project = self.store.get(schedule.project_id) if schedule.project_id else None
            actions.append(
                Say(
                    target=ctx.target,
                    text=replies.schedule_line(schedule, project),
                    buttons=[Button(action=ButtonAction.UNSCHEDULE, project_id=schedule.id)],
                )
            )
        return actions

    def unschedule(self, ctx: Context, schedule_id: str) -> list[Action]:
        schedule = self.schedules.get(schedule_id.strip())
        c = ctx.conversation
        if schedule is None or (schedule.conversation.adapter, schedule.conversation.workspace) != (
            c.adapter,
            c.workspace,
        ):
            return ctx.say(replies.UNKNOWN_SCHEDULE)
        project = self.store.get(schedule.project_id) if schedule.project_id else None
        denied = self._may_cancel(ctx, schedule, project)
        if denied:
            return ctx.tell(denied)
        if schedule.state is not ScheduleState.ACTIVE:
            return ctx.say(replies.schedule_gone(schedule))
        cancelled = self.schedules.cancel(
            schedule.id, c.user, adapter=c.adapter, workspace=c.workspace
        )
        if cancelled is None or cancelled.state is not ScheduleState.CANCELLED:
            return ctx.say(replies.schedule_gone(cancelled or schedule))
        if project is not None and project.state is ProjectState.APPROVED:
            self._unapprove(project)
            return ctx.say(
                replies.unscheduled(cancelled, project), replies.preview_buttons(project.id)
            )
        return ctx.say(replies.unscheduled(cancelled, project))

    def _may_cancel(self, ctx: Context, schedule: Schedule, project: Project | None) -> str:
        if ctx.conversation.user == schedule.created_by:
            return ""
        if project is not None:
            return self.may_approve(ctx, project)
        return "" if self._is_approver(ctx) else replies.NOT_YOUR_SCHEDULE

    def _is_approver(self, ctx: Context) -> bool:
        """An approver by role (listed, admin, group, trusted adapter), not as the requester."""
        c = ctx.conversation
        check = approval_permission(self.policy, c.adapter, c.workspace)
        return check(approval_by(ctx, requester="")) is None

    # --- "When should it go out?" -------------------------------------------------------------

    def _pending_key(self, ctx: Context) -> str:
        return f"{self.prefix}:schedule-pending:{ctx.conversation.key}"

    def _set_pending(self, ctx: Context, project_id: str) -> None:
        self.redis.set(self._pending_key(ctx), project_id, ex=PENDING_SECONDS)

    def _pending(self, ctx: Context) -> str | None:
        value = self.redis.get(self._pending_key(ctx))
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    def _clear_pending(self, ctx: Context) -> None:
        self.redis.delete(self._pending_key(ctx))


def _new_schedule(
    ctx: Context, kind: ScheduleKind, zone: str, when: When, **what: Any
) -> Schedule:
    """A schedule made in this conversation by its speaker, first due at `when`; `what` is the
    kind's own fields (the project and version, or the idea and recurrence)."""
    return Schedule(
        kind=kind,
        conversation=ctx.conversation,
        target=ctx.target,
        created_by=ctx.conversation.user,
        created_by_name=ctx.who,
        created_at=datetime.now(UTC),
        timezone=zone,
        description=when.describe(),
        next_at=when.first,
        **what,
    )
