"""Exactly once per (project version, target): what was published, who is publishing it now.

Three kinds of Redis keys, all under `nc:publish:`:
- `<project>:v<N>` — a hash, target name → JSON outcome (`done` with its location, or
  `failed` with the reason). A done target is never uploaded again, whatever retries, second
  jobs or replicas do.
- `lock:<project>:v<N>:<target>` — held (SET NX with a token, expiring) while one process
  uploads to that target; anyone else waits for the outcome instead of uploading too.
- `checkpoint:<key>` — uploaders' resumable progress (`RedisCheckpoints`), so a retried job
  continues an interrupted upload rather than starting a second one.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import redis

from pipeline.publish import PublishResult

PREFIX = "nc:publish:"
LOCK_SECONDS = 30 * 60
"""Longer than any upload takes; a crashed holder's lock expires after this."""
CHECKPOINT_SECONDS = 14 * 24 * 3600
LEDGER_SECONDS = 180 * 24 * 3600

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Outcome:
    """How publishing one version to one target ended."""

    state: Literal["done", "failed"]
    location: str = ""
    reason: str = ""
    at: str = ""

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str | bytes) -> Outcome:
        return cls(**json.loads(text))


class PublishLedger:
    """The publishing record of one project version."""

    def __init__(self, connection: redis.Redis, project_id: str, version: int) -> None:
        self._redis = connection
        self._base = f"{project_id}:v{version}"
        self._key = f"{PREFIX}{self._base}"

    def outcomes(self) -> dict[str, Outcome]:
        raw = self._redis.hgetall(self._key)
        return {
            name.decode() if isinstance(name, bytes) else name: Outcome.from_json(value)
            for name, value in raw.items()
        }

    def outcome(self, target: str) -> Outcome | None:
        raw = self._redis.hget(self._key, target)
        return None if raw is None else Outcome.from_json(raw)

    def done(self, target: str, result: PublishResult) -> Outcome:
        outcome = Outcome("done", location=result.location, at=result.published_at.isoformat())
        self._record(target, outcome)
        return outcome

    def failed(self, target: str, reason: str) -> Outcome:
        outcome = Outcome("failed", reason=reason, at=datetime.now(UTC).isoformat())
        self._record(target, outcome)
        return outcome

    def forget_failures(self) -> None:
        """Before a retry: failed targets are tried again, done ones stay done."""
        for name, outcome in self.outcomes().items():
            if outcome.state == "failed":
                self._redis.hdel(self._key, name)

    @contextmanager
    def lock(self, target: str) -> Iterator[bool]:
        """Yields True while this process alone may publish to `target`, else False."""
        key = f"{PREFIX}lock:{self._base}:{target}"
        token = secrets.token_hex(8)
        acquired = bool(self._redis.set(key, token, nx=True, ex=LOCK_SECONDS))
        try:
            yield acquired
        finally:
            if acquired:
                self._redis.eval(_RELEASE, 1, key, token)

    def first_report(self, signature: str) -> bool:
        """True once per distinct final result: the one process that announces it."""
        key = f"{PREFIX}reported:{self._base}:{signature}"
        return bool(self._redis.set(key, "1", nx=True, ex=LEDGER_SECONDS))

    def _record(self, target: str, outcome: Outcome) -> None:
        pipe = self._redis.pipeline()
        pipe.hset(self._key, target, outcome.to_json())
        pipe.expire(self._key, LEDGER_SECONDS)
        pipe.execute()


class RedisCheckpoints:
    """`pipeline.publish.remote.Checkpoints` in Redis, shared by every worker.

    `namespace` (the target's name in policy) keeps two accounts of one platform apart.
    """

    def __init__(self, connection: redis.Redis, namespace: str = "") -> None:
        self._redis = connection
        self._prefix = f"{PREFIX}checkpoint:{namespace}:" if namespace else f"{PREFIX}checkpoint:"

    def load(self, key: str) -> dict[str, Any] | None:
        raw = self._redis.get(self._prefix + key)
        return None if raw is None else dict(json.loads(raw))

    def save(self, key: str, value: dict[str, Any], *, durable: bool = False) -> None:
        expiry = None if durable else CHECKPOINT_SECONDS
        self._redis.set(self._prefix + key, json.dumps(value), ex=expiry)

    def clear(self, key: str) -> None:
        self._redis.delete(self._prefix + key)
