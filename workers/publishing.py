"""The publish job: an approved version to every target of its workspace, each exactly once.

The ledger (`workers.publish_ledger`) makes a done target final: job retries, a second job for
the same version, or a second bot replica never upload it again. Uploads that break midway
resume from their checkpoint. Transient failures are retried by RQ with backoff; what still
fails is reported in the chat with a Retry button, next to where the video did go.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from rq import get_current_job

from bot import replies
from bot.actions import Button, ButtonAction
from bot.events import ReplyTarget
from bot.project import Project, ProjectState, ProjectStore, StateRefusal
from pipeline import telemetry
from pipeline.errors import PermanentError, TransientError
from pipeline.media.storyboard import credits
from pipeline.probe import probe
from pipeline.publish import PublishRequest
from policy import PolicyError, load_policy
from workers import runtime
from workers.publish_ledger import Outcome, PublishLedger
from workers.publishers import build_publisher
from workers.reporting import Reporter

log = logging.getLogger(__name__)


def _request(project: Project, version: int, approver: str) -> PublishRequest:
    script = project.versions[version - 1]
    if not project.video_path or not Path(project.video_path).exists():
        raise PermanentError(replies.VIDEO_MISSING)
    return PublishRequest(
        video=Path(project.video_path),
        workspace=project.workspace,
        project_id=project.id,
        version=version,
        title=script.title,
        sentences=script.narration,
        approved_by=approver,
        approved_at=project.approved_at or datetime.now(UTC),
        metadata={
            "duration": round(probe(Path(project.video_path)).duration, 2),
            "aspect": script.aspect.value,
            "credits": credits(script),
        },
    )


class PublishRun:
    """One attempt at publishing one version: each target once, under its lock."""

    def __init__(self, connection: redis.Redis, project: Project, version: int) -> None:
        self.connection = connection
        self.project = project
        self.version = version
        self.ledger = PublishLedger(connection, project.id, version)
        try:
            policy = load_policy()
        except PolicyError as error:
            raise PermanentError(replies.broken_policy(error)) from None
        self.names = policy.publish_targets(project.conversation.adapter, project.workspace)
        self.specs = {name: policy.publish.target(name) for name in self.names}
        self.pending: dict[str, str] = {}
        """Targets not finished in this attempt → why (a retry may finish them)."""

    def run(self, request: PublishRequest) -> None:
        for name in self.names:
            if self.ledger.outcome(name) is None:
                self._one(name, request)

    def _one(self, name: str, request: PublishRequest) -> None:
        with self.ledger.lock(name, owner=_job_id()) as mine:
            if not mine:
                self.pending[name] = replies.PUBLISHING_ELSEWHERE
                return
            if self.ledger.outcome(name) is not None:
                return
            spec = self.specs[name]
            kind = str(spec.kind) if spec is not None else "unknown"
            try:
                if spec is None:
                    raise PermanentError(replies.TARGET_GONE)
                result = build_publisher(name, spec, self.connection).publish(request)
            except PermanentError as error:
                log.warning("publishing %s v%s to %s failed: %s", request.project_id,
                            request.version, name, error)
                self.ledger.failed(name, str(error))
                telemetry.count_publish(kind, "failed")
            except TransientError as error:
                self.pending[name] = str(error)
                telemetry.count_publish(kind, "retry")
            except Exception:
                log.exception("publishing %s v%s to %s crashed", request.project_id,
                              request.version, name)
                self.pending[name] = replies.UNEXPECTED
                telemetry.count_publish(kind, "crashed")
            else:
                self.ledger.done(name, result)
                log.info("published %s v%s to %s", request.project_id, request.version, name)
                telemetry.count_publish(kind, "done")

    def give_up_pending(self) -> None:
        """Last attempt: what is still pending counts as failed (unless someone else holds it)."""
        for name, reason in self.pending.items():
            if reason != replies.PUBLISHING_ELSEWHERE:
                self.ledger.failed(name, reason)

    def outcomes(self) -> dict[str, Outcome]:
        known = self.ledger.outcomes()
        return {name: known[name] for name in self.names if name in known}


def _job_id() -> str:
    """The running publish job's id (a lock it left behind in an earlier run is its own)."""
    job = get_current_job()
    return job.id if job is not None else ""


