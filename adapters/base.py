"""What every chat platform adapter offers the entry point, and what the core offers it.

An adapter turns SDK objects into core events and hands them to `dispatch` (given by the entry
point; adapters never import the core's engine), then renders the actions that come back.
Its outbound half (`AsyncSender`) needs only credentials and a reply target, so workers on
other machines post progress and previews through it without a live gateway.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Protocol, Self

import redis
from aiohttp import web

from bot.actions import Action
from bot.events import Event, ReplyTarget

Dispatch = Callable[[Event], Awaitable[list[Action]]]
"""The core, as an adapter sees it: one event in, the actions that answer it out."""


class Sender(Protocol):
    """Delivers outbound actions for one platform from synchronous code (a worker process)."""

    def send(self, action: Action) -> None: ...


class AsyncSender(Protocol):
    """Delivers outbound actions to one platform; an action type it cannot render fails loudly."""

    async def send(self, action: Action) -> None: ...


SenderFactory = Callable[[ReplyTarget, redis.Redis], Sender]
"""A platform's outbound side for workers: credentials from the environment, nothing live."""


class ChatAdapter(Protocol):
    """One platform's inbound and outbound side, started and stopped as an async context."""

    name: str

    def routes(self) -> list[web.RouteDef]:
        """HTTP routes to mount on the bot's server (webhooks); empty for polling/gateway modes."""
        ...

    @property
    def connected(self) -> bool:
        """True while the adapter can receive events (for /readyz)."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def encodable(data: Any) -> bool:
    """False when a JSON escape left a lone surrogate (`"\\udcff"`) anywhere in a parsed
    payload: such text cannot be written to Redis or sent back, so it is refused at the door."""
    try:
        json.dumps(data, ensure_ascii=False).encode()
    except (UnicodeError, ValueError, RecursionError):
        return False
    return True
