"""Which platform message shows a render's progress, so every process edits the same one."""

from __future__ import annotations

import redis

TTL_SECONDS = 7 * 24 * 3600


class ProgressMessages:
    """Redis map from (adapter, channel, progress key) to the platform's message id."""

    def __init__(self, connection: redis.Redis, prefix: str = "novacast") -> None:
        self._redis = connection
        self._prefix = prefix

    def _key(self, adapter: str, channel: str, key: str) -> str:
        return f"{self._prefix}:progress-message:{adapter}:{channel}:{key}"

    def get(self, adapter: str, channel: str, key: str) -> str | None:
        value = self._redis.get(self._key(adapter, channel, key))
        return value.decode() if isinstance(value, bytes) else None

    def claim(self, adapter: str, channel: str, key: str, message_id: str) -> bool:
        """Record the message; False if another process recorded one first."""
        return bool(
            self._redis.set(self._key(adapter, channel, key), message_id, nx=True, ex=TTL_SECONDS)
        )

    def set(self, adapter: str, channel: str, key: str, message_id: str) -> None:
        self._redis.set(self._key(adapter, channel, key), message_id, ex=TTL_SECONDS)
