"""What runs on every inbound event before a handler: text cleaning, content and length checks
from policy, and per-user rate limits kept in Redis."""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis import Redis

from bot.events import Conversation
from policy import MaxChars, Policy, Refusal, Rule, content_rule


@dataclass(frozen=True)
class RateResult:
    allowed: bool
    count: int
    limit: int
    retry_after: int
    """Seconds until the window resets."""

    @property
    def first_refusal(self) -> bool:
        """True only for the first event over the limit: reply once, then stay quiet."""
        return self.count == self.limit + 1


class RateLimiter:
    """At most `limit` hits per `window` seconds per key: a fixed window, counted atomically."""

    def __init__(self, redis: Redis, prefix: str, limit: int, window: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.limit = limit
        self.window = window

    def hit(self, who: str, now: float | None = None) -> RateResult:
        key, retry_after = self._window(who, now)
        pipe = self.redis.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, self.window + 1)
        count = int(pipe.execute()[0])
        return RateResult(count <= self.limit, count, self.limit, retry_after)

    def waiting(self, who: str, now: float | None = None) -> int | None:
        """Seconds until `who` may act again when already past the limit, else None; counts
        no hit (the API reads this to answer 429 where the core stays quiet)."""
        key, retry_after = self._window(who, now)
        count = self.redis.get(key)
        return retry_after if count is not None and int(count) > self.limit else None

    def _window(self, who: str, now: float | None) -> tuple[str, int]:
        """The current window's counter key for `who`, and the seconds until it ends."""
        now = time.time() if now is None else now
        slot = int(now // self.window)
        return f"{self.prefix}:{who}:{slot}", max(1, int((slot + 1) * self.window - now))


def user_key(conversation: Conversation) -> str:
    """One user in one workspace of one platform."""
    return f"{conversation.adapter}:{conversation.workspace}:{conversation.user}"


class Moderator:
    """The policy's limits and content rules, bound to one Redis."""

    def __init__(self, redis: Redis, policy: Policy, prefix: str = "novacast") -> None:
        limits, rates = policy.limits, policy.rate_limit
        content = content_rule(policy)
        self.message_rule = Rule(MaxChars(limits.max_message_chars, "message"), content)
        self.idea_rule = Rule(MaxChars(limits.max_idea_chars, "idea"), content)
        self.events = RateLimiter(
            redis, f"{prefix}:rate:events", rates.events, rates.window_seconds
        )
        self.renders = RateLimiter(redis, f"{prefix}:rate:renders", rates.renders_per_hour, 3600)
        self._exempt = frozenset(rates.exempt_adapters)

    def check_message(self, text: str) -> Refusal | None:
        """Any text a user sends: the message length limit, then blocked topics and words."""
        return self.message_rule(text)

    def check_idea(self, idea: str) -> Refusal | None:
        """The idea for a new video: the (tighter) idea length limit, then content."""
        return self.idea_rule(idea)

    def hit_event(self, conversation: Conversation) -> RateResult:
        if conversation.adapter in self._exempt:
            return RateResult(allowed=True, count=0, limit=self.events.limit, retry_after=0)
        return self.events.hit(user_key(conversation))

    def hit_render(self, conversation: Conversation) -> RateResult:
        return self.renders.hit(user_key(conversation))


def rate_limited_reply(result: RateResult) -> str:
    return (
        f"You're sending messages faster than I can keep up. Please wait {result.retry_after} "
        "seconds and try again."
    )


def render_limited_reply(result: RateResult) -> str:
    minutes = max(1, round(result.retry_after / 60))
    return (
        f"You've started {result.limit} renders this hour, the most this workspace allows. "
        f"Try again in about {minutes} minute{'s' if minutes != 1 else ''}."
    )
