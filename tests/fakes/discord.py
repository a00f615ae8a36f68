"""A fake Discord: the REST routes and the gateway websocket NOVACAST's Discord adapter uses.

`FakeDiscord` answers on 127.0.0.1 with an ephemeral port, in the documented shapes
(https://discord.com/developers/docs): JSON bodies with `Content-Type: application/json`
exactly, bot-token checks on bot routes and none on interaction/webhook routes, the
`?with_response=1` interaction callback body `{"interaction": …, "resource": …}`, the first
followup after a deferred (type 5) response editing the loading message, threads started from
a message sharing its id. `fail_next(n, 429)` answers the next n calls like Discord's rate
limiter (with `Via` and `retry_after`), or with any other status.

The gateway speaks v10 JSON with `zlib-stream` transport compression when asked: HELLO,
IDENTIFY → READY (guilds unavailable) → GUILD_CREATE, heartbeat ACKs, and `push(...)`
for INTERACTION_CREATE / MESSAGE_CREATE (or anything else, malformed on purpose).
Every REST request is recorded as it arrived (`requests`), with the time it was received.

The CDN: `attachment(data, filename, content_type)` keeps a file as a user's upload would be
kept and returns its attachment object (id, filename, size, url, proxy_url, content_type, and
width/height for images and video) to put in a MESSAGE_CREATE; `GET
/attachments/<channel>/<id>/<filename>` serves the bytes (recorded in `cdn_downloads`). Files
the bot uploads (multipart) are served there too.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import mimetypes
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import BodyPartReader, WSMsgType, web

API = "/api/v10"
MANAGE_GUILD = 1 << 5
SEND_MESSAGES = 1 << 11
LOADING = 1 << 7
GUILD_ID = "900000000000000001"
EDITOR_ROLE = "900000000000000021"


@dataclass
class Recorded:
    """One REST request: `json` is the JSON body or multipart `payload_json`; `files` uploads."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    files: dict[str, bytes] = field(default_factory=dict)
    at: float = 0.0
    status: int = 0
    """The status the fake answered with (0 while it is still being answered)."""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Failure:
    status: int
    path_contains: str
    retry_after: float
    via: bool


@dataclass
class Interaction:
    id: str
    token: str
    channel_id: str
    acked: bool = False
    deferred: bool = False
    original_id: str = ""
    pushed_at: float = 0.0
    acked_at: float = 0.0


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(body).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def user(user_id: str, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": user_id,
        "username": name,
        "discriminator": "0",
        "global_name": name.title(),
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
    }


