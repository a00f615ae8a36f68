"""The folder publisher on a real file system: files, sidecar, idempotency, safety, atomicity."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.errors import PermanentError, TransientError
from pipeline.publish import Publisher, PublishRequest
from pipeline.publish.folder import FolderPublisher, slugify
from pipeline.settings import load_settings

APPROVED_AT = datetime(2026, 3, 2, 9, 30, tzinfo=timezone(timedelta(hours=1)))


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "render" / "final.mp4"
    path.parent.mkdir()
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4000)
    return path


def request_for(video: Path, **changes: object) -> PublishRequest:
    values: dict[str, object] = {
        "video": video,
        "workspace": "T0123ABC",
        "project_id": "3f2a9c",
        "version": 2,
        "title": "Why Octopuses Have Three Hearts?",
        "sentences": ["Ever wondered why octopuses have three hearts?", "Let's find out."],
        "approved_by": "ana",
        "approved_at": APPROVED_AT,
        "metadata": {"duration": 31.4, "aspect": "9:16"},
    }
    return PublishRequest.model_validate({**values, **changes})


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_is_a_publisher(tmp_path: Path) -> None:
    publisher: Publisher = FolderPublisher(tmp_path)
    assert publisher.name == "folder"


def test_copies_the_video_with_a_sidecar(tmp_path: Path, video: Path) -> None:
    root = tmp_path / "published"
    before = datetime.now(UTC)
    result = FolderPublisher(root).publish(request_for(video))
    stem = root / "T0123ABC" / "why-octopuses-have-three-hearts-3f2a9c-v2"
    assert result.target == "folder"
    assert result.location == str(stem.with_suffix(".mp4"))
    assert not result.reused
    assert stem.with_suffix(".mp4").read_bytes() == video.read_bytes()
    sidecar = json.loads(stem.with_suffix(".json").read_text(encoding="utf-8"))
    assert sidecar["title"] == "Why Octopuses Have Three Hearts?"
    assert sidecar["script"] == "Ever wondered why octopuses have three hearts? Let's find out."
    assert sidecar["sentences"] == [
        "Ever wondered why octopuses have three hearts?",
        "Let's find out.",
    ]
    assert (sidecar["project_id"], sidecar["version"], sidecar["workspace"]) == (
        "3f2a9c",
        2,
        "T0123ABC",
    )
    assert sidecar["approved_by"] == "ana"
    assert sidecar["approved_at"] == "2026-03-02T09:30:00+01:00"
    assert before <= datetime.fromisoformat(sidecar["published_at"]) == result.published_at
    assert sidecar["sha256"] == hashlib.sha256(video.read_bytes()).hexdigest()
    assert sidecar["bytes"] == video.stat().st_size
    assert sidecar["duration"] == 31.4
    assert files_under(root) == [
        "T0123ABC/why-octopuses-have-three-hearts-3f2a9c-v2.json",
        "T0123ABC/why-octopuses-have-three-hearts-3f2a9c-v2.mp4",
    ]


def test_publishing_twice_returns_the_first_location(tmp_path: Path, video: Path) -> None:
    publisher = FolderPublisher(tmp_path / "published")
    first = publisher.publish(request_for(video))
    video.write_bytes(b"a different render")  # a second copy would show this
    second = publisher.publish(request_for(video, title="A New Title"))
    assert (second.location, second.published_at) == (first.location, first.published_at)
    assert second.reused
    assert len(files_under(tmp_path / "published")) == 2
    assert Path(first.location).read_bytes() != b"a different render"


def test_each_version_is_published_separately(tmp_path: Path, video: Path) -> None:
    publisher = FolderPublisher(tmp_path / "published")
    v2 = publisher.publish(request_for(video))
    v3 = publisher.publish(request_for(video, version=3))
    assert v2.location != v3.location
    assert len(files_under(tmp_path / "published")) == 4


def test_a_missing_video_republishes(tmp_path: Path, video: Path) -> None:
    publisher = FolderPublisher(tmp_path)
    first = publisher.publish(request_for(video))
    Path(first.location).unlink()
    again = publisher.publish(request_for(video))
    assert not again.reused
    assert Path(again.location).read_bytes() == video.read_bytes()


@pytest.mark.parametrize(
    "workspace", ["../x", "..", ".", "a/b", "/etc", "a\x00b", "..\\x", "x\ny", ".hidden"]
)
def test_workspaces_that_escape_the_root_are_refused(
    tmp_path: Path, video: Path, workspace: str
) -> None:
    root = tmp_path / "published"
    with pytest.raises(PermanentError):
        FolderPublisher(root).publish(request_for(video, workspace=workspace))
    assert not root.exists() or files_under(root) == []
    assert files_under(tmp_path) == ["render/final.mp4"]


def test_a_symlinked_workspace_that_leaves_the_root_is_refused(tmp_path: Path, video: Path) -> None:
    root, outside = tmp_path / "published", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "evil").symlink_to(outside)
    with pytest.raises(PermanentError):
        FolderPublisher(root).publish(request_for(video, workspace="evil"))
    assert list(outside.iterdir()) == []


def test_unsafe_project_ids_are_refused(tmp_path: Path, video: Path) -> None:
    with pytest.raises(PermanentError):
        FolderPublisher(tmp_path / "published").publish(request_for(video, project_id="../../p"))


def test_a_missing_source_leaves_nothing_behind(tmp_path: Path) -> None:
    root = tmp_path / "published"
    with pytest.raises(PermanentError, match="missing"):
        FolderPublisher(root).publish(request_for(tmp_path / "gone.mp4"))
    assert not root.exists()


def test_a_failure_after_the_copy_leaves_nothing_behind(tmp_path: Path, video: Path) -> None:
    root = tmp_path / "published"
    stem = root / "T0123ABC" / "why-octopuses-have-three-hearts-3f2a9c-v2"
    stem.with_suffix(".json").mkdir(parents=True)  # the sidecar cannot be renamed onto a folder
    with pytest.raises(TransientError, match="publish folder"):
        FolderPublisher(root).publish(request_for(video))
    assert files_under(root) == []
    assert [p.name for p in (root / "T0123ABC").iterdir()] == [stem.with_suffix(".json").name]


def test_root_defaults_to_the_data_dir(data_dir: Path, video: Path) -> None:
    load_settings.cache_clear()
    try:
        result = FolderPublisher().publish(request_for(video))
    finally:
        load_settings.cache_clear()
    assert Path(result.location).parent == data_dir / "published" / "T0123ABC"


def test_naive_approval_times_are_utc(video: Path) -> None:
    naive = request_for(video, approved_at=datetime(2026, 1, 1, 12, 0))
    assert naive.approved_at == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Why Octopuses Have 3 Hearts!", "why-octopuses-have-3-hearts"),
        ("Crème brûlée", "creme-brulee"),
        ("🐙🐙", "video"),
        ("../../etc/passwd", "etc-passwd"),
        ("x" * 200, "x" * 60),
    ],
)
def test_slugs(title: str, slug: str) -> None:
    assert slugify(title) == slug
