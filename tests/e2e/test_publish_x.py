"""XPublisher over real HTTP against a fake X: upload, rotation, resume, and no double posts."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from cryptography.fernet import Fernet
from pydantic import SecretStr

from pipeline.errors import PermanentError, TransientError
from pipeline.publish import Publisher, PublishRequest
from pipeline.publish.remote import MemoryCheckpoints
from pipeline.publish.x import XConfig, XPublisher, post_text, weight
from pipeline.secrets import KEYS_ENV, secret_box
from tests.fakes.x_api import USER, FakeX
from workers.publish_ledger import RedisCheckpoints

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

CLIENT_ID = "Tm9WYUNhU3QtY2xpZW50LWlk"
SECRET = "x-client-secret-8b1f4e2d9c"
REFRESH = "x-refresh-token-3a7c5e9b1d"
SEGMENT = 256 * 1024
VIDEO_BYTES = 3 * 1024 * 1024 + 12_345
SEGMENTS = -(-VIDEO_BYTES // SEGMENT)
TITLE = "Why Octopuses Have Three Hearts?"
CHECKPOINT = "x:3f2a9c:v2"
TOKEN_KEY = f"x:refresh-token:{CLIENT_ID}"


@pytest.fixture(autouse=True)
def _sealing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stored tokens are sealed (pipeline.secrets): a key of this test's own."""
    monkeypatch.setenv(KEYS_ENV, Fernet.generate_key().decode())


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "final.mp4"
    path.write_bytes(os.urandom(VIDEO_BYTES))
    return path


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX(CLIENT_ID, REFRESH, client_secret=SECRET, max_segment=300 * 1024) as server:
        yield server


def config_for(fake: FakeX, **changes: object) -> XConfig:
    values: dict[str, object] = {
        "client_id": CLIENT_ID, "client_secret": SecretStr(SECRET),
        "refresh_token": SecretStr(REFRESH), "api_url": fake.base_url,
        "poll_seconds": 0.002, "max_poll_seconds": 0.002, "poll_timeout": 2.0,
    }
    return XConfig.model_validate({**values, **changes})


def publisher_for(fake: FakeX, checkpoints: MemoryCheckpoints | None = None,
                  **changes: object) -> XPublisher:
    return XPublisher(config_for(fake, **changes),
                      checkpoints if checkpoints is not None else MemoryCheckpoints(),
                      segment_bytes=SEGMENT)


