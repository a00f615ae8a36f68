"""The Director end to end: storyboard, change one scene, looks, fall-back, fetch, contact sheet.

Pexels and Pixabay are their wire fakes behind the real sources (real httpx, real ffmpeg-made
media); uploads live in the real asset store (real Redis); ranking uses the real embedding
model, loaded once for the module; files go through the real media cache.
"""

from __future__ import annotations

import colorsys
import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
import redis

from pipeline.errors import PermanentError
from pipeline.ffmpeg import run_ffmpeg
from pipeline.media.assets import AssetStore, as_candidate
from pipeline.media.backgrounds import Backgrounds, colours
from pipeline.media.cache import MediaCache
from pipeline.media.director import Director, director_from_env
from pipeline.media.history import ShotHistory
from pipeline.media.model import Look, MediaKind, Orientation
from pipeline.media.shots import Embed, shot_keys
from pipeline.media.sources import sources_from_env
from pipeline.media.storyboard import contact_sheet, credits, storyboard_lines, thumbnails
from pipeline.media.uploads import UploadSource
from pipeline.memory import embeddings
from pipeline.probe import frame_at, probe
from pipeline.script import Script
from pipeline.settings import Settings
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.pexels_api import Item, PexelsFake
from tests.fakes.pixabay_api import PixabayFake
from tests.media_support import octopus_script

WS = "console:test"
WORDS = "octopus hearts reef heart beating gills water anatomy blue blood copper deep sea"

pytestmark = pytest.mark.slow  # the embedding model loads once for the module (~6-17 s)


def _colour(index: int, count: int) -> str:
    red, green, blue = colorsys.hsv_to_rgb(index / count, 1.0, 1.0)
    return f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}"


CATALOGUE = [Item(100 + i, "video", _colour(i, 24), WORDS, user=f"Creator {i}", seconds=6)
             for i in range(24)]
COLOURS = {f"{item.id}": item.colour for item in CATALOGUE}


@pytest.fixture(scope="module")
def embed() -> Embed:
    embeddings.load()
    return embeddings.embed


@pytest.fixture
def pexels() -> Iterator[PexelsFake]:
    with PexelsFake(CATALOGUE) as fake:
        yield fake


@pytest.fixture
def pixabay() -> Iterator[PixabayFake]:
    with PixabayFake(CATALOGUE) as fake:
        yield fake


def keys_by_scene(script: Script) -> list[list[str]]:
    return [[shot.media.key for shot in scene.shots] for scene in script.scenes]


def test_storyboard_fills_every_scene_from_the_provider_in_sentence_order(
        pexels: PexelsFake, embed: Embed) -> None:
    director = Director([pexels.source(), Backgrounds()], embed=embed)
    started = time.perf_counter()
    result = director.storyboard(octopus_script(), WS)
    took = time.perf_counter() - started
    assert result.changed
    assert result.notes == []
    shots = [shot for scene in result.script.scenes for shot in scene.shots]
    assert all(scene.shots for scene in result.script.scenes)
    assert {shot.media.source for shot in shots} == {"pexels"}
    assert [shot.line for shot in shots] == sorted(shot.line for shot in shots)
    assert {shot.line for shot in shots} == set(range(7))  # the hook and all six sentences
    assert len({shot.media.key for shot in shots}) == len(shots)  # never twice in one video
    assert all(shot.media.orientation == Orientation.PORTRAIT for shot in shots)
    assert all(2.0 <= shot.seconds <= 4.0 + 1e-6 for shot in shots)
    assert {call.query["orientation"] for call in pexels.api_calls()} == {"portrait"}
    assert took < 3.0, f"the storyboard took {took:.2f} s"
    lines = storyboard_lines(result.script)
    assert len(lines) == len(shots)
    assert lines[0].startswith("Scene 1 · Pexels video · ")
    assert lines[-1].startswith("Scene 3 · ")
    assert credits(result.script)[0] == f"Video by {CATALOGUE[0].user} on Pexels"
    again = director.storyboard(result.script, WS)  # scenes with shots are kept as they are
    assert not again.changed
    assert again.script == result.script