def _attempt() -> tuple[bool, bool]:
    """(first run of this job, retries left) — outside RQ, a single final attempt."""
    job = get_current_job()
    if job is None:
        return True, False
    return int(job.meta.get("publish_attempts", 0)) == 0, bool(job.retries_left)


def _count_attempt() -> None:
    job = get_current_job()
    if job is not None:
        job.meta["publish_attempts"] = int(job.meta.get("publish_attempts", 0)) + 1
        job.save_meta()  # type: ignore[no-untyped-call]


def publish(project_id: str, version: int, approver: str, target: dict[str, Any]) -> list[str]:
    """Publish to every target; returns where the video went. Safe to run again."""
    runtime.mark_stage("publish")
    connection = runtime.connection()
    project = ProjectStore(connection).get(project_id)
    if project is None:
        return []
    if project.state is not ProjectState.APPROVED:
        return project.published_to if project.state is ProjectState.PUBLISHED else []
    return publish_approved(connection, project, version, approver, target)


def publish_approved(
    connection: redis.Redis, project: Project, version: int, approver: str, target: dict[str, Any]
) -> list[str]:
    """The publish job's work for a project known to be approved (also used by schedules)."""
    first, retries_left = _attempt()
    _count_attempt()
    run = PublishRun(connection, project, version)
    if first:
        run.ledger.forget_failures()
    run.run(_request(project, version, approver))
    if run.pending and retries_left:
        raise TransientError("; ".join(f"{name}: {why}" for name, why in run.pending.items()))
    run.give_up_pending()
    outcomes = run.outcomes()
    if len(outcomes) < len(run.names):
        return []  # another worker holds a target; it reports when it finishes
    return _finish(connection, project, version, approver, outcomes=outcomes, target=target)


def _finish(
    connection: redis.Redis,
    project: Project,
    version: int,
    approver: str,
    *,
    outcomes: dict[str, Outcome],
    target: dict[str, Any],
) -> list[str]:
    done = [f"{name}: {o.location}" for name, o in outcomes.items() if o.state == "done"]
    failed = {name: o.reason for name, o in outcomes.items() if o.state == "failed"}
    store = ProjectStore(connection)
    try:
        if failed:
            reasons = "; ".join(f"{name}: {why}" for name, why in failed.items())
            store.transition(
                project.id, {ProjectState.APPROVED}, ProjectState.APPROVED,
                published_to=done, last_error=f"publish: {reasons}",
            )
        else:
            store.transition(
                project.id, {ProjectState.APPROVED}, ProjectState.PUBLISHED,
                published_to=done, last_error="",
            )
    except StateRefusal:
        log.info("project %s already moved on; reporting only", project.id)
    signature = hashlib.sha256(repr(sorted(outcomes.items())).encode()).hexdigest()[:16]
    if PublishLedger(connection, project.id, version).first_report(signature):
        _report(connection, project, version, approver, done=done, failed=failed, target=target)
    return done


def _report(
    connection: redis.Redis,
    project: Project,
    version: int,
    approver: str,
    *,
    done: list[str],
    failed: dict[str, str],
    target: dict[str, Any],
) -> None:
    title = project.versions[version - 1].title
    reporter = Reporter(
        connection, ReplyTarget.model_validate(target), runtime.progress_key(project.id, version)
    )
    if not failed:
        reporter.say(replies.published(title, version, approver, done))
        return
    reporter.say(
        replies.published_partly(title, version, done, failed),
        [Button(action=ButtonAction.RETRY, project_id=project.id)],
    )
