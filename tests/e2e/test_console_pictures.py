"""Pictures in a terminal chat: the real core, a real `novacast worker` process, the real Pexels
source against the Pexels fake (solid-colour clips made by ffmpeg), real Piper and ffmpeg.

With a Pexels key: the draft lists its shots, "another clip for scene 2" changes that scene's
shot only, and Render uses what the prefetch job already put in the media cache (the fake sees
no download). With no keys: a photo attached with `/attach`, "use it for scene 2", Render, and
the photo's colour fills scene 2's frames."""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import redis
from pydantic import SecretStr
from rq.job import Job

from adapters.console import ConsoleAdapter
from bot.project import Project, ProjectState, ProjectStore
from novacast.wiring import build_engine
from pipeline.ffmpeg import run_ffmpeg
from pipeline.footage import beats, transition_frames
from pipeline.media.backgrounds import is_background
from pipeline.media.cache import MediaCache
from pipeline.media.storyboard import credits
from pipeline.narration import Narration
from pipeline.probe import frame_at
from pipeline.publish import PublishRequest
from pipeline.publish.youtube import YouTubeConfig, video_resource
from pipeline.render import ENCODINGS, Profile, scene_spans
from pipeline.script import Script
from pipeline.settings import load_settings
from tests.fakes.pexels_api import Item, PexelsFake
from tests.workers_support import worker_process
from workers.catalog import SERIALIZER

WORDS = [  # a clip for each line of the offline writer's script, two for scene 2's lines
    "octopus three hearts wondered why",
    "octopus clear simple look today",
    "octopus taking a simple clear look",
    "heart interesting quick answer",
    "heart reasoning behind the answer",
    "octopus basics what are we looking at first",
    "octopus looking closely at the basics first",
    "heart why care understanding one detail bigger picture",
    "heart understanding details makes the big picture easier to see",
    "heart exact details check a trusted source",
    "octopus guess tell me in the comments",
    "heart anatomy blood",
]
COLOURS = ["#d62828", "#f77f00", "#fcbf49", "#2a9d8f", "#264653", "#8338ec", "#3a86ff",
           "#ff006e", "#06d6a0", "#ffd166", "#8ecae6", "#b5179e"]
CATALOGUE = [
    Item(400 + n, "video", colour, words, user=f"Creator {n}", seconds=5.0)
    for n, (colour, words) in enumerate(zip(COLOURS, WORDS, strict=True))
]
PHOTO = "#ff00ff"
PICTURE_KEYS = ("PEXELS_API_KEY", "PEXELS_API_URL", "PIXABAY_API_KEY", "PIXABAY_API_URL",
                "OPENAI_API_KEY", "OPENAI_BASE_URL")


