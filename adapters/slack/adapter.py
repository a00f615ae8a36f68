"""The Slack ChatAdapter: a Bolt AsyncApp behind `/slack/events` (or Socket Mode).

Every listener acks first (Bolt answers Slack as soon as `ack()` is called) and then does the
work: read the payload, look up who the user is, dispatch to the core, render the actions.
Slack's retried deliveries carry the same `event_id`, which the core dedupes; slash commands
and button presses use their `trigger_id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping
from types import TracebackType
from typing import Any, Self

import redis
from aiohttp import ClientError, ClientSession, web
from pydantic import ValidationError
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.middleware.authorization.async_single_team_authorization import (
    AsyncSingleTeamAuthorization,
)
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.signature import SignatureVerifier

from adapters.base import Dispatch
from adapters.media_links import MediaLinks
from adapters.slack import files
from adapters.slack.inbound import (
    BlockActions,
    Envelope,
    SlashCommand,
    as_command,
    read,
    strip_mentions,
    well_formed,
)
from adapters.slack.options import Credentials, SlackOptions, web_client
from adapters.slack.outbound import ADAPTER, SlackSender
from adapters.slack.workspace import Identities, Threads
from bot import replies
from bot.actions import Action
from bot.availability import store_unavailable
from bot.events import (
    Attachment,
    ButtonEvent,
    CommandEvent,
    Conversation,
    Event,
    MessageEvent,
    Speaker,
)
from pipeline import telemetry
from pipeline.errors import failure_origin

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
SHUTDOWN_GRACE_SECONDS = 10
ACK_HEADROOM_SECONDS = 0.05
"""Bolt looks for `ack()` every 10 ms; a listener steps aside this long after acking so that
the HTTP answer goes out before the listener's own work competes with it for the loop."""
DELIVERY_ERRORS = (SlackApiError, SlackClientError, ClientError, asyncio.TimeoutError, OSError)
CANNOT_POST = (
    "I couldn't post in this channel. Invite me first (`/invite @NOVACAST`), or message me "
    "directly."
)
SLACK_TROUBLE = (
    "Slack is not accepting my messages right now, so part of my answer is missing. "
    "Please try again in a minute."
)


