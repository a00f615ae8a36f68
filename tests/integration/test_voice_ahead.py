"""A draft's narration is spoken ahead, while its author reads it, on an idle worker; Render's
voice step then finds it made. Real Redis, real RQ workers (SimpleWorker, burst) running the
real jobs through the catalog, real Piper."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from rq import Queue, SimpleWorker

from bot.events import Conversation, ReplyTarget
from bot.preferences import Preferences, PreferenceStore
from bot.project import Project, ProjectState, ProjectStore
from novacast.wiring import install_worker_runtime
from pipeline.narration import Narration
from pipeline.probe import probe
from pipeline.writers import OfflineWriter
from workers import render_jobs, render_plan
from workers.catalog import AHEAD_QUEUE, QUEUES, RENDER_QUEUE, SERIALIZER, CatalogJob
from workers.queues import RQJobQueue

CHAT = Conversation(adapter="console", workspace="local", channel="console", user="me")
TARGET = ReplyTarget.of(CHAT)


def draft(connection: redis.Redis, idea: str = "why bread rises") -> Project:
    return ProjectStore(connection).create(Project.start(CHAT, OfflineWriter().script(idea, 10)))


def ahead_jobs(connection: redis.Redis) -> list[str]:
    return Queue(AHEAD_QUEUE, connection=connection, serializer=SERIALIZER).job_ids


def work(connection: redis.Redis, names: tuple[str, ...] = QUEUES) -> None:
    queues = [Queue(name, connection=connection, serializer=SERIALIZER) for name in names]
    install_worker_runtime(connection)
    SimpleWorker(queues, connection=connection, serializer=SERIALIZER,
                 job_class=CatalogJob).work(burst=True)


def folder(project: Project, version: int) -> Path:
    return render_plan.workdir_for(project, version, None).root


def test_a_drafts_narration_is_spoken_ahead_and_render_reuses_it(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    project = draft(redis_conn)
    assert RQJobQueue(redis_conn).prefetch(project.id, 1, TARGET) == []  # nothing to wait for
    assert ahead_jobs(redis_conn) == [f"nc-{project.id}-v1-ahead"]
    assert RQJobQueue(redis_conn).prefetch(project.id, 1, TARGET) == []
    assert len(ahead_jobs(redis_conn)) == 1  # once per version
    work(redis_conn)
    wav = folder(project, 1) / "narration.wav"
    spoken = Narration.model_validate_json((wav.parent / "narration.json").read_text())
    facts = probe(wav)
    assert facts.audio_codec == "pcm_s16le"
    assert facts.duration == pytest.approx(spoken.duration, abs=0.05)
    assert spoken.duration > 5
    made = wav.stat().st_mtime_ns

    ProjectStore(redis_conn).save(project.evolve(state=ProjectState.RENDERING))
    queue = Queue(RENDER_QUEUE, connection=redis_conn, serializer=SERIALIZER)
    job = queue.enqueue_call(render_jobs.voice, args=(project.id, 1, TARGET.model_dump()))
    work(redis_conn, (RENDER_QUEUE,))
    assert job.get_status(refresh=True) == "finished", job.latest_result()
    assert wav.stat().st_mtime_ns == made, "the render spoke the narration again"
    assert list(wav.parent.parent.glob("*/narration.wav")) == [wav], "it spoke elsewhere"


def test_a_version_the_draft_moved_on_from_is_not_spoken(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    project = draft(redis_conn)
    RQJobQueue(redis_conn).prefetch(project.id, 1, TARGET)
    shorter = OfflineWriter().revise(project.script, "shorter").script
    moved = ProjectStore(redis_conn).save(project.with_version(shorter))
    RQJobQueue(redis_conn).prefetch(project.id, 2, TARGET)
    work(redis_conn)
    assert not (folder(moved, 1) / "narration.wav").exists()
    assert (folder(moved, 2) / "narration.wav").exists()


def test_a_rendering_project_is_not_spoken_ahead(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    project = draft(redis_conn)
    RQJobQueue(redis_conn).prefetch(project.id, 1, TARGET)
    ProjectStore(redis_conn).save(project.evolve(state=ProjectState.CANCELLED))
    work(redis_conn)
    assert not (folder(project, 1) / "narration.wav").exists()


def test_a_paid_voice_is_never_spoken_ahead(
    redis_conn: redis.Redis, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ElevenLabs bills characters: a draft nobody renders must cost nothing."""
    monkeypatch.setenv("ELEVENLABS_API_KEY", "sk-test")
    PreferenceStore(redis_conn).update(CHAT, Preferences(voice="calm"))
    project = draft(redis_conn)
    RQJobQueue(redis_conn).prefetch(project.id, 1, TARGET)
    assert ahead_jobs(redis_conn) == []


def test_work_ahead_waits_behind_every_render_queue() -> None:
    assert QUEUES[-1] == AHEAD_QUEUE
