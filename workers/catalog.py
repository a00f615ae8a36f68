"""What the workers run, by name: queues, job functions, callbacks, timeouts and retries.

The bottom of `workers/`: it imports no other worker module. Whatever enqueues work (the
`RQJobQueue`, the scheduler) names job functions here as dotted strings, which RQ imports when a
worker runs the job, so enqueuing never imports job code and job modules never import the
modules that enqueue them.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from rq import Retry
from rq.serializers import JSONSerializer

from bot.schedule_store import ScheduleKind

RENDER_QUEUE = "novacast-render"
PUBLISH_QUEUE = "novacast-publish"
MEDIA_QUEUE = "novacast-media"
QUEUES = (PUBLISH_QUEUE, MEDIA_QUEUE, RENDER_QUEUE)
"""What a worker listens to, in priority order: publishing is short and waited on by a person;
fetching a draft's pictures is short and is what a render would otherwise wait for."""

SERIALIZER = JSONSerializer
"""How jobs, their metadata and their results are stored in Redis: JSON, never pickle, so a
payload written to Redis is data and never code a worker runs (a pickled job fails with
`DeserializationError` before its function is looked up). Every `Queue`, worker, `Job.fetch`
and registry passes it; job arguments, `job.meta` and results are therefore plain JSON
(strings, numbers, lists, dicts: a `ReplyTarget` travels as its `model_dump()`)."""

RESULT_TTL = 24 * 3600
"""Seconds finished and failed jobs are kept (their results, and what went wrong)."""


class Step(NamedTuple):
    """One render step: its name in job ids, its job function (dotted), its timeout (s)."""

    name: str
    function: str
    timeout: int


RENDER_STEPS: tuple[Step, ...] = (
    Step("voice", "workers.render_jobs.voice", 180),
    Step("captions", "workers.render_jobs.captions", 60),
    Step("preview", "workers.render_jobs.preview", 300),
    Step("full", "workers.render_jobs.full", 900),
    Step("checks", "workers.render_jobs.checks", 120),
)
"""The render chain, in the order its steps run."""
RENDER_RETRY = Retry(max=2, interval=[2, 6])

PUBLISH_FUNCTION = "workers.publishing.publish"
"""`publish(project_id, version, approver, target)`."""
PUBLISH_TIMEOUT = 900
PUBLISH_RETRY_ENV = "NOVACAST_PUBLISH_RETRY_SECONDS"
"""Seconds between publish attempts, comma-separated (default 10,60,300: three retries)."""

FIRE_FUNCTION = "workers.schedule_jobs.fire"
"""`fire(schedule_id: str, fire_at_iso: str)`: one occurrence of a schedule."""
FIRE_TIMEOUT = 900
FIRE_RETRY = Retry(max=2, interval=[5, 30])
FIRE_QUEUE = {ScheduleKind.PUBLISH: PUBLISH_QUEUE, ScheduleKind.MAKE: RENDER_QUEUE}
"""Which queue a schedule's occurrence runs on, by what the schedule does."""

PREFETCH_FUNCTION = "workers.media_jobs.prefetch"
"""`prefetch(project_id, version, target)`: a draft's pictures into the media cache, and its
storyboard posted once. It reports its own trouble (a sentence) and never fails the draft, so
it runs without the failure callback, which would take a rendering project back to its draft."""
PREFETCH_TIMEOUT = 300
PREFETCH_RETRY = Retry(max=1, interval=[10])

ON_FAILURE = "workers.failures.on_failure"
"""The failure callback of every job: retry transient errors, report the rest."""


def publish_retry() -> Retry:
    """Backoff for publishing: platforms' brief outages pass; then the user gets Retry."""
    raw = os.environ.get(PUBLISH_RETRY_ENV, "").strip()
    try:
        intervals = [max(0, int(part)) for part in raw.split(",") if part.strip()]
    except ValueError:
        intervals = []
    intervals = intervals or [10, 60, 300]
    return Retry(max=len(intervals), interval=intervals)
