"""The studio's chat: `GET /ws`, one WebSocket per open chat page.

A socket belongs to a signed-in session, opened from this server's own pages (the `Origin`
header is checked: another site's page cannot open a socket with the user's cookie). It starts
with `hello` (who, what the role may do, the recent history), then:

- each client frame becomes a core event (`adapters.web.frames`), handed to `dispatch` one at a
  time; what the user typed and every action that answers it go to the conversation's stream
  (`adapters.web.outbox`), the one source of what the page shows;
- a reader forwards that stream's new entries, whoever wrote them (this bot, another replica,
  a worker posting progress), as frames; the socket that wrote an entry sends it at once
  (each entry goes out once per socket, by id).

A button or a slash command the role lacks the right for is refused before the core sees it,
with a sentence saying which roles may (the user's role is read again at every frame). A
frame that is too large closes the socket (1009); one that is not JSON or not a known frame is
answered with an `error` frame; the session is checked again at every frame, so signing out (or
a removed user) ends what an open tab can do.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import redis
import redis.asyncio as aredis
from aiohttp import WSMsgType, web

from adapters.base import Dispatch
from adapters.media_links import MediaLinks
from adapters.web.access import ADAPTER, Principal, Role
from adapters.web.frames import (
    BadFrame,
    ButtonFrame,
    TextFrame,
    error_frame,
    event_for,
    frame_of,
    history,
    read_frame,
)
from adapters.web.gate import Gate, same_origin
from adapters.web.hub import OutboxHub, Subscription
from adapters.web.outbox import Entry, WebOutbox, echo_entry
from adapters.web.pages import SECURITY_HEADERS, rights, stored
from adapters.web.sessions import COOKIE, Sessions
from bot.actions import Action, ButtonAction
from bot.events import ButtonEvent, CommandEvent, Event
from bot.intents import COMMANDS, IntentKind
from pipeline import telemetry
from pipeline.errors import failure_origin
from policy import Policy
from policy.model import RoleRight

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 16 * 1024
HISTORY_ENTRIES = 400
"""Stream entries read for a page's history (one render alone writes dozens of progress
reports, folded to one frame)."""
HISTORY_FRAMES = 60
HEARTBEAT_SECONDS = 30.0
SENT_IDS = 256
MAX_SOCKETS_PER_USER = 16
"""Open chat sockets one person may hold in one bot process (tabs, phones): more is a 429."""
BUTTON_RIGHTS: dict[ButtonAction, RoleRight] = {
    ButtonAction.APPROVE: "approve",
    ButtonAction.REJECT: "approve",
    ButtonAction.RETRY: "approve",
    ButtonAction.SCHEDULE: "schedule",
    ButtonAction.UNSCHEDULE: "schedule",
    ButtonAction.RENDER: "edit",
    ButtonAction.REVISE: "edit",
    ButtonAction.CANCEL: "edit",
}
"""The right each button needs (the core checks approvals again with the role as a group)."""
INTENT_RIGHTS: dict[str, RoleRight] = {
    IntentKind.APPROVE: "approve",
    IntentKind.REJECT: "approve",
    IntentKind.SCHEDULE: "schedule",
    IntentKind.UNSCHEDULE: "schedule",
    IntentKind.MAKE: "edit",
    IntentKind.REFINE: "edit",
    IntentKind.RENDER: "edit",
    IntentKind.CANCEL: "edit",
    IntentKind.UNDO: "edit",
}
"""The right a slash command needs, by what it means (`/publish` is an approval)."""
TROUBLE = "Something went wrong on my side, so that did nothing. Please try again in a moment."
SIGNED_OUT = "You are signed out. Open a sign-in link to continue."


def channel_of(principal: Principal) -> str:
    """The studio chat's channel: one conversation per person."""
    return f"studio:{principal.id}"


def refusal_text(policy: Policy, what: str, right: RoleRight) -> str:
    allowed = sorted(role for role, granted in policy.roles.items() if right in granted)
    who = " or ".join(allowed) or "no role"
    return f"Your role may not {what}: that needs the {right} right ({who})."


def needed(event: Event) -> tuple[str, RoleRight] | None:
    """(what, the right it needs) for a button or a slash command; None when no right beyond
    view is needed (free text is the core's to read: its own checks see the role)."""
    if isinstance(event, ButtonEvent):
        return event.action, BUTTON_RIGHTS[ButtonAction(event.action)]
    if isinstance(event, CommandEvent):
        kind = COMMANDS.get(event.name)
        right = INTENT_RIGHTS.get(kind) if kind is not None else None
        return (f"use /{event.name}", right) if right else None
    return None


