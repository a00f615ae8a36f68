"""A fake Slack: the Web API methods NOVACAST's Slack adapter calls, and a signed-request sender.

`FakeSlack` answers on 127.0.0.1 with an ephemeral port, in the documented response shapes
(`{"ok": true, ...}` / `{"ok": false, "error": "..."}`), checks the bot token, keeps the messages
it was sent, and records every request exactly as it arrived. `fail_next(n, 429, retry_after=1)`
makes the next n API calls answer like Slack's rate limiter (or a 500).

Files: `share(data, name, mimetype)` keeps a file as a user's upload would be kept and returns
its file object (as `files.info` and a `file_share` message event carry it); `GET
/files-pri/<team>-<id>/<name>` (`url_private`, and `/download/<name>` for
`url_private_download`) serves the bytes only with the bot token as a bearer credential (else a
302 to the sign-in page, as Slack answers), each request recorded in `downloads`. Uploads go
through files.getUploadURLExternal, the upload URL and files.completeUploadExternal, as
`files_upload_v2` calls them.

`SlackSigner` plays Slack's side of the Events API: it signs slash commands, event callbacks and
block_actions interactions with the signing secret (v0 HMAC-SHA256 over `v0:{ts}:{body}`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import ClientSession, web

BOT_USER = "UBOTNOVA"
BOT_ID = "BNOVACAST"
TEAM = "T0TEST"


@dataclass
class Recorded:
    """One request as the fake received it; `args` merges query, form and JSON parameters."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    args: dict[str, Any]


@dataclass
class Failure:
    status: int
    retry_after: int | None
    method: str | None


@dataclass
class Upload:
    file_id: str
    filename: str
    length: int
    data: bytes = b""
    completed: dict[str, Any] = field(default_factory=dict)


