"""Which Slack threads are NOVACAST conversations, kept in Redis so every replica agrees.

A thread becomes ours when the bot starts it (the root message of `/make`) or is mentioned in
it; replies in other threads are people talking to each other and are left alone. Slash
commands other than `/make` carry no thread, so they continue the user's latest thread in the
channel.
"""

from __future__ import annotations

import redis

TTL_SECONDS = 30 * 24 * 3600


class Threads:
    def __init__(self, connection: redis.Redis, prefix: str = "novacast:slack") -> None:
        self._redis = connection
        self._prefix = prefix

    def adopt(self, team: str, channel: str, thread_ts: str, user: str) -> None:
        """Mark the thread as a conversation with the bot, and as `user`'s latest here."""
        pipe = self._redis.pipeline()
        pipe.set(self._thread_key(team, channel, thread_ts), 1, ex=TTL_SECONDS)
        pipe.set(self._latest_key(team, channel, user), thread_ts, ex=TTL_SECONDS)
        pipe.execute()

    def is_ours(self, team: str, channel: str, thread_ts: str) -> bool:
        return bool(self._redis.exists(self._thread_key(team, channel, thread_ts)))

    def latest(self, team: str, channel: str, user: str) -> str:
        value = self._redis.get(self._latest_key(team, channel, user))
        return value.decode() if isinstance(value, bytes) else ""

    def _thread_key(self, team: str, channel: str, thread_ts: str) -> str:
        return f"{self._prefix}:thread:{team}:{channel}:{thread_ts}"

    def _latest_key(self, team: str, channel: str, user: str) -> str:
        return f"{self._prefix}:latest-thread:{team}:{channel}:{user}"