def async_redis(connection: redis.Redis, *, blocking: bool = False) -> aredis.Redis:
    """An asyncio client to the same server and database as `connection`; a `blocking` one
    (for the hub's XREAD) has no socket timeout."""
    pool = connection.connection_pool
    given = pool.connection_kwargs
    accepted = inspect.signature(aredis.Redis.__init__).parameters
    kwargs: dict[str, Any] = {name: value for name, value in given.items() if name in accepted}
    if "path" in given:
        kwargs["unix_socket_path"] = given["path"]
    if issubclass(pool.connection_class, redis.SSLConnection):
        kwargs["ssl"] = True
    if blocking:
        kwargs["socket_timeout"] = None
    return aredis.Redis(**kwargs)


@dataclass
class Chat:
    """The `/ws` route and the sockets it has open."""

    gate: Gate
    dispatch: Dispatch
    connection: redis.Redis
    links: MediaLinks
    policy: Policy
    public_url: str
    sockets: set[web.WebSocketResponse] = field(default_factory=set)
    _hub: OutboxHub | None = None
    _clients: list[aredis.Redis] = field(default_factory=list)
    _open: dict[str, int] = field(default_factory=dict)
    """Open sockets per user (this process)."""

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/ws", self.socket)]

    @property
    def hub(self) -> OutboxHub:
        """Made on first use, in the server's event loop."""
        if self._hub is None:
            reader = async_redis(self.connection, blocking=True)
            writer = async_redis(self.connection)
            self._clients = [reader, writer]
            self._hub = OutboxHub(reader, writer)
        return self._hub

    async def close(self) -> None:
        for socket in list(self.sockets):
            await socket.close(code=1001, message=b"server stopping")
        if self._hub is not None:
            await self._hub.close()
            self._hub = None
        for client in self._clients:
            await client.aclose()
        self._clients = []

    async def socket(self, request: web.Request) -> web.StreamResponse:
        session = await stored(self.gate.session, request)
        if session is None:
            raise web.HTTPUnauthorized(text="Sign in first.", headers=SECURITY_HEADERS)
        if not same_origin(request, self.public_url, required=True):
            log.info("refused a WebSocket opened from another origin")
            raise web.HTTPForbidden(text="Not from this site.", headers=SECURITY_HEADERS)
        principal = session.principal
        if self.open_for(principal) >= MAX_SOCKETS_PER_USER:
            raise web.HTTPTooManyRequests(
                text="Too many open chat tabs; close one.", headers=SECURITY_HEADERS
            )
        ws = web.WebSocketResponse(max_msg_size=MAX_FRAME_BYTES, heartbeat=HEARTBEAT_SECONDS)
        await ws.prepare(request)
        self.sockets.add(ws)
        self._open[principal.user] = self.open_for(principal) + 1
        try:
            await ChatSocket(self, request, ws, principal).run()
        except redis.RedisError as error:
            log.warning("a studio socket lost Redis (%s)", type(error).__name__)
            await ws.close(code=1011, message=b"store unavailable")
        finally:
            self.sockets.discard(ws)
            self._open[principal.user] -= 1
            if not self._open[principal.user]:
                del self._open[principal.user]
        return ws

    def open_for(self, principal: Principal) -> int:
        return self._open.get(principal.user, 0)


