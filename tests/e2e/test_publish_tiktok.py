"""TikTokPublisher over real HTTP against a fake TikTok that checks the documented rules."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from pipeline.errors import PermanentError, PipelineError, TransientError
from pipeline.publish import Publisher, PublishRequest
from pipeline.publish.remote import MemoryCheckpoints
from pipeline.publish.tiktok import TikTokConfig, TikTokPublisher, plan_chunks
from pipeline.secrets import KEYS_ENV
from tests.fakes.tiktok_api import FakeTikTok

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

KEY = "awfakeclientkey01"
SECRET = "tt-client-secret-5f2c9e0b7a"
REFRESH = "rft.tiktok-refresh-9d8c7b6a5f4e"
FAKE_MB = 64 * 1024
CHUNK = 8 * FAKE_MB
VIDEO_BYTES = 3 * 1024 * 1024 + 12_345
CHECKPOINT = "tiktok:3f2a9c:v2"


@pytest.fixture(autouse=True)
def _sealing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Upload links are sealed at rest (pipeline.secrets): a key of this test's own."""
    monkeypatch.setenv(KEYS_ENV, Fernet.generate_key().decode())


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "final.mp4"
    path.write_bytes(os.urandom(VIDEO_BYTES))
    return path


@pytest.fixture
def fake() -> Iterator[FakeTikTok]:
    with FakeTikTok(KEY, SECRET, REFRESH, mb=FAKE_MB) as server:
        yield server


def config_for(fake: FakeTikTok, **changes: object) -> TikTokConfig:
    values: dict[str, object] = {
        "client_key": KEY, "client_secret": SecretStr(SECRET),
        "refresh_token": SecretStr(REFRESH), "api_url": fake.base_url + "/",
        "poll_seconds": 0.002, "poll_timeout": 2.0,
    }
    return TikTokConfig.model_validate({**values, **changes})


def publisher_for(fake: FakeTikTok, checkpoints: MemoryCheckpoints | None = None,
                  **changes: object) -> TikTokPublisher:
    return TikTokPublisher(config_for(fake, **changes), checkpoints or MemoryCheckpoints(),
                           chunk_bytes=CHUNK)


def request_for(video: Path, version: int = 2) -> PublishRequest:
    return PublishRequest(video=video, workspace="T0123ABC", project_id="3f2a9c",
                          version=version, title="Why Octopuses Have Three Hearts?",
                          sentences=["Octopuses have three hearts."], approved_by="ana",
                          approved_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC))


def sha(data: bytes | bytearray) -> str:
    return hashlib.sha256(data).hexdigest()


def ranges(fake: FakeTikTok) -> list[str]:
    return [put.headers["Content-Range"] for put in fake.puts()]


def expect_no_secrets(error: BaseException) -> None:
    for secret in (SECRET, REFRESH):
        assert secret not in str(error)
        assert secret not in repr(error)


def test_is_a_publisher(fake: FakeTikTok) -> None:
    publisher: Publisher = publisher_for(fake)
    assert publisher.name == "tiktok"
    assert SECRET not in repr(config_for(fake))


