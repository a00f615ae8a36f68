"""The per-workspace asset store against real Redis, with media made by ffmpeg here."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import redis

from pipeline.media.assets import AssetStore, as_candidate, clean_name
from pipeline.media.cache import MediaCache
from pipeline.media.model import MediaKind, MediaQuery, MediaRefused
from pipeline.media.uploads import UploadSource
from pipeline.probe import frame_at, probe
from tests.integration.test_media_vetting import make_clip, make_gif, make_still

WS = "telegram:-100200"
OTHER = "slack:T0001"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("assets-media")
    return {
        "clip": make_clip(folder / "clip.mp4", "red", 2.0),
        "short": make_clip(folder / "short.mp4", "lime", 1.0, audio=False),
        "photo": make_still(folder / "photo.jpg", "blue"),
        "gif": make_gif(folder / "dance.gif"),
    }


@pytest.fixture
def store(redis_conn: redis.Redis, tmp_path: Path) -> AssetStore:
    return AssetStore(redis_conn, tmp_path / "assets")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _colour(path: Path) -> list[int]:
    return [round(c) for c in frame_at(path, 0.5).reshape(-1, 3).mean(axis=0)]


def test_add_keeps_a_vetted_copy_with_its_facts(
    store: AssetStore, media: dict[str, Path], tmp_path: Path
) -> None:
    asset = store.add(WS, media["clip"], name="Beach day.mp4", added_by="u1")
    sha = _sha(media["clip"])
    assert (asset.id, asset.sha256) == (sha[:12], sha)
    assert (asset.kind, asset.width, asset.height) == (MediaKind.VIDEO, 320, 568)
    assert asset.duration == pytest.approx(2.0, abs=0.1)
    assert (asset.name, asset.added_by) == ("Beach day.mp4", "u1")
    assert asset.size_bytes == media["clip"].stat().st_size
    assert asset.path == tmp_path / "assets" / sha[:2] / f"{sha}.mp4"
    assert _sha(asset.path) == sha
    assert media["clip"].is_file()  # copied, not moved
    facts = probe(asset.path)
    assert (facts.video_codec, facts.audio_codec) == ("h264", "aac")
    assert np.allclose(_colour(asset.path), [254, 0, 0], atol=20)
    assert store.get(WS, asset.id) == asset


def test_list_is_newest_first_and_latest_is_the_last_added(
    store: AssetStore, media: dict[str, Path]
) -> None:
    assert store.list(WS) == []
    assert store.latest(WS) is None
    clip = store.add(WS, media["clip"], name="clip.mp4", added_by="u1")
    photo = store.add(WS, media["photo"], name="photo.jpg", added_by="u2")
    gif = store.add(WS, media["gif"], name="dance.gif", added_by="u1")
    assert [a.id for a in store.list(WS)] == [gif.id, photo.id, clip.id]
    assert store.latest(WS) == gif
    assert (photo.kind, photo.duration) == (MediaKind.PHOTO, None)
    assert gif.kind is MediaKind.VIDEO
    assert store.usage(WS) == (3, clip.size_bytes + photo.size_bytes + gif.size_bytes)


def test_redis_keeps_paths_relative_so_the_data_folder_can_move(
    store: AssetStore, media: dict[str, Path], redis_conn: redis.Redis, tmp_path: Path
) -> None:
    asset = store.add(WS, media["photo"], name="photo.jpg", added_by="u1")
    moved = tmp_path / "moved"
    shutil.copytree(tmp_path / "assets", moved)
    found = AssetStore(redis_conn, moved).get(WS, asset.id)
    assert found is not None
    assert found.path == moved / asset.sha256[:2] / f"{asset.sha256}.jpg"
    assert _sha(found.path) == asset.sha256


def test_workspaces_are_separate(store: AssetStore, media: dict[str, Path]) -> None:
    asset = store.add(WS, media["photo"], name="photo.jpg", added_by="u1")
    assert store.get(OTHER, asset.id) is None
    assert store.list(OTHER) == []
    assert store.delete(OTHER, asset.id) is False
    assert store.get(WS, asset.id) == asset


def test_the_same_content_twice_is_the_same_asset(store: AssetStore, media: dict[str, Path],
                                                  tmp_path: Path) -> None:
    first = store.add(WS, media["photo"], name="photo.jpg", added_by="u1")
    copy = tmp_path / "renamed.jpg"
    shutil.copyfile(media["photo"], copy)
    again = store.add(WS, copy, name="another name.jpg", added_by="u2")
    assert again == first
    assert len(store.list(WS)) == 1
    first.path.unlink()  # lost from disk (a restored backup without the files, say)
    assert store.add(WS, copy, name="photo.jpg", added_by="u1") == first
    assert _sha(first.path) == first.sha256


def test_delete_removes_the_file_when_no_workspace_keeps_it(
    store: AssetStore, media: dict[str, Path]
) -> None:
    mine = store.add(WS, media["clip"], name="clip.mp4", added_by="u1")
    theirs = store.add(OTHER, media["clip"], name="same clip.mp4", added_by="u9")
    assert mine.path == theirs.path  # one file for both
    assert store.delete(WS, mine.id) is True
    assert store.get(WS, mine.id) is None
    assert store.list(WS) == []
    assert theirs.path.is_file()
    assert store.delete(WS, mine.id) is False
    assert store.delete(OTHER, theirs.id) is True
    assert not theirs.path.exists()
    assert store.delete(WS, "not-an-id") is False


def test_hostile_or_broken_files_are_refused_and_nothing_is_kept(
    store: AssetStore, media: dict[str, Path], tmp_path: Path, redis_conn: redis.Redis
) -> None:
    playlist = tmp_path / "clip.mp4"
    playlist.write_text("#EXTM3U\n#EXTINF:2.0,\nhttp://127.0.0.1:9/x.ts\n#EXT-X-ENDLIST\n")
    with pytest.raises(MediaRefused, match="playlist"):
        store.add(WS, playlist, name="clip.mp4", added_by="u1")
    big = tmp_path / "big.mp4"
    with big.open("wb") as file:
        file.truncate(2 * 1024**3)
    with pytest.raises(MediaRefused, match=r"2\.0 GB"):
        store.add(WS, big, name="big.mp4", added_by="u1")
    assert store.list(WS) == []
    assert redis_conn.keys("novacast:asset*") == []
    assert not (tmp_path / "assets").exists() or not any((tmp_path / "assets").rglob("*.*"))


def test_quotas_refuse_with_a_sentence(redis_conn: redis.Redis, media: dict[str, Path],
                                       tmp_path: Path) -> None:
    two = AssetStore(redis_conn, tmp_path / "a", max_assets=2)
    two.add(WS, media["clip"], name="1.mp4", added_by="u1")
    two.add(WS, media["photo"], name="2.jpg", added_by="u1")
    with pytest.raises(MediaRefused, match=r"You already keep 2 photos and clips here"):
        two.add(WS, media["gif"], name="3.gif", added_by="u1")
    assert two.add(OTHER, media["gif"], name="3.gif", added_by="u1").kind is MediaKind.VIDEO
    room = media["clip"].stat().st_size + 10
    tight = AssetStore(redis_conn, tmp_path / "c", prefix="tight", max_bytes=room)
    tight.add(WS, media["clip"], name="1.mp4", added_by="u1")
    with pytest.raises(MediaRefused, match=r"past \d\.\d MB; delete some with /assets first\."):
        tight.add(WS, media["short"], name="2.mp4", added_by="u1")
    assert len(tight.list(WS)) == 1


def test_move_takes_the_incoming_file(store: AssetStore, media: dict[str, Path],
                                      tmp_path: Path) -> None:
    incoming = tmp_path / "incoming" / "AgADBAAD.gif"
    incoming.parent.mkdir()
    shutil.copyfile(media["gif"], incoming)
    asset = store.add(WS, incoming, name="dance.gif", added_by="u1", move=True)
    assert not incoming.exists()
    assert _sha(asset.path) == _sha(media["gif"])
    shutil.copyfile(media["gif"], incoming)  # the same content again: kept once, taken
    assert store.add(WS, incoming, name="again.gif", added_by="u1", move=True) == asset
    assert not incoming.exists()
    shutil.copyfile(media["gif"], incoming)  # kept by another workspace: one file, taken
    other = store.add(OTHER, incoming, name="dance.gif", added_by="u2", move=True)
    assert other.path == asset.path
    assert not incoming.exists()
    refused = tmp_path / "incoming" / "notes.gif"
    refused.write_text("no picture here")
    with pytest.raises(MediaRefused):
        store.add(WS, refused, name="notes.gif", added_by="u1", move=True)
    assert refused.is_file()  # a refused file stays for the caller


@pytest.mark.parametrize(("raw", "clean"), [
    ("../../etc/passwd", "passwd"), ("C:\\Users\\me\\beach.jpg", "beach.jpg"),
    ("evil\x00name\n.png", "evilname.png"), ("   ", "upload"), ("..", "upload"),
    ("x" * 300 + ".jpg", "x" * 80),
])
def test_names_are_cleaned(raw: str, clean: str) -> None:
    assert clean_name(raw) == clean


def test_as_candidate(store: AssetStore, media: dict[str, Path]) -> None:
    asset = store.add(WS, media["clip"], name="my_beach-day 2.mp4", added_by="u1")
    candidate = as_candidate(asset)
    assert (candidate.source, candidate.id, candidate.key) == ("upload", asset.id,
                                                               f"upload:{asset.id}")
    assert (candidate.kind, candidate.width, candidate.height) == (MediaKind.VIDEO, 320, 568)
    assert candidate.duration == asset.duration
    assert candidate.size_bytes == asset.size_bytes
    assert (candidate.text, candidate.licence, candidate.credit) == ("my beach day 2",
                                                                     "your own", "")


def test_upload_source_search_fits_kinds_and_length(
    store: AssetStore, media: dict[str, Path]
) -> None:
    clip = store.add(WS, media["clip"], name="clip.mp4", added_by="u1")
    short = store.add(WS, media["short"], name="short.mp4", added_by="u1")
    photo = store.add(WS, media["photo"], name="photo.jpg", added_by="u1")
    source = UploadSource(store, WS)
    assert source.name == "upload"
    found = source.search(MediaQuery(text="anything"))
    assert [c.id for c in found] == [photo.id, short.id, clip.id]
    longer = source.search(MediaQuery(text="x", min_seconds=1.5))
    assert [c.id for c in longer] == [photo.id, clip.id]
    videos = source.search(MediaQuery(text="x", kinds=frozenset({MediaKind.VIDEO}), limit=1))
    assert [c.id for c in videos] == [short.id]
    assert UploadSource(store, OTHER).search(MediaQuery(text="x")) == []


def test_upload_source_through_the_cache(store: AssetStore, media: dict[str, Path],
                                         tmp_path: Path) -> None:
    photo = store.add(WS, media["photo"], name="photo.jpg", added_by="u1")
    source = UploadSource(store, WS)
    candidate = as_candidate(photo)
    copied = source.download(candidate, tmp_path / "out" / "copy")
    assert _sha(copied) == photo.sha256
    cache = MediaCache(tmp_path / "cache", 100 * MB)
    cached = cache.fetch(candidate, source)
    assert cache.fetch(candidate, source) == cached
    assert (cache.stats().hits, cache.stats().misses) == (1, 1)
    assert np.allclose(_colour(cached), [0, 0, 254], atol=20)
    store.delete(WS, photo.id)
    with pytest.raises(MediaRefused, match="no longer among your uploads"):
        source.download(candidate, tmp_path / "out" / "again")
