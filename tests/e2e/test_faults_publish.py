"""A worker SIGKILLed in the middle of a YouTube upload: another worker resumes the publish job,
continues the same upload session and the video is published once, announced once.

Real `novacast worker` processes and Redis; YouTube is the fake speaking the resumable upload
protocol, told to hold a chunk halfway (no answer) so the worker is killed mid-upload."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import redis

from bot.actions import Say
from bot.project import ProjectState
from tests.e2e.faults_support import Chat, forks, kill_hard, wait_for
from tests.fakes.youtube_api import FakeYouTube
from tests.workers_support import worker_process
from workers.publish_ledger import PublishLedger

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CLIENT = ("novacast-client.apps.googleusercontent.com", "client-secret-XYZ", "1//refresh-ABC")


@pytest.fixture(autouse=True)
def _youtube_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("publish:\n  default: [youtube]\n")
    monkeypatch.setenv("NOVACAST_POLICY", str(policy))
    monkeypatch.setenv("NOVACAST_PUBLISH_RETRY_SECONDS", "1,1")



def test_a_worker_killed_mid_upload_is_resumed_and_publishes_once(
    redis_url: str, redis_conn: redis.Redis, data_dir: Path
) -> None:
    chat = Chat(redis_conn)
    with FakeYouTube(*CLIENT) as fake:
        try:
            with worker_process(redis_url, data_dir, fake.publisher_env()) as first:
                chat.type("/make 10s on tides")
                chat.type("Render")
                wait_for(chat.settled, 180, "the render")
                video = Path(chat.project().video_path or "")
                fake.hold_at(video.stat().st_size // 2)
                chat.type("Approve & publish")
                wait_for(fake.holding.is_set, 60, "the upload to reach halfway")
                assert forks(first.pid) == []
                kill_hard(first)
            assert chat.project().state is ProjectState.APPROVED  # not published, not failed
            with worker_process(redis_url, data_dir, fake.publisher_env()):
                wait_for(lambda: chat.project().state is not ProjectState.APPROVED, 120,
                         "the resumed publish")
        finally:
            fake.release()
        created, sessions = fake.videos_created, len(fake.sessions)
        (published,) = fake.videos.values()

    project = chat.project()
    shown = chat.transcript()
    assert project.state is ProjectState.PUBLISHED, shown
    assert (created, sessions) == (1, 1)  # one video, from the one upload session resumed
    assert published.sha256 == hashlib.sha256(video.read_bytes()).hexdigest()
    outcomes = PublishLedger(redis_conn, project.id, project.current).outcomes()
    assert {name: o.state for name, o in outcomes.items()} == {"youtube": "done"}
    link = f"https://youtube.com/shorts/{published.resource['id']}"
    announced = [s for s in chat.sent() if isinstance(s.action, Say) and link in s.action.text]
    assert len(announced) == 1
    assert "not published" not in shown
