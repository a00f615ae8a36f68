"""Jobs are stored as JSON, the worker never unpickles what someone wrote into Redis, and it
runs only the functions and callbacks the catalog names.

Real Redis, the real `RQJobQueue`, and the real worker (`workers.worker.run_worker`, burst)
against planted jobs: a pickled payload whose unpickling alone would run code, and a JSON job
naming `os.mkdir`."""

from __future__ import annotations

import json
import os
import pickle
import zlib
from pathlib import Path

import redis
from rq import Callback, Queue, SimpleWorker
from rq.job import Job, JobStatus

from bot.events import Conversation, ReplyTarget
from bot.project import Project, ProjectStore
from novacast.wiring import install_worker_runtime
from pipeline.writers import OfflineWriter
from workers.catalog import ON_FAILURE, RENDER_QUEUE, RENDER_STEPS, SERIALIZER, CatalogJob
from workers.queues import RQJobQueue
from workers.worker import run_worker

CHAT = Conversation(adapter="console", workspace="local", channel="console", user="me")


class Planted:
    """What an attacker pickles: unpickling it calls `os.mkdir(marker)`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.mkdir, (str(self.marker),)


def test_a_render_is_enqueued_as_json(redis_conn: redis.Redis, data_dir: Path) -> None:
    project = ProjectStore(redis_conn).create(
        Project.start(CHAT, OfflineWriter().script("why bread rises", 10))
    )
    ids = RQJobQueue(redis_conn).render(project.id, 1, ReplyTarget.of(CHAT))
    for job_id, step in zip(ids, RENDER_STEPS, strict=True):
        data = redis_conn.hget(Job.key_for(job_id), "data")
        assert isinstance(data, bytes)
        function, instance, args, kwargs = json.loads(zlib.decompress(data))
        assert (function, instance) == (step.function, None)
        assert args == [project.id, 1, ReplyTarget.of(CHAT).model_dump()]
        assert set(kwargs) == {"preference"}


def test_the_worker_never_unpickles_a_planted_job(
    redis_conn: redis.Redis, data_dir: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    pickled = Queue(RENDER_QUEUE, connection=redis_conn)  # RQ's default serializer: pickle
    pickled.enqueue_call("workers.render_jobs.voice", args=(Planted(marker),), job_id="planted")
    payload = redis_conn.hget(Job.key_for("planted"), "data")
    assert isinstance(payload, bytes)

    install_worker_runtime(redis_conn)
    run_worker(redis_conn, burst=True)

    assert not marker.exists(), "the worker unpickled the planted payload"
    job = Job.fetch("planted", connection=redis_conn, serializer=SERIALIZER)
    assert job.get_status() == JobStatus.FAILED
    result = job.latest_result()
    assert result is not None
    assert "DeserializationError" in (result.exc_string or "")
    pickle.loads(zlib.decompress(payload))  # the payload was armed: what a pickle worker would do
    assert marker.is_dir()


def test_the_worker_runs_only_the_catalogs_functions(
    redis_conn: redis.Redis, data_dir: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    queue = Queue(RENDER_QUEUE, connection=redis_conn, serializer=SERIALIZER)
    queue.enqueue_call("os.mkdir", args=(str(marker),), job_id="named")
    install_worker_runtime(redis_conn)

    run_worker(redis_conn, burst=True)

    assert not marker.exists(), "the worker ran a function outside the catalog"
    job = Job.fetch("named", connection=redis_conn, serializer=SERIALIZER)
    assert job.get_status() == JobStatus.FAILED
    result = job.latest_result()
    assert result is not None
    assert "UnknownJobError" in (result.exc_string or "")
    job.requeue()  # what any RQ worker would have done with it
    SimpleWorker([queue], connection=redis_conn, serializer=SERIALIZER).work(burst=True)
    assert marker.is_dir()


def test_only_the_catalogs_callbacks_are_called(redis_conn: redis.Redis) -> None:
    queue = Queue(RENDER_QUEUE, connection=redis_conn, serializer=SERIALIZER)
    for job_id, callback in (("ours", ON_FAILURE), ("theirs", "os.mkdir")):
        queue.enqueue_call(RENDER_STEPS[0].function, job_id=job_id, on_failure=Callback(callback),
                           on_success=Callback(callback), on_stopped=Callback(callback))
    ours = CatalogJob.fetch("ours", connection=redis_conn, serializer=SERIALIZER)
    assert ours.failure_callback is not None
    theirs = CatalogJob.fetch("theirs", connection=redis_conn, serializer=SERIALIZER)
    assert (theirs.failure_callback, theirs.success_callback, theirs.stopped_callback) == (
        None, None, None)
    assert Job.fetch("theirs", connection=redis_conn, serializer=SERIALIZER).failure_callback