class FakeSlack:
    """The Slack Web API subset NOVACAST uses, served by aiohttp on an ephemeral local port."""

    def __init__(self, token: str, team: str = TEAM, app_token: str = "") -> None:
        self.token = token
        self.app_token = app_token
        self.sockets: list[web.WebSocketResponse] = []
        self.socket_acks: list[dict[str, Any]] = []
        self.team = team
        self.requests: list[Recorded] = []
        self.messages: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, Upload] = {}
        self.admins: set[str] = set()
        self.timezones: dict[str, str] = {}
        """user id -> the profile's `tz` (users.info); everyone else is America/Los_Angeles."""
        self.usergroups: dict[str, list[str]] = {}
        self.outside: set[str] = set()
        """Channels the bot is not a member of (chat.postMessage answers not_in_channel)."""
        self.failures: list[Failure] = []
        self.unscoped: dict[str, str] = {}
        """method -> the scope the app lacks for it (Slack answers `missing_scope`)."""
        self.files: dict[str, dict[str, Any]] = {}
        self.file_data: dict[str, bytes] = {}
        self.downloads: list[Recorded] = []
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.root = ""

    # --- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> FakeSlack:
        app = web.Application(client_max_size=2 * 1024**3)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/v1/{file_id}", self._upload)
        app.router.add_get("/files-pri/{owner}-{file_id}/{tail:.+}", self._file)
        app.router.add_post("/respond/{hook}", self._respond)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.root = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for ws in self.sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"{self.root}/api/"

    def response_url(self, hook: str) -> str:
        return f"{self.root}/respond/{hook}"

    def fail_next(
        self, count: int, status: int = 429, retry_after: int | None = 1, method: str | None = None
    ) -> None:
        """The next `count` calls (of `method`, or any) answer `status` (429 with Retry-After)."""
        self.failures.extend(Failure(status, retry_after, method) for _ in range(count))

    # --- what tests look at -------------------------------------------------------------------

    def calls(self, method: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == f"/api/{method}"]

    def posted(self) -> list[dict[str, Any]]:
        """Messages in the order chat.postMessage created them (with later chat.update edits)."""
        return list(self.messages.values())

    # --- HTTP ---------------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> Recorded:
        body = await request.read()
        args: dict[str, Any] = dict(request.query)
        content_type = request.headers.get("Content-Type", "")
        if content_type.startswith("application/json") and body:
            parsed = json.loads(body)
            args.update(parsed if isinstance(parsed, dict) else {})
        elif content_type.startswith("application/x-www-form-urlencoded"):
            args.update(parse_qsl(body.decode()))
        recorded = Recorded(request.method, request.path, dict(request.headers), body, args)
        self.requests.append(recorded)
        return recorded

    def _take_failure(self, method: str) -> Failure | None:
        for index, failure in enumerate(self.failures):
            if failure.method in (None, method):
                return self.failures.pop(index)
        return None

    async def _api(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        method = request.match_info["method"]
        failure = self._take_failure(method)
        if failure is not None:
            return _failure_response(failure)
        token = self.app_token if method == "apps.connections.open" else self.token
        if request.headers.get("Authorization") != f"Bearer {token}":
            return _error(
                "not_authed" if "Authorization" not in request.headers else "invalid_auth"
            )
        handler = _METHODS.get(method)
        if handler is None:
            return _error("unknown_method")
        if method in self.unscoped:
            needed = self.unscoped[method]
            body = {"ok": False, "error": "missing_scope", "needed": needed,
                    "provided": "commands,chat:write,files:write"}
            return web.json_response(body)
        return web.json_response(handler(self, recorded.args))

    async def _upload(self, request: web.Request) -> web.Response:
        await self._record(request)
        upload = self.uploads.get(request.match_info["file_id"])
        if upload is None:
            return web.Response(status=404, text="unknown upload")
        upload.data = await request.read()
        return web.Response(text=f"OK - {len(upload.data)}")

    def share(
        self,
        data: bytes,
        name: str,
        mimetype: str,
        *,
        user: str = "U0ALICE",
        declared: int | None = None,
        url_private: str | None = None,
    ) -> dict[str, Any]:
        """A file a user uploaded: its file object (`declared` overrides `size`; `url_private`
        overrides where Slack says it is, as a forged event would)."""
        file_id = f"F{next(self._ts):08d}"
        base = f"{self.root}/files-pri/{self.team}-{file_id}/"
        record = {
            "id": file_id,
            "created": int(time.time()),
            "timestamp": int(time.time()),
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": name.rsplit(".", 1)[-1].lower(),
            "pretty_type": mimetype.rsplit("/", maxsplit=1)[-1].upper(),
            "user": user,
            "user_team": self.team,
            "editable": False,
            "size": len(data) if declared is None else declared,
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": False,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": url_private or base + name,
            "url_private_download": url_private or base + "download/" + name,
            "permalink": f"https://novacast-test.slack.com/files/{user}/{file_id}/{name}",
            "is_starred": False,
            "has_rich_preview": False,
            "file_access": "visible",
        }
        self.files[file_id] = record
        self.file_data[file_id] = data
        return record

    async def _file(self, request: web.Request) -> web.StreamResponse:
        """`url_private(_download)`: the bytes for the bot token, a sign-in redirect otherwise."""
        recorded = Recorded(request.method, request.path, dict(request.headers), b"", {})
        self.downloads.append(recorded)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            raise web.HTTPFound(f"{self.root}/?redir=%2Ffiles-pri%2F")
        data = self.file_data.get(request.match_info["file_id"])
        if data is None or request.match_info["owner"] != self.team:
            return web.Response(status=404, text="file not found")
        mimetype = self.files[request.match_info["file_id"]]["mimetype"]
        return web.Response(body=data, content_type=mimetype)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: `hello` first, then envelopes from `push`; the app acks each one."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        hello = {
            "type": "hello",
            "num_connections": len(self.sockets),
            "debug_info": {"host": "fake-slack", "approximate_connection_time": 18060},
            "connection_info": {"app_id": "A0NOVACAST"},
        }
        await ws.send_json(hello)
        async for message in ws:
            with contextlib.suppress(ValueError):
                self.socket_acks.append(json.loads(message.data))
        return ws

    async def push(self, kind: str, payload: dict[str, Any]) -> str:
        """Send an envelope (`slash_commands`, `events_api`, `interactive`) down the socket."""
        envelope_id = f"env-{next(self._ts):06d}"
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        await self.sockets[-1].send_json(envelope)
        return envelope_id

    async def _respond(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.Response(text="ok")

    # --- methods ------------------------------------------------------------------------------

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def connections_open(self, _args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"{self.root.replace('http', 'ws', 1)}/socket"}

    def auth_test(self, _args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://novacast-test.slack.com/",
            "team": "NOVACAST test",
            "user": "novacast",
            "team_id": self.team,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not args.get("text") and not args.get("blocks"):
            return {"ok": False, "error": "no_text"}
        if args["channel"] in self.outside:
            return {"ok": False, "error": "not_in_channel"}
        ts = self._next_ts()
        message = {
            "type": "message",
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "ts": ts,
            "channel": args["channel"],
            "text": args.get("text", ""),
            "blocks": _blocks(args.get("blocks")),
            "thread_ts": args.get("thread_ts") or None,
            "edits": 0,
        }
        self.messages[ts] = message
        return {"ok": True, "channel": args["channel"], "ts": ts, "message": _public(message)}

    def update(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self.messages.get(str(args.get("ts")))
        if message is None or message["channel"] != args.get("channel"):
            return {"ok": False, "error": "message_not_found"}
        message["text"] = args.get("text", message["text"])
        message["blocks"] = _blocks(args.get("blocks"))
        message["edits"] += 1
        return {
            "ok": True,
            "channel": message["channel"],
            "ts": message["ts"],
            "text": message["text"],
            "message": _public(message),
        }

    def delete(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self.messages.pop(str(args.get("ts")), None)
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "channel": message["channel"], "ts": message["ts"]}

    def post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("channel") or not args.get("user"):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "message_ts": self._next_ts()}

    def get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            length = int(args["length"])
            filename = str(args["filename"])
        except (KeyError, ValueError):
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._ts):08d}"
        self.uploads[file_id] = Upload(file_id, filename, length)
        return {"ok": True, "upload_url": f"{self.root}/upload/v1/{file_id}", "file_id": file_id}

    def complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            files = json.loads(args["files"])
        except (KeyError, ValueError):
            return {"ok": False, "error": "invalid_arguments"}
        done = []
        for item in files:
            upload = self.uploads.get(item.get("id", ""))
            if upload is None or len(upload.data) != upload.length:
                return {"ok": False, "error": "file_not_found"}
            upload.completed = {**args, "title": item.get("title")}
            done.append({"id": upload.file_id, "name": upload.filename, "title": item.get("title")})
        return {"ok": True, "files": done}

    def files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        record = self.files.get(str(args.get("file", "")))
        if record is None:
            return {"ok": False, "error": "file_not_found"}
        paging = {"next_cursor": ""}
        return {"ok": True, "file": record, "comments": [], "response_metadata": paging}

    def users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("user", ""))
        if not user.startswith("U") and not user.startswith("W"):
            return {"ok": False, "error": "user_not_found"}
        admin = user in self.admins
        zone = self.timezones.get(user, "America/Los_Angeles")
        return {
            "ok": True,
            "user": {
                "id": user,
                "team_id": self.team,
                "name": user.lower(),
                "is_bot": False,
                "is_admin": admin,
                "is_owner": False,
                "is_primary_owner": False,
                "tz": zone,
                "tz_label": zone.rsplit("/", 1)[-1].replace("_", " ") + " Time",
                "tz_offset": _offset_seconds(zone),
            },
        }

    def usergroups_list(self, args: dict[str, Any]) -> dict[str, Any]:
        include = str(args.get("include_users", "")).lower() in ("1", "true")
        groups = [
            {"id": gid, "team_id": self.team, "handle": gid.lower(), "user_count": len(users)}
            | ({"users": users} if include else {})
            for gid, users in self.usergroups.items()
        ]
        return {"ok": True, "usergroups": groups}

    def usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        users = self.usergroups.get(str(args.get("usergroup", "")))
        if users is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": users}