@pytest.fixture
def settings(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in PICTURE_KEYS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NOVACAST_MEMORY", "off")
    load_settings.cache_clear()
    yield data_dir
    load_settings.cache_clear()


def _console(connection: redis.Redis) -> tuple[ConsoleAdapter, io.StringIO]:
    out = io.StringIO()
    return ConsoleAdapter(build_engine(connection).handle, connection, out, patient=True), out


def _active(adapter: ConsoleAdapter, connection: redis.Redis) -> Project:
    project = ProjectStore(connection).active(adapter.conversation)
    assert project is not None
    return project


def _prefetched(connection: redis.Redis, project: Project) -> None:
    """Wait for the version's prefetch job, as a patient user would wait for the storyboard."""
    job_id = f"nc-{project.id}-v{project.current}-prefetch"
    job = Job.fetch(job_id, connection=connection, serializer=SERIALIZER)
    for _ in range(600):
        if job.get_status(refresh=True) in ("finished", "failed"):
            break
        time.sleep(0.2)
    assert job.get_status(refresh=True) == "finished", job.latest_result()


def _downloads(fake: PexelsFake) -> list[str]:
    return [r.path for r in fake.requests if r.path.endswith(".mp4")]


def _colour(frame: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
    """The median colour of a band below the title and above the caption shade, on the left."""
    height, width = frame.shape[:2]
    region = frame[int(height * 0.36): int(height * 0.46), int(width * 0.04): int(width * 0.3)]
    return np.asarray(np.median(region.reshape(-1, 3), axis=0), dtype=np.float64)


def _is(colour: npt.NDArray[np.float64], hex_colour: str) -> bool:
    wanted = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.float64)
    return bool(np.abs(colour - wanted).max() < 40)


def _scene_times(project: Project, scene: int) -> list[tuple[str, float]]:
    """(shot key, a time well inside its beat) for the shots of scene `scene` (0-based)."""
    video = Path(project.video_path)
    script: Script = project.versions[project.rendered_version - 1]  # type: ignore[operator]
    narration = Narration.model_validate_json((video.parent / "narration.json").read_text())
    fps = ENCODINGS[Profile.FULL].fps
    fade = transition_frames(fps)
    spans = scene_spans(script, narration, fps)
    span = next(s for s in spans if s.title == script.scenes[scene].title)
    return [
        (beat.shot.media.key,
         (beat.first_frame + max(beat.frames // 2, min(fade + 3, beat.frames - 1))) / fps)
        for beat in beats(span.first_frame, span.frames, span.colours, span.shots, {})
        if beat.shot is not None
    ]


@pytest.mark.slow
def test_another_clip_for_scene_2_then_render_from_the_cache(
    redis_url: str, redis_conn: redis.Redis, settings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with PexelsFake(CATALOGUE) as pexels, worker_process(redis_url, settings, pexels.env):
        pexels.apply_env(monkeypatch)
        adapter, out = _console(redis_conn)
        adapter.run(["/make 30s on why octopuses have three hearts"])
        assert "Pictures:" in out.getvalue()
        assert "Pexels" in out.getvalue()
        first = _active(adapter, redis_conn)
        _prefetched(redis_conn, first)

        adapter.run(["another clip for scene 2"])
        second = _active(adapter, redis_conn)
        assert second.current == 2
        before, after = first.versions[0].scenes, second.script.scenes
        assert [s.media.key for s in before[1].shots] != [s.media.key for s in after[1].shots]
        for index in set(range(len(after))) - {1}:
            assert before[index].shots == after[index].shots, index
        _prefetched(redis_conn, second)
        downloads = _downloads(pexels)
        settings_now = load_settings()
        files = MediaCache(settings_now.media_cache_dir, settings_now.media_cache_bytes).stats()

        adapter.run(["Render"])
        shown = out.getvalue()
        assert "Quick preview" in shown
        assert "🖼" in shown  # the contact sheet, as the console shows a picture
        rendered = _active(adapter, redis_conn)
        assert rendered.state is ProjectState.PREVIEW
        assert _downloads(pexels) == downloads  # the render read the cache: no new download
        cache = MediaCache(settings_now.media_cache_dir, settings_now.media_cache_bytes)
        assert cache.stats().files == files.files

        colour_of = {f"pexels:{item.id}": item.colour for item in CATALOGUE}
        checked = [
            (key, seconds) for key, seconds in _scene_times(rendered, 1) if key in colour_of
        ]
        assert checked
        for key, seconds in checked:
            seen = _colour(frame_at(Path(rendered.video_path), seconds))
            assert _is(seen, colour_of[key]), (key, seconds, seen)

        adapter.run(["Approve & publish"])
        (published,) = (settings / "published" / "local").glob("*.json")
        sidecar = json.loads(published.read_text())
        script = rendered.versions[rendered.rendered_version - 1]  # type: ignore[operator]
        assert sidecar["metadata"]["credits"] == credits(script)
        assert sidecar["metadata"]["credits"]
        assert all(c.startswith("Video by Creator") for c in sidecar["metadata"]["credits"])


@pytest.mark.slow
def test_with_no_keys_an_attached_photo_fills_scene_2(
    redis_url: str, redis_conn: redis.Redis, settings: Path, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.png"
    run_ffmpeg(["-f", "lavfi", "-i", f"color=c=0x{PHOTO[1:]}:s=320x568", "-frames:v", "1",
                "-y", str(photo)], duration=0.04)
    with worker_process(redis_url, settings):
        adapter, out = _console(redis_conn)
        adapter.run(["/make 20s on why octopuses have three hearts"])
        first = _active(adapter, redis_conn)
        shots = [s for scene in first.script.scenes for s in scene.shots]
        assert all(is_background(s.media) for s in shots)

        adapter.run([f"/attach {photo}", "use it for scene 2", "Render"])
        rendered = _active(adapter, redis_conn)
        assert rendered.state is ProjectState.PREVIEW, out.getvalue()
        scene_two = rendered.versions[rendered.rendered_version - 1].scenes[1]  # type: ignore[operator]
        assert [s.media.source for s in scene_two.shots] == ["upload"]
        times = _scene_times(rendered, 1)
        assert times
        for _key, seconds in times:
            seen = _colour(frame_at(Path(rendered.video_path), seconds))
            assert _is(seen, PHOTO), (seconds, seen)
        other = _scene_times(rendered, 0)
        assert not any(_is(_colour(frame_at(Path(rendered.video_path), t)), PHOTO)
                       for _k, t in other)


def test_a_missing_file_is_a_sentence_not_a_crash(
    redis_conn: redis.Redis, settings: Path, tmp_path: Path
) -> None:
    adapter, out = _console(redis_conn)
    adapter.run([f"/attach {tmp_path / 'nope.png'}", f"/attach {tmp_path}"])
    shown = out.getvalue()
    assert "I can't find a file at" in shown
    assert "is a folder" in shown
    assert "Traceback" not in shown


def test_copies_the_store_did_not_take_are_swept_after_a_day(
    redis_conn: redis.Redis, settings: Path, tmp_path: Path
) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    old, fresh = incoming / "old.png", incoming / "fresh.png"
    old.write_bytes(b"x")
    fresh.write_bytes(b"x")
    a_day_ago = time.time() - 25 * 3600
    os.utime(old, (a_day_ago, a_day_ago))
    ConsoleAdapter(lambda event: [], redis_conn, io.StringIO(), incoming=incoming)
    assert sorted(p.name for p in incoming.iterdir()) == ["fresh.png"]


def test_the_credits_are_offered_in_a_youtube_description() -> None:
    request = PublishRequest(
        video=Path("v.mp4"), workspace="local", project_id="p1", version=1, title="Hearts",
        sentences=["Three hearts.", "Blue blood."], approved_by="me",
        approved_at=datetime.now(UTC),
        metadata={"credits": ["Video by Jane Doe on Pexels", "Photo by Ann on Pixabay"]},
    )
    config = YouTubeConfig(client_id="c", client_secret=SecretStr("s"),
                           refresh_token=SecretStr("r"))
    description = video_resource(config, request, short=True)["snippet"]["description"]
    assert description.startswith("Three hearts. Blue blood.")
    assert "Credits: Video by Jane Doe on Pexels; Photo by Ann on Pixabay." in description
