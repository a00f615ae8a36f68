"""What a schedule does when the scheduler fires it (an RQ job, enqueued by name).

`fire(schedule_id, fire_at)`:
- a scheduled publish publishes the approved version through the same exactly-once path as
  the Approve button (`workers.publishing.publish_approved`);
- a show writes a fresh draft through the conversational core — the one the entry point built
  for this worker process (`workers.runtime`) — as if its creator had typed `/make <idea>` in
  the conversation, renders it, and the render asks for approval there — or, where policy lets
  the show publish by itself, publishes once the checks pass.
Replies go to the conversation the schedule was made in, through the platform's REST sender.
"""

from __future__ import annotations

import logging
from datetime import datetime

import redis

from adapters.outbox import sender_for
from bot import replies
from bot.actions import Action, JobsStarted, Say
from bot.events import ButtonEvent, CommandEvent
from bot.project import ProjectState, ProjectStore
from bot.schedule_store import Schedule, ScheduleKind, ScheduleState, ScheduleStore
from workers import runtime
from workers.publishing import publish_approved
from workers.reporting import Reporter

log = logging.getLogger(__name__)


def fire(schedule_id: str, fire_at: str) -> str:
    """Run one firing of a schedule; returns what happened, in a few words (the job result)."""
    runtime.mark_stage("schedule")
    connection = runtime.connection()
    schedule = ScheduleStore(connection).get(schedule_id)
    if schedule is None:
        return "schedule gone"
    if schedule.state is ScheduleState.CANCELLED:
        return "cancelled before it ran"
    when = datetime.fromisoformat(fire_at)
    log.info("schedule %s (%s) firing for %s", schedule.id, schedule.kind, when.isoformat())
    if schedule.kind is ScheduleKind.PUBLISH:
        return _publish(connection, schedule)
    return _show(connection, schedule, when)


def _publish(connection: redis.Redis, schedule: Schedule) -> str:
    project = ProjectStore(connection).get(schedule.project_id or "")
    reporter = Reporter(connection, schedule.target, f"schedule:{schedule.id}")
    if project is None:
        reporter.say(replies.scheduled_publish_expired(schedule))
        return "project gone"
    if project.state is ProjectState.PUBLISHED:
        return "already published"
    if project.state is not ProjectState.APPROVED or project.current != schedule.version:
        reporter.say(replies.scheduled_publish_skipped(schedule, project))
        return f"skipped: {project.state.value}"
    approver = project.approved_by or schedule.created_by
    locations = publish_approved(
        connection, project, project.current, approver, schedule.target.model_dump()
    )
    return f"published to {len(locations)} targets"


def _show(connection: redis.Redis, schedule: Schedule, when: datetime) -> str:
    """A fresh draft from the idea, rendered; the render's last step asks for approval."""
    core = runtime.current().core
    stamp = int(when.timestamp())
    conversation = schedule.conversation
    made = core.handle(
        CommandEvent(
            conversation=conversation,
            name="make",
            args=schedule.idea or "",
            event_id=f"schedule-{schedule.id}-{stamp}",
        )
    )
    _deliver(connection, schedule, made, lead=replies.show_time(schedule))
    project = ProjectStore(connection).active(conversation)
    if project is None or project.state is not ProjectState.DRAFT:
        return "no draft was made"
    if schedule.auto_publish:
        ProjectStore(connection).update(
            project.id, lambda p: p.evolve(auto_publish_by=schedule.created_by)
        )
    rendering = core.handle(
        ButtonEvent(
            conversation=conversation,
            action="render",
            project_id=project.id,
            event_id=f"schedule-{schedule.id}-{stamp}-render",
        )
    )
    _deliver(connection, schedule, rendering)
    return f"drafted and rendering project {project.id}"


def _deliver(
    connection: redis.Redis, schedule: Schedule, actions: list[Action], lead: str = ""
) -> None:
    sender = sender_for(schedule.target, connection)
    for original in actions:
        if isinstance(original, JobsStarted):
            continue
        action = original.model_copy(update={"target": schedule.target})
        if lead and isinstance(action, Say):
            action = action.model_copy(update={"text": f"{lead}\n\n{action.text}"})
            lead = ""
        try:
            sender.send(action)
        except Exception:
            log.warning("could not deliver a show's message to %s", schedule.target.adapter,
                        exc_info=True)
