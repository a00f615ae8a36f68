"""Publishing as a user meets it: real worker processes, real Redis, a fake YouTube on the wire.

The folder target and the YouTube target are published by the real publish job. A target that
cannot be reached is reported next to the one that went out, with a Retry button; Retry uploads
only what is missing; an upload cut several times resumes from its Redis checkpoint in the job's
retry, never starting a second video.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
import redis

from adapters.console import ConsoleAdapter
from bot.project import ProjectState, ProjectStore
from novacast.wiring import build_engine
from tests.fakes.youtube_api import FakeYouTube
from tests.workers_support import worker_process
from workers.publish_ledger import PublishLedger

pytestmark = pytest.mark.slow

CLIENT = ("novacast-client.apps.googleusercontent.com", "client-secret-XYZ", "1//refresh-ABC")


@pytest.fixture(autouse=True)
def _policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("publish:\n  default: [folder, youtube]\n")
    monkeypatch.setenv("NOVACAST_POLICY", str(policy))
    monkeypatch.setenv("NOVACAST_PUBLISH_RETRY_SECONDS", "1,1")
    for name in ("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN", "API_URL", "TOKEN_URL"):
        monkeypatch.delenv(f"YOUTUBE_{name}", raising=False)



def _run(redis_conn: redis.Redis, lines: list[str]) -> tuple[ConsoleAdapter, str]:
    out = io.StringIO()
    adapter = ConsoleAdapter(build_engine(redis_conn).handle, redis_conn, out, patient=True)
    adapter.run(lines)
    return adapter, out.getvalue()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_missing_target_is_reported_and_retry_publishes_only_what_is_missing(
    redis_url: str, redis_conn: redis.Redis, data_dir: Path
) -> None:
    with worker_process(redis_url, data_dir):
        adapter, shown = _run(redis_conn, ["/make 10s on tides", "Render", "Approve & publish"])
    assert "to 1 of 2 targets" in shown
    assert "youtube: not published — " in shown
    assert "YOUTUBE_CLIENT_ID" in shown
    assert "Retry publishing" in shown
    store = ProjectStore(redis_conn)
    project = store.active(adapter.conversation)
    assert project is not None
    assert project.state is ProjectState.APPROVED
    assert "youtube" in project.last_error
    published = list((data_dir / "published").rglob("*.mp4"))
    assert len(published) == 1
    first_copy = published[0].stat().st_mtime_ns

    with FakeYouTube(*CLIENT) as fake, worker_process(redis_url, data_dir, fake.publisher_env()):
        _, shown = _run(redis_conn, ["status", "Retry publishing"])
        assert fake.videos_created == 1, shown
        (video,) = fake.videos.values()
    assert "Trying again: publishing v1 to folder, youtube…" in shown
    assert f"youtube: https://youtube.com/shorts/{video.resource['id']}" in shown
    project = store.get(project.id)
    assert project is not None
    assert project.state is ProjectState.PUBLISHED
    assert video.sha256 == _sha256(Path(project.video_path))
    assert [p.stat().st_mtime_ns for p in (data_dir / "published").rglob("*.mp4")] == [
        first_copy
    ], "the folder copy was not made again"
    outcomes = PublishLedger(redis_conn, project.id, 1).outcomes()
    assert {name: o.state for name, o in outcomes.items()} == {"folder": "done", "youtube": "done"}

    _, shown = _run(redis_conn, ["Approve & publish"])
    assert shown.startswith("Already published to folder: ")


def test_an_upload_cut_again_and_again_resumes_in_the_job_retry_as_one_video(
    redis_url: str, redis_conn: redis.Redis, data_dir: Path
) -> None:
    with FakeYouTube(*CLIENT) as fake, worker_process(redis_url, data_dir, fake.publisher_env()):
        adapter, _ = _run(redis_conn, ["/make 10s on tides", "Render"])
        project = ProjectStore(redis_conn).active(adapter.conversation)
        assert project is not None
        size = Path(project.video_path).stat().st_size
        for step in range(1, 6):  # more cuts than one attempt resumes: the job must retry
            fake.interrupt_after(size * step // 7)
        _, shown = _run(redis_conn, ["Approve & publish"])
        assert fake.videos_created == 1
        (video,) = fake.videos.values()
        sessions = len(fake.sessions)
    assert f"youtube: https://youtube.com/shorts/{video.resource['id']}" in shown
    assert sessions == 1, "every resume continued the first upload session"
    assert video.sha256 == _sha256(Path(project.video_path))
    assert "not published" not in shown
