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
from workers.catalog import (
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

ACTIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}


class RQJobQueue:
    """Enqueues render and publish chains with ids derived from their inputs."""

    def __init__(self, connection: redis.Redis) -> None:
        self._redis = connection
        self._publish = Queue(PUBLISH_QUEUE, connection=connection, serializer=SERIALIZER)
        self._media = Queue(MEDIA_QUEUE, connection=connection, serializer=SERIALIZER)

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
        """Fetch the version's pictures into the media cache and post its storyboard: one job
        per version while it runs; run again later, it finds the files cached and the
        storyboard already posted."""
        job_id = f"nc-{project_id}-v{version}-prefetch"
        if self._any_active([job_id]):
            return [job_id]
        self._enqueue(
            self._media,
            PREFETCH_FUNCTION,
            job_id,
            (project_id, version, target.model_dump()),
            timeout=PREFETCH_TIMEOUT,
            retry=PREFETCH_RETRY,
            on_failure=None,
        )
        return [job_id]

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
        retry: Retry = RENDER_RETRY,
        kwargs: dict[str, Any] | None = None,
        on_failure: str | None = ON_FAILURE,
        follows: bool = False,
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
        )
        return job
