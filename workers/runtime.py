"""What a job function has besides its ids: the running job, and the worker process's runtime.

RQ calls job functions by name with ids only. Everything else they need comes from here:
- the Redis connection of the job running now, and its stage (for failure reports);
- the key of a render's progress message;
- the process's `Runtime`: the conversational core the entry point built once at start, the
  core's `JobQueue` port (the only way a job enqueues follow-on work), and the picture parts
  (a director per workspace, the media cache, the asset store). The entry point installs it
  (`novacast.wiring.install_worker_runtime`) before the worker takes jobs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol

import redis
from rq import get_current_job
from rq.job import Job

from bot.actions import Action
from bot.events import Event
from bot.job_queue import JobQueue
from pipeline.media.assets import AssetStore
from pipeline.media.cache import MediaCache
from pipeline.media.director import Director


class Core(Protocol):
    """The conversational core as a job sees it: one event in, the actions answering it out."""

    def handle(self, event: Event) -> list[Action]:
        """Answer `event` as if it came from the conversation it names."""
        ...


@dataclass(frozen=True)
class Pictures:
    """The picture parts of a process, built once: what chooses and fetches a workspace's
    shots, the media cache (shared on disk by every process on the data dir), the uploads."""

    directors: Callable[[str], Director]
    """The director of one workspace ("<adapter>:<workspace id>": its uploads and history)."""
    cache: MediaCache
    assets: AssetStore


@dataclass(frozen=True)
class Runtime:
    """Built once per worker process by the entry point."""

    core: Core
    jobs: JobQueue
    pictures: Pictures


class NoRuntime(RuntimeError):
    """A job that needs the core ran in a process whose entry point installed none."""


class _Process:
    """The runtime of this process (one per worker process)."""

    runtime: ClassVar[Runtime | None] = None


def install(runtime: Runtime) -> None:
    """Make `runtime` the one job functions of this process use (replaces an earlier one)."""
    _Process.runtime = runtime


def current() -> Runtime:
    """The installed runtime; `NoRuntime` when the process was started without one."""
    runtime = _Process.runtime
    if runtime is None:
        raise NoRuntime(
            "no worker runtime installed: start workers with `novacast worker` "
            "(novacast.wiring.install_worker_runtime)"
        )
    return runtime


def connection() -> redis.Redis:
    """The Redis connection of the job running now."""
    job = get_current_job()
    if job is None:
        raise RuntimeError("job functions run inside an RQ worker")
    conn: redis.Redis = job.connection
    return conn


def mark_stage(stage: str) -> None:
    """Record which stage the running job is at, so a failure report can name it."""
    job = get_current_job()
    if job is not None:
        job.meta["stage"] = stage
        job.save_meta()  # type: ignore[no-untyped-call]


RESUME = "resume"
"""`job.meta` flag: the job's last execution was abandoned (its worker stopped beating)."""


def mark_abandoned(job: Job) -> None:
    """Remember, on the job, that it runs again after its worker stopped (see `resuming`)."""
    job.meta[RESUME] = True
    job.save_meta()  # type: ignore[no-untyped-call]


def resuming() -> bool:
    """True once for the running job when it was picked up again after its worker stopped."""
    job = get_current_job()
    if job is None or not job.meta.get(RESUME):
        return False
    job.meta.pop(RESUME, None)
    job.save_meta()  # type: ignore[no-untyped-call]
    return True


def progress_key(project_id: str, version: int) -> str:
    """The key of a render's one progress message (edited in place)."""
    return f"{project_id}:v{version}"