def test_direct_post_sends_exactly_the_documented_requests(
    fake: FakeTikTok, video: Path
) -> None:
    checkpoints = MemoryCheckpoints()
    result = publisher_for(fake, checkpoints).publish(request_for(video))
    [upload] = fake.uploads.values()
    assert result.target == "tiktok"
    assert not result.reused
    assert result.location == f"tiktok publish_id {upload.publish_id} (processing for the inbox)"
    assert fake.api_paths() == [
        "/v2/oauth/token/",
        "/v2/post/publish/creator_info/query/",
        "/v2/post/publish/video/init/",
        "/v2/post/publish/status/fetch/",
        "/v2/post/publish/status/fetch/",
        "/v2/post/publish/status/fetch/",
    ]
    token, info, init, *polls = [r for r in fake.requests if r.method != "PUT"]
    assert token.body == {"client_key": KEY, "client_secret": SECRET,
                          "grant_type": "refresh_token", "refresh_token": REFRESH}
    assert info.body is None
    assert info.headers["Authorization"].startswith("Bearer act.")
    assert info.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert init.body == {
        "post_info": {"title": "Why Octopuses Have Three Hearts?", "privacy_level": "SELF_ONLY",
                      "disable_comment": False, "disable_duet": False, "disable_stitch": False},
        "source_info": {"source": "FILE_UPLOAD", "video_size": VIDEO_BYTES, "chunk_size": CHUNK,
                        "total_chunk_count": 6},
    }
    assert all(poll.body == {"publish_id": upload.publish_id} for poll in polls)
    starts = [0, CHUNK, 2 * CHUNK, 3 * CHUNK, 4 * CHUNK, 5 * CHUNK]
    spans = list(zip(starts, [*starts[1:], VIDEO_BYTES], strict=True))
    assert ranges(fake) == [f"bytes {a}-{b - 1}/{VIDEO_BYTES}" for a, b in spans]
    for put, (a, b) in zip(fake.puts(), spans, strict=True):
        assert put.headers["Content-Type"] == "video/mp4"
        assert put.headers["Content-Length"] == str(b - a)
        assert put.query == {"upload_id": upload.publish_id, "upload_token": upload.token}
        assert "Authorization" not in put.headers
    assert sha(upload.data) == sha(video.read_bytes())
    assert fake.posts_created == 1
    saved = checkpoints.load(CHECKPOINT)
    assert saved is not None
    assert saved["state"] == "done"


def test_a_public_post_links_to_the_video(fake: FakeTikTok, video: Path) -> None:
    publisher = publisher_for(fake, privacy_level="PUBLIC_TO_EVERYONE", disable_duet=True)
    result = publisher.publish(request_for(video))
    [upload] = fake.uploads.values()
    assert result.location == f"https://www.tiktok.com/@/video/{upload.post_id}"
    assert upload.post_info["privacy_level"] == "PUBLIC_TO_EVERYONE"
    assert upload.post_info["disable_duet"] is True


def test_a_small_video_goes_in_one_chunk(fake: FakeTikTok, tmp_path: Path) -> None:
    small = tmp_path / "small.mp4"
    small.write_bytes(os.urandom(4 * FAKE_MB))
    publisher_for(fake).publish(request_for(small))
    [upload] = fake.uploads.values()
    assert (upload.chunk_size, upload.chunk_count) == (4 * FAKE_MB, 1)
    assert ranges(fake) == [f"bytes 0-{4 * FAKE_MB - 1}/{4 * FAKE_MB}"]
    assert sha(upload.data) == sha(small.read_bytes())


def test_plan_follows_tiktoks_chunk_rules() -> None:
    mb = 1024 * 1024
    assert plan_chunks(3 * mb, 10 * mb).count == 1
    assert plan_chunks(3 * mb, 10 * mb).chunk_size == 3 * mb
    plan = plan_chunks(50 * mb + 7, 10 * mb)
    assert (plan.chunk_size, plan.count) == (10 * mb, 5)
    assert plan.span(4) == (40 * mb, 50 * mb + 7)
    with pytest.raises(PermanentError, match="empty"):
        plan_chunks(0, 10 * mb)


def test_an_invalid_access_token_is_refreshed_once(fake: FakeTikTok, video: Path) -> None:
    fake.fail_next(1, "access_token_invalid", on="/video/init/")
    with httpx.Client() as client:
        TikTokPublisher(config_for(fake), MemoryCheckpoints(), chunk_bytes=CHUNK,
                        client=client).publish(request_for(video))
    assert fake.api_paths()[:5] == [
        "/v2/oauth/token/",
        "/v2/post/publish/creator_info/query/",
        "/v2/post/publish/video/init/",
        "/v2/oauth/token/",
        "/v2/post/publish/video/init/",
    ]
    tokens = [r.headers["Authorization"] for r in fake.requests[1:5] if r.method == "POST"
              and r.path != "/v2/oauth/token/"]
    assert tokens[1] == tokens[0] != tokens[2]
    assert (fake.inits, fake.posts_created) == (1, 1)


