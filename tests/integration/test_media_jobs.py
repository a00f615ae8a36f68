"""The prefetch job with a real RQ SimpleWorker, real Redis, the real Pexels source against the
Pexels fake (ffmpeg-made solid-colour clips) and the real media cache: a draft's pictures are
downloaded once, the contact sheet is posted once (its tiles show the shots' colours), a second
run downloads nothing and posts nothing, and a render step uses the cached files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
import redis
from rq import Queue, SimpleWorker
from rq.job import Job

from adapters.console import ConsoleOutbox
from bot.actions import Action, Picture, Say
from bot.events import Conversation, ReplyTarget
from bot.project import Project, ProjectState, ProjectStore
from novacast.wiring import install_worker_runtime
from pipeline.media.cache import MediaCache
from pipeline.media.model import Candidate, MediaQuery, Shot
from pipeline.media.storyboard import TILE_WIDTHS
from pipeline.probe import frame_at, probe
from pipeline.render import Profile
from pipeline.script import Script
from pipeline.settings import load_settings
from pipeline.writers import OfflineWriter
from tests.fakes.pexels_api import Item, PexelsFake
from workers import render_jobs
from workers.catalog import MEDIA_QUEUE, RENDER_QUEUE, SERIALIZER
from workers.media_jobs import sheet_path
from workers.queues import RQJobQueue
from workers.render_plan import render_fingerprint, workdir_for

CHAT = Conversation(adapter="console", workspace="local", channel="terminal", user="me")
TARGET = ReplyTarget.of(CHAT)
COLOURS = ["#d62828", "#2a9d8f", "#3a86ff", "#ffd166", "#8338ec", "#06d6a0"]
CATALOGUE = [
    Item(201 + n, "video", colour, f"octopus ocean clip{n}", user=f"Creator {n}", seconds=2.0)
    for n, colour in enumerate(COLOURS)
]


@pytest.fixture
def pexels(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PexelsFake]:
    load_settings.cache_clear()
    with PexelsFake(CATALOGUE) as fake:
        fake.apply_env(monkeypatch)
        yield fake
    load_settings.cache_clear()


def _with_shots(script: Script, found: list[Candidate]) -> Script:
    """One found clip per scene, in order (the chooser's work is tested elsewhere)."""
    scenes = [
        scene.model_copy(update={"shots": [Shot(media=found[i], line=scene.sentences[0] + 1,
                                                seconds=2.0, query="octopus")]})
        for i, scene in enumerate(script.scenes)
    ]
    return script.model_copy(update={"scenes": scenes})


def _draft(connection: redis.Redis, fake: PexelsFake) -> Project:
    script = OfflineWriter().script("why octopuses have three hearts", 20)
    found = fake.source().search(MediaQuery(text="octopus", limit=len(COLOURS)))
    assert len(found) >= len(script.scenes)
    return ProjectStore(connection).create(Project.start(CHAT, _with_shots(script, found)))


def _prefetch(connection: redis.Redis, project: Project) -> Job:
    (job_id,) = RQJobQueue(connection).prefetch(project.id, 1, TARGET)
    queue = Queue(MEDIA_QUEUE, connection=connection, serializer=SERIALIZER)
    assert queue.job_ids == [job_id]
    SimpleWorker([queue], connection=connection, serializer=SERIALIZER).work(burst=True)
    job = Job.fetch(job_id, connection=connection, serializer=SERIALIZER)
    assert job.get_status(refresh=True) == "finished", job.latest_result()
    return job


def _posted(outbox: ConsoleOutbox) -> list[Action]:
    return list(outbox.read())


def _downloads(fake: PexelsFake) -> list[str]:
    return [r.path for r in fake.requests if r.path.startswith("/media/")
            and not r.path.endswith("thumb.jpg")]


def _tile_colours(sheet: Path, count: int, tile_w: int) -> list[tuple[int, int, int]]:
    """The colour at the middle of each of the first `count` tiles (one row)."""
    with av.open(str(sheet)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    middle = frame.shape[0] // 2
    return [tuple(int(c) for c in frame[middle, tile_w * n + tile_w // 2])  # type: ignore[misc]
            for n in range(count)]


def _near(rgb: tuple[int, int, int], hex_colour: str, tolerance: int = 40) -> bool:
    wanted = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return bool(np.abs(np.array(rgb) - wanted).max() <= tolerance)


def test_prefetch_caches_the_shots_and_posts_the_sheet_once(
    redis_conn: redis.Redis, pexels: PexelsFake
) -> None:
    install_worker_runtime(redis_conn)
    project = _draft(redis_conn, pexels)
    outbox = ConsoleOutbox(redis_conn, CHAT.workspace)
    outbox.start_reading()

    job = _prefetch(redis_conn, project)
    shots = [shot for scene in project.script.scenes for shot in scene.shots]
    assert job.return_value() == len(shots)
    assert sorted(_downloads(pexels)) == sorted(
        {f"/media/{shot.media.id}/360x640.mp4" for shot in shots}
    )
    settings = load_settings()
    cache = MediaCache(settings.media_cache_dir, settings.media_cache_bytes)
    assert all(cache.get(shot.media) is not None for shot in shots)

    posted = _posted(outbox)
    assert [type(a) for a in posted] == [Picture]
    sheet = Path(posted[0].path)  # type: ignore[union-attr]
    assert sheet == sheet_path(project, 1)
    assert str(len(shots)) in posted[0].caption  # type: ignore[union-attr]
    tiles = _tile_colours(sheet, len(shots), TILE_WIDTHS[project.script.aspect])
    wanted = [COLOURS[CATALOGUE.index(next(i for i in CATALOGUE if str(i.id) == s.media.id))]
              for s in shots]
    assert all(_near(rgb, colour) for rgb, colour in zip(tiles, wanted, strict=True)), (
        tiles, wanted)

    calls = len(pexels.requests)
    _prefetch(redis_conn, project)
    assert len(pexels.requests) == calls  # no search, no thumbnail, no download
    assert _posted(outbox) == []  # the sheet went out once


def test_a_dead_provider_is_one_sentence_and_the_draft_is_untouched(
    redis_conn: redis.Redis, pexels: PexelsFake
) -> None:
    install_worker_runtime(redis_conn)
    project = _draft(redis_conn, pexels)
    outbox = ConsoleOutbox(redis_conn, CHAT.workspace)
    outbox.start_reading()
    pexels.stop()

    _prefetch(redis_conn, project)
    posted = _posted(outbox)
    says = [a for a in posted if isinstance(a, Say)]
    assert len(says) == 1
    assert "background" in says[0].text
    assert [type(a) for a in posted].count(Picture) == 1  # dark tiles, but the storyboard
    after = ProjectStore(redis_conn).get(project.id)
    assert after is not None
    assert (after.state, after.current) == (ProjectState.DRAFT, 1)

    _prefetch(redis_conn, project)
    assert _posted(outbox) == []  # told once per version


def test_the_render_fingerprint_covers_every_shot(
    redis_conn: redis.Redis, pexels: PexelsFake
) -> None:
    """Another picture for one scene is another work folder and other job ids; the same
    pictures are the same ones."""
    project = _draft(redis_conn, pexels)
    script = project.script
    found = pexels.source().search(MediaQuery(text="octopus", limit=len(COLOURS)))
    scenes = list(script.scenes)
    other = next(c for c in found if c.key != scenes[1].shots[0].media.key)
    scenes[1] = scenes[1].model_copy(update={"shots": [
        scenes[1].shots[0].model_copy(update={"media": other})]})
    changed = project.with_version(script.model_copy(update={"scenes": scenes}))
    same = changed.with_version(script)
    prints = [render_fingerprint(p, p.current, None) for p in (project, changed, same)]
    assert prints[0] != prints[1]
    assert prints[0] == prints[2]


@pytest.mark.slow
def test_a_render_with_a_dead_provider_shows_backgrounds_and_says_so_once(
    redis_conn: redis.Redis, pexels: PexelsFake
) -> None:
    """Nothing cached and the provider down at render time: the preview still renders, the
    pictured beats show their scene's gradient, and the chat gets one sentence."""
    install_worker_runtime(redis_conn)
    project = _draft(redis_conn, pexels)
    ProjectStore(redis_conn).save(project.evolve(state=ProjectState.RENDERING))
    outbox = ConsoleOutbox(redis_conn, CHAT.workspace)
    outbox.start_reading()
    pexels.stop()

    queue = Queue(RENDER_QUEUE, connection=redis_conn, serializer=SERIALIZER)
    args = (project.id, 1, TARGET.model_dump())
    jobs = [queue.enqueue_call(step, args=args)
            for step in (render_jobs.voice, render_jobs.captions, render_jobs.preview)]
    SimpleWorker([queue], connection=redis_conn, serializer=SERIALIZER).work(burst=True)
    assert all(job.get_status(refresh=True) == "finished" for job in jobs)

    says = [a for a in _posted(outbox) if isinstance(a, Say)]
    assert len(says) == 1, says
    assert "background" in says[0].text
    work = workdir_for(project, 1, None)
    preview = work.video(Profile.PREVIEW)
    assert probe(preview).video_codec == "h264"
    first = project.script.scenes[0]
    frame = frame_at(preview, 0.5)
    seen = tuple(int(c) for c in frame[int(frame.shape[0] * 0.4), int(frame.shape[1] * 0.1)])
    assert not any(_near(seen, colour) for colour in COLOURS), seen  # type: ignore[arg-type]
    assert first.shots  # it had a picture; the gradient stood in for it