class ChatSocket:
    """One open socket: hello, the reader of its stream, and its client frames in order."""

    def __init__(
        self, chat: Chat, request: web.Request, ws: web.WebSocketResponse, principal: Principal
    ) -> None:
        self.chat, self.request, self.ws, self.principal = chat, request, ws, principal
        self.conversation = principal.conversation(channel_of(principal))
        self.speaker = principal.speaker(self.conversation)
        self.outbox = WebOutbox(chat.connection, principal.workspace, self.conversation.channel)
        self.sent: dict[str, None] = {}
        """Ids of the entries sent on this socket lately (oldest first)."""

    async def run(self) -> None:
        telemetry.event_arrived()  # the upgrade request's trace id is the socket's own; each
        # frame then gets a new one (`on_text`), not the request's that every frame shares
        hub = self.chat.hub
        subscription = await hub.subscribe(self.outbox.key)  # before the history: see hub.py
        reader: asyncio.Task[None] | None = None
        try:
            entries, last = await asyncio.to_thread(self.outbox.recent, HISTORY_ENTRIES)
            subscription.start(last)
            await self.ws.send_json(self.hello(entries))
            reader = asyncio.create_task(self.forwarding(subscription), name="web-socket-out")
            async for message in self.ws:
                if message.type == WSMsgType.TEXT:
                    await self.on_text(message.data)
                elif message.type == WSMsgType.BINARY:
                    await self.ws.send_json(error_frame("Send text frames (JSON), not binary."))
        finally:
            hub.unsubscribe(subscription)
            if reader is not None:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader

    def hello(self, entries: list[Entry]) -> dict[str, Any]:
        principal = self.principal
        return {
            "type": "hello",
            "workspace": principal.workspace,
            "user": principal.id,
            "name": principal.name,
            "role": principal.role.value,
            "rights": rights(self.chat.policy, principal),
            "history": history(entries, self.chat.links, HISTORY_FRAMES),
        }

    async def forwarding(self, subscription: Subscription) -> None:
        """Every new entry of this conversation's stream, as a frame, until the socket closes
        (or the server stops); should that fail, the socket closes (the page reconnects)
        rather than stay open and silent."""
        try:
            async for entry in subscription.entries():
                await self.send_entry(entry)
        except Exception as error:
            log.error("a studio socket's forwarding failed: %s at %s", type(error).__name__,
                      failure_origin(error))
        await self.ws.close(code=1011, message=b"try again")

    async def send_entry(self, entry: Entry) -> None:
        """One entry as a frame, once: the socket that wrote an entry sends it at once, and the
        hub brings the same entry (for every other socket of the conversation) a moment later."""
        if entry.id in self.sent:
            return
        self.sent[entry.id] = None
        if len(self.sent) > SENT_IDS:
            del self.sent[next(iter(self.sent))]
        frame = frame_of(entry, self.chat.links)
        if frame is not None and not self.ws.closed:
            with contextlib.suppress(ConnectionResetError):
                await self.ws.send_json(frame)

    async def on_text(self, data: str) -> None:
        telemetry.event_arrived()
        try:
            frame = read_frame(data)
        except BadFrame as error:
            await self.ws.send_json(error_frame(str(error)))
            return
        if not await self.still_signed_in():
            await self.ws.send_json(error_frame(SIGNED_OUT))
            await self.ws.close(code=4401, message=b"signed out")
            return
        event = event_for(frame, self.conversation, self.speaker, f"web-{uuid.uuid4().hex}")
        if event is None:
            return
        if refused := self.refusal(event):
            await self.ws.send_json(error_frame(refused))
            return
        await self.handle(frame, event)

    async def still_signed_in(self) -> bool:
        """The socket's session and its user still exist (sign-out, a removed user); the user's
        role as it is now (a new invite may have changed it)."""
        token = self.request.cookies.get(COOKIE, "")
        principal = self.principal
        role = await self.chat.hub.role_of(
            Sessions.session_key(token), Sessions.user_key(principal.workspace, principal.id)
        )
        if role is None or role not in {known.value for known in Role}:
            return False
        if role != principal.role.value:
            self.principal = replace(principal, role=Role(role))
            self.speaker = self.principal.speaker(self.conversation)
        return True

    def refusal(self, event: Event) -> str | None:
        """The sentence refusing an event the role lacks the right for, else None."""
        wanted = needed(event)
        if wanted is None or self.principal.may(self.chat.policy, wanted[1]):
            return None
        return refusal_text(self.chat.policy, *wanted)

    async def handle(self, frame: TextFrame | ButtonFrame, event: Event) -> None:
        try:
            if isinstance(frame, TextFrame):
                text = frame.text.strip()
                (echo,) = await self.chat.hub.append(self.outbox.key, [echo_entry(text)])
                await self.send_entry(Entry(echo, echo=text))
            telemetry.acked(ADAPTER)  # the line is in the conversation: the page shows it
            await self.answer(await self.chat.dispatch(event))
        except Exception as error:
            log.error("a studio event failed: %s at %s", type(error).__name__,
                      failure_origin(error))
            await self.ws.send_json(error_frame(TROUBLE + telemetry.reference()))

    async def answer(self, actions: Iterable[Action]) -> None:
        """The core's answer into the conversation's stream, and at once on this socket."""
        shown = [(action, fields) for action in actions
                 if (fields := self.outbox.fields(action)) is not None]
        ids = await self.chat.hub.append(self.outbox.key, [fields for _, fields in shown])
        for entry_id, (action, fields) in zip(ids, shown, strict=True):
            picture = fields.get("picture", "")
            picture = picture.decode() if isinstance(picture, bytes) else picture
            await self.send_entry(Entry(entry_id, action=action, picture=picture))
