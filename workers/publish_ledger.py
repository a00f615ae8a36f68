"""Exactly once per (project version, target): what was published, who is publishing it now.

Three kinds of Redis keys, all under `nc:publish:`:
- `<project>:v<N>` — a hash, target name → JSON outcome (`done` with its location, or
  `failed` with the reason). A done target is never uploaded again, whatever retries, second
  jobs or replicas do.
- `lock:<project>:v<N>:<target>` — held (SET NX with a token) while one process uploads to
  that target; anyone else waits for the outcome instead of uploading too. It lives
  `LOCK_SECONDS` and a thread of the holder extends it every `LOCK_REFRESH` s, so a holder
  that is killed frees it within `LOCK_SECONDS`, in time for its job's retry.
- `checkpoint:<key>` — uploaders' resumable progress (`RedisCheckpoints`), so a retried job
  continues an interrupted upload rather than starting a second one.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import redis

from pipeline.publish import PublishResult

PREFIX = "nc:publish:"
LOCK_SECONDS = 25
"""A publish lock outlives its holder by at most this (the holder extends it while alive)."""
LOCK_REFRESH = 8.0
CHECKPOINT_SECONDS = 14 * 24 * 3600
LEDGER_SECONDS = 180 * 24 * 3600

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_TAKE_OVER = """
local held = redis.call('get', KEYS[1])
if held and string.sub(held, 1, string.len(ARGV[1])) == ARGV[1] then
  return redis.call('set', KEYS[1], ARGV[2], 'EX', ARGV[3])
end
return false
"""
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end
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
    def lock(self, target: str, owner: str = "") -> Iterator[bool]:
        """Yields True while this process alone may publish to `target`, else False.

        `owner` names the job publishing (its RQ job id). A lock left by an earlier run of the
        same job is taken over: RQ runs a job again only once its last run stopped beating
        (`workers.recovery`), so that holder is dead, and its job's retry need not wait for
        the lock to run out."""
        key = f"{PREFIX}lock:{self._base}:{target}"
        token = f"{owner}|{secrets.token_hex(8)}"
        acquired = bool(self._redis.set(key, token, nx=True, ex=LOCK_SECONDS))
        if not acquired and owner:
            acquired = bool(self._redis.eval(_TAKE_OVER, 1, key, f"{owner}|", token, LOCK_SECONDS))
        if not acquired:
            yield False
            return
        done = threading.Event()
        keeper = threading.Thread(
            target=self._keep, args=(key, token, done), name=f"publish-lock-{target}", daemon=True
        )
        keeper.start()
        try:
            yield True
        finally:
            done.set()
            keeper.join(timeout=LOCK_REFRESH)
            self._redis.eval(_RELEASE, 1, key, token)

    def _keep(self, key: str, token: str, done: threading.Event) -> None:
        """Extend the lock while its holder publishes (a Redis hiccup is tried again)."""
        while not done.wait(LOCK_REFRESH):
            try:
                self._redis.eval(_EXTEND, 1, key, token, LOCK_SECONDS)
            except redis.RedisError:
                continue

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