def test_a_token_refused_twice_is_permanent(fake: FakeTikTok, video: Path) -> None:
    fake.fail_next(2, "access_token_invalid", on="/creator_info/")
    with pytest.raises(PermanentError, match="reconnect") as caught:
        publisher_for(fake).publish(request_for(video))
    expect_no_secrets(caught.value)
    assert fake.api_paths().count("/v2/oauth/token/") == 2


@pytest.mark.parametrize("drop_status", [None, 503])
def test_an_interrupted_upload_resumes_from_the_saved_chunk(
    fake: FakeTikTok, video: Path, drop_status: int | None
) -> None:
    checkpoints = MemoryCheckpoints()
    fake.drop_after(2 * CHUNK + 100, status=drop_status)
    with pytest.raises(TransientError) as caught:
        publisher_for(fake, checkpoints).publish(request_for(video))
    expect_no_secrets(caught.value)
    saved = checkpoints.load(CHECKPOINT)
    assert saved is not None
    assert (saved["state"], saved["bytes_done"]) == ("uploading", 2 * CHUNK)
    assert saved["upload_url"].startswith("nc-sealed:v1:"), "the upload link is sealed at rest"
    assert not [u.token for u in fake.uploads.values() if u.token in str(saved)]
    before = len(fake.puts())
    result = publisher_for(fake, checkpoints).publish(request_for(video))
    [upload] = fake.uploads.values()
    assert fake.inits == 1
    assert ranges(fake)[before] == f"bytes {2 * CHUNK}-{3 * CHUNK - 1}/{VIDEO_BYTES}"
    assert len(fake.puts()) - before == 4
    assert sha(upload.data) == sha(video.read_bytes())
    assert fake.posts_created == 1
    assert result.location.endswith("(processing for the inbox)")


def test_an_expired_upload_url_starts_over(fake: FakeTikTok, video: Path) -> None:
    checkpoints = MemoryCheckpoints()
    fake.drop_after(CHUNK + 1)
    with pytest.raises(TransientError):
        publisher_for(fake, checkpoints).publish(request_for(video))
    fake.expire_upload_urls()
    publisher_for(fake, checkpoints).publish(request_for(video))
    first, second = fake.uploads.values()
    assert fake.inits == 2
    assert len(first.data) == CHUNK
    assert sha(second.data) == sha(video.read_bytes())
    assert fake.posts_created == 1


def test_a_saved_upload_older_than_an_hour_is_not_reused(fake: FakeTikTok, video: Path) -> None:
    checkpoints = MemoryCheckpoints()
    fake.drop_after(CHUNK + 1)
    with pytest.raises(TransientError):
        publisher_for(fake, checkpoints).publish(request_for(video))
    saved = checkpoints.load(CHECKPOINT)
    assert saved is not None
    checkpoints.save(CHECKPOINT, {**saved, "started_at": saved["started_at"] - 3600})
    publisher_for(fake, checkpoints).publish(request_for(video))
    assert fake.inits == 2
    assert fake.posts_created == 1


def test_a_slow_post_times_out_then_a_rerun_only_polls(fake: FakeTikTok, video: Path) -> None:
    checkpoints = MemoryCheckpoints()
    fake.processing_polls = 10**6
    with pytest.raises(TransientError, match="still processing"):
        publisher_for(fake, checkpoints, poll_timeout=0.05).publish(request_for(video))
    fake.processing_polls = 0
    before = len(fake.requests)
    publisher_for(fake, checkpoints).publish(request_for(video))
    assert {r.path for r in fake.requests[before:]} == {"/v2/oauth/token/",
                                                        "/v2/post/publish/status/fetch/"}
    assert fake.inits == 1
    assert fake.posts_created == 1


def test_a_failed_post_is_permanent_and_forgotten(fake: FakeTikTok, video: Path) -> None:
    checkpoints = MemoryCheckpoints()
    fake.fail_processing("file_format_check_failed")
    with pytest.raises(PermanentError) as caught:
        publisher_for(fake, checkpoints).publish(request_for(video))
    assert str(caught.value) == "TikTok could not publish the video: file_format_check_failed"
    assert checkpoints.load(CHECKPOINT) is None