def request_for(video: Path, version: int = 2, title: str = TITLE) -> PublishRequest:
    return PublishRequest(video=video, workspace="T0123ABC", project_id="3f2a9c",
                          version=version, title=title, approved_by="ana",
                          approved_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def appends(fake: FakeX) -> list[str]:
    return [r.body["segment_index"] for r in fake.requests
            if r.path.endswith("/append") and r.body is not None]


def stored_token(checkpoints: MemoryCheckpoints) -> str:
    saved = checkpoints.load(TOKEN_KEY)
    assert saved is not None
    return secret_box().open(str(saved["refresh_token"]))


def expect_no_secrets(error: BaseException, *more: str) -> None:
    for secret in (SECRET, REFRESH, *more):
        assert secret not in str(error)
        assert secret not in repr(error)


def test_is_a_publisher(fake: FakeX) -> None:
    publisher: Publisher = publisher_for(fake)
    assert publisher.name == "x"
    assert SECRET not in repr(config_for(fake))
    assert REFRESH not in repr(config_for(fake))


def test_upload_and_post_send_exactly_the_documented_requests(
    fake: FakeX, video: Path
) -> None:
    checkpoints = MemoryCheckpoints()
    result = publisher_for(fake, checkpoints).publish(request_for(video))
    [media] = fake.media.values()
    [tweet] = fake.tweets
    prefix = f"/2/media/upload/{media.id}"
    assert fake.paths() == [
        "/2/oauth2/token", "/2/media/upload/initialize",
        *[f"{prefix}/append"] * SEGMENTS, f"{prefix}/finalize",
        "/2/media/upload", "/2/media/upload", "/2/media/upload", "/2/tweets",
    ]
    token, init = fake.requests[:2]
    assert token.body == {"grant_type": "refresh_token", "refresh_token": REFRESH,
                          "client_id": CLIENT_ID}
    assert token.headers["Authorization"].startswith("Basic ")
    assert init.body == {"media_type": "video/mp4", "total_bytes": VIDEO_BYTES,
                         "media_category": "tweet_video"}
    assert init.headers["Authorization"].startswith("Bearer ")
    assert appends(fake) == [str(i) for i in range(SEGMENTS)]
    sizes = [r.body["media"] for r in fake.requests if r.path.endswith("/append")]
    assert sizes == [SEGMENT] * (SEGMENTS - 1) + [VIDEO_BYTES - (SEGMENTS - 1) * SEGMENT]
    status = fake.requests[-2]
    assert status.query == {"media_id": media.id, "command": "STATUS"}
    assert fake.requests[-1].body == {"text": TITLE, "media": {"media_ids": [media.id]}}
    assert sha(media.data) == sha(video.read_bytes())
    assert tweet["attachments"] == {"media_keys": [media.key]}
    assert result.location == f"https://x.com/i/status/{tweet['id']}"
    assert (result.target, result.reused) == ("x", False)
    assert fake.posts_created == 1
    saved = checkpoints.load(CHECKPOINT)
    assert saved is not None
    assert (saved["state"], saved["tweet_id"]) == ("done", tweet["id"])


def test_a_public_client_sends_no_basic_auth(video: Path) -> None:
    with FakeX(CLIENT_ID, REFRESH, max_segment=300 * 1024) as fake:
        publisher_for(fake, client_secret=None).publish(request_for(video))
        token = fake.requests[0]
    assert "Authorization" not in token.headers
    assert token.body["client_id"] == CLIENT_ID


def test_rotated_refresh_tokens_are_kept_across_publishers(fake: FakeX, video: Path) -> None:
    checkpoints = MemoryCheckpoints()
    publisher_for(fake, checkpoints).publish(request_for(video, version=1))
    first = fake.issued_refresh_tokens[-1]
    assert stored_token(checkpoints) == first
    assert REFRESH not in fake.refresh_tokens
    publisher_for(fake, checkpoints).publish(request_for(video, version=2, title="Part two"))
    refreshes = [r.body["refresh_token"] for r in fake.requests if r.path == "/2/oauth2/token"]
    assert refreshes == [REFRESH, first]
    assert stored_token(checkpoints) == fake.issued_refresh_tokens[-1]
    assert fake.posts_created == 2
    with pytest.raises(PermanentError, match="reconnect") as caught:
        publisher_for(fake, MemoryCheckpoints()).publish(request_for(video, version=3))
    expect_no_secrets(caught.value, first)


def test_in_redis_the_rotated_token_never_expires_but_upload_progress_does(
    fake: FakeX, video: Path, redis_conn: redis.Redis
) -> None:
    publisher_for(fake, RedisCheckpoints(redis_conn, "x")).publish(request_for(video, version=1))
    ttls = {key.decode(): redis_conn.ttl(key)
            for key in redis_conn.scan_iter("nc:publish:checkpoint:x:*")}
    assert ttls.pop(f"nc:publish:checkpoint:x:{TOKEN_KEY}") == -1
    assert ttls, "the post's own progress was saved too"
    assert all(ttl > 0 for ttl in ttls.values())


def test_a_replaced_configured_token_wins_over_the_saved_one(fake: FakeX, video: Path) -> None:
    checkpoints = MemoryCheckpoints()
    publisher_for(fake, checkpoints).publish(request_for(video, version=1))
    fake.refresh_tokens.add("x-refresh-after-reconnect")
    replaced = SecretStr("x-refresh-after-reconnect")
    publisher_for(fake, checkpoints, refresh_token=replaced).publish(
        request_for(video, version=2, title="Part two"))
    refreshes = [r.body["refresh_token"] for r in fake.requests if r.path == "/2/oauth2/token"]
    assert refreshes[-1] == "x-refresh-after-reconnect"


class StaleOnce(MemoryCheckpoints):
    """Checkpoints that answer one read of the refresh token with an older value, as another
    worker's rotation would look to this one."""

    def __init__(self, stale: dict[str, Any]) -> None:
        super().__init__()
        self.stale: dict[str, Any] | None = stale

    def load(self, key: str) -> dict[str, Any] | None:
        if key == TOKEN_KEY and self.stale is not None:
            stale, self.stale = self.stale, None
            return stale
        return super().load(key)


def test_a_token_rotated_by_another_worker_meanwhile_is_used(fake: FakeX, video: Path) -> None:
    shared = MemoryCheckpoints()
    publisher_for(fake, shared).publish(request_for(video, version=1))
    before = shared.load(TOKEN_KEY)
    assert before is not None
    publisher_for(fake, shared).publish(request_for(video, version=2, title="Part two"))
    checkpoints = StaleOnce(before)
    checkpoints.save(TOKEN_KEY, shared.load(TOKEN_KEY) or {})
    publisher_for(fake, checkpoints).publish(request_for(video, version=3, title="Part three"))
    refreshes = [r.body["refresh_token"] for r in fake.requests if r.path == "/2/oauth2/token"]
    assert refreshes[-2:] == [secret_box().open(before["refresh_token"]),
                              fake.issued_refresh_tokens[-2]]
    assert fake.posts_created == 3


def test_a_401_refreshes_once_and_repeats_the_call(fake: FakeX, video: Path) -> None:
    checkpoints = MemoryCheckpoints()
    fake.fail_next(1, 401, on="/finalize")
    with httpx.Client() as client:
        XPublisher(config_for(fake), checkpoints, segment_bytes=SEGMENT,
                   client=client).publish(request_for(video))
    paths = fake.paths()
    finalize = [i for i, p in enumerate(paths) if p.endswith("/finalize")]
    assert len(finalize) == 2
    assert paths[finalize[0] + 1] == "/2/oauth2/token"
    assert fake.requests[finalize[0]].headers["Authorization"] != (
        fake.requests[finalize[1]].headers["Authorization"])
    assert stored_token(checkpoints) == fake.issued_refresh_tokens[-1]
    assert fake.posts_created == 1


@pytest.mark.parametrize("drop_status", [None, 503])
def test_an_interrupted_upload_resumes_from_the_next_segment(
    fake: FakeX, video: Path, drop_status: int | None
) -> None:
    checkpoints = MemoryCheckpoints()
    fake.drop_after(5 * SEGMENT + 4096, status=drop_status)
    with pytest.raises(TransientError) as caught:
        publisher_for(fake, checkpoints).publish(request_for(video))
    expect_no_secrets(caught.value)
    saved = checkpoints.load(CHECKPOINT)
    assert saved is not None
    assert (saved["state"], saved["segments_done"]) == ("uploading", 5)
    before = len(appends(fake))
    publisher_for(fake, checkpoints).publish(request_for(video))
    [media] = fake.media.values()
    assert fake.inits == 1
    assert appends(fake)[before:] == [str(i) for i in range(5, SEGMENTS)]
    assert sha(media.data) == sha(video.read_bytes())
    assert fake.posts_created == 1


def test_expired_media_start_over(fake: FakeX, video: Path) -> None:
    checkpoints = MemoryCheckpoints()
    fake.drop_after(2 * SEGMENT + 1)
    with pytest.raises(TransientError):
        publisher_for(fake, checkpoints).publish(request_for(video))
    fake.expire_media()
    publisher_for(fake, checkpoints).publish(request_for(video))
    first, second = fake.media.values()
    assert fake.inits == 2
    assert not first.finalized
    assert sha(second.data) == sha(video.read_bytes())
    assert fake.tweets[0]["attachments"] == {"media_keys": [second.key]}
    assert fake.posts_created == 1


def test_failed_processing_is_permanent_and_forgotten(fake: FakeX, video: Path) -> None:
    checkpoints = MemoryCheckpoints()
    fake.fail_processing("Unsupported video format")
    with pytest.raises(PermanentError) as caught:
        publisher_for(fake, checkpoints).publish(request_for(video))
    assert str(caught.value) == "X could not process the video: Unsupported video format"
    assert checkpoints.load(CHECKPOINT) is None
    assert fake.posts_created == 0


def test_slow_processing_times_out_then_a_rerun_only_polls(fake: FakeX, video: Path) -> None:
    checkpoints = MemoryCheckpoints()
    fake.processing_polls = 10**6
    with pytest.raises(TransientError, match="still processing"):
        publisher_for(fake, checkpoints, poll_timeout=0.05).publish(request_for(video))
    fake.processing_polls = 0
    before = len(fake.requests)
    publisher_for(fake, checkpoints).publish(request_for(video))
    assert fake.paths()[before:] == ["/2/oauth2/token", "/2/media/upload", "/2/tweets"]
    assert fake.posts_created == 1


def test_a_crash_after_the_post_does_not_post_twice(fake: FakeX, video: Path) -> None:
    checkpoints = MemoryCheckpoints()
    fake.crash_after_post()
    with pytest.raises(TransientError):
        publisher_for(fake, checkpoints).publish(request_for(video))
    saved = checkpoints.load(CHECKPOINT)
    assert saved is not None
    assert saved["state"] == "posting"
    before = len(fake.requests)
    result = publisher_for(fake, checkpoints).publish(request_for(video))
    [tweet] = fake.tweets
    assert fake.paths()[before:] == ["/2/oauth2/token", "/2/users/me",
                                     f"/2/users/{USER['id']}/tweets"]
    assert fake.requests[-1].query == {"max_results": "5", "tweet.fields": "attachments"}
    assert fake.posts_created == 1
    assert result.location == f"https://x.com/i/status/{tweet['id']}"
    assert not result.reused


def test_a_posting_marker_without_a_post_posts_once(fake: FakeX, video: Path) -> None:
    checkpoints = MemoryCheckpoints()
    fake.fail_next(1, 503, on="/2/tweets")
    with pytest.raises(TransientError, match="busy"):
        publisher_for(fake, checkpoints).publish(request_for(video))
    saved = checkpoints.load(CHECKPOINT)
    assert saved is not None
    assert saved["state"] == "posting"
    before = len(fake.requests)
    publisher_for(fake, checkpoints).publish(request_for(video))
    assert fake.paths()[before:] == ["/2/oauth2/token", "/2/users/me",
                                     f"/2/users/{USER['id']}/tweets", "/2/tweets"]
    assert fake.posts_created == 1


def test_a_published_version_is_reused_without_http(fake: FakeX, video: Path) -> None:
    checkpoints = MemoryCheckpoints()
    first = publisher_for(fake, checkpoints).publish(request_for(video))
    before = len(fake.requests)
    again = publisher_for(fake, checkpoints).publish(request_for(video))
    assert len(fake.requests) == before
    assert again.reused
    assert (again.location, again.published_at) == (first.location, first.published_at)


def test_a_rate_limit_says_when_it_resets(fake: FakeX, video: Path) -> None:
    fake.fail_next(1, 429, on="/initialize")
    with pytest.raises(TransientError, match=r"resets at \d\d:\d\d:\d\d UTC \(in \d+ s\)"):
        publisher_for(fake).publish(request_for(video))


def test_duplicate_text_is_refused_in_plain_words(fake: FakeX, video: Path) -> None:
    checkpoints = MemoryCheckpoints()
    publisher_for(fake, checkpoints).publish(request_for(video, version=1))
    with pytest.raises(PermanentError, match="already posted the same text") as caught:
        publisher_for(fake, checkpoints).publish(request_for(video, version=2))
    assert type(caught.value) is PermanentError
    assert fake.posts_created == 1


def test_the_text_template_and_polite_truncation(fake: FakeX, video: Path) -> None:
    publisher_for(fake, text_template="New: {title} #science").publish(request_for(video))
    assert fake.requests[-1].body["text"] == f"New: {TITLE} #science"
    long = post_text("{title}", "word " * 80)
    assert weight(long) <= 280
    assert long.endswith("word…")
    cut = post_text("{title} and more", "八" * 200)
    assert weight(cut) <= 280
    assert cut.endswith("…")
    assert post_text("{title}", "Short") == "Short"
    assert post_text("{title}\n\n#shorts", "Short") == "Short\n\n#shorts"
    with pytest.raises(ValueError, match="only use"):
        config_for(fake, text_template="{title} {author}")


def test_config_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN", "API_URL"):
        monkeypatch.delenv(f"X_{name}", raising=False)
        monkeypatch.delenv(f"X_{name}_FILE", raising=False)
    monkeypatch.setenv("X_CLIENT_SECRET", SECRET)
    with pytest.raises(PermanentError) as caught:
        XConfig.from_env()
    assert str(caught.value) == "X publishing is not set up: set X_CLIENT_ID, X_REFRESH_TOKEN"
    monkeypatch.delenv("X_CLIENT_SECRET")
    secret_file = tmp_path / "refresh"
    secret_file.write_text(REFRESH, encoding="utf-8")
    monkeypatch.setenv("X_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("X_REFRESH_TOKEN_FILE", str(secret_file))
    config = XConfig.from_env(text_template="{title} #shorts")
    assert config.client_secret is None
    assert config.refresh_token.get_secret_value() == REFRESH
    assert config.api_url == "https://api.x.com"
    assert config.text_template == "{title} #shorts"