class FakeDiscord:
    """Discord's REST API subset and gateway, served by aiohttp on an ephemeral local port."""

    def __init__(self, token: str, guild_id: str = GUILD_ID) -> None:
        self.token = token
        self.guild_id = guild_id
        self.app_id = "800000000000000001"
        self.bot = user("800000000000000001", "novacast", bot=True)
        self.dm_user = user("700000000000000009", "dee")
        self.channel_id = "900000000000000010"
        self.admin_role = "900000000000000020"
        self.editor_role = EDITOR_ROLE
        self.requests: list[Recorded] = []
        self.messages: dict[str, dict[str, dict[str, Any]]] = {}
        self.threads: dict[str, dict[str, Any]] = {}
        self.interactions: dict[str, Interaction] = {}
        self.commands: list[dict[str, Any]] = []
        self.failures: list[Failure] = []
        self.identifies: list[dict[str, Any]] = []
        self._ids = itertools.count(int(time.time() * 1000) << 22)
        self._sockets: list[_Session] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.root = ""
        self.cdn_files: dict[str, bytes] = {}
        """CDN path -> bytes."""
        self.cdn_downloads: list[str] = []
        self.heartbeat_interval_ms = 41250
        """What HELLO tells the client (a test may shorten it)."""
        self.acks_heartbeats = True
        """False: heartbeats go unacknowledged, as from a gateway that stopped making progress."""

    # --- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> FakeDiscord:
        app = web.Application(client_max_size=64 * 1024**2)
        app.router.add_get("/gateway/", self._gateway)
        app.router.add_route("*", API + "/{tail:.*}", self._rest)
        app.router.add_get("/attachments/{channel}/{id}/{filename}", self._cdn)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)  # a burst of 200 connects
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.root = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        for session in list(self._sockets):
            await session.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return self.root + API

    @property
    def gateway_url(self) -> str:
        return self.root.replace("http://", "ws://") + "/gateway/"

    def env(self) -> dict[str, str]:
        """The variables that point a NOVACAST process (a worker) at this fake."""
        return {
            "DISCORD_BOT_TOKEN": self.token,
            "DISCORD_API_URL": self.api_url,
            "DISCORD_GATEWAY_URL": self.gateway_url,
        }

    def next_id(self) -> str:
        return str(next(self._ids))

    def fail_next(
        self, count: int, status: int = 429, *, path_contains: str = "", retry_after: float = 0.05,
        via: bool = True,
    ) -> None:
        self.failures.extend(Failure(status, path_contains, retry_after, via) for _ in range(count))

    def forget(self) -> None:
        """Drop what was recorded so far (a long benchmark measures the bot, not the fake)."""
        self.requests.clear()
        self.messages.clear()
        self.interactions.clear()
        self.threads.clear()

    # --- waiting ------------------------------------------------------------------------------

    def calls(self, method: str, contains: str = "") -> list[Recorded]:
        return [r for r in self.requests if r.method == method and contains in r.path]

    async def wait_for(
        self, method: str, contains: str, count: int = 1, timeout: float = 10.0, text: str = "",
        *, answered_ok: bool = True,
    ) -> list[Recorded]:
        """The first `count` matching requests (whose content includes `text`, and which were
        answered with a 2xx unless `answered_ok` is False), or an error saying what was seen."""

        def found() -> list[Recorded]:
            hits = [
                r for r in self.calls(method, contains)
                if text in _content(r) and r.status and (r.ok or not answered_ok)
            ]
            return hits if len(hits) >= count else []

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(found), timeout)
            except TimeoutError:
                seen = [(r.method, r.path, _content(r)[:80]) for r in self.requests[-12:]]
                raise AssertionError(
                    f"no {count}× {method} …{contains}… containing {text!r} in {timeout}s; "
                    f"last requests: {seen}"
                ) from None
        return found()[:count]

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # --- documented objects -------------------------------------------------------------------

    def member(
        self, user_id: str, name: str, roles: list[str] | None = None, permissions: int = 0
    ) -> dict[str, Any]:
        return {
            "user": user(user_id, name),
            "roles": roles or [],
            "joined_at": _now(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": None,
            "avatar": None,
            "premium_since": None,
            "permissions": str(permissions),
        }

    def role(self, role_id: str, name: str, permissions: int, position: int) -> dict[str, Any]:
        return {
            "id": role_id, "name": name, "color": 0, "hoist": False, "icon": None,
            "unicode_emoji": None, "position": position, "permissions": str(permissions),
            "managed": False, "mentionable": False, "flags": 0,
        }

    def text_channel(self) -> dict[str, Any]:
        return {
            "id": self.channel_id, "type": 0, "guild_id": self.guild_id, "name": "general",
            "position": 0, "permission_overwrites": [], "parent_id": None, "nsfw": False,
            "topic": None, "last_message_id": None, "rate_limit_per_user": 0, "flags": 0,
        }

    def guild(self) -> dict[str, Any]:
        everyone = SEND_MESSAGES | (1 << 10)
        return {
            "id": self.guild_id, "name": "Test Guild", "icon": None, "owner_id": "1",
            "region": "eu", "afk_channel_id": None, "afk_timeout": 300, "verification_level": 0,
            "default_message_notifications": 0, "explicit_content_filter": 0, "features": [],
            "mfa_level": 0, "application_id": None, "system_channel_id": None,
            "system_channel_flags": 0, "rules_channel_id": None, "vanity_url_code": None,
            "description": None, "banner": None, "premium_tier": 0, "preferred_locale": "en-US",
            "public_updates_channel_id": None, "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "emojis": [], "stickers": [], "unavailable": False, "member_count": 3, "large": False,
            "joined_at": _now(), "voice_states": [], "presences": [], "stage_instances": [],
            "guild_scheduled_events": [], "soundboard_sounds": [],
            "roles": [
                self.role(self.guild_id, "@everyone", everyone, 0),
                self.role(self.admin_role, "Admins", MANAGE_GUILD, 2),
                self.role(self.editor_role, "Editors", SEND_MESSAGES, 1),
            ],
            "channels": [self.text_channel()],
            "threads": list(self.threads.values()),
            "members": [self.member(self.bot["id"], "novacast")],
        }

    def message(
        self, channel_id: str, content: str, author: dict[str, Any] | None = None, **extra: Any
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "id": self.next_id(), "channel_id": channel_id, "author": author or self.bot,
            "content": content, "timestamp": _now(), "edited_timestamp": None, "tts": False,
            "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [],
            "embeds": [], "pinned": False, "type": 0, "flags": 0, "components": [],
        }
        message.update(extra)
        return message

    def posted(self, channel_id: str, content: str, custom_ids: list[str]) -> dict[str, Any]:
        """A message the bot posted earlier (say, from a worker) with these buttons."""
        buttons = [
            {"type": 2, "style": 1, "label": cid.split(":")[1].title(), "custom_id": cid}
            for cid in custom_ids
        ]
        row = [{"type": 1, "components": buttons}]
        return self._store(self.message(channel_id, content, components=row))

    # --- the CDN ------------------------------------------------------------------------------

    def attachment(
        self,
        data: bytes,
        filename: str,
        content_type: str,
        *,
        channel_id: str = "",
        declared: int | None = None,
        url: str | None = None,
        width: int | None = None,
        height: int | None = None,
    ) -> dict[str, Any]:
        """An attachment object served by the CDN (`declared` overrides `size`, `url` where it
        says the file is)."""
        attachment_id = self.next_id()
        path = f"/attachments/{channel_id or self.channel_id}/{attachment_id}/{filename}"
        self.cdn_files[path] = data
        found: dict[str, Any] = {
            "id": attachment_id,
            "filename": filename,
            "size": len(data) if declared is None else declared,
            "url": url or self.root + path + "?ex=6a2f&is=6a2e&hm=00ff",
            "proxy_url": url or self.root.replace("127.0.0.1", "localhost") + path,
            "content_type": content_type,
        }
        if width and height:
            found |= {"width": width, "height": height}
        return found

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        self.cdn_downloads.append(request.path)
        await self._notify()
        data = self.cdn_files.get(request.path)
        if data is None:
            return web.Response(status=404, text="This content is no longer available.")
        kind = mimetypes.guess_type(request.path)[0] or "application/octet-stream"
        return web.Response(body=data, content_type=kind)

    # --- gateway ------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        session = _Session(ws, request.query.get("compress") == "zlib-stream")
        self._sockets.append(session)
        try:
            hello = {"heartbeat_interval": self.heartbeat_interval_ms}
            await session.send({"op": 10, "d": hello, "s": None, "t": None})
            async for frame in ws:
                if frame.type is WSMsgType.TEXT:
                    await self._gateway_op(session, json.loads(frame.data))
        finally:
            self._sockets.remove(session)
            await self._notify()
        return ws

    async def _gateway_op(self, session: _Session, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        if op == 1:
            if self.acks_heartbeats:
                await session.send({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            await self._identify(session, payload["d"])
        elif op == 6:
            await session.send({"op": 9, "d": False, "s": None, "t": None})

    async def _identify(self, session: _Session, data: dict[str, Any]) -> None:
        self.identifies.append({k: v for k, v in data.items() if k != "token"})
        if data.get("token") != self.token:
            await session.ws.close(code=4004, message=b"Authentication failed.")
            return
        ready = {
            "v": 10, "user": self.bot, "guilds": [{"id": self.guild_id, "unavailable": True}],
            "session_id": self.next_id(), "resume_gateway_url": self.gateway_url,
            "application": {"id": self.app_id, "flags": 0}, "private_channels": [],
            "relationships": [], "user_settings": {}, "presences": [],
        }
        await session.dispatch("READY", ready)
        await session.dispatch("GUILD_CREATE", self.guild())
        session.ready = True
        await self._notify()

    async def push(self, event: str, data: Any) -> float:
        """Dispatch one event to every session; returns when it was sent (monotonic)."""
        sent = time.monotonic()
        for session in list(self._sockets):
            await session.dispatch(event, data)
        return sent

    async def push_raw(self, payload: Any) -> None:
        """Send any frame as-is (for malformed-payload tests)."""
        for session in list(self._sockets):
            await session.send(payload)

    # --- interactions -------------------------------------------------------------------------

    def _interaction(
        self, kind: int, member: dict[str, Any] | None, channel: dict[str, Any], **extra: Any
    ) -> dict[str, Any]:
        interaction_id, token = self.next_id(), f"itoken-{self.next_id()}"
        self.interactions[interaction_id] = Interaction(interaction_id, token, channel["id"])
        body: dict[str, Any] = {
            "id": interaction_id, "application_id": self.app_id, "type": kind, "token": token,
            "version": 1, "channel_id": channel["id"], "channel": channel, "locale": "en-US",
            "app_permissions": str(SEND_MESSAGES), "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024, "context": 0,
        }
        if member is not None:
            body.update(guild_id=self.guild_id, member=member, guild_locale="en-US")
            body["authorizing_integration_owners"] = {"0": self.guild_id}
        else:  # a direct message with the bot
            body.update(user=self.dm_user, context=1)
            body["authorizing_integration_owners"] = {"1": self.dm_user["id"]}
        body.update(extra)
        return body

    def command(
        self, name: str, member: dict[str, Any] | None, options: dict[str, str] | None = None,
        channel: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An APPLICATION_COMMAND interaction (type 2); `member` None means in a DM."""
        known = {c["name"]: c.get("id", "0") for c in self.commands}
        data = {
            "id": known.get(name, self.next_id()), "name": name, "type": 1,
            "options": [{"name": k, "type": 3, "value": v} for k, v in (options or {}).items()],
        }
        where = channel or (self.text_channel() if member is not None else self.dm_channel())
        return self._interaction(2, member, where, data=data)

    def dm_channel(self) -> dict[str, Any]:
        return {"id": self.next_id(), "type": 1, "recipients": [self.dm_user],
                "last_message_id": None, "flags": 0}

    def component(
        self, message: dict[str, Any], custom_id: str, member: dict[str, Any] | None
    ) -> dict[str, Any]:
        """A MESSAGE_COMPONENT interaction (type 3): a button pressed on `message`."""
        channel = self.threads.get(message["channel_id"]) or self.text_channel()
        data = {"custom_id": custom_id, "component_type": 2}
        return self._interaction(3, member, channel, data=data, message=message)

    async def deliver(self, interaction: dict[str, Any]) -> float:
        sent = await self.push("INTERACTION_CREATE", interaction)
        state = self.interactions.get(str(interaction.get("id")))
        if state is not None and not state.pushed_at:
            state.pushed_at = sent
        return sent

    # --- REST ---------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        response = await self._answer(request.method, recorded)
        recorded.status = response.status
        await self._notify()
        return response

    async def _answer(self, method: str, recorded: Recorded) -> web.Response:
        failure = self._failure_for(recorded.path)
        if failure is not None:
            return self._fail(failure)
        if _needs_bot_auth(recorded.path) and recorded.headers.get("Authorization") != (
            f"Bot {self.token}"
        ):
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        try:
            return await self._route(method, recorded)
        except (KeyError, StopIteration):
            return _json({"message": "Unknown Message", "code": 10008}, 404)

    async def _record(self, request: web.Request) -> Recorded:
        path = request.path[len(API) :]
        body: Any = None
        files: dict[str, bytes] = {}
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                data = await part.read()
                if part.name == "payload_json":
                    body = json.loads(data)
                else:
                    files[part.filename or str(part.name)] = bytes(data)
        elif request.can_read_body:
            raw = await request.read()
            body = json.loads(raw) if raw else None
        recorded = Recorded(
            request.method, path, dict(request.query), dict(request.headers), body, files,
            time.monotonic(),
        )
        self.requests.append(recorded)
        return recorded

    def _failure_for(self, path: str) -> Failure | None:
        for failure in self.failures:
            if failure.path_contains in path:
                self.failures.remove(failure)
                return failure
        return None

    def _fail(self, failure: Failure) -> web.Response:
        if failure.status == 403:
            return _json({"message": "Missing Permissions", "code": 50013}, 403)
        if failure.status != 429:
            return _json({"message": "Internal Server Error", "code": 0}, failure.status)
        headers = {"Retry-After": str(max(1, round(failure.retry_after)))}
        if failure.via:
            headers["Via"] = "1.1 google"
        body = {"message": "You are being rate limited.", "retry_after": failure.retry_after,
                "global": False}
        return _json(body, 429, headers)

    async def _route(self, method: str, r: Recorded) -> web.Response:
        parts = r.path.strip("/").split("/")
        handler = {
            ("GET", "users"): self._get_me,
            ("GET", "oauth2"): self._get_app,
            ("GET", "gateway"): self._get_gateway,
            ("PUT", "applications"): self._put_commands,
            ("POST", "interactions"): self._callback,
        }.get((method, parts[0]))
        if handler is not None:
            return await handler(r, parts)
        if parts[0] == "webhooks":
            return await self._webhook(method, r, parts)
        if parts[0] == "channels":
            return await self._channel(method, r, parts)
        return _json({"message": "404: Not Found", "code": 0}, 404)

    async def _get_me(self, _r: Recorded, _parts: list[str]) -> web.Response:
        return _json(self.bot)

    async def _get_app(self, _r: Recorded, _parts: list[str]) -> web.Response:
        return _json({
            "id": self.app_id, "name": "NOVACAST", "icon": None, "description": "",
            "bot_public": True, "bot_require_code_grant": False, "verify_key": "0" * 64,
            "owner": user("1", "owner"), "team": None, "flags": 0, "summary": "",
            "interactions_endpoint_url": None, "bot": self.bot,
        })

    async def _get_gateway(self, _r: Recorded, parts: list[str]) -> web.Response:
        body: dict[str, Any] = {"url": self.gateway_url.rstrip("/")}
        if parts[-1] == "bot":
            body |= {"shards": 1, "session_start_limit": {
                "total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}}
        return _json(body)

    async def _put_commands(self, r: Recorded, _parts: list[str]) -> web.Response:
        self.commands = [
            {**c, "id": self.next_id(), "application_id": self.app_id, "version": self.next_id(),
             "default_member_permissions": None, "type": c.get("type", 1)}
            for c in r.json or []
        ]
        return _json(self.commands)

    async def _callback(self, r: Recorded, parts: list[str]) -> web.Response:
        state = self.interactions.get(parts[1])
        if state is None or state.token != parts[2]:
            return _json({"message": "Unknown interaction", "code": 10062}, 404)
        if state.acked:
            return _json(
                {"message": "Interaction has already been acknowledged.", "code": 40060}, 400
            )
        state.acked, state.acked_at = True, r.at
        kind = int(r.json["type"])
        resource: dict[str, Any] = {"type": kind}
        if kind in (4, 5):
            flags = int((r.json.get("data") or {}).get("flags") or 0)
            content = (r.json.get("data") or {}).get("content", "") if kind == 4 else ""
            flags |= LOADING if kind == 5 else 0
            message = self._store(self.message(state.channel_id, content, flags=flags))
            state.original_id, state.deferred = message["id"], kind == 5
            resource["message"] = message
        if r.query.get("with_response") not in ("1", "true", "True"):
            return web.Response(status=204)
        interaction = {
            "id": state.id, "type": 2, "response_message_id": state.original_id or None,
            "response_message_loading": kind == 5, "response_message_ephemeral": False,
        }
        return _json({"interaction": interaction, "resource": resource})

    def _state_for_token(self, token: str) -> Interaction:
        """The interaction a webhook token belongs to (StopIteration → 404 Unknown Webhook)."""
        return next(i for i in self.interactions.values() if i.token == token)

    async def _webhook(self, method: str, r: Recorded, parts: list[str]) -> web.Response:
        state = self._state_for_token(parts[2])
        if not state.acked:
            return _json({"message": "Unknown Webhook", "code": 10015}, 404)
        if method == "POST" and state.deferred:  # the first followup edits the loading message
            state.deferred = False
            return _json(self._edit(state.channel_id, state.original_id, r.json, r.files))
        if method == "POST":
            return _json(self._store(self._from_body(state.channel_id, r.json, r.files)))
        target = state.original_id if parts[-1] == "@original" else parts[-1]
        if method == "PATCH":
            return _json(self._edit(state.channel_id, target, r.json, r.files))
        if method == "DELETE":
            self.messages.get(state.channel_id, {}).pop(target, None)
            return web.Response(status=204)
        return _json(self.messages[state.channel_id][target])

    async def _channel(self, method: str, r: Recorded, parts: list[str]) -> web.Response:
        channel_id = parts[1]
        if method == "POST" and parts[-1] == "threads":
            return await self._start_thread(channel_id, parts[3], r.json or {})
        if method == "POST":
            return _json(self._store(self._from_body(channel_id, r.json, r.files)))
        if method == "PATCH":
            return _json(self._edit(channel_id, parts[3], r.json, r.files))
        if method == "DELETE":
            self.messages.get(channel_id, {}).pop(parts[3], None)
            return web.Response(status=204)
        return _json(self.messages[channel_id][parts[3]])

    async def _start_thread(
        self, channel_id: str, message_id: str, body: dict[str, Any]
    ) -> web.Response:
        thread = {
            "id": message_id, "type": 11, "guild_id": self.guild_id, "parent_id": channel_id,
            "owner_id": self.bot["id"], "name": body.get("name", "thread"),
            "last_message_id": None, "message_count": 0, "member_count": 1,
            "rate_limit_per_user": 0, "flags": 0, "total_message_sent": 0,
            "thread_metadata": {"archived": False, "auto_archive_duration": 1440,
                                "archive_timestamp": _now(), "locked": False},
        }
        self.threads[message_id] = thread
        await self.push("THREAD_CREATE", {**thread, "newly_created": True})
        return _json(thread, 201)

    def _from_body(self, channel_id: str, body: Any, files: dict[str, bytes]) -> dict[str, Any]:
        body = body or {}
        return self.message(
            channel_id, body.get("content") or "", flags=int(body.get("flags") or 0),
            components=body.get("components") or [], attachments=self._uploaded(files, channel_id),
        )

    def _uploaded(self, files: dict[str, bytes], channel_id: str) -> list[dict[str, Any]]:
        """Attachment objects for files the bot uploaded, now served by the CDN."""
        return [
            self.attachment(
                data, name, mimetypes.guess_type(name)[0] or "application/octet-stream",
                channel_id=channel_id,
            )
            for name, data in files.items()
        ]

    def _store(self, message: dict[str, Any]) -> dict[str, Any]:
        self.messages.setdefault(message["channel_id"], {})[message["id"]] = message
        return message

    def _edit(
        self, channel_id: str, message_id: str, body: Any, files: dict[str, bytes]
    ) -> dict[str, Any]:
        message = self.messages[channel_id][message_id]
        body = body or {}
        for key in ("content", "components"):
            if key in body:
                message[key] = body[key] or ([] if key == "components" else "")
        message["flags"] = int(message.get("flags", 0)) & ~LOADING
        if files:
            message["attachments"] = self._uploaded(files, channel_id)
        message["edited_timestamp"] = _now()
        return message


class _Session:
    """One gateway connection: sequence numbers and optional zlib-stream compression."""

    def __init__(self, ws: web.WebSocketResponse, compress: bool) -> None:
        self.ws = ws
        self.seq = 0
        self.ready = False
        self._zlib = zlib.compressobj() if compress else None

    async def send(self, payload: Any) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        if self.ws.closed:
            return
        if self._zlib is None:
            await self.ws.send_str(text)
            return
        data = self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
        await self.ws.send_bytes(data)

    async def dispatch(self, event: str, data: Any) -> None:
        self.seq += 1
        await self.send({"op": 0, "s": self.seq, "t": event, "d": data})


def _needs_bot_auth(path: str) -> bool:
    """Interaction callbacks and webhook routes are authorised by their token, not the bot's."""
    return not path.startswith(("/interactions/", "/webhooks/"))


def _content(r: Recorded) -> str:
    body = r.json if isinstance(r.json, dict) else {}
    return str(body.get("content") or "")
