"""Queues and the RQ implementation of the core's JobQueue port."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

import redis
from rq import Callback, Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from bot.events import ReplyTarget
from bot.project import ProjectStore
from workers import jobs, publishing
from workers.failures import on_failure

RENDER_QUEUE = "novacast-render"
PUBLISH_QUEUE = "novacast-publish"
QUEUES = (PUBLISH_QUEUE, RENDER_QUEUE)
"""What a worker listens to, in priority order (publishing is short and waited on by a person)."""

RETRY = Retry(max=2, interval=[2, 6])
PUBLISH_RETRY_ENV = "NOVACAST_PUBLISH_RETRY_SECONDS"
"""Seconds between publish attempts, comma-separated (default 10,60,300: three retries)."""


def publish_retry() -> Retry:
    """Backoff for publishing: platforms' brief outages pass; then the user gets Retry."""
    raw = os.environ.get(PUBLISH_RETRY_ENV, "").strip()
    try:
        intervals = [max(0, int(part)) for part in raw.split(",") if part.strip()]
    except ValueError:
        intervals = []
    intervals = intervals or [10, 60, 300]
    return Retry(max=len(intervals), interval=intervals)


RESULT_TTL = 24 * 3600
ACTIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}

RENDER_STEPS: tuple[tuple[str, Callable[..., None], int], ...] = (
    ("voice", jobs.voice, 180),
    ("captions", jobs.captions, 60),
    ("preview", jobs.preview, 300),
    ("full", jobs.full, 900),
    ("checks", jobs.checks, 120),
)
"""Each render step: name, function, timeout in seconds. They run in this order."""


class RQJobQueue:
    """Enqueues render and publish chains with ids derived from their inputs."""

    def __init__(self, connection: redis.Redis) -> None:
        self._redis = connection
        self._render = Queue(RENDER_QUEUE, connection=connection)
        self._publish = Queue(PUBLISH_QUEUE, connection=connection)

    def render(self, project_id: str, version: int, target: ReplyTarget) -> list[str]:
        project = ProjectStore(self._redis).get(project_id)
        if project is None:
            raise KeyError(project_id)
        preference = jobs.voice_preference(self._redis, project)
        digest = jobs.render_fingerprint(project, version, preference)
        ids = [f"nc-{project_id}-v{version}-{digest}-{name}" for name, _f, _t in RENDER_STEPS]
        if self._any_active(ids):
            return ids
        args = (project_id, version, target.model_dump())
        frozen = {"preference": preference or ""}  # every step speaks with this voice
        previous: Job | None = None
        for job_id, (_name, func, timeout) in zip(ids, RENDER_STEPS, strict=True):
            previous = self._enqueue(
                self._render, func, job_id, args, timeout=timeout, after=previous, kwargs=frozen
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
            self._publish, publishing.publish, job_id, args, timeout=900, retry=publish_retry()
        )
        return [job_id]

    def _any_active(self, ids: list[str]) -> bool:
        for job_id in ids:
            try:
                if Job.fetch(job_id, connection=self._redis).get_status() in ACTIVE:
                    return True
            except NoSuchJobError:
                continue
        return False

    def _enqueue(
        self,
        queue: Queue,
        func: Callable[..., Any],
        job_id: str,
        args: tuple[Any, ...],
        *,
        timeout: int,
        after: Job | None = None,
        retry: Retry = RETRY,
        kwargs: dict[str, Any] | None = None,
    ) -> Job:
        with contextlib.suppress(NoSuchJobError):
            Job.fetch(job_id, connection=self._redis).delete()
        job: Job = queue.enqueue_call(
            func,
            args=args,
            kwargs=kwargs or {},
            job_id=job_id,
            timeout=timeout,
            result_ttl=RESULT_TTL,
            failure_ttl=RESULT_TTL,
            depends_on=after,
            retry=retry,
            on_failure=Callback(on_failure),
        )
        return job
