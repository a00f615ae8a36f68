"""The publish ledger on real Redis: one upload per (version, target), whoever races for it.

Also the chat-channel publisher, delivering into the console's outbox stream like any worker.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from adapters.console.outbox import ConsoleOutbox
from bot.actions import Preview
from pipeline.errors import PermanentError
from pipeline.publish import PublishRequest, PublishResult
from policy import PublishTarget
from workers.channel_publisher import ChatChannelPublisher
from workers.publish_ledger import PublishLedger, RedisCheckpoints


def _result(target: str) -> PublishResult:
    return PublishResult(target=target, location=f"https://example.test/{target}",
                         published_at=datetime.now(UTC))


def _publish_once(ledger: PublishLedger, target: str, uploads: list[str]) -> str:
    """What the publish job does per target: outcome first, then the lock, then the upload."""
    if ledger.outcome(target) is not None:
        return "done already"
    with ledger.lock(target) as mine:
        if not mine:
            return "busy"
        if ledger.outcome(target) is not None:
            return "done already"
        time.sleep(0.05)  # an upload takes a while; others arrive meanwhile
        uploads.append(target)
        ledger.done(target, _result(target))
        return "uploaded"


def test_racing_publishers_upload_once_per_target(redis_conn: redis.Redis) -> None:
    uploads: list[str] = []
    ledgers = [PublishLedger(redis_conn, "abc123", 2) for _ in range(12)]  # replicas, retries
    with ThreadPoolExecutor(12) as pool:
        outcomes = list(pool.map(lambda pair: _publish_once(pair[0], pair[1], uploads),
                                 [(ledger, target) for ledger in ledgers
                                  for target in ("youtube", "x")]))
    assert sorted(uploads) == ["x", "youtube"]
    assert outcomes.count("uploaded") == 2
    done = PublishLedger(redis_conn, "abc123", 2).outcomes()
    assert {name: o.location for name, o in done.items()} == {
        "youtube": "https://example.test/youtube", "x": "https://example.test/x"}
    assert PublishLedger(redis_conn, "abc123", 3).outcomes() == {}, "versions are apart"


def test_a_lock_is_released_even_when_the_upload_fails(redis_conn: redis.Redis) -> None:
    ledger = PublishLedger(redis_conn, "abc123", 1)

    def upload_that_breaks() -> None:
        with ledger.lock("youtube") as mine:
            assert mine
            raise RuntimeError("network")

    with pytest.raises(RuntimeError):
        upload_that_breaks()
    with ledger.lock("youtube") as again:
        assert again


def test_retry_forgets_failures_but_never_successes(redis_conn: redis.Redis) -> None:
    ledger = PublishLedger(redis_conn, "abc123", 1)
    ledger.done("folder", _result("folder"))
    ledger.failed("tiktok", "TikTok is busy")
    ledger.forget_failures()
    assert set(ledger.outcomes()) == {"folder"}


def test_the_result_is_announced_once_per_outcome(redis_conn: redis.Redis) -> None:
    ledger = PublishLedger(redis_conn, "abc123", 1)
    barrier = threading.Barrier(8)

    def announce() -> bool:
        barrier.wait()
        return ledger.first_report("sig-1")

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(lambda _: announce(), range(8))) == 1
    assert ledger.first_report("sig-2"), "a new outcome (after Retry) is announced again"


def test_checkpoints_are_per_target_and_rotated_tokens_do_not_expire(
    redis_conn: redis.Redis,
) -> None:
    brand, other = RedisCheckpoints(redis_conn, "brand-yt"), RedisCheckpoints(redis_conn, "yt")
    brand.save("youtube:abc:v1", {"offset": 512})
    assert other.load("youtube:abc:v1") is None
    assert brand.load("youtube:abc:v1") == {"offset": 512}
    brand.save("x:refresh-token:client", {"token": "newest"}, durable=True)
    keys = {key.decode(): redis_conn.ttl(key) for key in redis_conn.scan_iter("nc:publish:*")}
    assert keys["nc:publish:checkpoint:brand-yt:x:refresh-token:client"] == -1
    assert 0 < keys["nc:publish:checkpoint:brand-yt:youtube:abc:v1"] <= 14 * 24 * 3600
    brand.clear("youtube:abc:v1")
    assert brand.load("youtube:abc:v1") is None


def _request(video: Path) -> PublishRequest:
    return PublishRequest(video=video, workspace="local", project_id="abc123", version=1,
                          title="Tides, Explained", approved_by="you",
                          approved_at=datetime.now(UTC))


def test_the_chat_channel_publisher_posts_the_final_video(
    redis_conn: redis.Redis, tmp_path: Path
) -> None:
    video = tmp_path / "video.mp4"
    video.write_bytes(b"\x00" * 64)
    spec = PublishTarget(kind="chat", adapter="console", channel="final-cuts")
    outbox = ConsoleOutbox(redis_conn, "local")
    outbox.start_reading()
    result = ChatChannelPublisher("final-cuts", spec, redis_conn).publish(_request(video))
    assert result.location == "console channel final-cuts"
    (posted,) = list(outbox.read(block_ms=1000))
    assert isinstance(posted, Preview)
    assert posted.path == str(video)
    assert posted.caption == "Tides, Explained — approved by you"
    assert (posted.target.channel, posted.target.workspace) == ("final-cuts", "local")


def test_a_chat_target_on_a_platform_we_do_not_speak_is_refused(redis_conn: redis.Redis) -> None:
    spec = PublishTarget(kind="chat", adapter="myspace", channel="C1")
    with pytest.raises(PermanentError, match="names no platform"):
        ChatChannelPublisher("old", spec, redis_conn)