def test_history_keeps_the_last_videos_clips_out(pexels: PexelsFake, embed: Embed,
                                                 redis_conn: redis.Redis) -> None:
    history = ShotHistory(redis_conn, videos=2)
    director = Director([pexels.source(), Backgrounds()], history=history, embed=embed)
    first = director.storyboard(octopus_script(), WS).script
    history.record(WS, shot_keys(first))
    assert history.recent(WS) == set(shot_keys(first))
    second = director.storyboard(octopus_script(), WS).script
    assert shot_keys(second)
    assert not set(shot_keys(second)) & set(shot_keys(first))
    other_workspace = director.storyboard(octopus_script(), "console:other").script
    assert shot_keys(other_workspace) == shot_keys(first)  # history is per workspace
    history.record(WS, shot_keys(second))
    history.record(WS, ["pexels:999"])  # a third video: the first falls off a 2-video history
    assert history.recent(WS) == {*shot_keys(second), "pexels:999"}


def test_another_changes_that_scene_only(pexels: PexelsFake, embed: Embed) -> None:
    director = Director([pexels.source(), Backgrounds()], embed=embed)
    before = director.storyboard(octopus_script(), WS).script
    after = director.another(before, WS, 1)
    assert after.changed
    old, new = keys_by_scene(before), keys_by_scene(after.script)
    assert new[0] == old[0]
    assert new[2] == old[2]
    assert new[1] != old[1]
    assert not set(new[1]) & {key for keys in old for key in keys}
    assert [s.line for s in after.script.scenes[1].shots] == [s.line
                                                              for s in before.scenes[1].shots]
    with pytest.raises(PermanentError, match="no scene 4"):
        director.another(before, WS, 3)


def test_a_dead_source_falls_back_to_the_next_with_a_note(
        pexels: PexelsFake, pixabay: PixabayFake, embed: Embed) -> None:
    director = Director([pexels.source(), pixabay.source(), Backgrounds()], embed=embed)
    pexels.stop()
    result = director.storyboard(octopus_script(), WS)
    shots = [shot for scene in result.script.scenes for shot in scene.shots]
    assert {shot.media.source for shot in shots} == {"pixabay"}
    assert result.notes == ["Pexels didn't answer, so scenes 1, 2 and 3 use Pixabay footage."]


def test_a_hanging_source_is_left_behind_in_time(
        pexels: PexelsFake, pixabay: PixabayFake, embed: Embed) -> None:
    director = Director([pexels.source(), pixabay.source(), Backgrounds()], embed=embed)
    director.storyboard(octopus_script(), WS)  # warm: the texts' embeddings are cached
    pexels.fail_next(20, "hang")
    started = time.perf_counter()
    result = director.storyboard(octopus_script(), WS)
    took = time.perf_counter() - started
    assert {s.media.source for sc in result.script.scenes for s in sc.shots} == {"pixabay"}
    assert result.notes[0].startswith("Pexels didn't answer, so ")
    assert took < 5.0, f"{took:.2f} s"  # one 2 s deadline, then Pixabay
    calls = len(pexels.api_calls())
    started = time.perf_counter()
    again = director.another(result.script, WS, 1)  # a hanging source is passed over a while
    assert time.perf_counter() - started < 2.0
    assert len(pexels.api_calls()) == calls
    assert {s.media.source for s in again.script.scenes[1].shots} == {"pixabay"}
    assert again.notes[0] == "Pexels didn't answer, so scene 2 uses Pixabay footage."


def test_with_no_keys_the_scenes_show_backgrounds(data_dir: Path, embed: Embed) -> None:
    director = director_from_env(None, Settings(), WS, environ={}, embed=embed)
    result = director.storyboard(octopus_script(), WS)
    shots = [shot for scene in result.script.scenes for shot in scene.shots]
    assert shots
    assert all(shot.media.kind == MediaKind.BACKGROUND for shot in shots)
    assert all(colours(shot.media)[0].startswith("#") for shot in shots)
    assert result.notes == [
        "No stock footage is set up here, so scenes 1, 2 and 3 show coloured backgrounds."]
    plain = director.another(result.script, WS, 1)  # "another" still gives other colours
    assert keys_by_scene(plain.script)[1] != keys_by_scene(result.script)[1]


