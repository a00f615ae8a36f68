"""Pictures by talking, through the real core: real Redis, the real offline writer, a real
Director over the Pexels wire fake and the built-in backgrounds, the real asset store, and the
RQ job queue enqueuing for real (no worker runs here: the prefetch job is seen queued).

The fake's catalogue is made for the draft's own words (a clip and a photo per narration line,
plus "deep sea" footage), so every beat has a fitting picture and a second choice.

Decided here: "illustrated look" without an OpenAI key leaves the draft as it is and says so in
one sentence (stock shots under an "illustrated" label would mislead).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rq import Queue

from bot import replies
from bot.actions import Action, Say
from bot.engine import Engine
from bot.events import Attachment, Conversation, MessageEvent
from bot.project import Project, ProjectStore
from pipeline.ffmpeg import run_ffmpeg
from pipeline.media.assets import AssetStore
from pipeline.media.director import Director, director_from_env
from pipeline.media.model import Look
from pipeline.media.storyboard import storyboard_lines
from pipeline.memory import embeddings
from pipeline.settings import Settings, load_settings
from pipeline.writers.offline import OfflineWriter
from policy import load_policy
from tests.fakes.pexels_api import Item, PexelsFake
from tests.integration.test_engine import cmd, conv, msg, said
from workers.catalog import MEDIA_QUEUE
from workers.queues import RQJobQueue

pytestmark = pytest.mark.slow  # the embedding model the shot chooser ranks with loads in ~10 s

IDEA = "30s on why octopuses have three hearts"
WORKSPACE = "slack:T1"
DEEP_SEA = Item(501, "video", "#264653", "deep sea ocean dark water diving", seconds=6)


def catalogue() -> list[Item]:
    """A clip and a photo for each line the offline writer says, and deep-sea footage. Offline,
    a line too plain to search by (most of this template's) searches by the topic's words, so
    every item carries them too."""
    script = OfflineWriter().script("why octopuses have three hearts", 30)
    items = [
        Item(300 + 2 * n + k, kind, f"#{n * 20 % 256:02x}{k * 120:02x}80",
             f"{line} octopuses hearts", seconds=6)
        for n, line in enumerate(script.narration)
        for k, kind in enumerate(("video", "photo"))
    ]
    return [*items, DEEP_SEA]


@pytest.fixture(scope="module")
def pexels() -> Iterator[PexelsFake]:
    embeddings.load()  # the shot chooser ranks by meaning: load the model once per module
    with PexelsFake(catalogue()) as fake:
        yield fake


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    del data_dir  # sets NOVACAST_DATA_DIR for this test
    return load_settings()


@pytest.fixture
def assets(redis_conn: redis.Redis, settings: Settings) -> AssetStore:
    return AssetStore(redis_conn, settings.assets_dir)


@pytest.fixture
def engine(
    redis_conn: redis.Redis, settings: Settings, assets: AssetStore, pexels: PexelsFake
) -> Engine:
    def director(workspace: str) -> Director:
        return director_from_env(redis_conn, settings, workspace, environ=pexels.env)

    return Engine(redis_conn, OfflineWriter(), RQJobQueue(redis_conn), load_policy(),
                  pictures=director, assets=assets)


@pytest.fixture
def store(redis_conn: redis.Redis) -> ProjectStore:
    return ProjectStore(redis_conn)


def keys(project: Project) -> list[list[str]]:
    """Each scene's shots, by candidate key."""
    return [[shot.media.key for shot in scene.shots] for scene in project.script.scenes]


def drafted(engine: Engine, store: ProjectStore) -> tuple[Project, str]:
    text = said(engine.handle(cmd("make", IDEA)))
    project = store.active(conv())
    assert project is not None
    return project, text


def png(folder: Path, name: str = "my-dog.png", colour: str = "00ff00") -> Attachment:
    path = folder / name
    run_ffmpeg(["-f", "lavfi", "-i", f"color=c=0x{colour}:s=320x568", "-frames:v", "1",
                "-update", "1", "-y", str(path)], duration=0.04)
    return Attachment(path=str(path), name=name, mime="image/png",
                      size_bytes=path.stat().st_size)


def sent(files: list[Attachment], text: str = "", c: Conversation | None = None) -> MessageEvent:
    return MessageEvent(conversation=c or conv(), text=text, attachments=files)


def only_say(actions: list[Action]) -> str:
    assert all(isinstance(a, Say) for a in actions), actions
    return said(actions)


# --- the draft comes with its storyboard -----------------------------------------------------


def test_the_draft_lists_shots_from_pexels_in_sentence_order_and_queues_the_prefetch(
    engine: Engine, store: ProjectStore, redis_conn: redis.Redis, pexels: PexelsFake
) -> None:
    project, text = drafted(engine, store)
    shots = [shot for scene in project.script.scenes for shot in scene.shots]
    assert shots, "every scene has pictures"
    assert all(scene.shots for scene in project.script.scenes)
    assert {shot.media.source for shot in shots} == {"pexels"}
    lines = [shot.line for shot in shots]
    assert lines == sorted(lines), "shots follow the narration"
    assert len({shot.media.key for shot in shots}) == len(shots), "no clip twice"
    assert pexels.api_calls(), "the fake was asked"
    board = storyboard_lines(project.script)
    assert board
    assert "\nPictures:\n" + "\n".join(board) in text
    queued = Queue(MEDIA_QUEUE, connection=redis_conn).job_ids
    assert queued == [f"nc-{project.id}-v1-prefetch"]


# --- changing one shot, and undo -------------------------------------------------------------


def test_another_clip_for_scene_2_changes_that_shot_only_and_undo_goes_back(
    engine: Engine, store: ProjectStore, redis_conn: redis.Redis
) -> None:
    project, _ = drafted(engine, store)
    before = keys(project)
    text = said(engine.handle(msg("another clip for scene 2")))
    assert text.startswith("v2: a different picture for scene 2")
    changed = store.get(project.id)
    assert changed is not None
    assert changed.current == 2
    after = keys(changed)
    assert after[1] != before[1]
    assert after[:1] + after[2:] == before[:1] + before[2:]
    assert changed.script.sentences == project.script.sentences, "the words stay"
    assert set(Queue(MEDIA_QUEUE, connection=redis_conn).job_ids) == {
        f"nc-{project.id}-v1-prefetch", f"nc-{project.id}-v2-prefetch"}

    assert said(engine.handle(msg("undo"))).startswith("Back to v1.")
    back = store.get(project.id)
    assert back is not None
    assert (back.current, keys(back)) == (1, before)


def test_a_search_for_the_intro_shows_those_words_and_the_ending_means_the_last_scene(
    engine: Engine, store: ProjectStore
) -> None:
    project, _ = drafted(engine, store)
    before = keys(project)
    text = said(engine.handle(msg("use deep sea footage for the intro")))
    assert text.startswith("v2: scene 1 now shows “deep sea”")
    now = store.get(project.id)
    assert now is not None
    assert keys(now)[1:] == before[1:]
    assert "pexels:501" in keys(now)[0]
    last = len(project.script.scenes)
    said(engine.handle(msg("another clip for the ending")))
    ending = store.get(project.id)
    assert ending is not None
    assert keys(ending)[:-1] == keys(now)[:-1]
    assert keys(ending)[-1] != keys(now)[-1]
    assert said(engine.handle(msg("another clip for scene 9"))) == replies.no_such_scene(9, last)
    assert store.get(project.id).current == 3  # type: ignore[union-attr]


def test_a_script_edit_keeps_the_shots_of_scenes_whose_words_did_not_change(
    engine: Engine, store: ProjectStore, redis_conn: redis.Redis
) -> None:
    project, _ = drafted(engine, store)
    text = said(engine.handle(msg("add a joke at the end")))
    assert text.startswith("v2: Added a joke at the end.")
    edited = store.get(project.id)
    assert edited is not None
    assert len(edited.script.scenes) == len(project.script.scenes) + 1
    assert keys(edited)[:-1] == keys(project), "the scenes whose words stayed keep their shots"
    assert edited.script.scenes[-1].shots, "the new scene got pictures"
    assert not set(keys(edited)[-1]) & {key for scene in keys(project) for key in scene}
    assert f"nc-{project.id}-v2-prefetch" in Queue(MEDIA_QUEUE, connection=redis_conn).job_ids
    assert said(engine.handle(msg("more formal"))).startswith("v3: ")
    formal = store.get(project.id)
    assert formal is not None
    assert all(scene.shots for scene in formal.script.scenes), "reworded scenes get new shots"


# --- the user's own photos -------------------------------------------------------------------


def test_a_photo_is_kept_listed_and_used_for_scene_2(
    engine: Engine, store: ProjectStore, assets: AssetStore, tmp_path: Path
) -> None:
    project, _ = drafted(engine, store)
    text = only_say(engine.handle(sent([png(tmp_path)])))
    assert text == "Got your photo. Say “use it for scene 2” or “use it for the intro”."
    (asset,) = assets.list(WORKSPACE)
    assert (asset.kind.value, asset.width, asset.height) == ("photo", 320, 568)

    listing = said(engine.handle(cmd("assets")))
    assert listing.startswith("1 upload here, newest first:\n1. my-dog.png — photo, ")
    assert f"(id {asset.id})" in listing

    text = said(engine.handle(msg("use it for scene 2")))
    assert text.startswith("v2: scene 2 now shows your photo")
    now = store.get(project.id)
    assert now is not None
    (shot,) = now.script.scenes[1].shots
    assert (shot.media.source, shot.media.id) == ("upload", asset.id)
    assert keys(now)[:1] + keys(now)[2:] == keys(project)[:1] + keys(project)[2:]


def test_a_photo_sent_with_where_to_use_it_is_used_at_once(
    engine: Engine, store: ProjectStore, assets: AssetStore, tmp_path: Path
) -> None:
    project, _ = drafted(engine, store)
    photo = png(tmp_path, "beach.png", "ffd166")
    text = said(engine.handle(sent([photo], "use this for the intro")))
    assert text.startswith("v2: scene 1 now shows your photo")
    (asset,) = assets.list(WORKSPACE)
    now = store.get(project.id)
    assert now is not None
    assert [s.media.key for s in now.script.scenes[0].shots] == [f"upload:{asset.id}"]


def test_a_text_file_is_refused_in_one_sentence_and_nothing_is_kept(
    engine: Engine, store: ProjectStore, assets: AssetStore, tmp_path: Path
) -> None:
    project, _ = drafted(engine, store)
    notes = tmp_path / "notes.png"
    notes.write_text("not a picture at all, just words\n" * 20)
    text = only_say(engine.handle(sent([Attachment(path=str(notes), name="notes.png")])))
    assert text.startswith("That file")
    assert text.count(". ") == 0, "one sentence"
    assert text.endswith(".")
    assert assets.list(WORKSPACE) == []
    assert store.get(project.id).current == 1  # type: ignore[union-attr]
    refused = Attachment(refused="That file is 3 GB; the most I take is 200 MB.", name="big.mp4")
    assert only_say(engine.handle(sent([refused]))) == refused.refused


def test_assets_delete_is_for_the_uploader_or_an_admin(
    engine: Engine, assets: AssetStore, tmp_path: Path
) -> None:
    engine.handle(sent([png(tmp_path)]))
    (asset,) = assets.list(WORKSPACE)
    other = conv(user="U2")
    assert said(engine.handle(cmd("assets", "delete 1", other))) == replies.NOT_YOUR_UPLOAD
    assert said(engine.handle(cmd("assets", "delete 7"))) == replies.UNKNOWN_UPLOAD
    assert said(engine.handle(msg(f"delete asset {asset.id}"))) == 'Deleted “my-dog.png”.'
    assert assets.list(WORKSPACE) == []
    assert said(engine.handle(cmd("assets"))) == replies.NO_UPLOADS


# --- looks -----------------------------------------------------------------------------------


def test_illustrated_without_an_openai_key_keeps_the_draft_and_says_why(
    engine: Engine, store: ProjectStore
) -> None:
    project, _ = drafted(engine, store)
    assert said(engine.handle(msg("illustrated look"))) == replies.NO_ILLUSTRATIONS
    now = store.get(project.id)
    assert now is not None
    assert (now.current, now.script.look, keys(now)) == (1, Look.STOCK, keys(project))


def test_plain_backgrounds_and_just_my_photos_are_new_versions(
    engine: Engine, store: ProjectStore, tmp_path: Path
) -> None:
    project, _ = drafted(engine, store)
    assert said(engine.handle(msg("plain backgrounds"))).startswith(
        "v2: pictures switched to the plain backgrounds")
    plain = store.get(project.id)
    assert plain is not None
    assert plain.script.look is Look.PLAIN
    assert {s.media.source for scene in plain.script.scenes for s in scene.shots} == {
        "background"}
    engine.handle(sent([png(tmp_path)]))
    assert said(engine.handle(msg("no stock, just my photos"))).startswith(
        "v3: pictures switched to only your own photos and clips")
    own = store.get(project.id)
    assert own is not None
    assert own.script.look is Look.OWN
    assert "upload" in {s.media.source for scene in own.script.scenes for s in scene.shots}
    assert said(engine.handle(msg("undo"))).startswith("Back to v2.")


# --- bad days ----------------------------------------------------------------------------------


def test_a_pexels_outage_still_gives_the_draft_with_backgrounds_and_says_so(
    redis_conn: redis.Redis, settings: Settings, assets: AssetStore, store: ProjectStore
) -> None:
    with PexelsFake([DEEP_SEA]) as dead:
        env = dead.env
        dead.stop()

    def director(workspace: str) -> Director:
        return director_from_env(redis_conn, settings, workspace, environ=env)

    engine = Engine(redis_conn, OfflineWriter(), RQJobQueue(redis_conn), load_policy(),
                    pictures=director, assets=assets)
    project, text = drafted(engine, store)
    sources = {shot.media.source for scene in project.script.scenes for shot in scene.shots}
    assert sources == {"background"}
    assert text.startswith("Draft v1")
    (note,) = [line for line in text.splitlines() if "Pexels" in line and "·" not in line]
    assert note.endswith(".")
    assert note.count(". ") == 0, "one sentence"


def test_words_sent_with_a_photo_that_ask_for_something_else_are_still_done(
    engine: Engine, store: ProjectStore, assets: AssetStore, tmp_path: Path
) -> None:
    project, _ = drafted(engine, store)
    actions = engine.handle(sent([png(tmp_path)], "plain backgrounds"))
    texts = [a.text for a in actions if isinstance(a, Say)]
    assert texts[0] == "Got your photo. Say “use it for scene 2” or “use it for the intro”."
    assert texts[1].startswith("v2: pictures switched to the plain backgrounds")
    assert len(assets.list(WORKSPACE)) == 1
    assert store.get(project.id).script.look is Look.PLAIN  # type: ignore[union-attr]


def test_a_clip_and_a_photo_together_are_both_kept_and_listed_with_their_facts(
    engine: Engine, store: ProjectStore, assets: AssetStore, tmp_path: Path
) -> None:
    drafted(engine, store)
    clip = tmp_path / "waves.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "color=c=0x3a86ff:s=320x568:r=25:d=2", "-c:v", "libx264",
                "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-y", str(clip)], duration=2)
    files = [png(tmp_path), Attachment(path=str(clip), name="waves.mp4", mime="video/mp4")]
    text = only_say(engine.handle(sent(files)))
    assert text == "Got your 2 files. Say “use the last one for scene 2” or “use the last one " \
        "for the intro”."
    newest, oldest = assets.list(WORKSPACE)
    assert (newest.kind.value, oldest.kind.value) == ("video", "photo")
    assert newest.duration == pytest.approx(2.0, abs=0.1)
    listing = said(engine.handle(msg("show my uploads")))
    assert "\n1. waves.mp4 — clip, " in listing
    assert ", 2.0 s (id " in listing
    assert "\n2. my-dog.png — photo, " in listing
    assert said(engine.handle(msg("use #2 for scene 3"))).startswith(
        "v2: scene 3 now shows your photo")