def test_a_privacy_level_not_offered_is_refused_in_plain_words(video: Path) -> None:
    options = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS")
    with FakeTikTok(KEY, SECRET, REFRESH, mb=FAKE_MB, privacy_options=options) as fake:
        with pytest.raises(PermanentError) as caught:
            publisher_for(fake).publish(request_for(video))
        assert fake.inits == 0
    message = str(caught.value)
    assert "privacy level SELF_ONLY" in message
    assert "it offers PUBLIC_TO_EVERYONE, MUTUAL_FOLLOW_FRIENDS" in message


def test_a_published_version_is_reused_without_http(fake: FakeTikTok, video: Path) -> None:
    checkpoints = MemoryCheckpoints()
    first = publisher_for(fake, checkpoints).publish(request_for(video))
    before = len(fake.requests)
    again = publisher_for(fake, checkpoints).publish(request_for(video))
    assert len(fake.requests) == before
    assert again.reused
    assert (again.location, again.published_at) == (first.location, first.published_at)


@pytest.mark.parametrize(
    ("error", "kind", "words"),
    [
        ("rate_limit_exceeded", TransientError, "busy"),
        (503, TransientError, "busy"),
        ("spam_risk_too_many_posts", PermanentError, "too many videos"),
        ("privacy_level_option_mismatch", PermanentError, "privacy level"),
        ("invalid_params", PermanentError, "invalid_params"),
    ],
)
def test_init_errors_map_to_retry_or_not(
    fake: FakeTikTok, video: Path, error: str | int, kind: type[PipelineError], words: str
) -> None:
    fake.fail_next(1, error, on="/video/init/")
    with pytest.raises(kind, match=words) as caught:
        publisher_for(fake).publish(request_for(video))
    assert type(caught.value) is kind
    expect_no_secrets(caught.value)
    assert fake.inits == 0


def test_a_refused_refresh_token_names_no_secret(fake: FakeTikTok, video: Path) -> None:
    publisher = publisher_for(fake, refresh_token=SecretStr("rft.wrong-token-abc"))
    with pytest.raises(PermanentError) as caught:
        publisher.publish(request_for(video))
    assert "rft.wrong-token-abc" not in str(caught.value)
    expect_no_secrets(caught.value)


def test_a_missing_video_is_permanent(fake: FakeTikTok, tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="missing"):
        publisher_for(fake).publish(request_for(tmp_path / "gone.mp4"))


def test_config_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("CLIENT_KEY", "CLIENT_SECRET", "REFRESH_TOKEN", "API_URL"):
        monkeypatch.delenv(f"TIKTOK_{name}", raising=False)
        monkeypatch.delenv(f"TIKTOK_{name}_FILE", raising=False)
    monkeypatch.setenv("TIKTOK_CLIENT_SECRET", SECRET)
    with pytest.raises(PermanentError) as caught:
        TikTokConfig.from_env()
    assert str(caught.value) == ("TikTok publishing is not set up: "
                                 "set TIKTOK_CLIENT_KEY, TIKTOK_REFRESH_TOKEN")
    secret_file = tmp_path / "refresh"
    secret_file.write_text(REFRESH + "\n", encoding="utf-8")
    monkeypatch.setenv("TIKTOK_CLIENT_KEY", KEY)
    monkeypatch.setenv("TIKTOK_REFRESH_TOKEN_FILE", str(secret_file))
    monkeypatch.setenv("TIKTOK_API_URL", "http://127.0.0.1:9/")
    config = TikTokConfig.from_env(privacy_level="PUBLIC_TO_EVERYONE")
    assert config.client_key == KEY
    assert config.refresh_token.get_secret_value() == REFRESH
    assert config.client_secret.get_secret_value() == SECRET
    assert config.api_url == "http://127.0.0.1:9"
    assert config.privacy_level == "PUBLIC_TO_EVERYONE"
