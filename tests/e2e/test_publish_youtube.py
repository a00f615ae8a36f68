"""YouTubePublisher over real HTTP against a fake YouTube speaking the resumable protocol."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from pipeline.errors import PermanentError, TransientError
from pipeline.publish import Publisher, PublishRequest
from pipeline.publish.remote import MemoryCheckpoints
from pipeline.publish.youtube import YouTubeConfig, YouTubePublisher
from pipeline.secrets import KEYS_ENV
from tests.fakes.youtube_api import FakeYouTube, Recorded

os.environ["NO_PROXY"] = "127.0.0.1,localhost"

CLIENT_ID = "1234567890-novacast.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-s3cr3t-client-value"
REFRESH_TOKEN = "1//0refresh-token-value-abcdef"
CHUNK = 256 * 1024
SIZE = 4 * CHUNK + 12_345
KEY = "youtube:3f2a9c:v2"
SENTENCES = ["Octopuses have three hearts.", "Two pump blood to the gills!"]


@pytest.fixture(autouse=True)
def _sealing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Upload links are sealed at rest (pipeline.secrets): a key of this test's own."""
    monkeypatch.setenv(KEYS_ENV, Fernet.generate_key().decode())


@pytest.fixture
def fake() -> Iterator[FakeYouTube]:
    with FakeYouTube(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN) as server:
        yield server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as shared:
        yield shared


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "final.mp4"
    path.write_bytes(random.Random(7).randbytes(SIZE))
    return path


def config_for(fake: FakeYouTube, **changes: object) -> YouTubeConfig:
    values: dict[str, object] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
        "api_url": fake.base_url,
        "token_url": fake.token_url,
        "tags": ["octopus", "science"],
    }
    return YouTubeConfig.model_validate({**values, **changes})


def publisher_for(
    fake: FakeYouTube,
    client: httpx.Client,
    checkpoints: MemoryCheckpoints | None = None,
    **changes: object,
) -> YouTubePublisher:
    config = config_for(fake, **changes)
    return YouTubePublisher(
        config, checkpoints, client, chunk_bytes=CHUNK, resumes=2, retry_delay=0
    )


def request_for(video: Path, **changes: object) -> PublishRequest:
    values: dict[str, object] = {
        "video": video,
        "workspace": "T0123ABC",
        "project_id": "3f2a9c",
        "version": 2,
        "title": "Why Octopuses Have Three Hearts?",
        "sentences": SENTENCES,
        "approved_by": "ana",
        "approved_at": datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        "metadata": {"duration": 31.4, "aspect": "9:16"},
    }
    return PublishRequest.model_validate({**values, **changes})


def ranges(uploads: list[Recorded]) -> list[str]:
    return [r.headers["Content-Range"] for r in uploads]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_no_secrets(error: BaseException, fake: FakeYouTube) -> None:
    secrets = [CLIENT_SECRET, REFRESH_TOKEN, *fake.tokens, *fake.sessions]
    seen: BaseException | None = error
    while seen is not None:
        text = f"{seen} {seen!r}"
        assert not [secret for secret in secrets if secret in text]
        assert "upload_id" not in text
        assert "127.0.0.1" not in text
        seen = seen.__cause__ or seen.__context__


def test_is_a_publisher(fake: FakeYouTube, client: httpx.Client) -> None:
    publisher: Publisher = publisher_for(fake, client)
    assert publisher.name == "youtube"


