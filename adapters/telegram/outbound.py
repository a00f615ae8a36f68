"""Core actions -> Telegram Bot API calls, from the bot process or a worker.

`TelegramSender` needs only a PTB `Bot` (token + API root), Redis (which message shows a
render's progress) and the signed-link maker; `sync_sender` builds one per call for workers,
with no polling or webhook. Every call goes through `retrying`: Telegram's 429 `retry_after`
is honoured, 5xx and network errors are retried with backoff, both a bounded number of times.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import redis
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError

from adapters import buttons
from adapters.media_links import MediaLinks, links_for
from adapters.progress import ProgressMessages
from adapters.telegram.settings import TelegramSettings
from adapters.telegram.transport import AiohttpRequest
from bot.actions import (
    Action,
    AskApproval,
    Button,
    JobsStarted,
    Picture,
    Preview,
    Progress,
    Say,
)
from bot.events import ReplyTarget

log = logging.getLogger(__name__)
logging.getLogger("httpx").setLevel(logging.WARNING)
"""httpx logs every request URL at INFO, and Bot API URLs carry the token."""
T = TypeVar("T")

ADAPTER = "telegram"
UPLOAD_LIMIT_BYTES = 50 * 1024 * 1024
"""The Bot API's upload limit for bots (sendVideo with a file)."""
PHOTO_LIMIT_BYTES = 10 * 1024 * 1024
"""sendPhoto's limit for an uploaded photo."""
MAX_TEXT, MAX_CAPTION = 4096, 1024
ATTEMPTS = 4
MAX_RETRY_AFTER = 30.0
"""A longer flood wait than this is not waited out: the call fails (and is reported)."""
BACKOFF = (0.25, 0.5, 1.0)
PENDING = "pending"
"""Placeholder claimed in ProgressMessages while the first progress message is being sent."""


class DeliveryFailed(Exception):
    """Telegram kept refusing a call; the message names the method, never the token."""


def api_roots(settings: TelegramSettings) -> tuple[str, str]:
    """`base_url` and `base_file_url` for PTB (it appends the token to both)."""
    root = settings.api_url.rstrip("/")
    return f"{root}/bot", f"{root}/file/bot"


@asynccontextmanager
async def rest_bot(settings: TelegramSettings) -> AsyncIterator[Bot]:
    """A REST-only Bot (no getMe, no polling) whose HTTP clients are closed on exit."""
    token = settings.bot_token
    if token is None:
        raise DeliveryFailed("TELEGRAM_BOT_TOKEN is not set")
    base, files = api_roots(settings)
    request = AiohttpRequest(write_timeout=60, read_timeout=30)
    updates = AiohttpRequest(1)
    try:
        yield Bot(
            token.get_secret_value(),
            base_url=base,
            base_file_url=files,
            request=request,
            get_updates_request=updates,
        )
    finally:
        await asyncio.gather(request.shutdown(), updates.shutdown())


