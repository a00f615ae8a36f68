"""What happens when a job fails: retry transient errors, report the rest in plain words."""

from __future__ import annotations

import logging
from types import TracebackType

import redis
from rq.job import Job
from rq.timeouts import JobTimeoutException

from bot.actions import Button, ButtonAction
from bot.events import ReplyTarget
from bot.project import ProjectState, ProjectStore, StateRefusal
from pipeline.errors import PermanentError, PipelineError
from workers.jobs import progress_key
from workers.reporting import Reporter

log = logging.getLogger(__name__)


def plain_reason(error: BaseException | None) -> str:
    """Words a user can read; details stay in the worker log."""
    if isinstance(error, PipelineError):
        return str(error)
    if isinstance(error, JobTimeoutException):
        return "it took too long and was stopped"
    return "something unexpected went wrong on our side (it is logged)"


def _cancel_dependents(job: Job, connection: redis.Redis) -> None:
    for dependent_id in job.dependent_ids:
        try:
            dependent = Job.fetch(dependent_id, connection=connection)
        except Exception:  # already gone
            continue
        _cancel_dependents(dependent, connection)
        dependent.cancel()


def on_failure(
    job: Job,
    connection: redis.Redis,
    exc_type: type[BaseException] | None,
    error: BaseException | None,
    traceback: TracebackType | None,
) -> None:
    """RQ failure callback: permanent errors are not retried; the last failure is reported."""
    del exc_type, traceback
    if isinstance(error, PermanentError):
        job.retries_left = 0
    stage = job.meta.get("stage", "render")
    if job.should_retry:
        log.warning("job %s (%s) failed, will retry: %s", job.id, stage, plain_reason(error))
        return
    project_id, version, *_rest, target = job.args
    reason = plain_reason(error)
    log.error("job %s (%s) failed for good: %s", job.id, stage, reason)
    _cancel_dependents(job, connection)
    _report(connection, project_id, int(version), ReplyTarget.model_validate(target), stage, reason)


def _report(
    connection: redis.Redis, project_id: str, version: int, target: ReplyTarget, stage: str, reason: str
) -> None:
    store = ProjectStore(connection)
    publishing = stage == "publish"
    back_from, back_to = (
        (ProjectState.APPROVED, ProjectState.PREVIEW) if publishing
        else (ProjectState.RENDERING, ProjectState.DRAFT)
    )
    try:
        store.transition(project_id, {back_from}, back_to, last_error=f"{stage}: {reason}")
    except StateRefusal:
        log.info("project %s already moved on; reporting only", project_id)
    reporter = Reporter(connection, target, progress_key(project_id, version))
    if publishing:
        retry = [Button(action=ButtonAction.APPROVE, project_id=project_id)]
        reporter.say(f"Publishing failed: {reason}. Press Approve & publish to try again.", retry)
        return
    reporter.progress(f"failed at {stage}", 0, done=True)
    buttons = [Button(action=a, project_id=project_id) for a in (ButtonAction.RENDER, ButtonAction.REVISE)]
    reporter.say(
        f"Rendering failed at the {stage} step: {reason}. Your draft is safe — press Render to try again.",
        buttons,
    )
