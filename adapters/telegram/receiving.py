"""How updates reach the handlers: read tolerantly, processed concurrently but in order per chat.

`TolerantBot`: PTB parses a whole getUpdates batch at once; one malformed update makes the call
fail (any exception that is not a TelegramError: a `"date": 1e300` is an OverflowError), the
offset never moves past it, and the poller asks for the same batch again at full speed, logging
the whole batch (users' texts) at CRITICAL each time. This bot makes the same request and parses
the batch update by update: an unreadable update becomes an empty `Update` with its id (the core
skips it), logged once by id and without its content, so the offset moves on. `polled_at` is
when the last getUpdates cycle completed (for `/readyz`: a poller that stopped making progress
is not ready).

`ChatOrderedProcessor`: PTB's default processes one update at a time (slow under load) and
`concurrent_updates=True` gives up ordering (a refinement could overtake the `/make` it
refines). This runs different chats concurrently and one chat's updates in order.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Sequence
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor, ExtBot

from adapters.base import encodable

TimePeriod = float | dt.timedelta
_TIMEOUTS = ("write_timeout", "connect_timeout", "pool_timeout")

log = logging.getLogger(__name__)

PARSE_ERRORS = (
    KeyError, TypeError, ValueError, AttributeError, RecursionError, OverflowError, OSError
)
"""What reading a hostile update may raise (PTB checks no types; dates go to `fromtimestamp`,
which raises OverflowError or OSError for years out of range)."""


class Payloads:
    """The JSON each update arrived as, by update id, until its event is made (`take`): the
    event's `raw` is then the payload as Telegram sent it, not the update serialized back
    (`Update.to_dict`, ~65 µs an update, in the bot's CPU that a burst's drafts wait for). At
    most `limit` are kept; the oldest go first (an update that never reached the handler)."""

    def __init__(self, limit: int = 4096) -> None:
        self._limit = limit
        self._by_id: dict[int, dict[str, Any]] = {}

    def keep(self, update_id: int, payload: dict[str, Any]) -> None:
        if len(self._by_id) >= self._limit:
            del self._by_id[next(iter(self._by_id))]
        self._by_id[update_id] = payload

    def take(self, update_id: int) -> dict[str, Any] | None:
        return self._by_id.pop(update_id, None)

    def __len__(self) -> int:
        return len(self._by_id)


class TolerantBot(ExtBot[None]):
    """An ExtBot whose `get_updates` skips updates it cannot parse instead of failing, and
    keeps each polled update's JSON in `payloads`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        with self._unfrozen():  # PTB freezes its objects after __init__
            self._polled = [0.0]
            self.payloads = Payloads()

    @property
    def polled_at(self) -> float:
        """`time.monotonic()` when the last getUpdates call completed (0: none yet)."""
        return self._polled[0]

    async def get_updates(
        self,
        offset: int | None = None,
        limit: int | None = None,
        timeout: TimePeriod | None = None,
        allowed_updates: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> tuple[Update, ...]:
        """PTB's getUpdates (the same request and read timeout), parsed update by update.

        PTB's own parses the batch at once and, when one update cannot be read, logs the whole
        batch (users' texts) at CRITICAL and raises, so the offset never moves: here such an
        update is skipped (logged once, by id) and the rest go on."""
        data = {"offset": offset, "limit": limit, "allowed_updates": allowed_updates}
        wait = timeout.total_seconds() if isinstance(timeout, dt.timedelta) else (timeout or 0)
        base = kwargs.pop("read_timeout", None)
        if not isinstance(base, int | float):
            base = self._request[0].read_timeout or 0
        kwargs.pop("api_kwargs", None)
        batch = await self._post(
            "getUpdates",
            {"timeout": timeout, **data},
            read_timeout=base + wait,
            **{k: v for k, v in kwargs.items() if k in _TIMEOUTS},
        )
        updates = self._read(batch)
        self._polled[0] = time.monotonic()
        return updates

    def _read(self, batch: Any) -> tuple[Update, ...]:
        if not isinstance(batch, list):
            log.warning("getUpdates answered something that is not a list; ignored")
            return ()
        parsed = (self._one(item) for item in batch if isinstance(item, dict))
        updates = tuple(update for update in parsed if update is not None)
        for update in updates:
            self.insert_callback_data(update)
        return updates

    def _one(self, item: dict[str, Any]) -> Update | None:
        update_id = item.get("update_id")
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return None
        try:
            if not encodable(item):
                raise ValueError("text that cannot be encoded (a lone surrogate)")
            update = checked(Update.de_json(item, self))
        except Exception as error:  # any unreadable update is skipped, once
            log.warning(
                "skipped Telegram update %s: it could not be read (%s)",
                update_id,
                type(error).__name__,
            )
            return Update(update_id)
        self.payloads.keep(update_id, item)
        return update


def checked(update: Update) -> Update:
    """`update` when the ids PTB itself relies on are integers (it keys dicts and sets by chat
    and user id after every handler); else a ValueError. PTB checks no types on parsing."""
    chat, person = update.effective_chat, update.effective_user
    for value in (chat.id if chat else 0, person.id if person else 0):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("a chat or user id that is not an integer")
    return update


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