class SlackAdapter:
    """Inbound Slack events -> core events; core actions -> Slack messages."""

    name = ADAPTER

    def __init__(
        self,
        credentials: Credentials,
        dispatch: Dispatch,
        connection: redis.Redis,
        links: MediaLinks,
        options: SlackOptions | None = None,
    ) -> None:
        self._credentials = credentials
        self._dispatch = dispatch
        self._options = options or SlackOptions()
        self._client = web_client(credentials, self._options)
        self.sender = SlackSender(self._client, connection, links, self._options)
        self._threads = Threads(connection)
        self._identities = Identities(self._client, connection)
        secret = credentials.signing_secret
        self._verifier = SignatureVerifier(secret.get_secret_value()) if secret else None
        self.app = self._bolt_app()
        self._socket: AsyncSocketModeHandler | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._open = False

    # --- lifecycle ----------------------------------------------------------------------------

    def _bolt_app(self) -> AsyncApp:
        secret = self._credentials.signing_secret
        app = AsyncApp(
            client=self._client,
            signing_secret=secret.get_secret_value() if secret else "",
            # handle_http verifies the signature before Bolt sees a request: once is enough
            request_verification_enabled=False,
            process_before_response=False,
            logger=logging.getLogger("slack_bolt.novacast"),
        )
        app.command(re.compile(r"^/"))(self._on_command)
        app.action(re.compile(r".*"))(self._on_action)
        app.event("app_mention")(self._on_mention)
        app.event("message")(self._on_message)
        app.event(re.compile(r".*"))(self._on_other_event)
        app.error(self._on_error)
        return app

    def routes(self) -> list[web.RouteDef]:
        return [] if self._credentials.socket_mode else [web.post(EVENTS_PATH, self.handle_http)]

    @property
    def connected(self) -> bool:
        if not self._open:
            return False
        if self._socket is None:
            return True
        client = self._socket.client
        session = client.current_session
        return not client.closed and session is not None and not session.closed

    async def __aenter__(self) -> Self:
        self._client.session = ClientSession()  # one connection pool for every Web API call
        app_token = self._credentials.app_token
        if app_token is not None:
            self._socket = AsyncSocketModeHandler(
                self.app, app_token.get_secret_value(), web_client=self._client
            )
            await self._socket.connect_async()  # type: ignore[no-untyped-call]
        await self._authorize_once()
        self._open = True
        return self

    async def _authorize_once(self) -> None:
        """Bolt calls auth.test on the first request and keeps the answer; in a first burst every
        request calls it at once and every ack waits for it (~300 ms for 200 commands). Ask once
        here, before the adapter reports connected; if Slack does not answer, Bolt asks later."""
        # Bolt offers no public handle on its middleware; the attribute it caches in is public.
        for middleware in self.app._async_middleware_list:
            if isinstance(middleware, AsyncSingleTeamAuthorization):
                try:
                    middleware.auth_test_result = await self._client.auth_test()
                except (SlackClientError, ClientError, TimeoutError) as error:
                    log.warning("slack: auth.test at start failed (%s); Bolt retries per request",
                                type(error).__name__)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._open = False
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
        await self.drain(SHUTDOWN_GRACE_SECONDS)
        session, self._client.session = self._client.session, None
        if session is not None:
            await session.close()

    async def drain(self, timeout: float) -> None:
        """Wait (bounded) for listeners still working after their ack."""
        pending = [t for t in self._tasks if not t.done() and t is not asyncio.current_task()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    # --- HTTP ---------------------------------------------------------------------------------

    async def handle_http(self, request: web.Request) -> web.Response:
        """`POST /slack/events`: signature first, then Bolt; bad input is a 4xx, never a 500."""
        try:
            body = (await request.read()).decode()  # above 1 MB the server answers 413
        except UnicodeDecodeError:
            return _bad_request()
        if not self._signed(body, request.headers):
            log.info("refused a Slack request without a valid signature")
            return web.Response(status=401, text="invalid request signature")
        if not well_formed(body):
            log.info("refused a signed Slack request whose body is malformed")
            return _bad_request()
        try:
            response = await self.app.async_dispatch(await to_bolt_request(request))
        except Exception as error:  # a signed payload Bolt could not route
            log.warning("rejected a malformed Slack request: %s", type(error).__name__)
            return _bad_request()
        if response.status >= 500:
            log.warning("Bolt could not handle a Slack request (status %s)", response.status)
            return _bad_request()
        return await to_aiohttp_response(response)

    def _signed(self, body: str, headers: Mapping[str, str]) -> bool:
        """Slack's signature over the body, within its 5-minute window. slack_sdk raises on a
        timestamp that is not a number or a signature that is not ASCII: that is a refusal too."""
        if self._verifier is None:
            return False
        try:
            return self._verifier.is_valid_request(body, dict(headers))
        except (ValueError, TypeError, UnicodeError):
            return False

    # --- listeners ----------------------------------------------------------------------------

    async def _acked(self, ack: Any) -> None:
        """Ack at once, then let the answer leave; the listener's task is tracked until done."""
        telemetry.event_arrived()  # the request's trace id (HTTP mode), else a new one
        await ack()
        telemetry.acked("slack")
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await asyncio.sleep(ACK_HEADROOM_SECONDS)

    async def _on_command(self, ack: Any, body: dict[str, Any], respond: AsyncRespond) -> None:
        await self._acked(ack)
        command = read(SlashCommand, body)
        if command is None:
            return
        async with self._store_guard(respond, command.channel_id, ""):
            await self._command(command, body, respond)

    async def _command(
        self, command: SlashCommand, body: dict[str, Any], respond: AsyncRespond
    ) -> None:
        name, args = command.name_and_args()
        thread = await self._command_thread(command, name, args, respond)
        if thread is None:
            return
        where = self._conversation(
            command.team_id, command.channel_id, thread, command.user_id, command.user_name
        )
        await self._run(
            where,
            lambda raw, speaker: CommandEvent(
                conversation=where,
                speaker=speaker,
                event_id=_event_id("command", command.trigger_id),
                raw=raw,
                name=name,
                args=args,
            ),
            body,
            respond,
        )

    async def _command_thread(
        self, command: SlashCommand, name: str, args: str, respond: AsyncRespond
    ) -> str | None:
        """The thread a command belongs to; `/make idea` in a channel starts a new one."""
        if command.is_dm:
            return ""
        team, channel, user = command.team_id, command.channel_id, command.user_id
        if name != "make" or not args:
            return await asyncio.to_thread(self._threads.latest, team, channel, user)
        first = self._threads.first_delivery
        if command.trigger_id and not await asyncio.to_thread(first, team, command.trigger_id):
            return None  # redelivered: the first delivery started the thread and the draft
        try:
            root = await self._client.chat_postMessage(channel=channel, text=thread_root(user))
        except DELIVERY_ERRORS as error:
            log.warning("could not start a Slack thread: %s", _reason(error))
            await self._tell(respond, CANNOT_POST)
            return None
        await asyncio.to_thread(self._threads.adopt, team, channel, str(root["ts"]), user)
        return str(root["ts"])

    async def _on_action(self, ack: Any, body: dict[str, Any], respond: AsyncRespond) -> None:
        await self._acked(ack)
        press = read(BlockActions, body)
        if press is None or press.type != "block_actions" or press.button is None:
            return
        button, channel = press.button, press.container.channel_id
        thread = "" if channel.startswith("D") else press.thread
        user = press.user
        where = self._conversation(press.team.id, channel, thread, user.id, user.username)
        async with self._store_guard(respond, channel, thread):
            await self._run(
                where,
                lambda raw, speaker: ButtonEvent(
                    conversation=where,
                    speaker=speaker,
                    event_id=_event_id("action", press.trigger_id),
                    raw=raw,
                    action=button.action.value,
                    project_id=button.project_id,
                ),
                body,
                respond,
            )

    async def _on_mention(self, ack: Any, body: dict[str, Any]) -> None:
        await self._acked(ack)
        envelope = read(Envelope, body)
        if envelope is None or not envelope.event.from_person:
            return
        event = envelope.event
        thread = "" if event.is_dm else (event.thread_ts or event.ts)
        async with self._store_guard(None, event.channel, thread):
            if thread:
                adopt = self._threads.adopt
                await asyncio.to_thread(adopt, envelope.team_id, event.channel, thread, event.user)
            await self._text(envelope, thread, body)

    async def _on_message(self, ack: Any, body: dict[str, Any], context: Any) -> None:
        await self._acked(ack)
        envelope = read(Envelope, body)
        if envelope is None or not envelope.event.from_person:
            return
        event, bot_user = envelope.event, str(context.get("bot_user_id") or "")
        if bot_user and event.user == bot_user:
            return
        async with self._store_guard(None, event.channel, event.thread_ts or ""):
            if event.is_dm:
                await self._text(envelope, "", body)
            elif await self._in_our_thread(envelope, bot_user):
                await self._text(envelope, str(event.thread_ts), body)

    async def _in_our_thread(self, envelope: Envelope, bot_user: str) -> bool:
        """A reply in a thread the bot takes part in (mentions arrive as app_mention instead)."""
        event = envelope.event
        if not event.thread_ts or (bot_user and f"<@{bot_user}" in event.text):
            return False
        is_ours = self._threads.is_ours
        return await asyncio.to_thread(is_ours, envelope.team_id, event.channel, event.thread_ts)

    async def _on_other_event(self, ack: Any) -> None:
        await ack()  # event types we do not handle: acknowledged, so Slack does not retry

    async def _on_error(self, error: Exception) -> None:
        """A listener failed after its ack: one line (where, and what), not a traceback per
        request; the user was acked already."""
        log.error("a Slack listener failed: %s at %s", type(error).__name__, failure_origin(error))

    @contextlib.asynccontextmanager
    async def _store_guard(
        self, respond: AsyncRespond | None, channel: str, thread: str
    ) -> AsyncIterator[None]:
        """Redis unavailable while an event is handled: the user hears CANNOT_SAVE (through
        the response_url when there is one, else in the conversation), never silence."""
        try:
            yield
        except redis.RedisError as error:
            if not store_unavailable(error):
                raise
            log.warning("Redis is unavailable (%s): told the Slack user", type(error).__name__)
            if respond is not None:
                await self._tell(respond, replies.CANNOT_SAVE)
                return
            try:
                await self._client.chat_postMessage(
                    channel=channel, thread_ts=thread or None, text=replies.CANNOT_SAVE
                )
            except DELIVERY_ERRORS as failure:
                log.warning("could not tell the user either: %s", _reason(failure))

    # --- the core -----------------------------------------------------------------------------

    async def _text(self, envelope: Envelope, thread: str, body: dict[str, Any]) -> None:
        event = envelope.event
        where = self._conversation(envelope.team_id, event.channel, thread, event.user)
        text = strip_mentions(event.text)
        command = None if event.files else as_command(text)
        attachments = await self._attachments(envelope)

        def build(raw: dict[str, Any], speaker: Speaker) -> Event:
            event_id = envelope.event_id
            if command is not None:
                name, args = command
                return CommandEvent(
                    conversation=where,
                    speaker=speaker,
                    event_id=event_id,
                    raw=raw,
                    name=name,
                    args=args,
                )
            return MessageEvent(
                conversation=where,
                speaker=speaker,
                event_id=event_id,
                raw=raw,
                text=text,
                attachments=attachments,
            )

        await self._run(where, build, body, None)

    async def _attachments(self, envelope: Envelope) -> list[Attachment]:
        """The message's shared files, fetched (or refused) for the core."""
        shared = envelope.event.files
        if not shared:
            return []
        async with files.fetcher_for(self._credentials) as fetcher:
            return await files.attachments(self._client, shared, fetcher)

    def _conversation(
        self, team: str, channel: str, thread: str, user: str, name: str = ""
    ) -> Conversation:
        return Conversation(
            adapter=ADAPTER,
            workspace=team,
            channel=channel,
            thread=thread,
            user=user,
            user_name=name,
        )

    async def _run(
        self,
        where: Conversation,
        build: Callable[[dict[str, Any], Speaker], Event],
        body: dict[str, Any],
        respond: AsyncRespond | None,
    ) -> None:
        """Say who the user is, dispatch, and deliver every action the core answers with."""
        identity = await self._identities.of(where.workspace, where.user)
        try:  # roles and zone from Slack's own answer (users.info), never from the payload
            event = build(body, identity.speaker(where))
        except ValidationError:
            log.info("skipped a Slack payload that makes no valid event")
            return
        for action in await self._dispatch(event):
            await self._deliver(action, where.user, respond)

    async def _deliver(self, action: Action, user: str, respond: AsyncRespond | None) -> None:
        try:
            await self.sender.send(action, user=user)
        except DELIVERY_ERRORS as error:
            log.warning("Slack did not take a %s: %s", action.kind, _reason(error))
            await self._tell(respond, SLACK_TROUBLE)

    async def _tell(self, respond: AsyncRespond | None, text: str) -> None:
        """An ephemeral note through the command's or button's response_url, when there is one."""
        if respond is None:
            return
        try:
            await respond(text=text, response_type="ephemeral", replace_original=False)
        except DELIVERY_ERRORS as error:
            log.warning("could not tell the user either: %s", _reason(error))


def thread_root(user: str) -> str:
    """The message that starts a `/make` thread; it never repeats the idea (moderation comes
    later, in the core, and a refused idea must not have been shown to the channel)."""
    return f"🎬 <@{user}> is making a video with NOVACAST — the draft follows in this thread."


def _bad_request() -> web.Response:
    return web.Response(status=400, text="malformed request")


def _event_id(kind: str, trigger_id: str) -> str:
    return f"{kind}:{trigger_id}" if trigger_id else ""


def _reason(error: BaseException) -> str:
    """What went wrong, in words that never include a token."""
    if isinstance(error, SlackApiError):
        data = error.response.data
        code = data.get("error") if isinstance(data, dict) else "no JSON body"
        return f"Slack answered {error.response.status_code} {code!r}"
    return type(error).__name__
