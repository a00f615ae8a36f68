"""One reader of the studio's outbox streams per bot process, for every open socket.

Each socket subscribes to its conversation's stream; the hub runs one blocking `XREAD` over the
streams that have subscribers (one Redis connection, however many sockets) and hands each new
entry to the subscribers' queues. A new stream joins the read at once: the hub also reads a
private wake stream, which `subscribe` appends to. (A blocking read per socket needed a Redis
connection each: redis-py's pool holds 100, and the 101st socket waited.)

No entry is lost or shown twice between a page's history and the live frames: a subscriber is
registered before the history is read, buffers what arrives meanwhile, and `Subscription.start`
drops what the history already holds (entry ids only grow).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

import redis
import redis.asyncio as aredis

from adapters.web.outbox import STREAM_MAXLEN, Entry, parse_entry
from adapters.web.sessions import PREFIX
from pipeline.errors import failure_origin

log = logging.getLogger(__name__)

BLOCK_MS = 15_000
COUNT = 200
WAKE_MAXLEN = 16
WAKE_TTL_SECONDS = 3600
WRITER_CONNECTIONS = 8
"""At most this many of the hub's small writes at once: redis-py's asyncio pool refuses a
101st connection instead of waiting, and 200 sockets opening at once would ask for 200."""
_XReadReply = list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]] | None


def _id_key(entry_id: str) -> tuple[int, int]:
    millis, _, seq = entry_id.partition("-")
    return int(millis), int(seq or 0)


class Subscription:
    """One socket's view of its stream: entries newer than `start`, in order."""

    def __init__(self, hub: OutboxHub, key: str) -> None:
        self.hub, self.key = hub, key
        self.queue: asyncio.Queue[Entry | None] = asyncio.Queue()
        self._after: tuple[int, int] | None = None

    def start(self, after: str) -> None:
        """Deliver only entries after `after` (the last id the history holds)."""
        self._after = _id_key(after)

    async def entries(self) -> AsyncIterator[Entry]:
        """New entries until the hub stops (`start` must have been called)."""
        while (entry := await self.queue.get()) is not None:
            if self._after is None or _id_key(entry.id) > self._after:
                yield entry


class OutboxHub:
    """See the module docstring. `reader` blocks (no socket timeout); `writer` wakes it."""

    def __init__(
        self, reader: aredis.Redis, writer: aredis.Redis, *, block_ms: int = BLOCK_MS
    ) -> None:
        self._reader, self._writer = reader, writer
        self._block_ms = block_ms
        """How long one read waits (0: until something arrives; only the wake ends it)."""
        self._wake = f"{PREFIX}:wake:{uuid.uuid4().hex}"
        self._subscribers: dict[str, set[Subscription]] = {}
        self._positions: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._writes = asyncio.Semaphore(WRITER_CONNECTIONS)
        self._wake_pending = False

    async def subscribe(self, key: str) -> Subscription:
        """A new subscription to `key`'s entries from now on; nothing is left registered when
        Redis fails on the way (RedisError)."""
        if key not in self._positions:
            position = await self._last_id(key)
            self._positions.setdefault(key, position)
        subscription = Subscription(self, key)  # registered with its position, no await between
        self._subscribers.setdefault(key, set()).add(subscription)
        self._running()
        try:
            await self._wake_up()
        except redis.RedisError:
            self.unsubscribe(subscription)
            raise
        return subscription

    async def _wake_up(self) -> None:
        """Make the hub's blocked read return, so its next one includes the new stream (one
        wake entry for any number of subscriptions until the hub has read it)."""
        if self._wake_pending:
            return
        self._wake_pending = True
        try:
            async with self._writes:
                await self._writer.xadd(
                    self._wake, {"w": "1"}, maxlen=WAKE_MAXLEN, approximate=True
                )
                await self._writer.expire(self._wake, WAKE_TTL_SECONDS)
        except BaseException:
            self._wake_pending = False  # the next subscription tries again
            raise

    async def _last_id(self, key: str) -> str:
        """Where a newly read stream starts: its last entry now (a concrete id, not `$`, which
        would skip what is appended before the hub's next read)."""
        async with self._writes:
            last: list[tuple[bytes, object]] = await self._writer.xrevrange(key, count=1)  # type: ignore[assignment]
        return last[0][0].decode() if last else "0-0"

    async def append(self, key: str, entries: list[dict[str, str | bytes]]) -> list[str]:
        """Append entries to a stream in one round trip, without a thread (the bot's own
        writes: what the user typed, the core's answers); their ids."""
        if not entries:
            return []
        async with self._writes:
            pipe = self._writer.pipeline(transaction=False)
            for fields in entries:
                pipe.xadd(key, fields, maxlen=STREAM_MAXLEN, approximate=True)  # type: ignore[arg-type]
            ids = await pipe.execute()
        return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]

    async def role_of(self, session_key: str, user_key: str) -> str | None:
        """The user's role while the session exists (checked at every frame), else None."""
        async with self._writes:
            pipe = self._writer.pipeline(transaction=False)
            pipe.exists(session_key)
            pipe.hget(user_key, "role")
            alive, role = await pipe.execute()
        return role.decode() if alive and isinstance(role, bytes) else None

    def unsubscribe(self, subscription: Subscription) -> None:
        others = self._subscribers.get(subscription.key, set())
        others.discard(subscription)
        if not others:
            self._subscribers.pop(subscription.key, None)
            self._positions.pop(subscription.key, None)

    def _running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="web-outbox-hub")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for subscriptions in self._subscribers.values():
            for subscription in subscriptions:
                subscription.queue.put_nowait(None)
        with contextlib.suppress(redis.RedisError):
            await self._writer.delete(self._wake)

    async def _run(self) -> None:
        wake_position = "0-0"  # the wake stream is this process's own: never miss an entry
        while self._subscribers:
            streams = {self._wake: wake_position, **self._positions}
            self._wake_pending = False  # a subscription from here on wakes this read
            try:
                replies: _XReadReply = await self._reader.xread(  # type: ignore[assignment]
                    streams,  # type: ignore[arg-type]
                    block=self._block_ms,
                    count=COUNT,
                )
            except redis.RedisError as error:
                log.warning("reading the studio's outboxes failed (%s)", type(error).__name__)
                await asyncio.sleep(1.0)
                continue
            except Exception as error:
                log.error("the studio's outbox hub failed: %s at %s", type(error).__name__,
                          failure_origin(error))
                await asyncio.sleep(1.0)
                continue
            for raw_key, items in replies or []:
                key = raw_key.decode()
                if key == self._wake:
                    wake_position = items[-1][0].decode()
                    continue
                self._deliver(key, items)

    def _deliver(self, key: str, items: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        if key not in self._positions:
            return  # everyone left meanwhile
        self._positions[key] = items[-1][0].decode()
        subscribers = self._subscribers.get(key, set())
        for entry_id, fields in items:
            entry = parse_entry(entry_id, fields)
            if entry is None:
                continue
            for subscription in subscribers:
                subscription.queue.put_nowait(entry)