def test_sources_follow_the_environment(pexels: PexelsFake, pixabay: PixabayFake,
                                        redis_conn: redis.Redis, tmp_path: Path) -> None:
    env = {**pexels.env, **pixabay.env}
    assets = AssetStore(redis_conn, tmp_path / "assets")
    names = [s.name for s in sources_from_env(env, assets=assets, workspace=WS)]
    assert names == ["pexels", "pixabay", "upload", "background"]
    assert [s.name for s in sources_from_env({}, assets=None, workspace=WS)] == ["background"]


def make_photo(path: Path, colour: str) -> Path:
    run_ffmpeg(["-f", "lavfi", "-i", f"color=c={colour}:s=320x568:d=1", "-frames:v", "1",
                "-y", str(path)], duration=0.04)
    return path


@pytest.fixture
def uploads(redis_conn: redis.Redis, tmp_path: Path) -> AssetStore:
    store = AssetStore(redis_conn, tmp_path / "assets")
    for name, colour in (("beach.png", "#ffff00"), ("dog.png", "#00ffff")):
        store.add(WS, make_photo(tmp_path / name, colour), name=name, added_by="ana")
    return store


def test_own_look_uses_only_the_uploads(pexels: PexelsFake, uploads: AssetStore,
                                        embed: Embed) -> None:
    director = Director([pexels.source(), UploadSource(uploads, WS), Backgrounds()],
                        embed=embed)
    stock = director.storyboard(octopus_script(), WS).script
    own = director.with_look(stock, WS, Look.OWN)
    assert own.changed
    assert own.script.look == Look.OWN
    shots = [shot for scene in own.script.scenes for shot in scene.shots]
    assert {shot.media.source for shot in shots} == {"upload"}
    assert {shot.media.id for shot in shots} == {asset.id for asset in uploads.list(WS)}
    nobody = Director([pexels.source(), UploadSource(uploads, "console:empty"), Backgrounds()],
                      embed=embed)
    empty = nobody.with_look(stock, "console:empty", Look.OWN)
    assert all(shot.media.kind == MediaKind.BACKGROUND
               for scene in empty.script.scenes for shot in scene.shots)
    assert empty.notes[0].startswith("You have no photos or clips here yet")
    unset = director.with_look(stock, WS, Look.ILLUSTRATED)  # no OpenAI key: stock instead
    assert unset.notes == [
        "Image generation is not set up here, so the scenes use stock pictures instead."]
    assert {s.media.source for sc in unset.script.scenes for s in sc.shots} == {"pexels"}
    plain = director.with_look(stock, WS, Look.PLAIN)
    assert {s.media.source for sc in plain.script.scenes for s in sc.shots} == {"background"}
    assert plain.notes == []


def test_search_for_and_use_asset_change_one_scene(pexels: PexelsFake, uploads: AssetStore,
                                                   embed: Embed) -> None:
    beach = Item(900, "video", "#123456", "sandy beach waves summer", seconds=6)
    with PexelsFake([*CATALOGUE, beach]) as fake:
        director = Director([fake.source(), Backgrounds()], embed=embed)
        before = director.storyboard(octopus_script(), WS).script
        searched = director.search_for(before, WS, 0, "a beach")
        assert searched.changed
        assert {s.media.key for s in searched.script.scenes[0].shots} == {"pexels:900"}
        assert keys_by_scene(searched.script)[1:] == keys_by_scene(before)[1:]
        missing = director.search_for(before, WS, 0, "zebra")
        assert not missing.changed
        assert missing.notes == ["I found no pictures of “zebra”, so scene 1 keeps what it had."]
    photo = as_candidate(uploads.list(WS)[0])
    used = director.use_asset(before, WS, 2, photo)
    assert [s.media.key for s in used.script.scenes[2].shots] == [photo.key]
    assert keys_by_scene(used.script)[:2] == keys_by_scene(before)[:2]
    assert used.notes == ["Scene 3 now shows your photo."]


