"""The RQ implementation of the core's JobQueue port.

Job functions and the failure callback are enqueued by name (`workers.catalog`), so this module
imports no job code: a job that enqueues follow-on work reaches it through the same port.
A render's steps go to its workspace's lane of the preview and full-quality classes
(`workers.fairness`: previews first, and fair between workspaces).
"""

from __future__ import annotations

import contextlib
from typing import Any

import redis
from rq import Callback, Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Dependency, Job, JobStatus

from bot.events import ReplyTarget
from bot.handlers import workspace_key
from bot.project import ProjectStore
from pipeline import telemetry
from workers.catalog import (
    AHEAD_FUNCTION,
    AHEAD_QUEUE,
    AHEAD_TIMEOUT,
    AHEAD_WAIT,
    MEDIA_QUEUE,
    ON_FAILURE,
    PREFETCH_FUNCTION,
    PREFETCH_RETRY,
    PREFETCH_TIMEOUT,
    PUBLISH_FUNCTION,
    PUBLISH_QUEUE,
    PUBLISH_TIMEOUT,
    RENDER_RETRY,
    RENDER_STEPS,
    RESULT_TTL,
    SERIALIZER,
    publish_retry,
)
from workers.fairness import lane_for
from workers.render_plan import render_fingerprint, voice_preference
from workers.voice_ahead import ahead_voice

ACTIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}


class RQJobQueue:
    """Enqueues render and publish chains with ids derived from their inputs."""

    def __init__(self, connection: redis.Redis) -> None:
        self._redis = connection
        self._publish = Queue(PUBLISH_QUEUE, connection=connection, serializer=SERIALIZER)
        self._media = Queue(MEDIA_QUEUE, connection=connection, serializer=SERIALIZER)
        self._ahead = Queue(AHEAD_QUEUE, connection=connection, serializer=SERIALIZER)

    def render(self, project_id: str, version: int, target: ReplyTarget) -> list[str]:
        project = ProjectStore(self._redis).get(project_id)
        if project is None:
            raise KeyError(project_id)
        preference = voice_preference(self._redis, project)
        digest = render_fingerprint(project, version, preference)
        ids = [f"nc-{project_id}-v{version}-{digest}-{step.name}" for step in RENDER_STEPS]
        if self._any_active(ids):
            return ids
        args = (project_id, version, target.model_dump())
        frozen = {"preference": preference or ""}  # every step speaks with this voice
        lane = lane_for(self._redis, workspace_key(project.conversation))
        previous: Job | None = None
        with telemetry.traced(telemetry.trace_id()):  # one id for the chain, even from a console
            for job_id, step in zip(ids, RENDER_STEPS, strict=True):
                previous = self._enqueue(
                    self._queue(step.lanes[lane]),
                    step.function,
                    job_id,
                    args,
                    timeout=step.timeout,
                    after=previous,
                    kwargs=frozen,
                    follows=step.follows,
                )
        return ids

    def publish(
        self, project_id: str, version: int, approver: str, target: ReplyTarget
    ) -> list[str]:
        job_id = f"nc-{project_id}-v{version}-publish"
        if self._any_active([job_id]):
            return [job_id]
        args = (project_id, version, approver, target.model_dump())
        self._enqueue(
            self._publish,
            PUBLISH_FUNCTION,
            job_id,
            args,
            timeout=PUBLISH_TIMEOUT,
            retry=publish_retry(),
        )
        return [job_id]

    def prefetch(self, project_id: str, version: int, target: ReplyTarget) -> list[str]:
        """Get the version ready for Render: its pictures fetched (and its storyboard posted)
        when it has shots, and its narration spoken ahead on an idle worker when its voice is
        the local one (`workers.voice_ahead`). Returns the picture job's id (what a chat may
        wait for); the narration is never waited on. One job of each per version while it
        runs; run again later, each finds its work done."""
        project = ProjectStore(self._redis).get(project_id)
        if project is None:
            raise KeyError(project_id)
        if ahead_voice(self._redis, project, version) is not None:
            self._enqueue_once(self._ahead, AHEAD_FUNCTION, f"nc-{project_id}-v{version}-ahead",
                               (project_id, version), timeout=AHEAD_TIMEOUT, retry=None,
                               on_failure=None, wait=AHEAD_WAIT)
        if not any(scene.shots for scene in project.versions[version - 1].scenes):
            return []
        job_id = f"nc-{project_id}-v{version}-prefetch"
        self._enqueue_once(self._media, PREFETCH_FUNCTION, job_id,
                           (project_id, version, target.model_dump()),
                           timeout=PREFETCH_TIMEOUT, retry=PREFETCH_RETRY, on_failure=None)
        return [job_id]

    def _enqueue_once(
        self, queue: Queue, function: str, job_id: str, args: tuple[Any, ...], *,
        timeout: int, retry: Retry | None, on_failure: str | None, wait: int | None = None,
    ) -> None:
        if not self._any_active([job_id]):
            self._enqueue(queue, function, job_id, args, timeout=timeout, retry=retry,
                          on_failure=on_failure, wait=wait)

    def _queue(self, name: str) -> Queue:
        return Queue(name, connection=self._redis, serializer=SERIALIZER)

    def _any_active(self, ids: list[str]) -> bool:
        for job_id in ids:
            try:
                job = Job.fetch(job_id, connection=self._redis, serializer=SERIALIZER)
                if job.get_status() in ACTIVE:
                    return True
            except NoSuchJobError:
                continue
        return False

    def _enqueue(
        self,
        queue: Queue,
        function: str,
        job_id: str,
        args: tuple[Any, ...],
        *,
        timeout: int,
        after: Job | None = None,
        retry: Retry | None = RENDER_RETRY,
        kwargs: dict[str, Any] | None = None,
        on_failure: str | None = ON_FAILURE,
        follows: bool = False,
        wait: int | None = None,
    ) -> Job:
        with contextlib.suppress(NoSuchJobError):
            Job.fetch(job_id, connection=self._redis, serializer=SERIALIZER).delete()
        job: Job = queue.enqueue_call(
            function,
            args=args,
            kwargs=kwargs or {},
            job_id=job_id,
            timeout=timeout,
            result_ttl=RESULT_TTL,
            failure_ttl=RESULT_TTL,
            depends_on=Dependency([after], enqueue_at_front=follows) if after else None,
            retry=retry,
            on_failure=Callback(on_failure) if on_failure else None,
            ttl=wait,
            meta=telemetry.job_meta(),  # the trace id: restored where the job runs
        )
        return job