def test_uploads_in_chunks_with_the_documented_requests(
    fake: FakeYouTube, client: httpx.Client, video: Path
) -> None:
    checkpoints = MemoryCheckpoints()
    before = datetime.now(UTC)
    result = publisher_for(fake, client, checkpoints).publish(request_for(video))

    [video_id] = fake.videos
    assert result.target == "youtube"
    assert result.location == f"https://youtube.com/shorts/{video_id}"
    assert not result.reused
    assert before <= result.published_at <= datetime.now(UTC)
    assert fake.videos[video_id].sha256 == sha256(video)
    saved = {"video_id": video_id, "published_at": result.published_at.isoformat()}
    assert checkpoints.load(KEY) == saved

    token, opening, *chunks = fake.requests
    assert token.form() == {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
    }
    assert opening.method == "POST"
    assert opening.query == {"uploadType": "resumable", "part": "snippet,status"}
    assert opening.headers["Authorization"] == f"Bearer {fake.tokens[0]}"
    assert opening.headers["X-Upload-Content-Length"] == str(SIZE)
    assert opening.headers["X-Upload-Content-Type"] == "video/mp4"
    assert opening.json() == {
        "snippet": {
            "title": "Why Octopuses Have Three Hearts?",
            "description": " ".join(SENTENCES) + "\n\n#Shorts",
            "tags": ["octopus", "science"],
            "categoryId": "22",
        },
        "status": {"privacyStatus": "private", "selfDeclaredMadeForKids": False},
    }
    assert ranges(chunks) == [
        f"bytes 0-{CHUNK - 1}/{SIZE}",
        f"bytes {CHUNK}-{2 * CHUNK - 1}/{SIZE}",
        f"bytes {2 * CHUNK}-{3 * CHUNK - 1}/{SIZE}",
        f"bytes {3 * CHUNK}-{4 * CHUNK - 1}/{SIZE}",
        f"bytes {4 * CHUNK}-{SIZE - 1}/{SIZE}",
    ]
    assert [r.status for r in chunks] == [308, 308, 308, 308, 200]
    assert {r.headers["Authorization"] for r in chunks} == {f"Bearer {fake.tokens[0]}"}
    assert {r.headers["Content-Type"] for r in chunks} == {"video/mp4"}
    assert [r.query["upload_id"] for r in chunks] == [*fake.sessions] * 5


def test_a_landscape_video_is_a_watch_link_with_clean_metadata(
    fake: FakeYouTube, client: httpx.Client, video: Path
) -> None:
    title = "<b>Octopus</b> " + "very " * 30 + "long"
    request = request_for(
        video,
        title=title,
        sentences=["a < b > c"] + ["word"] * 1500,
        metadata={"duration": 31.4, "aspect": "16:9"},
    )
    result = publisher_for(fake, client, privacy="unlisted", made_for_kids=True).publish(request)
    [video_id] = fake.videos
    assert result.location == f"https://www.youtube.com/watch?v={video_id}"
    snippet = fake.videos[video_id].resource["snippet"]
    assert snippet["title"].startswith("b Octopus /b very very")
    assert len(snippet["title"]) == 100
    assert snippet["title"].endswith("…")
    assert snippet["description"].startswith("a b c word word")
    assert len(snippet["description"].encode()) <= 5000
    assert "#Shorts" not in snippet["description"]
    assert fake.videos[video_id].resource["status"]["privacyStatus"] == "unlisted"
    assert fake.videos[video_id].resource["status"]["selfDeclaredMadeForKids"] is True


def test_a_revoked_token_is_refreshed_once(
    fake: FakeYouTube, client: httpx.Client, video: Path
) -> None:
    publisher = publisher_for(fake, client)
    publisher.publish(request_for(video))
    fake.expire_tokens()
    result = publisher.publish(request_for(video, version=3))
    assert len(fake.tokens) == 2
    openings = [r for r in fake.requests if r.method == "POST" and r.path != "/token"]
    assert [r.status for r in openings] == [200, 401, 200]
    assert openings[1].headers["Authorization"] == f"Bearer {fake.tokens[0]}"
    assert openings[2].headers["Authorization"] == f"Bearer {fake.tokens[1]}"
    assert fake.videos_created == 2
    assert result.location.endswith(list(fake.videos)[1])


@pytest.mark.parametrize("status", [None, 503])
@pytest.mark.parametrize("cut", [0, 600_000])
def test_an_interrupted_upload_resumes_in_the_same_call(
    fake: FakeYouTube, client: httpx.Client, video: Path, cut: int, status: int | None
) -> None:
    fake.interrupt_after(cut, status=status)
    publisher_for(fake, client).publish(request_for(video))
    uploads = fake.uploads()
    cut_at = next(i for i, r in enumerate(uploads) if r.status in (0, 503))
    query, resumed = uploads[cut_at + 1], uploads[cut_at + 2]
    assert len(uploads[cut_at].body) == cut % CHUNK
    assert query.headers["Content-Range"] == f"bytes */{SIZE}"
    assert query.body == b""
    assert query.status == 308
    assert resumed.headers["Content-Range"].startswith(f"bytes {cut}-")
    [stored] = fake.videos.values()
    assert stored.sha256 == sha256(video)