def tile_colour(sheet: np.ndarray, index: int, columns: int, width: int,
                height: int) -> np.ndarray:
    row, column = divmod(index, columns)
    centre = sheet[row * height + height // 2 - 10: row * height + height // 2 + 10,
                   column * width + width // 2 - 10: column * width + width // 2 + 10]
    mean: np.ndarray = centre.reshape(-1, 3).mean(axis=0)
    return mean


def rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)


def test_fetch_goes_through_the_cache_and_the_contact_sheet_shows_every_shot(
        pexels: PexelsFake, embed: Embed, tmp_path: Path) -> None:
    director = Director([pexels.source(), Backgrounds()], embed=embed)
    script = director.storyboard(octopus_script(), WS).script
    plain = script.scenes[2].model_copy(update={"shots": []})  # one scene left to its colours
    script = Director([Backgrounds()], embed=embed).storyboard(
        script.model_copy(update={"scenes": [*script.scenes[:2], plain]}), WS).script
    cache = MediaCache(tmp_path / "cache", 500_000_000)
    fetched = director.fetch(script, cache)
    stock = [s for sc in script.scenes for s in sc.shots if s.media.kind != MediaKind.BACKGROUND]
    assert fetched.notes == []
    assert set(fetched.files) == {shot.media.key for shot in stock}
    assert all(probe(path).video_codec == "h264" for path in fetched.files.values())
    assert cache.stats().misses == len(stock)
    again = director.fetch(script, cache)
    assert again.files == fetched.files
    assert cache.stats().hits == len(stock)
    assert cache.stats().misses == len(stock)

    sheet_path = contact_sheet(script, fetched.files, tmp_path / "sheet.png")
    shots = [s for sc in script.scenes for s in sc.shots]
    facts = probe(sheet_path)
    assert facts.width == 160 * len(shots)  # one row: every tile 160 px wide
    assert facts.height == 284
    sheet = frame_at(sheet_path, 0).astype(float)
    for index, shot in enumerate(shots):
        seen = tile_colour(sheet, index, len(shots), 160, 284)
        if shot.media.kind == MediaKind.BACKGROUND:
            first, second = (rgb(c) for c in colours(shot.media))
            expected = (first + second) / 2  # the middle of the diagonal gradient
        else:
            expected = rgb(COLOURS[shot.media.id])
        assert np.abs(seen - expected).max() < 40, (index, seen, expected)


def test_a_shot_that_cannot_be_fetched_is_left_out_with_one_note(
        pexels: PexelsFake, embed: Embed, tmp_path: Path) -> None:
    director = Director([pexels.source(), Backgrounds()], embed=embed)
    script = director.storyboard(octopus_script(), WS).script
    pexels.stop()
    fetched = director.fetch(script, MediaCache(tmp_path / "cache", 500_000_000))
    stock = {s.media.key for sc in script.scenes for s in sc.shots}
    assert fetched.files == {}
    assert len(fetched.notes) == len(stock)
    assert all("shows its background there instead" in note for note in fetched.notes)


def test_a_found_picture_covers_the_whole_scene_it_was_asked_for(
        pexels: PexelsFake, embed: Embed) -> None:
    beach = Item(900, "video", "#123456", "sandy beach waves summer", seconds=6)
    with PexelsFake([*CATALOGUE, beach]) as fake:
        director = Director([fake.source(), Backgrounds()], embed=embed)
        before = director.storyboard(octopus_script(), WS).script
        after = director.search_for(before, WS, 0, "beach").script
    planned = sum(shot.seconds for shot in before.scenes[0].shots)
    (shot,) = after.scenes[0].shots
    assert shot.media.key == "pexels:900"
    assert shot.line == 0
    assert shot.seconds == pytest.approx(planned)
    assert shot.query == "beach"


