"""Session memory: the recent turns of each conversation, capped and expiring, in Redis."""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from redis import Redis

Role = Literal["user", "bot"]


class Turn(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: Role
    text: str
    at: float = Field(default_factory=time.time, description="unix time")


class SessionMemory:
    """`add` appends a turn; `recent` reads the last few, oldest first."""

    def __init__(
        self,
        redis: Redis,
        prefix: str = "novacast",
        max_turns: int = 50,
        ttl_seconds: int = 7 * 24 * 3600,
        max_chars: int = 2000,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.max_turns = max_turns
        self.ttl_seconds = ttl_seconds
        self.max_chars = max_chars

    def _key(self, conv_key: str) -> str:
        return f"{self.prefix}:memory:{conv_key}"

    def add(self, conv_key: str, role: Role, text: str) -> None:
        self.add_turns(conv_key, [(role, text)])

    def add_turns(self, conv_key: str, turns: list[tuple[Role, str]]) -> None:
        """Append several turns in order, in one round trip."""
        if not turns:
            return
        key = self._key(conv_key)
        pipe = self.redis.pipeline(transaction=True)
        pipe.rpush(key, *(Turn(role=r, text=t[: self.max_chars]).model_dump_json()
                          for r, t in turns))
        pipe.ltrim(key, -self.max_turns, -1)
        pipe.expire(key, self.ttl_seconds)
        pipe.execute()

    def recent(self, conv_key: str, n: int = 10) -> list[Turn]:
        if n <= 0:
            return []
        raw = self.redis.lrange(self._key(conv_key), -n, -1)
        return [Turn.model_validate_json(item) for item in raw]

    def clear(self, conv_key: str) -> None:
        self.redis.delete(self._key(conv_key))