_METHODS = {
    "apps.connections.open": FakeSlack.connections_open,
    "auth.test": FakeSlack.auth_test,
    "chat.postMessage": FakeSlack.post_message,
    "chat.update": FakeSlack.update,
    "chat.delete": FakeSlack.delete,
    "chat.postEphemeral": FakeSlack.post_ephemeral,
    "files.getUploadURLExternal": FakeSlack.get_upload_url,
    "files.completeUploadExternal": FakeSlack.complete_upload,
    "files.info": FakeSlack.files_info,
    "users.info": FakeSlack.users_info,
    "usergroups.list": FakeSlack.usergroups_list,
    "usergroups.users.list": FakeSlack.usergroups_users_list,
}


def _error(code: str) -> web.Response:
    return web.json_response({"ok": False, "error": code})


def _failure_response(failure: Failure) -> web.Response:
    if failure.status == 429:
        headers = {"Retry-After": str(failure.retry_after or 1)}
        return web.json_response({"ok": False, "error": "ratelimited"}, status=429, headers=headers)
    return web.Response(status=failure.status, text="Internal Server Error")


def _blocks(value: Any) -> list[Any]:
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, list) else []


def _public(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k not in ("edits", "channel") and v is not None}


# --- Slack's side of the Events API -----------------------------------------------------------


