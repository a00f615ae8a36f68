"""A voice change renders again: the render fingerprint (work folder and job ids) includes the
resolved voice, so a new voice preference never gets the old narration, while the same
preference is idempotent and a title-only version still reuses the narration. Real Redis, a
real RQ worker (SimpleWorker, burst) running the real voice job, real Piper."""

from __future__ import annotations

import json
from collections.abc import Iterator
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
from pipeline.script import Script
from pipeline.settings import load_settings
from pipeline.voice.piper_tts import PiperTTS
from pipeline.writers import OfflineWriter
from workers import render_jobs, render_plan
from workers.catalog import QUEUES, RENDER_QUEUE, SERIALIZER
from workers.queues import RQJobQueue

CHAT = Conversation(adapter="console", workspace="local", channel="console", user="me")
TARGET = ReplyTarget.of(CHAT)


@pytest.fixture
def settings(data_dir: Path) -> Iterator[Path]:
    load_settings.cache_clear()
    yield data_dir
    load_settings.cache_clear()


@pytest.fixture(scope="module")
def script() -> Script:
    return OfflineWriter().script("why bread rises", 10)


def rendering(connection: redis.Redis, script: Script) -> Project:
    project = Project.start(CHAT, script).evolve(state=ProjectState.RENDERING)
    return ProjectStore(connection).create(project)


def prefer(connection: redis.Redis, voice: str) -> None:
    PreferenceStore(connection).update(CHAT, Preferences(voice=voice))


def speak(connection: redis.Redis, project: Project, version: int) -> None:
    """The render's voice step, run by a real RQ worker."""
    queue = Queue(RENDER_QUEUE, connection=connection, serializer=SERIALIZER)
    job = queue.enqueue_call(render_jobs.voice, args=(project.id, version, TARGET.model_dump()))
    install_worker_runtime(connection)
    SimpleWorker([queue], connection=connection, serializer=SERIALIZER).work(burst=True)
    assert job.get_status(refresh=True) == "finished", job.latest_result()


def narration_in(folder: Path) -> Narration:
    return Narration.model_validate_json((folder / "narration.json").read_text())


def test_the_voice_preference_is_part_of_the_job_ids_and_the_work_folder(
    redis_conn: redis.Redis, settings: Path, script: Script
) -> None:
    project = rendering(redis_conn, script)
    queue = RQJobQueue(redis_conn)
    plain = queue.render(project.id, 1, TARGET)
    assert queue.render(project.id, 1, TARGET) == plain  # pressing Render again: same jobs
    prefer(redis_conn, "calm")
    calm = queue.render(project.id, 1, TARGET)
    assert set(calm).isdisjoint(plain)
    assert queue.render(project.id, 1, TARGET) == calm
    for ids, preference in ((plain, None), (calm, "calm")):
        digest = render_plan.render_fingerprint(project, 1, preference)
        assert all(f"-v1-{digest}-" in job_id for job_id in ids)
        assert render_plan.workdir_for(project, 1, preference).root.name == f"v1-{digest}"
    assert render_plan.render_fingerprint(project, 1, "calm") == render_plan.render_fingerprint(
        project, 1, "relaxed"  # an alias of calm: the same voice, so the same render
    )


def test_a_new_voice_speaks_again_and_the_same_voice_is_reused(
    redis_conn: redis.Redis, settings: Path, script: Script
) -> None:
    project = rendering(redis_conn, script)
    speak(redis_conn, project, 1)
    plain = render_plan.workdir_for(project, 1, None).root
    prefer(redis_conn, "calm")
    speak(redis_conn, project, 1)
    calm = render_plan.workdir_for(project, 1, "calm").root
    assert calm != plain
    assert sorted(p.name for p in calm.parent.iterdir()) == sorted([plain.name, calm.name])
    assert (plain / "narration.voice").read_text() == "piper:en_US-joe-medium"
    assert (calm / "narration.voice").read_text() == "piper:en_US-joe-medium@1.111"
    plain_audio, calm_audio = probe(plain / "narration.wav"), probe(calm / "narration.wav")
    assert narration_in(calm).duration == pytest.approx(calm_audio.duration, abs=0.01)
    # Piper's durations vary by about 1 % between runs; calm speech is about 5 % slower here
    assert calm_audio.duration > plain_audio.duration + 0.25
    calm_speech = sum(cue.end - cue.start for cue in narration_in(calm).cues)
    plain_speech = sum(cue.end - cue.start for cue in narration_in(plain).cues)
    assert calm_speech > plain_speech * 1.02
    spoken = (calm / "narration.wav").read_bytes()
    speak(redis_conn, project, 1)  # the same preference again: nothing is spoken anew
    assert (calm / "narration.wav").read_bytes() == spoken
    assert sorted(p.name for p in calm.parent.iterdir()) == sorted([plain.name, calm.name])


def test_a_new_title_reuses_the_narration_of_the_same_voice_only(
    redis_conn: redis.Redis, settings: Path, script: Script
) -> None:
    project = rendering(redis_conn, script)
    speak(redis_conn, project, 1)  # the default voice
    prefer(redis_conn, "calm")
    speak(redis_conn, project, 1)
    retitled = script.model_copy(update={"title": "Bread, Explained"})
    store = ProjectStore(redis_conn)
    project = store.save(project.with_version(retitled).evolve(state=ProjectState.RENDERING))
    speak(redis_conn, project, 2)
    v1 = render_plan.workdir_for(project, 1, "calm").root
    v2 = render_plan.workdir_for(project, 2, "calm").root
    assert v2 != v1
    # Piper is not bit-exact from run to run, so equal bytes mean the file was copied
    assert (v2 / "narration.wav").read_bytes() == (v1 / "narration.wav").read_bytes()
    plain = render_plan.workdir_for(project, 1, None).root
    assert (v2 / "narration.wav").read_bytes() != (plain / "narration.wav").read_bytes()
    assert (v2 / "narration.voice").read_text() == (v1 / "narration.voice").read_text()
    assert json.loads((v2 / "narration.json").read_text())["cues"] == json.loads(
        (v1 / "narration.json").read_text()
    )["cues"]


def test_the_voice_name_tells_apart_what_changes_the_audio() -> None:
    names = {
        PiperTTS().name,
        PiperTTS(length_scale=1.111).name,
        PiperTTS(pauses={2: 1.0}).name,
        PiperTTS(pauses={2: 1.5}).name,
        PiperTTS(pauses={3: 1.0}).name,
    }
    assert len(names) == 5


def test_a_preference_changed_mid_render_does_not_split_the_chain(
    redis_conn: redis.Redis, settings: Path, script: Script
) -> None:
    """The voice is frozen when Render is pressed: every step of that chain uses it."""
    project = rendering(redis_conn, script)
    RQJobQueue(redis_conn).render(project.id, 1, TARGET)
    prefer(redis_conn, "calm")  # after Render, before the worker gets to it
    queues = [Queue(name, connection=redis_conn, serializer=SERIALIZER) for name in QUEUES]
    install_worker_runtime(redis_conn)
    SimpleWorker(queues, connection=redis_conn, serializer=SERIALIZER).work(burst=True)
    done = ProjectStore(redis_conn).get(project.id)
    assert done is not None
    assert done.state is ProjectState.PREVIEW, done.last_error
    plain = render_plan.workdir_for(project, 1, None).root
    assert Path(done.video_path).parent == plain
    assert (plain / "narration.voice").read_text().strip() == "piper:en_US-joe-medium"
