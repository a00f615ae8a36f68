"""Session memory: the recent turns of each conversation, capped and expiring, in Redis.

In a burst of drafts the turns are written once the burst is over (`add_turns(..., later=True)`,
see `bot.later`): nothing on the way to a draft reads them. Any read or write of that
conversation's turns writes the postponed ones first, in order."""

from __future__ import annotations

import logging
import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from redis import Redis, RedisError

from bot.later import Later

log = logging.getLogger(__name__)

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
        self._later = Later("turns-later")  # by conversation key

    def _key(self, conv_key: str) -> str:
        return f"{self.prefix}:memory:{conv_key}"

    def add(self, conv_key: str, role: Role, text: str) -> None:
        self.add_turns(conv_key, [(role, text)])

    def add_turns(
        self, conv_key: str, turns: list[tuple[Role, str]], *, later: bool = False
    ) -> None:
        """Append several turns in order, in one round trip: now, or with `later` once the
        current burst is over."""
        if not turns:
            return
        if later:
            self._later.add(conv_key, lambda: self._write_postponed(conv_key, turns))
            return
        self._later.settle(conv_key)
        self._write(conv_key, turns)

    def _write_postponed(self, conv_key: str, turns: list[tuple[Role, str]]) -> None:
        try:
            self._write(conv_key, turns)
        except RedisError as error:  # Redis went away after the burst: one line, no traceback
            log.warning("session memory: %d postponed turns not written (%s)", len(turns),
                        type(error).__name__)

    def _write(self, conv_key: str, turns: list[tuple[Role, str]]) -> None:
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
        self._later.settle(conv_key)
        raw = self.redis.lrange(self._key(conv_key), -n, -1)
        return [Turn.model_validate_json(item) for item in raw]

    def clear(self, conv_key: str) -> None:
        self._later.settle(conv_key)
        self.redis.delete(self._key(conv_key))