def test_a_lost_final_answer_finds_the_finished_video(
    fake: FakeYouTube, client: httpx.Client, video: Path
) -> None:
    fake.interrupt_after(SIZE)
    result = publisher_for(fake, client).publish(request_for(video))
    *_, last_chunk, query = fake.uploads()
    assert (last_chunk.status, query.status) == (0, 200)
    assert query.headers["Content-Range"] == f"bytes */{SIZE}"
    [(video_id, stored)] = fake.videos.items()
    assert stored.sha256 == sha256(video)
    assert result.location == f"https://youtube.com/shorts/{video_id}"


def test_an_outage_longer_than_the_call_resumes_on_the_next_try(
    fake: FakeYouTube, client: httpx.Client, video: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pipeline.publish.youtube")
    checkpoints = MemoryCheckpoints()
    fake.interrupt_after(600_000, times=50)
    with pytest.raises(TransientError, match="continues from where it stopped") as caught:
        publisher_for(fake, client, checkpoints).publish(request_for(video))
    assert_no_secrets(caught.value, fake)
    assert [r.status for r in fake.uploads()].count(0) == 3, "the first try and two resumes"
    assert fake.videos_created == 0
    assert "resuming" in caplog.text
    assert not [s for s in [*fake.tokens, *fake.sessions, CLIENT_SECRET] if s in caplog.text]
    saved = checkpoints.load(KEY)
    assert saved is not None
    assert saved["session"].startswith("nc-sealed:v1:"), "the session URL is sealed at rest"
    assert not [s for s in fake.sessions if s in json.dumps(saved)]
    fake.heal()
    before = len(fake.requests)

    result = publisher_for(fake, client, checkpoints).publish(request_for(video))
    token, query, *chunks = fake.requests[before:]
    assert token.path == "/token"
    assert {r.method for r in chunks} == {"PUT"}
    assert query.headers["Content-Range"] == f"bytes */{SIZE}"
    assert query.status == 308
    assert ranges(chunks)[0] == f"bytes 600000-{600_000 + CHUNK - 1}/{SIZE}"
    assert len(fake.sessions) == 1
    [(video_id, stored)] = fake.videos.items()
    assert stored.sha256 == sha256(video)
    assert result.location.endswith(video_id)


def test_an_expired_session_starts_a_new_one(
    fake: FakeYouTube, client: httpx.Client, video: Path
) -> None:
    checkpoints = MemoryCheckpoints()
    fake.interrupt_after(600_000, times=50)
    with pytest.raises(TransientError):
        publisher_for(fake, client, checkpoints).publish(request_for(video))
    fake.heal()
    fake.expire_sessions(410)
    publisher_for(fake, client, checkpoints).publish(request_for(video))
    assert len(fake.sessions) == 2
    statuses = [r.status for r in fake.uploads()]
    assert 410 in statuses
    new_session = list(fake.sessions)[1]
    assert ranges([r for r in fake.uploads() if r.query["upload_id"] == new_session])[0] == (
        f"bytes 0-{CHUNK - 1}/{SIZE}"
    )
    [stored] = fake.videos.values()
    assert stored.sha256 == sha256(video)


def test_a_repeat_publish_reuses_the_video_without_any_request(
    fake: FakeYouTube, client: httpx.Client, video: Path
) -> None:
    checkpoints = MemoryCheckpoints()
    first = publisher_for(fake, client, checkpoints).publish(request_for(video))
    before = len(fake.requests)
    again = publisher_for(fake, client, checkpoints).publish(request_for(video))
    assert again.reused
    assert (again.location, again.published_at) == (first.location, first.published_at)
    assert len(fake.requests) == before
    assert fake.videos_created == 1


def test_invalid_metadata_is_permanent_with_the_platform_reason(
    fake: FakeYouTube, client: httpx.Client, video: Path
) -> None:
    checkpoints = MemoryCheckpoints()
    with pytest.raises(PermanentError, match="invalid video category") as caught:
        publisher_for(fake, client, checkpoints, category_id="999").publish(request_for(video))
    assert "HTTP 400" in str(caught.value)
    assert_no_secrets(caught.value, fake)
    assert fake.uploads() == []
    assert checkpoints.load(KEY) is None


def test_a_wrong_client_secret_is_permanent_and_secret_free(
    fake: FakeYouTube, client: httpx.Client, video: Path
) -> None:
    with pytest.raises(PermanentError, match="credentials") as caught:
        publisher_for(fake, client, client_secret="GOCSPX-wrong-one").publish(request_for(video))
    assert_no_secrets(caught.value, fake)
    assert "GOCSPX-wrong-one" not in str(caught.value)


def test_a_busy_api_is_retried_then_transient(
    fake: FakeYouTube, client: httpx.Client, video: Path
) -> None:
    fake.fail_next(2, 503)
    publisher_for(fake, client).publish(request_for(video))
    assert fake.videos_created == 1
    fake.fail_next(10, 500)
    with pytest.raises(TransientError, match="HTTP 500") as caught:
        publisher_for(fake, client).publish(request_for(video, version=3))
    assert_no_secrets(caught.value, fake)


def test_an_unreachable_api_is_transient(video: Path) -> None:
    config = YouTubeConfig(
        client_id=CLIENT_ID,
        client_secret=SecretStr(CLIENT_SECRET),
        refresh_token=SecretStr(REFRESH_TOKEN),
        token_url="http://127.0.0.1:9/token",
    )
    client = httpx.Client(timeout=2)
    with pytest.raises(TransientError, match="connection failed"), client:
        YouTubePublisher(config, client=client, resumes=0).publish(request_for(video))


def test_a_missing_video_is_permanent(
    fake: FakeYouTube, client: httpx.Client, tmp_path: Path
) -> None:
    with pytest.raises(PermanentError, match="missing"):
        publisher_for(fake, client).publish(request_for(tmp_path / "gone.mp4"))


def test_from_env_reads_the_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(CLIENT_SECRET + "\n")
    monkeypatch.setenv("YOUTUBE_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("YOUTUBE_CLIENT_SECRET_FILE", str(secret_file))
    monkeypatch.setenv("YOUTUBE_REFRESH_TOKEN", REFRESH_TOKEN)
    monkeypatch.setenv("YOUTUBE_API_URL", "http://127.0.0.1:1234")
    config = YouTubeConfig.from_env(privacy="public")
    assert config.client_id == CLIENT_ID
    assert config.client_secret.get_secret_value() == CLIENT_SECRET
    assert config.refresh_token.get_secret_value() == REFRESH_TOKEN
    assert (config.api_url, config.privacy) == ("http://127.0.0.1:1234", "public")
    assert config.token_url == "https://oauth2.googleapis.com/token"
    assert CLIENT_SECRET not in repr(config)


def test_from_env_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHANNEL2_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("CHANNEL2_REFRESH_TOKEN", REFRESH_TOKEN)
    monkeypatch.delenv("CHANNEL2_CLIENT_SECRET", raising=False)
    monkeypatch.delenv("CHANNEL2_CLIENT_SECRET_FILE", raising=False)
    with pytest.raises(PermanentError, match="CHANNEL2_CLIENT_SECRET") as caught:
        YouTubeConfig.from_env("CHANNEL2")
    assert REFRESH_TOKEN not in str(caught.value)
    assert CLIENT_ID not in str(caught.value)


def test_from_env_hides_values_of_invalid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in [
        ("CLIENT_ID", CLIENT_ID),
        ("CLIENT_SECRET", CLIENT_SECRET),
        ("REFRESH_TOKEN", REFRESH_TOKEN),
    ]:
        monkeypatch.setenv(f"YOUTUBE_{name}", value)
    with pytest.raises(PermanentError, match="privacy") as caught:
        YouTubeConfig.from_env(privacy="friends-only")
    assert "friends-only" not in str(caught.value)