def _seconds(value: int | float | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


async def retrying(what: str, call: Callable[[], Awaitable[T]]) -> T:
    """`call()`, retried on 429 (after `retry_after`) and on 5xx/network errors (backoff)."""
    for attempt in range(ATTEMPTS):
        last = attempt == ATTEMPTS - 1
        try:
            return await call()
        except RetryAfter as error:
            wait = _seconds(error.retry_after)
            if last or wait > MAX_RETRY_AFTER:
                raise DeliveryFailed(f"{what}: rate limited for {wait:.0f} s") from None
            await asyncio.sleep(wait)
        except BadRequest:
            raise
        except NetworkError as error:
            if last:
                raise DeliveryFailed(f"{what}: {type(error).__name__} after retries") from None
            await asyncio.sleep(BACKOFF[min(attempt, len(BACKOFF) - 1)])
    raise AssertionError("unreachable")


def keyboard(items: Sequence[Button]) -> InlineKeyboardMarkup | None:
    """Buttons two to a row; callback data is the stateless `nc1:<action>:<project>`."""
    if not items:
        return None
    keys = [InlineKeyboardButton(b.label, callback_data=buttons.encode(b)) for b in items]
    return InlineKeyboardMarkup([keys[i : i + 2] for i in range(0, len(keys), 2)])


def progress_text(action: Progress) -> str:
    filled = action.percent // 10
    bar = "▰" * filled + "▱" * (10 - filled)
    if action.done:
        return f"✅ Rendered — {action.percent}%\n{bar}"
    return f"⏳ Rendering: {action.stage} — {action.percent}%\n{bar}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


RENDERS = frozenset({Say, AskApproval, Progress, Preview, Picture, JobsStarted})
"""Every action type `TelegramSender.send` delivers (JobsStarted: nothing to show)."""


class TelegramSender:
    """Renders every core action on Telegram; an action it does not know fails loudly."""

    def __init__(self, bot: Bot, connection: redis.Redis, links: MediaLinks) -> None:
        self._bot = bot
        self._redis = connection
        self._progress = ProgressMessages(connection)
        self._links = links

    async def send(self, action: Action) -> None:
        if isinstance(action, Say | AskApproval):
            await self.say(action.target, action.text, action.buttons)
        elif isinstance(action, Progress):
            await self._send_progress(action)
        elif isinstance(action, Preview):
            await self._send_preview(action)
        elif isinstance(action, Picture):
            await self._send_picture(action)
        elif not isinstance(action, JobsStarted):
            raise TypeError(f"the Telegram adapter cannot render {type(action).__name__}")

    async def say(self, target: ReplyTarget, text: str, items: Sequence[Button] = ()) -> int:
        """sendMessage; the new message's id. The same request `Bot.send_message` makes, but
        the answer is not read into a `Message` (~0.12 ms of the bot's CPU per draft in a
        burst, for the one field used): PTB's `_post` still maps errors and retries stay ours."""
        params = {
            "chat_id": int(target.channel),
            "text": _clip(text, MAX_TEXT) or "…",
            "reply_markup": keyboard(items),
            "message_thread_id": _thread(target),
        }
        sent = {name: value for name, value in params.items() if value is not None}
        result = await retrying("sendMessage", lambda: self._bot._post("sendMessage", sent))
        if not isinstance(result, dict) or not isinstance(result.get("message_id"), int):
            raise DeliveryFailed("sendMessage: an answer without a message id")
        return int(result["message_id"])

    # --- progress: one message per render, edited in place by every process ------------------

    async def _send_progress(self, action: Progress) -> None:
        target, text = action.target, progress_text(action)
        claimed = await asyncio.to_thread(
            self._progress.claim, ADAPTER, target.channel, action.key, PENDING
        )
        message_id = None if claimed else await self._progress_message_id(target, action.key)
        if message_id is None:  # ours to send (or whoever claimed it never finished)
            message_id = await self.say(target, text)
            await asyncio.to_thread(
                self._progress.set, ADAPTER, target.channel, action.key, str(message_id)
            )
            return
        await self._edit(target, message_id, text)

    async def _progress_message_id(self, target: ReplyTarget, key: str) -> int | None:
        for _ in range(50):  # another process is sending the first message; wait up to 5 s
            value = await asyncio.to_thread(self._progress.get, ADAPTER, target.channel, key)
            if value is not None and value != PENDING:
                return int(value)
            await asyncio.sleep(0.1)
        return None

    async def _edit(self, target: ReplyTarget, message_id: int, text: str) -> None:
        try:
            await retrying(
                "editMessageText",
                lambda: self._bot.edit_message_text(
                    text, chat_id=int(target.channel), message_id=message_id
                ),
            )
        except BadRequest as error:
            if "not modified" not in str(error).lower():
                raise

    # --- media --------------------------------------------------------------------------------

    async def _send_preview(self, action: Preview) -> None:
        path = Path(action.path)
        size = path.stat().st_size
        if size > UPLOAD_LIMIT_BYTES:
            await self._send_link(
                action,
                path,
                f"The video is {size / 2**20:.0f} MB, over Telegram's 50 MB upload limit for bots",
            )
            return
        try:
            await retrying("sendVideo", lambda: self._upload(action, path))
        except DeliveryFailed:
            log.warning("Telegram kept refusing a video upload; posting a link instead")
            await self._send_link(action, path, "Telegram would not take the upload just now")

    async def _upload(self, action: Preview, path: Path) -> Message:
        with path.open("rb") as video:
            return await self._bot.send_video(
                int(action.target.channel),
                video,
                caption=_clip(action.caption, MAX_CAPTION),
                supports_streaming=True,
                reply_markup=keyboard(action.buttons),
                message_thread_id=_thread(action.target),
                filename=path.name,
            )

    async def _send_picture(self, action: Picture) -> None:
        """sendPhoto with the file uploaded; a picture over 10 MB goes as a document."""
        path = Path(action.path)
        if path.stat().st_size > PHOTO_LIMIT_BYTES:
            await retrying("sendDocument", lambda: self._upload_still(action, path, as_photo=False))
            return
        await retrying("sendPhoto", lambda: self._upload_still(action, path, as_photo=True))

    async def _upload_still(self, action: Picture, path: Path, *, as_photo: bool) -> Message:
        chat, thread = int(action.target.channel), _thread(action.target)
        caption = _clip(action.caption, MAX_CAPTION) or None
        with path.open("rb") as still:
            if as_photo:
                return await self._bot.send_photo(
                    chat, still, caption=caption, message_thread_id=thread, filename=path.name
                )
            return await self._bot.send_document(
                chat, still, caption=caption, message_thread_id=thread, filename=path.name
            )

    async def _send_link(self, action: Preview, path: Path, why: str) -> None:
        url = self._links.url_for(path)
        text = f"{action.caption}\n\n{why}, so here is a link instead (valid for 7 days):\n{url}"
        await self.say(action.target, text, action.buttons)


def _thread(target: ReplyTarget) -> int | None:
    return int(target.thread) if target.thread.lstrip("-").isdigit() else None


class SyncTelegramSender:
    """The worker's side: each `send` runs on a fresh event loop with a fresh HTTP client."""

    def __init__(
        self, settings: TelegramSettings, connection: redis.Redis, links: MediaLinks
    ) -> None:
        self._settings = settings
        self._redis = connection
        self._links = links

    def send(self, action: Action) -> None:
        asyncio.run(self._send(action))

    async def _send(self, action: Action) -> None:
        async with rest_bot(self._settings) as bot:
            try:
                await TelegramSender(bot, self._redis, self._links).send(action)
            except TelegramError as error:
                what = f"Telegram refused {action.kind}: {type(error).__name__}"
                raise DeliveryFailed(what) from None


def sync_sender(target: ReplyTarget, connection: redis.Redis) -> SyncTelegramSender:
    """For `adapters.outbox.sender_for`: credentials from the environment, no live connection."""
    del target  # every action carries its own target
    return SyncTelegramSender(TelegramSettings(), connection, links_for(connection))
