"""What the workers run, by name: queues, job functions, callbacks, timeouts and retries.

The bottom of `workers/`: it imports no other worker module. Whatever enqueues work (the
`RQJobQueue`, the scheduler) names job functions here as dotted strings, which RQ imports when a
worker runs the job, so enqueuing never imports job code and job modules never import the
modules that enqueue them.
"""

from __future__ import annotations

import os
from itertools import pairwise
from typing import Any, NamedTuple

from rq import Retry
from rq.job import Job
from rq.serializers import JSONSerializer

from bot.schedule_store import ScheduleKind

RENDER_QUEUE = "novacast-render"
"""Short render-side jobs with no workspace lane: a scheduled show's drafting."""
PUBLISH_QUEUE = "novacast-publish"
MEDIA_QUEUE = "novacast-media"
AHEAD_QUEUE = "novacast-ahead"
"""Work done ahead of a person's click, on idle workers only: a draft's narration."""
LANES = 8
"""Fairness lanes per class of render work; a workspace keeps one lane while it renders
(`workers.fairness`), and workers take turns between the lanes of a class."""
PREVIEW_LANES = tuple(f"novacast-preview-{lane}" for lane in range(LANES))
"""Voice, captions and the quick preview: short, and what a person is waiting to see."""
FULL_LANES = tuple(f"novacast-full-{lane}" for lane in range(LANES))
"""The full-quality video and its checks."""
FAIR_CLASSES = (PREVIEW_LANES, FULL_LANES)
RENDER_LANES = (*PREVIEW_LANES, *FULL_LANES)
"""Every queue a render's steps may be on."""
QUEUES = (PUBLISH_QUEUE, MEDIA_QUEUE, *PREVIEW_LANES, RENDER_QUEUE, *FULL_LANES, AHEAD_QUEUE)
"""What a worker listens to, in priority order: publishing is short and waited on by a person;
fetching a draft's pictures is short and is what a render would otherwise wait for; every
quick preview before any full-quality video; work ahead of a click only when nothing else
waits. Within a class the worker takes the lanes in turn (`workers.fairness.FairQueues`), so
no workspace's renders hold back another's."""

SERIALIZER = JSONSerializer
"""How jobs, their metadata and their results are stored in Redis: JSON, never pickle, so a
payload written to Redis is data and never code a worker runs (a pickled job fails with
`DeserializationError` before its function is looked up). Every `Queue`, worker, `Job.fetch`
and registry passes it; job arguments, `job.meta` and results are therefore plain JSON
(strings, numbers, lists, dicts: a `ReplyTarget` travels as its `model_dump()`)."""

RESULT_TTL = 24 * 3600
"""Seconds finished and failed jobs are kept (their results, and what went wrong)."""


class Step(NamedTuple):
    """One render step: its name in job ids, its job function (dotted), its timeout (s), its
    class of lanes, and whether it goes ahead of its lane's waiting work once the step before
    it is done (so one render's preview follows its voice instead of every other voice)."""

    name: str
    function: str
    timeout: int
    lanes: tuple[str, ...]
    follows: bool = False


RENDER_STEPS: tuple[Step, ...] = (
    Step("voice", "workers.render_jobs.voice", 180, PREVIEW_LANES),
    Step("captions", "workers.render_jobs.captions", 60, PREVIEW_LANES, follows=True),
    Step("preview", "workers.render_jobs.preview", 300, PREVIEW_LANES, follows=True),
    Step("full", "workers.render_jobs.full", 900, FULL_LANES),
    Step("checks", "workers.render_jobs.checks", 120, FULL_LANES, follows=True),
)
"""The render chain, in the order its steps run. Full videos of one lane go first come, first
served (never `follows`: a later render's would overtake an earlier one's)."""


def continues(function: str | None) -> bool:
    """Whether the render step run by `function` is followed, in its class of lanes, by the
    next step of the same render (the voice by its captions; the full video by its checks)."""
    for step, after in pairwise(RENDER_STEPS):
        if step.function == function:
            return after.follows and after.lanes == step.lanes
    return False
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

AHEAD_FUNCTION = "workers.voice_ahead.speak_ahead"
"""`speak_ahead(project_id, version)`: a draft's narration, spoken while its author reads it,
into the folder its render will use. Best effort (no retry, no failure callback); a job that
waits longer than `AHEAD_WAIT` is dropped (its draft has likely moved on)."""
AHEAD_TIMEOUT = 180
AHEAD_WAIT = 600

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


class UnknownJobError(Exception):
    """A job in Redis names a function or callback that is not in this catalog."""


class CatalogJob(Job):
    """The job class of our workers: it runs only the functions and callbacks named here.

    JSON keeps a payload from being code, but an RQ job also names the function to import and
    call (and its callbacks): anyone who can write to Redis could name `os.system`. This job
    refuses every other name; the job fails with `UnknownJobError` and no callback of its own
    runs."""

    @property
    def func(self) -> Any:
        if self.func_name not in job_functions():
            raise UnknownJobError(f"{self.func_name!r} is not a NOVACAST job")
        return super().func

    @property
    def success_callback(self) -> Any:
        return super().success_callback if self._known(self._success_callback_name) else None

    @property
    def failure_callback(self) -> Any:
        return super().failure_callback if self._known(self._failure_callback_name) else None

    @property
    def stopped_callback(self) -> Any:
        return super().stopped_callback if self._known(self._stopped_callback_name) else None

    def restore(self, raw_data: dict[bytes, bytes]) -> None:
        super().restore(raw_data)
        self.webhooks = []  # we set none; a planted one would post the job's data anywhere

    @staticmethod
    def _known(callback: str | None) -> bool:
        return callback is None or callback in CALLBACKS


CALLBACKS = frozenset({ON_FAILURE})


def job_functions() -> frozenset[str]:
    """Every function a worker may run, by its dotted name."""
    steps = {step.function for step in RENDER_STEPS}
    return frozenset({*steps, PUBLISH_FUNCTION, FIRE_FUNCTION, PREFETCH_FUNCTION, AHEAD_FUNCTION})
