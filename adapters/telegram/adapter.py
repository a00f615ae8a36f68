"""The Telegram ChatAdapter: a PTB Application fed by long polling or by our webhook route.

Lifecycle: `async with adapter:` initializes the Application (getMe), registers the commands
(setMyCommands), then starts polling (deleteWebhook + getUpdates) or registers the webhook
(setWebhook with the secret token). Each update becomes a core event; its actions go out
through `TelegramSender`; every callback query is answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import redis
from aiohttp import web
from telegram import BotCommand, CallbackQuery, ChatMember, Message, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from adapters.base import Dispatch, encodable
from adapters.incoming import Fetcher
from adapters.media_links import MediaLinks
from adapters.telegram import inbound, media
from adapters.telegram.outbound import DeliveryFailed, TelegramSender, retrying
from adapters.telegram.receiving import (
    PARSE_ERRORS,
    ChatOrderedProcessor,
    Payloads,
    TolerantBot,
    checked,
)
from adapters.telegram.transport import AiohttpRequest
from bot.actions import Action, Say
from bot.events import Event, MessageEvent, ReplyTarget, Speaker
from pipeline import telemetry
from pipeline.errors import failure_origin

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
ALLOWED_UPDATES = ["message", "callback_query"]
ADMIN_STATUSES = frozenset({ChatMember.ADMINISTRATOR, ChatMember.OWNER})
ADMIN_CACHE_SECONDS = 60
MAX_CONCURRENT = 256
SEND_CONNECTIONS = 64
"""Kept-alive connections to the Bot API; more calls at once wait for one (aiohttp's pool)."""
CORE_SLOTS = 2
"""Events in the core at once: the core is CPU-bound Python in threads, and more threads only
starve the event loop that acknowledges webhooks and answers button presses."""
STALL_GRACE_SECONDS = 20.0
"""A long poll returns within its timeout; this much longer without one completed getUpdates
(a wedged loop, a Bot API that stopped answering) and `/readyz` turns red."""
ANSWER_WITHIN = 0.3
"""Seconds a button press waits for the core before its callback query is answered silently
(a later refusal then arrives as a message instead of an alert)."""
COMMANDS = [
    BotCommand("make", "Make a short video: /make 40s on octopus hearts, playful"),
    BotCommand("status", "Where your current video is"),
    BotCommand("schedules", "List scheduled videos"),
    BotCommand("assets", "Your photos and clips: /assets, /assets delete 2"),
    BotCommand("help", "What I can do"),
]
NOT_DELIVERED = "Telegram did not accept my reply just now. Please try again in a minute."
STALE_BUTTON = "This button is not one I know any more."

App = Application[Any, Any, Any, Any, Any, Any]


class StartFailed(RuntimeError):
    """The adapter could not start; the message says what to fix and holds no secret."""


@dataclass(frozen=True)
class TelegramConfig:
    """What the adapter needs from the settings; the token and secret stay out of reprs."""

    token: str
    base_url: str
    base_file_url: str
    webhook_url: str | None = None
    webhook_secret: str | None = None
    poll_timeout: int = 10
    stall_grace: float = STALL_GRACE_SECONDS

    def __repr__(self) -> str:
        return f"TelegramConfig(base_url={self.base_url!r}, webhook_url={self.webhook_url!r})"


def build_application(config: TelegramConfig) -> App:
    bot = TolerantBot(
        config.token,
        base_url=config.base_url,
        base_file_url=config.base_file_url,
        request=AiohttpRequest(SEND_CONNECTIONS, write_timeout=60),
        get_updates_request=AiohttpRequest(1),
    )
    builder = ApplicationBuilder().bot(bot).concurrent_updates(ChatOrderedProcessor(MAX_CONCURRENT))
    if config.webhook_url:
        builder = builder.updater(None)
    return builder.build()


class TelegramAdapter:
    """Telegram inbound (polling or webhook) and outbound, as one async context."""

    name = "telegram"

    def __init__(
        self, config: TelegramConfig, dispatch: Dispatch, connection: redis.Redis, links: MediaLinks
    ) -> None:
        self._config = config
        self._dispatch = dispatch
        self._redis = connection
        self._app = build_application(config)
        self._payloads: Payloads = self._app.bot.payloads
        self._app.add_handler(TypeHandler(Update, self._on_update))
        self._app.add_error_handler(self._on_error)
        self._sender = TelegramSender(self._app.bot, connection, links)
        self._me: inbound.BotIdentity | None = None
        self._running = False
        self._core_slots = asyncio.Semaphore(CORE_SLOTS)
        self._started_at = time.monotonic()
        self.stalled_after = config.poll_timeout + config.stall_grace

    @property
    def connected(self) -> bool:
        """Started, and (when polling) a getUpdates cycle completed within `stalled_after`."""
        updater = self._app.updater
        if not self._running or (updater is not None and not updater.running):
            return False
        return updater is None or not self.stalled

    @property
    def stalled(self) -> bool:
        """Polling, and no getUpdates cycle completed for `stalled_after` seconds."""
        bot = self._app.bot
        if self._app.updater is None or not isinstance(bot, TolerantBot):
            return False
        since = bot.polled_at or self._started_at
        return time.monotonic() - since > self.stalled_after

    def routes(self) -> list[web.RouteDef]:
        return [web.post(WEBHOOK_PATH, self._webhook)] if self._config.webhook_url else []

    # --- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        try:
            await self._start()
        except BaseException:
            await self.__aexit__(None, None, None)
            await self._app.bot.shutdown()  # closes the HTTP clients a failed getMe left open
            raise
        self._running = True
        self._started_at = time.monotonic()
        return self

    async def _start(self) -> None:
        try:
            await retrying("getMe", self._app.initialize)
        except InvalidToken:  # PTB's message quotes the token: never let it out
            raise StartFailed(
                "Telegram rejected TELEGRAM_BOT_TOKEN; check it with @BotFather "
                "(and TELEGRAM_API_URL if you changed it)"
            ) from None
        me = self._app.bot.bot
        self._me = inbound.BotIdentity(me.id, me.username or "")
        await self._app.start()
        await retrying("setMyCommands", lambda: self._app.bot.set_my_commands(COMMANDS))
        await self._start_receiving()

    async def _start_receiving(self) -> None:
        bot, config = self._app.bot, self._config
        if config.webhook_url:
            await retrying(
                "setWebhook",
                lambda: bot.set_webhook(
                    config.webhook_url or "",
                    secret_token=config.webhook_secret,
                    allowed_updates=ALLOWED_UPDATES,
                ),
            )
            return
        assert self._app.updater is not None
        await self._app.updater.start_polling(
            poll_interval=0, timeout=config.poll_timeout, allowed_updates=ALLOWED_UPDATES
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._running = False
        if self._app.updater is not None and self._app.updater.running:
            await self._app.updater.stop()
        if self._app.running:
            await self._app.stop()
        await self._app.shutdown()

    # --- webhook ------------------------------------------------------------------------------

    async def _webhook(self, request: web.Request) -> web.Response:
        """Secret first (403, body unread), then the body (413/400), then queue it (200)."""
        if not self._secret_ok(request.headers.get(SECRET_HEADER, "")):
            raise web.HTTPForbidden(text="wrong or missing secret token")
        if not self._running:
            raise web.HTTPServiceUnavailable(text="not ready")
        update = self._parse(await request.read())
        if update is None:
            log.info("refused a Telegram webhook body that is not a readable update")
            raise web.HTTPBadRequest(text="not a Telegram update")
        await self._app.update_queue.put(update)
        telemetry.acked("telegram")
        return web.Response(text="ok")

    def _secret_ok(self, given: str) -> bool:
        expected = (self._config.webhook_secret or "").encode()
        return bool(expected) and hmac.compare_digest(given.encode(), expected)

    def _parse(self, body: bytes) -> Update | None:
        try:
            payload = json.loads(body)
            if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int):
                return None
            if not encodable(payload):
                return None
            update = checked(Update.de_json(payload, self._app.bot))
        except PARSE_ERRORS:
            return None
        self._payloads.keep(update.update_id, payload)
        return update

    # --- one update ---------------------------------------------------------------------------

    async def _on_update(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        assert self._me is not None
        telemetry.event_arrived()
        query = update.callback_query
        raw = self._payloads.take(update.update_id)
        try:
            event = inbound.to_event(update, self._me, raw)
        except PARSE_ERRORS as error:  # a payload our events refuse, or wrong types PTB let by
            log.info("skipped Telegram update %s: %s", update.update_id, type(error).__name__)
            event = None
        if event is None:
            if query is not None:
                await self._answer(query, STALE_BUTTON if query.data else "")
            return
        event = await self._with_speaker(event, update)
        if isinstance(event, MessageEvent) and update.message is not None:
            event = await self._with_files(event, update.message)
        running = asyncio.ensure_future(self._run(event))
        if query is not None and not await _within(running, ANSWER_WITHIN):
            await self._answer(query, "")
            query = None
        await self._deliver(event, await running, query)

    async def _run(self, event: Event) -> list[Action]:
        try:
            async with self._core_slots:
                return await self._dispatch(event)
        except Exception:
            log.exception("the core failed on a Telegram %s event", event.kind)
            return []

    async def _deliver(
        self, event: Event, actions: list[Action], query: CallbackQuery | None
    ) -> None:
        notice = next((a for a in actions if isinstance(a, Say) and a.ephemeral), None)
        if query is not None:
            await self._answer(query, notice.text if notice else "")
            actions = [a for a in actions if a is not notice]
        for action in actions:
            try:
                await self._sender.send(action)
            except (DeliveryFailed, TelegramError, OSError) as error:
                log.warning("could not deliver a %s on Telegram: %s", action.kind, _name(error))
                await self._tell_failure(ReplyTarget.of(event.conversation))
                return

    async def _answer(self, query: CallbackQuery, text: str) -> None:
        """Every callback query is answered: a refusal as an alert, else a silent ack."""
        try:
            await retrying(
                "answerCallbackQuery",
                lambda: query.answer(text[:200] or None, show_alert=bool(text)),
            )
            telemetry.acked("telegram")
        except (DeliveryFailed, TelegramError) as error:
            log.warning("could not answer a Telegram callback query: %s", _name(error))

    async def _tell_failure(self, target: ReplyTarget) -> None:
        try:
            await self._sender.say(target, NOT_DELIVERED)
        except (DeliveryFailed, TelegramError):
            log.warning("Telegram is refusing messages; the user could not be told")

    async def _on_error(self, _update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        log.error("a Telegram update failed: %s at %s", _name(error), failure_origin(error))

    async def _with_files(self, event: MessageEvent, message: Message) -> MessageEvent:
        """The message's photo, video, animation or document, fetched (or refused) for the core."""
        if not inbound.has_media(message):
            return event
        async with Fetcher(inbound.ADAPTER, origins=[self._config.base_file_url]) as fetcher:
            found = await media.attachments(self._app.bot, message, fetcher)
        return event.model_copy(update={"attachments": found})

    # --- who is an admin ----------------------------------------------------------------------

    async def _with_speaker(self, event: Event, update: Update) -> Event:
        """Who is speaking: group admins (getChatMember, cached briefly) for the approval
        policy; Telegram tells no time zone."""
        chat = update.effective_chat
        if chat is None or chat.type == chat.PRIVATE:
            return event
        admin = await self._is_admin(chat.id, int(event.conversation.user))
        speaker = Speaker.of(event.conversation, is_admin=admin)
        return event.model_copy(update={"speaker": speaker})

    async def _is_admin(self, chat_id: int, user_id: int) -> bool:
        key = f"novacast:telegram:admin:{chat_id}:{user_id}"
        try:
            cached = await asyncio.to_thread(self._redis.get, key)
        except redis.RedisError:
            return False  # the core will say it cannot work without Redis
        if cached is not None:
            return bool(cached == b"1")
        try:
            member = await retrying(
                "getChatMember", lambda: self._app.bot.get_chat_member(chat_id, user_id)
            )
        except (DeliveryFailed, TelegramError) as error:
            log.warning("could not look up a Telegram chat member: %s", _name(error))
            return False
        admin = member.status in ADMIN_STATUSES
        with contextlib.suppress(redis.RedisError):
            await asyncio.to_thread(self._redis.set, key, int(admin), ex=ADMIN_CACHE_SECONDS)
        return admin


async def _within(task: asyncio.Future[list[Action]], seconds: float) -> bool:
    """True when `task` finished within `seconds` (it keeps running either way)."""
    done, _pending = await asyncio.wait({task}, timeout=seconds)
    return bool(done)


def _name(error: BaseException | None) -> str:
    """An error for the log: its class and Telegram's description, never a URL or token."""
    if isinstance(error, DeliveryFailed):
        return str(error)
    if isinstance(error, InvalidToken):
        return "InvalidToken"  # PTB may quote the token in this one
    if isinstance(error, TelegramError):
        return f"{type(error).__name__}: {error.message[:200]}"
    return type(error).__name__
