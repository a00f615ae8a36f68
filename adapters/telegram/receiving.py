"""How updates reach the handlers: read tolerantly, processed concurrently but in order per chat.

`TolerantBot`: PTB parses a whole getUpdates batch at once; one malformed update makes the call
fail, the offset never moves past it, and the poller asks for the same batch again at full
speed. This bot re-reads such a batch once and parses it update by update: an unreadable update
becomes an empty `Update` with its id (the core skips it), so the offset moves on.

`ChatOrderedProcessor`: PTB's default processes one update at a time (slow under load) and
`concurrent_updates=True` gives up ordering (a refinement could overtake the `/make` it
refines). This runs different chats concurrently and one chat's updates in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor, ExtBot

log = logging.getLogger(__name__)

PARSE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, RecursionError)


class TolerantBot(ExtBot[None]):
    """An ExtBot whose `get_updates` skips updates it cannot parse instead of failing."""

    async def get_updates(self, *args: Any, **kwargs: Any) -> tuple[Update, ...]:
        try:
            return await super().get_updates(*args, **kwargs)
        except PARSE_ERRORS:
            return await self._reread(kwargs.get("offset"), kwargs.get("allowed_updates"))

    async def _reread(self, offset: int | None, allowed: Any) -> tuple[Update, ...]:
        data = {"offset": offset, "timeout": 0, "allowed_updates": allowed}
        batch = await self._post("getUpdates", {k: v for k, v in data.items() if v is not None})
        parsed = (self._one(item) for item in batch if isinstance(item, dict))
        return tuple(update for update in parsed if update is not None)

    def _one(self, item: dict[str, Any]) -> Update | None:
        update_id = item.get("update_id")
        if not isinstance(update_id, int):
            return None
        try:
            return Update.de_json(item, self)
        except PARSE_ERRORS:
            log.warning("skipped Telegram update %s: it could not be parsed", update_id)
            return Update(update_id)


def chat_key(update: object) -> int | None:
    if isinstance(update, Update) and update.effective_chat is not None:
        return update.effective_chat.id
    return None


class ChatOrderedProcessor(BaseUpdateProcessor):
    """At most `max_concurrent_updates` at once, one at a time per chat."""

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = chat_key(update)
        if key is None:
            await coroutine
            return
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                await coroutine
        finally:
            self._release(key)

    def _release(self, key: int) -> None:
        """Forget a chat's lock when nobody holds or waits for it (memory stays flat)."""
        lock, users = self._locks[key]
        if users <= 1:
            del self._locks[key]
        else:
            self._locks[key] = (lock, users - 1)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""