@pytest.fixture
def openai_api() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def test_the_illustrated_look_draws_images_and_stock_falls_back_to_them(
        pexels: PexelsFake, openai_api: FakeOpenAI, embed: Embed, tmp_path: Path) -> None:
    env = {**pexels.env, "OPENAI_API_KEY": openai_api.api_key,
           "OPENAI_BASE_URL": openai_api.base_url}
    found = sources_from_env(env, assets=None, workspace=WS)
    assert [s.name for s in found] == ["pexels", "generated", "background"]
    director = Director(found, embed=embed)
    illustrated = director.with_look(octopus_script(), WS, Look.ILLUSTRATED).script
    shots = [s for sc in illustrated.scenes for s in sc.shots]
    assert {s.media.source for s in shots} == {"generated"}
    assert [s.line for s in shots] == list(range(7))  # one picture per line, in order
    assert len(openai_api.image_requests) == 0  # searching is free; drawing is the fetch
    fetched = director.fetch(illustrated, MediaCache(tmp_path / "cache", 500_000_000))
    assert len(fetched.files) == 7
    assert len(openai_api.image_requests) == 7
    zebra = octopus_script()
    zebra = zebra.model_copy(update={"scenes": [
        zebra.scenes[0], zebra.scenes[1].model_copy(update={"keywords": ["zebra", "zebra"]}),
        zebra.scenes[2]]})
    stock = director.storyboard(zebra, WS).script
    assert {s.media.source for s in stock.scenes[0].shots} == {"pexels"}
    assert {s.media.source for s in stock.scenes[1].shots} == {"generated"}  # no stock fits
    only_openai = {"OPENAI_API_KEY": openai_api.api_key, "OPENAI_BASE_URL": openai_api.base_url}
    no_stock = Director(sources_from_env(only_openai, assets=None, workspace=WS), embed=embed)
    plain = no_stock.storyboard(octopus_script(), WS).script  # no images drawn without asking
    assert {s.media.source for sc in plain.scenes for s in sc.shots} == {"background"}


def test_the_contact_sheet_can_use_the_providers_thumbnails(
        pexels: PexelsFake, embed: Embed, tmp_path: Path) -> None:
    director = Director([pexels.source(), Backgrounds()], embed=embed)
    script = director.storyboard(octopus_script(), WS).script
    pictures = thumbnails(script, tmp_path / "thumbs")
    shots = [s for sc in script.scenes for s in sc.shots]
    assert set(pictures) == {s.media.key for s in shots}
    assert any(call.path.endswith("/thumb.jpg") for call in pexels.requests)
    sheet_path = contact_sheet(script, pictures, tmp_path / "sheet.jpg")
    assert probe(sheet_path).video_codec == "mjpeg"
    with av.open(str(sheet_path)) as container:
        sheet = next(container.decode(video=0)).to_ndarray(format="rgb24").astype(float)
    columns = min(len(shots), 1280 // 160)
    assert sheet.shape == (284 * -(-len(shots) // columns), 160 * columns, 3)
    for index, shot in enumerate(shots):
        seen = tile_colour(sheet, index, columns, 160, 284)
        assert np.abs(seen - rgb(COLOURS[shot.media.id])).max() < 40, (index, seen)


def test_naming_a_picture_finds_the_upload_of_that_name(pexels: PexelsFake, uploads: AssetStore,
                                                        embed: Embed) -> None:
    director = Director([UploadSource(uploads, WS), Backgrounds()], embed=embed)
    own = director.with_look(octopus_script(), WS, Look.OWN).script
    beach = next(a for a in uploads.list(WS) if a.name.startswith("beach"))
    dog = next(a for a in uploads.list(WS) if a.name.startswith("dog"))
    for words, asset in (("a beach", beach), ("my dog", dog)):
        found = director.search_for(own, WS, 1, words)
        assert [s.media.key for s in found.script.scenes[1].shots] == [f"upload:{asset.id}"]
        assert found.script.look == Look.OWN
    with_stock = Director([pexels.source(), UploadSource(uploads, WS), Backgrounds()],
                          embed=embed)
    stock = with_stock.search_for(own, WS, 0, "octopus reef")  # asked by name: stock may answer
    assert {s.media.source for s in stock.script.scenes[0].shots} == {"pexels"}
    assert stock.script.look == Look.STOCK


def test_the_model_is_worth_loading_at_start_only_with_a_stock_source() -> None:
    from pipeline.media.sources import ranks_by_meaning

    assert ranks_by_meaning({"PEXELS_API_KEY": "k"})
    assert ranks_by_meaning({"PIXABAY_API_KEY": "k"})
    assert not ranks_by_meaning({})
    assert not ranks_by_meaning({"OPENAI_API_KEY": "k"}), "generated images are not ranked"