class SlackSigner:
    """Builds and signs requests the way Slack sends them to an app's request URL."""

    def __init__(self, secret: str, url: str, team: str = TEAM) -> None:
        self.secret = secret
        self.url = url
        self.team = team
        self._ids = itertools.count(1)

    def headers(
        self, body: bytes, *, timestamp: int | None = None, retry_num: int | None = None
    ) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        base = b"v0:" + stamp.encode() + b":" + body
        digest = hmac.new(self.secret.encode(), base, hashlib.sha256).hexdigest()
        headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}
        if retry_num is not None:
            headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return headers

    def command(
        self, text: str, *, user: str, channel: str, command: str = "/make", response_url: str = ""
    ) -> bytes:
        """A slash command as Slack posts it (application/x-www-form-urlencoded)."""
        fields = self.command_fields(
            text, user=user, channel=channel, command=command, response_url=response_url
        )
        return urlencode(fields).encode()

    def command_fields(
        self, text: str, *, user: str, channel: str, command: str = "/make", response_url: str = ""
    ) -> dict[str, str]:
        """A slash command's fields (the Socket Mode payload; form-encoded over HTTP)."""
        n = next(self._ids)
        return {
            "token": "deprecated-verification-token",
            "team_id": self.team,
            "team_domain": "novacast-test",
            "channel_id": channel,
            "channel_name": "directmessage" if channel.startswith("D") else "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0NOVACAST",
            "is_enterprise_install": "false",
            "response_url": response_url or "https://hooks.slack.com/commands/T0TEST/1/x",
            "trigger_id": f"{n}.{n * 7}.trigger{n:04d}",
        }

    def event(self, event: dict[str, Any], *, event_id: str | None = None) -> bytes:
        """An Events API `event_callback` envelope around `event` (JSON)."""
        return json.dumps(self.callback(event, event_id=event_id)).encode()

    def callback(self, event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
        """The `event_callback` envelope as a dict (the Socket Mode `events_api` payload)."""
        n = next(self._ids)
        return {
            "token": "deprecated-verification-token",
            "team_id": self.team,
            "api_app_id": "A0NOVACAST",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{n:08d}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "team_id": self.team,
                    "user_id": BOT_USER,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }

    def button(
        self,
        value: str,
        *,
        user: str,
        message: dict[str, Any],
        action_id: str = "",
        response_url: str = "",
        extra: dict[str, Any] | None = None,
    ) -> bytes:
        """A block_actions interaction for a button on `message` (form field `payload`, JSON)."""
        n = next(self._ids)
        action = value.split(":")[1] if value.count(":") == 2 else "x"
        container = {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": message["channel"],
            "is_ephemeral": False,
        }
        if message.get("thread_ts"):
            container["thread_ts"] = message["thread_ts"]
        payload = {
            "type": "block_actions",
            "user": {
                "id": user,
                "username": user.lower(),
                "name": user.lower(),
                "team_id": self.team,
            },
            "api_app_id": "A0NOVACAST",
            "token": "deprecated-verification-token",
            "container": container,
            "trigger_id": f"{n}.{n * 7}.click{n:04d}",
            "team": {"id": self.team, "domain": "novacast-test"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": message["channel"], "name": "general"},
            "message": _public({**message, "channel": None}),
            "response_url": response_url or "https://hooks.slack.com/actions/T0TEST/1/x",
            "actions": [
                {
                    "action_id": action_id or f"novacast_{action}",
                    "block_id": "novacast_buttons",
                    "text": {"type": "plain_text", "text": action, "emoji": True},
                    "value": value,
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        return urlencode({"payload": json.dumps(payload | (extra or {}))}).encode()

    async def post(
        self,
        session: ClientSession,
        body: bytes,
        *,
        timestamp: int | None = None,
        retry_num: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        """POST `body` signed to the app's request URL; returns (status, response text)."""
        content_type = (
            "application/json" if body[:1] == b"{" else "application/x-www-form-urlencoded"
        )
        signed = {
            "Content-Type": content_type,
            **self.headers(body, timestamp=timestamp, retry_num=retry_num),
        }
        async with session.post(
            self.url, data=io.BytesIO(body), headers={**signed, **(headers or {})}
        ) as response:
            return response.status, await response.text()


def user_message(
    text: str,
    *,
    user: str,
    channel: str,
    thread_ts: str | None = None,
    channel_type: str = "channel",
) -> dict[str, Any]:
    """A `message` event as a person's message arrives (message.channels / message.im)."""
    ts = f"{time.time():.6f}"
    event = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel_type": channel_type,
        "team": TEAM,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
        event["parent_user_id"] = BOT_USER
    return event


def file_share(
    text: str,
    files: list[dict[str, Any]],
    *,
    user: str,
    channel: str,
    thread_ts: str | None = None,
    channel_type: str = "im",
) -> dict[str, Any]:
    """A `message` event with subtype `file_share`: files uploaded with an optional comment."""
    event = user_message(
        text, user=user, channel=channel, thread_ts=thread_ts, channel_type=channel_type
    )
    return {**event, "subtype": "file_share", "files": files, "upload": False}


def mention(text: str, *, user: str, channel: str, thread_ts: str | None = None) -> dict[str, Any]:
    """An `app_mention` event: `<@BOT> text`."""
    event = user_message(f"<@{BOT_USER}> {text}", user=user, channel=channel, thread_ts=thread_ts)
    event["type"] = "app_mention"
    event.pop("channel_type")
    return event


def _offset_seconds(zone: str) -> int:
    """users.info `tz_offset`: the zone's current offset from UTC, in seconds."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    offset = datetime.now(UTC).astimezone(ZoneInfo(zone)).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0
