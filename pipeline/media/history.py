"""Which pictures a workspace used lately, so the next videos do not show the same clips.

One capped Redis list per workspace (key `novacast:media:recent:<adapter>:<workspace id>`):
each entry is one video's candidate keys, newest first, and only the last `videos` entries are
kept. The shot chooser leaves those keys out; the workers record a video's keys once it renders.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import redis

KEY_PREFIX = "novacast:media:recent:"
RECENT_VIDEOS = 5
"""How many of a workspace's last videos' pictures are kept out of the next one."""


class ShotHistory:
    """The workspace's recently used `Candidate.key`s, kept in Redis."""

    def __init__(self, connection: redis.Redis, *, videos: int = RECENT_VIDEOS) -> None:
        if videos < 1:
            raise ValueError("history must keep at least one video")
        self._redis = connection
        self.videos = videos

    def record(self, workspace: str, keys: Iterable[str]) -> None:
        """Remember one video's keys (order kept, duplicates dropped); older videos fall off."""
        unique = list(dict.fromkeys(k for k in keys if k))
        if not unique:
            return
        key = _key(workspace)
        with self._redis.pipeline() as pipe:
            pipe.lpush(key, json.dumps(unique))
            pipe.ltrim(key, 0, self.videos - 1)
            pipe.execute()

    def recent(self, workspace: str) -> set[str]:
        """Every key the workspace's last few videos used."""
        entries = self._redis.lrange(_key(workspace), 0, self.videos - 1)
        keys: set[str] = set()
        for entry in entries:
            try:
                keys.update(str(k) for k in json.loads(entry))
            except (ValueError, TypeError):  # a damaged entry is forgotten, not fatal
                continue
        return keys

    def forget(self, workspace: str) -> None:
        self._redis.delete(_key(workspace))


def _key(workspace: str) -> str:
    if not workspace:
        raise ValueError("a workspace is needed to keep its picture history")
    return KEY_PREFIX + workspace
