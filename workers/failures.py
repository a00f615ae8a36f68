"""What happens when a job fails: retry transient errors, report the rest in plain words."""

from __future__ import annotations

import errno
import logging
from dataclasses import dataclass
from types import TracebackType

import redis
from rq.exceptions import AbandonedJobError
from rq.job import Job
from rq.timeouts import JobTimeoutException

from bot import replies
from bot.actions import Button, ButtonAction
from bot.events import ReplyTarget
from bot.project import ProjectState, ProjectStore, StateRefusal
from bot.schedule_store import ScheduleStore
from pipeline import telemetry
from pipeline.errors import PermanentError, PipelineError
from workers.catalog import FIRE_FUNCTION, SERIALIZER
from workers.reporting import Reporter
from workers.runtime import mark_abandoned, progress_key

log = logging.getLogger(__name__)


def plain_reason(error: BaseException | None) -> str:
    """Words a user can read; details stay in the worker log."""
    if isinstance(error, PipelineError):
        return str(error)
    if isinstance(error, JobTimeoutException):
        return replies.TOOK_TOO_LONG
    if isinstance(error, AbandonedJobError):
        return replies.WORKER_STOPPED
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return replies.DISK_FULL
    return replies.UNEXPECTED


@dataclass(frozen=True)
class Failure:
    """A job that failed for good, in the terms the user knows it by."""

    project_id: str
    version: int
    target: ReplyTarget
    stage: str
    reason: str

    @property
    def publishing(self) -> bool:
        return self.stage == "publish"


def _cancel_dependents(job: Job, connection: redis.Redis) -> None:
    """Dependents of a failed job would wait forever: cancel them, depth first."""
    dependents = Job.fetch_many(job.dependent_ids, connection=connection, serializer=SERIALIZER)
    for dependent in dependents:
        if dependent is not None:
            _cancel_dependents(dependent, connection)
            dependent.cancel()


def on_failure(
    job: Job,
    connection: redis.Redis,
    exc_type: type[BaseException] | None,
    error: BaseException | None,
    traceback: TracebackType | None,
) -> None:
    """RQ failure callback: permanent errors are not retried; the last failure is reported,
    with the job's trace id as the "ref" a user can quote (also when RQ's maintenance, not
    the job's worker, finds the job abandoned)."""
    del exc_type, traceback
    with telemetry.traced(telemetry.job_trace_id(job.meta) or telemetry.trace_id()):
        _on_failure(job, connection, error)


def _on_failure(job: Job, connection: redis.Redis, error: BaseException | None) -> None:
    if isinstance(error, PermanentError):
        job.retries_left = 0
    stage = job.meta.get("stage", "render")
    if job.should_retry:
        if isinstance(error, AbandonedJobError):  # RQ's cleanup re-runs it; it says so
            mark_abandoned(job)
        log.warning("job %s (%s) failed, will retry: %s", job.id, stage, plain_reason(error))
        return
    if job.func_name == FIRE_FUNCTION:
        _schedule_failed(connection, job, plain_reason(error))
        return
    project_id, version, *_rest, target = job.args
    failure = Failure(
        project_id, int(version), ReplyTarget.model_validate(target), stage, plain_reason(error)
    )
    log.error("job %s (%s) failed for good: %s", job.id, stage, failure.reason)
    _cancel_dependents(job, connection)
    _restore_state(connection, failure)
    _tell_user(connection, failure)


def _schedule_failed(connection: redis.Redis, job: Job, reason: str) -> None:
    """A scheduled run (args: schedule id, when) failed for good: say so where it was made."""
    schedule_id = str(job.args[0])
    schedule = ScheduleStore(connection).get(schedule_id)
    log.error("scheduled run %s (%s) failed for good: %s", job.id, schedule_id, reason)
    if schedule is None:
        return
    reporter = Reporter(connection, schedule.target, f"schedule:{schedule.id}")
    buttons = []
    if schedule.project_id:
        store = ProjectStore(connection)
        project = store.get(schedule.project_id)
        if project is not None and project.state is ProjectState.APPROVED:
            store.transition(
                project.id, {ProjectState.APPROVED}, ProjectState.APPROVED,
                last_error=f"scheduled publish: {reason}",
            )
            buttons = [Button(action=ButtonAction.RETRY, project_id=project.id)]
    reporter.say(replies.scheduled_run_failed(schedule, reason) + telemetry.reference(), buttons)


def _restore_state(connection: redis.Redis, failure: Failure) -> None:
    """Back to where the user can try again: a failed publish stays approved (Retry publishes
    what is missing), a failed render goes back to the draft."""
    back_from, back_to = (
        (ProjectState.APPROVED, ProjectState.APPROVED)
        if failure.publishing
        else (ProjectState.RENDERING, ProjectState.DRAFT)
    )
    try:
        ProjectStore(connection).transition(
            failure.project_id,
            {back_from},
            back_to,
            last_error=f"{failure.stage}: {failure.reason}",
        )
    except StateRefusal:
        log.info("project %s already moved on; reporting only", failure.project_id)


def _tell_user(connection: redis.Redis, failure: Failure) -> None:
    reporter = Reporter(
        connection, failure.target, progress_key(failure.project_id, failure.version)
    )
    if failure.publishing:
        retry = [Button(action=ButtonAction.RETRY, project_id=failure.project_id)]
        reporter.say(replies.publish_failed(failure.reason) + telemetry.reference(), retry)
        return
    reporter.progress(replies.failed_at(failure.stage), 0, done=True)
    actions = (ButtonAction.RENDER, ButtonAction.REVISE)
    reporter.say(
        replies.render_failed(failure.stage, failure.reason) + telemetry.reference(),
        [Button(action=a, project_id=failure.project_id) for a in actions],
    )
