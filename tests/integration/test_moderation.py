"""Text cleaning, policy checks on user text, and per-user rate limits in a real Redis."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from bot.events import Conversation
from bot.memory import SessionMemory
from bot.moderation import (
    Moderator,
    RateLimiter,
    rate_limited_reply,
    render_limited_reply,
)
from pipeline.text import clean_text
from policy import load_policy, parse_policy


def _conversation(user: str = "U1", workspace: str = "T1") -> Conversation:
    return Conversation(adapter="slack", workspace=workspace, channel="C1", user=user)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  hello   world  ", "hello world"),
        ("tabs\tand\x00nulls\x07", "tabs andnulls"),
        ("line one\r\nline two\rline three", "line one\nline two\nline three"),
        ("a\n\n\n\n\nb", "a\n\nb"),
        ("zero\u200bwidth\u2060joiners\ufeff", "zerowidthjoiners"),
        ("ｆｕｌｌ ｗｉｄｔｈ", "full width"),
        ("ﬁne ligature", "fine ligature"),
        ("right\u202eto\u202cleft", "righttoleft"),
        ("family 👨\u200d👩\u200d👧 emoji", "family 👨\u200d👩\u200d👧 emoji"),
        ("para\u2029graph", "para\ngraph"),
        ("\x1b[31mred\x1b[0m", "red"),
        ("", ""),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_messages_and_ideas_have_their_own_length_limits(redis_conn: redis.Redis) -> None:
    moderator = Moderator(redis_conn, load_policy())
    assert moderator.check_message("x" * 2000) is None
    long_message = moderator.check_message("x" * 20_000)
    assert long_message is not None
    assert long_message.reason == (
        "That message is 20,000 characters long; please keep it under 2,000."
    )
    long_idea = moderator.check_idea("x" * 501)
    assert long_idea is not None
    assert long_idea.rule == "max_idea_chars"
    assert moderator.check_idea("why octopuses have three hearts") is None


def test_blocked_topics_apply_to_messages_and_ideas(redis_conn: redis.Redis) -> None:
    moderator = Moderator(redis_conn, load_policy())
    for check in (moderator.check_message, moderator.check_idea):
        refusal = check("a fun explainer on how to make a  b.o.m.b")
        assert refusal is not None
        assert "weapons manufacture" in refusal.reason


def test_rate_limit_allows_the_limit_then_refuses_once_then_quietly(
    redis_conn: redis.Redis,
) -> None:
    limiter = RateLimiter(redis_conn, "test:rate", limit=3, window=60)
    now = 999_980.0  # 20 s into a 60 s window (windows start at multiples of 60)
    results = [limiter.hit("U1", now=now) for _ in range(5)]
    assert [r.allowed for r in results] == [True, True, True, False, False]
    assert [r.first_refusal for r in results] == [False, False, False, True, False]
    assert results[3].retry_after == 40
    assert "wait 40 seconds" in rate_limited_reply(results[3])
    assert limiter.hit("U2", now=now).allowed, "another user has their own budget"
    assert limiter.hit("U1", now=now + 60).allowed, "the next window starts afresh"


def test_rate_limit_keys_expire(redis_conn: redis.Redis) -> None:
    limiter = RateLimiter(redis_conn, "test:rate", limit=3, window=60)
    limiter.hit("U1")
    (key,) = redis_conn.keys("test:rate:*")
    assert 0 < redis_conn.ttl(key) <= 61


def test_rate_limit_is_atomic_under_concurrent_hits(redis_conn: redis.Redis) -> None:
    limiter = RateLimiter(redis_conn, "test:rate", limit=12, window=60)
    now = 2_000_000.0
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: limiter.hit("U1", now=now), range(40)))
    assert sum(r.allowed for r in results) == 12
    assert sum(r.first_refusal for r in results) == 1


def test_moderator_limits_events_and_renders_per_user(redis_conn: redis.Redis) -> None:
    policy = parse_policy({"rate_limit": {"events": 2, "window_seconds": 60,
                                          "renders_per_hour": 1}})
    moderator = Moderator(redis_conn, policy)
    alice, bob = _conversation("alice"), _conversation("bob")
    assert [moderator.hit_event(alice).allowed for _ in range(3)] == [True, True, False]
    assert moderator.hit_event(bob).allowed
    assert moderator.hit_event(_conversation("alice", workspace="T2")).allowed
    assert moderator.hit_render(alice).allowed
    second = moderator.hit_render(alice)
    assert not second.allowed
    assert "1 renders this hour" in render_limited_reply(second)


def test_session_memory_keeps_recent_turns_capped_and_expiring(redis_conn: redis.Redis) -> None:
    memory = SessionMemory(redis_conn, max_turns=5, ttl_seconds=100)
    key = _conversation().key
    for n in range(8):
        memory.add(key, "user" if n % 2 == 0 else "bot", f"turn {n}")
    assert [t.text for t in memory.recent(key, 3)] == ["turn 5", "turn 6", "turn 7"]
    assert [t.role for t in memory.recent(key, 2)] == ["user", "bot"]
    assert len(memory.recent(key, 50)) == 5
    assert memory.recent(key, 0) == []
    assert memory.recent("other", 5) == []
    assert 0 < redis_conn.ttl(f"novacast:memory:{key}") <= 100
    memory.clear(key)
    assert memory.recent(key, 5) == []
