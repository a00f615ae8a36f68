"""The console's outbound channel: a Redis stream per console workspace.

Any process (the chat itself, a worker on another machine) appends actions; the terminal that
owns the workspace reads and shows them in order.
"""

from __future__ import annotations

from collections.abc import Iterator

import redis
from pydantic import TypeAdapter

from adapters.console.text import RENDERS
from bot.actions import Action
from bot.events import ReplyTarget

_ACTIONS: TypeAdapter[Action] = TypeAdapter(Action)
STREAM_MAXLEN = 1000
_XReadReply = list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]] | None


def stream_key(workspace: str) -> str:
    return f"novacast:console:outbox:{workspace}"


class ConsoleOutbox:
    """Append actions to, and read them back from, one workspace's stream."""

    def __init__(self, connection: redis.Redis, workspace: str) -> None:
        self._redis = connection
        self._key = stream_key(workspace)
        self._last_id = "$"

    def send(self, action: Action) -> None:
        if type(action) not in RENDERS:
            raise TypeError(f"the console cannot show {type(action).__name__}")
        payload = _ACTIONS.dump_json(action)
        self._redis.xadd(self._key, {"action": payload}, maxlen=STREAM_MAXLEN, approximate=True)

    def start_reading(self) -> None:
        """Only actions sent from now on will be read."""
        last: list[tuple[bytes, dict[bytes, bytes]]] = self._redis.xrevrange(self._key, count=1)  # type: ignore[assignment]
        self._last_id = last[0][0].decode() if last else "0-0"

    def read(self, block_ms: int = 0) -> Iterator[Action]:
        """Actions sent since the last read, waiting up to `block_ms` for the first."""
        replies: _XReadReply = self._redis.xread(  # type: ignore[assignment]
            {self._key: self._last_id}, block=block_ms or None, count=100
        )
        for _stream, entries in replies or []:
            for entry_id, fields in entries:
                self._last_id = entry_id.decode()
                yield _ACTIONS.validate_json(fields[b"action"])


def sync_sender(target: ReplyTarget, connection: redis.Redis) -> ConsoleOutbox:
    """The console's outbound side for `adapters.outbox.sender_for`."""
    return ConsoleOutbox(connection, target.workspace)
