"""A fake Telegram Bot API on aiohttp, after core.telegram.org/bots/api.

Routes `/bot<token>/<method>` (form, multipart or JSON parameters, like the real server) and
records every request. Tests inject updates (served by getUpdates long polling, or POSTed to
the webhook registered with setWebhook, secret header included), make the next N calls of a
method fail (429 with `retry_after`, 500), and set chat members' statuses.

Files: `add_file(data)` stores bytes under a new file_id (as a user's upload would be);
`photo_update`/`media_update` make messages carrying them (declared sizes may be set apart
from the real ones). getFile answers `file_path`, and `GET /file/bot<token>/<file_path>`
serves the bytes (recorded in `downloads`); the cloud Bot API's 20 MB getFile limit is kept.
sendPhoto and sendDocument take multipart uploads like sendVideo.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

TOKEN = "123456:TEST-token-not-real-0123456789abcdef"
BOT_ID = 123456
BOT_USERNAME = "novacast_bot"
JSONDict = dict[str, Any]


@dataclass
class Call:
    """One request the SDK sent: the method, its decoded parameters, uploaded files' bytes."""

    method: str
    params: JSONDict
    files: dict[str, bytes] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)
    result: Any = None
    """What the fake answered (`ok: true` calls only), e.g. the Message a sendMessage made."""
    answered: bool = False


@dataclass
class StoredFile:
    """A file on the fake's file server."""

    file_id: str
    unique_id: str
    file_path: str
    data: bytes


class ApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after


def user(user_id: int, first_name: str = "Ada", username: str | None = None) -> JSONDict:
    found: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
    return {**found, "username": username} if username else found


def private_chat(person: JSONDict) -> JSONDict:
    return {"id": person["id"], "type": "private", "first_name": person["first_name"]}


def group_chat(chat_id: int, title: str = "Creators") -> JSONDict:
    return {"id": chat_id, "type": "supergroup", "title": title}


def _entities(text: str) -> list[JSONDict]:
    """bot_command at offset 0 and @mentions, as Telegram marks them (UTF-16 offsets)."""
    found: list[JSONDict] = []
    if text.startswith("/"):
        found.append({"type": "bot_command", "offset": 0, "length": len(text.split(maxsplit=1)[0])})
    at = text.find("@" + BOT_USERNAME)
    if at >= 0 and not text.startswith("/"):
        found.append({"type": "mention", "offset": at, "length": len(BOT_USERNAME) + 1})
    return found


STICKER = {
    "file_id": "CAAC1",
    "file_unique_id": "AgAD1",
    "width": 512,
    "height": 512,
    "is_animated": False,
    "is_video": False,
    "type": "regular",
}
HOSTILE_BODIES: list[bytes] = [
    # What a webhook must survive: not JSON, wrong shapes, missing fields, wrong types,
    # update kinds nobody asked for, buttons we never sent, bytes, deep nesting.
    b"not json",
    b"[1, 2, 3]",
    b'"just a string"',
    b"{}",
    b'{"update_id": "seven"}',
    b'{"update_id": 7, "message": "hello"}',
    b'{"update_id": 8, "message": {"message_id": 1, "text": "/help"}}',
    b'{"update_id": 9, "callback_query": {"id": "1", "data": "nc1:approve:ab"}}',
    b'{"update_id": 10, "message": {"message_id": 1, "date": 1, "chat": {"id": 5}}}',
    b'{"update_id": 11, "message": {"message_id": 1, "date": 1, "chat": {"id": 5, '
    b'"type": "private"}, "text": "/make cats"}}',
    b'{"update_id": 12, "poll_answer": {"poll_id": "1", "option_ids": [0]}}',
    b'{"update_id": 13, "brand_new_kind": {"x": 1}}',
    b'{"update_id": 14, "message": {"message_id": 1, "date": 1, "chat": {"id": 5, '
    b'"type": "private"}, "from": {"id": 5, "is_bot": false, "first_name": "E"}, "text": 42}}',
    b'{"update_id": 15, "callback_query": {"id": "2", "chat_instance": "c", "from": {"id": 5, '
    b'"is_bot": false, "first_name": "E"}, "data": "nc1:approve:zz"}}',
    b"\xff\xfe\x00garbage",
    b'{"update_id": 16, "message": ' + b"[" * 5000 + b"]" * 5000 + b"}",
]


class FakeTelegram:
    """The fake server; `async with FakeTelegram() as api:` listens on 127.0.0.1:<ephemeral>."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.bot_user: JSONDict = {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "NOVACAST",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.calls: list[Call] = []
        self.messages: dict[tuple[int, int], JSONDict] = {}
        self.members: dict[tuple[int, int], str] = {}
        self.webhook: JSONDict = {}
        self._updates: list[JSONDict] = []
        self._update_ids = itertools.count(1000)
        self._message_ids: dict[int, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._callback_ids = itertools.count(1)
        self._failures: dict[str, list[ApiError]] = defaultdict(list)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._closing = False
        self.url = ""
        self.files: dict[str, StoredFile] = {}
        self.downloads: list[str] = []
        """file_path of every file download request, as it arrived."""
        self._file_ids = itertools.count(1)

    # --- server lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> FakeTelegram:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._closing = True
        await self._notify()  # long polls still open return now
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what tests do ------------------------------------------------------------------------

    def fail_next(
        self, method: str, status: int, times: int = 1, retry_after: int | None = None
    ) -> None:
        """The next `times` calls of `method` answer `status` (429 carries `retry_after`)."""
        description = {
            429: f"Too Many Requests: retry after {retry_after}",
            500: "Internal Server Error",
        }.get(status, "Bad Request")
        self._failures[method] += [ApiError(status, description, retry_after)] * times

    def push_update(self, update: JSONDict) -> JSONDict:
        """Queue an update for getUpdates (an `update_id` is assigned when missing)."""
        update = {"update_id": next(self._update_ids), **update}
        self._updates.append(update)
        asyncio.get_running_loop().create_task(self._notify())
        return update

    def message_update(
        self,
        chat: JSONDict,
        sender: JSONDict,
        text: str,
        reply_to: JSONDict | None = None,
        topic: int | None = None,
    ) -> JSONDict:
        """A `message` update as Telegram sends it (not queued; see push_update/deliver)."""
        message = self._store(chat, sender, {"text": text})
        if topic is not None:
            message |= {"message_thread_id": topic, "is_topic_message": True}
        entities = _entities(text)
        if entities:
            message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        return {"update_id": next(self._update_ids), "message": message}

    def add_file(self, data: bytes, folder: str = "photos", suffix: str = "jpg") -> StoredFile:
        """Keep `data` as an uploaded file; its id goes into a message, its path into getFile."""
        n = next(self._file_ids)
        stored = StoredFile(f"AgACAgI{n:04d}", f"AQAD{n:04d}", f"{folder}/file_{n}.{suffix}", data)
        self.files[stored.file_id] = stored
        return stored

    def photo_update(
        self,
        chat: JSONDict,
        sender: JSONDict,
        sizes: list[tuple[StoredFile, int, int]],
        caption: str = "",
        declared: int | None = None,
    ) -> JSONDict:
        """A message with a photo: one PhotoSize per (file, width, height), smallest first;
        `declared` overrides every size's `file_size` (what a hostile or huge upload claims)."""
        photo = [
            {
                "file_id": f.file_id,
                "file_unique_id": f.unique_id,
                "width": w,
                "height": h,
                "file_size": len(f.data) if declared is None else declared,
            }
            for f, w, h in sizes
        ]
        return self._media_update(chat, sender, {"photo": photo}, caption)

    def media_update(
        self,
        chat: JSONDict,
        sender: JSONDict,
        kind: str,
        stored: StoredFile,
        *,
        mime: str,
        name: str | None = None,
        caption: str = "",
        declared: int | None = None,
        extra: JSONDict | None = None,
    ) -> JSONDict:
        """A message with a `video`, `animation` or `document` (an animation also carries the
        same file as `document`, as Telegram sends it)."""
        media: JSONDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "mime_type": mime,
            "file_size": len(stored.data) if declared is None else declared,
            **(extra or {}),
        }
        if name is not None:
            media["file_name"] = name
        if kind in ("video", "animation"):
            media = {"width": 320, "height": 568, "duration": 2, **media}
        content: JSONDict = {kind: media}
        if kind == "animation":
            content["document"] = {
                k: v for k, v in media.items() if k not in ("width", "height", "duration")
            }
        return self._media_update(chat, sender, content, caption)

    def _media_update(
        self, chat: JSONDict, sender: JSONDict, content: JSONDict, caption: str
    ) -> JSONDict:
        if caption:
            content["caption"] = caption
            if "@" + BOT_USERNAME in caption:
                at = caption.find("@" + BOT_USERNAME)
                content["caption_entities"] = [
                    {"type": "mention", "offset": at, "length": len(BOT_USERNAME) + 1}
                ]
        message = self._store(chat, sender, content)
        return {"update_id": next(self._update_ids), "message": message}

    def callback_update(self, sender: JSONDict, message: JSONDict, data: str) -> JSONDict:
        """A `callback_query` update: someone pressed an inline button under `message`."""
        query = {
            "id": str(next(self._callback_ids)),
            "from": sender,
            "message": message,
            "chat_instance": f"ci{message['chat']['id']}",
            "data": data,
        }
        return {"update_id": next(self._update_ids), "callback_query": query}

    async def deliver(
        self, update: JSONDict, secret: str | None = None, url: str | None = None
    ) -> int:
        """POST an update to the registered webhook (or `url`), as Telegram does; the status."""
        token = self.webhook.get("secret_token") if secret is None else secret
        headers = {"X-Telegram-Bot-Api-Secret-Token": token} if token else {}
        async with (
            aiohttp.ClientSession() as session,
            session.post(url or self.webhook["url"], json=update, headers=headers) as response,
        ):
            return response.status

    def message(self, call: Call) -> JSONDict:
        """The message a successful send call made, as it is now (what a callback carries)."""
        result = call.result
        assert isinstance(result, dict), f"{call.method} did not succeed"
        return self.messages[(result["chat"]["id"], result["message_id"])]

    def sent(self, method: str) -> list[Call]:
        """Calls of `method` the fake has answered, in the order they arrived."""
        return [c for c in self.calls if c.method == method and c.answered]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 30) -> list[Call]:
        """The first `count` calls of `method`, waiting up to `timeout` seconds for them."""
        deadline = time.monotonic() + timeout
        async with self._changed:
            while len(self.sent(method)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [c.method for c in self.calls]
                    raise AssertionError(f"expected {count} {method} call(s); got {seen}")
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except TimeoutError:
                    continue
        return self.sent(method)[:count]

    async def wait_text(self, needle: str, timeout: float = 30) -> Call:
        """The first sendMessage/editMessageText whose text contains `needle`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for call in self.calls:
                if call.answered and needle in str(call.params.get("text", "")):
                    return call
            async with self._changed:
                try:
                    await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
                except TimeoutError:
                    break
        texts = [str(c.params.get("text", ""))[:80] for c in self.calls if "text" in c.params]
        raise AssertionError(f"no message contains {needle!r}; texts: {texts}")

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # --- the wire -----------------------------------------------------------------------------

    async def _download(self, request: web.Request) -> web.StreamResponse:
        """`GET /file/bot<token>/<file_path>`: the file's bytes, as the Bot API serves them."""
        if request.match_info["token"] != self.token:
            return web.Response(status=401, text="Unauthorized")
        path = request.match_info["file_path"]
        self.downloads.append(path)
        await self._notify()
        found = next((f for f in self.files.values() if f.file_path == path), None)
        if found is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=found.data, content_type="application/octet-stream")

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(ApiError(401, "Unauthorized"))
        method = request.match_info["method"]
        params, files = await _read_params(request)
        call = Call(method, params, files)
        self.calls.append(call)
        try:
            return await self._answer(call)
        finally:
            call.answered = True
            await self._notify()

    async def _answer(self, call: Call) -> web.Response:
        failures = self._failures.get(call.method)
        if failures:
            return _error(failures.pop(0))
        handler = getattr(self, f"_api_{call.method}", None)
        if handler is None:
            return _error(ApiError(404, "Not Found"))
        try:
            call.result = await handler(call.params, call.files)
        except ApiError as error:
            return _error(error)
        except (KeyError, ValueError, TypeError) as error:
            return _error(ApiError(400, f"Bad Request: {error}"))
        return web.json_response({"ok": True, "result": call.result})

    def _store(self, chat: JSONDict, sender: JSONDict, content: JSONDict) -> JSONDict:
        message_id = next(self._message_ids[chat["id"]])
        message = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": sender,
            **content,
        }
        self.messages[(chat["id"], message_id)] = message
        return message

    def _chat(self, chat_id: int) -> JSONDict:
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "Ada"}
        return group_chat(chat_id)

    def _bot_message(self, params: JSONDict, content: JSONDict) -> JSONDict:
        markup = params.get("reply_markup")
        if markup:
            _check_keyboard(markup)
            content["reply_markup"] = markup
        if params.get("message_thread_id"):
            content["message_thread_id"] = int(params["message_thread_id"])
        return self._store(self._chat(int(params["chat_id"])), self.bot_user, content)

    # --- methods (named as in the Bot API) ----------------------------------------------------

    async def _api_getMe(self, _p: JSONDict, _f: dict[str, bytes]) -> JSONDict:
        return self.bot_user

    async def _api_setMyCommands(self, params: JSONDict, _f: dict[str, bytes]) -> bool:
        if not isinstance(params.get("commands"), list):
            raise ApiError(400, "Bad Request: commands must be an array")
        return True

    async def _api_setWebhook(self, params: JSONDict, _f: dict[str, bytes]) -> bool:
        self.webhook = {"url": params["url"], "secret_token": params.get("secret_token")}
        return True

    async def _api_deleteWebhook(self, _p: JSONDict, _f: dict[str, bytes]) -> bool:
        self.webhook = {}
        return True

    async def _api_getUpdates(self, params: JSONDict, _f: dict[str, bytes]) -> list[JSONDict]:
        if self.webhook:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        async with self._changed:
            while not (self._updates or self._closing) and time.monotonic() < deadline:
                try:
                    await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
                except TimeoutError:
                    break
        return self._updates[: int(params.get("limit") or 100)]

    async def _api_sendMessage(self, params: JSONDict, _f: dict[str, bytes]) -> JSONDict:
        text = str(params.get("text", ""))
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        return self._bot_message(params, {"text": text})

    async def _api_editMessageText(self, params: JSONDict, _f: dict[str, bytes]) -> JSONDict:
        message = self.messages.get((int(params["chat_id"]), int(params["message_id"])))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        same_markup = params.get("reply_markup") == message.get("reply_markup")
        if message.get("text") == params["text"] and same_markup:
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup "
                "of the message",
            )
        message["text"] = params["text"]
        message["edit_date"] = int(time.time())
        return message

    async def _api_editMessageReplyMarkup(self, params: JSONDict, _f: dict[str, bytes]) -> Any:
        message = self.messages.get((int(params["chat_id"]), int(params["message_id"])))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        message["reply_markup"] = params.get("reply_markup")
        return message

    async def _api_sendVideo(self, params: JSONDict, files: dict[str, bytes]) -> JSONDict:
        data = files.get("video")
        if data is None:
            raise ApiError(400, "Bad Request: there is no video in the request")
        if len(data) > 50 * 1024 * 1024:
            raise ApiError(413, "Request Entity Too Large")
        if len(str(params.get("caption", ""))) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        video = {
            "file_id": f"BAAC{len(self.calls)}",
            "file_unique_id": f"AgAD{len(self.calls)}",
            "width": 540,
            "height": 960,
            "duration": 10,
            "mime_type": "video/mp4",
            "file_size": len(data),
        }
        content = {"video": video, "caption": params.get("caption", "")}
        return self._bot_message(params, content)

    async def _api_getFile(self, params: JSONDict, _f: dict[str, bytes]) -> JSONDict:
        stored = self.files.get(str(params.get("file_id", "")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if len(stored.data) > 20 * 1024 * 1024:
            raise ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }

    async def _api_sendPhoto(self, params: JSONDict, files: dict[str, bytes]) -> JSONDict:
        data = files.get("photo")
        if data is None:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        if len(data) > 10 * 1024 * 1024:
            raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        if len(str(params.get("caption", ""))) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        stored = self.add_file(data)
        size = {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "width": 0,
            "height": 0,
            "file_size": len(data),
        }
        content: JSONDict = {"photo": [size]}
        if params.get("caption"):
            content["caption"] = params["caption"]
        return self._bot_message(params, content)

    async def _api_sendDocument(self, params: JSONDict, files: dict[str, bytes]) -> JSONDict:
        data = files.get("document")
        if data is None:
            raise ApiError(400, "Bad Request: there is no document in the request")
        stored = self.add_file(data, "documents", "bin")
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_size": len(data),
        }
        content: JSONDict = {"document": document}
        if params.get("caption"):
            content["caption"] = params["caption"]
        return self._bot_message(params, content)

    async def _api_answerCallbackQuery(self, params: JSONDict, _f: dict[str, bytes]) -> bool:
        if len(str(params.get("text", ""))) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        return bool(params.get("callback_query_id"))

    async def _api_getChatMember(self, params: JSONDict, _f: dict[str, bytes]) -> JSONDict:
        chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
        status = self.members.get((chat_id, user_id), "member")
        return _member(status, user(user_id))

    async def _api_getChatAdministrators(
        self, params: JSONDict, _f: dict[str, bytes]
    ) -> list[JSONDict]:
        chat_id = int(params["chat_id"])
        admins = [
            (uid, status)
            for (cid, uid), status in self.members.items()
            if cid == chat_id and status in ("administrator", "creator")
        ]
        return [_member(status, user(uid)) for uid, status in admins]


def _member(status: str, person: JSONDict) -> JSONDict:
    member: JSONDict = {"status": status, "user": person}
    if status == "administrator":
        member |= {"can_be_edited": False, "is_anonymous": False, "can_manage_chat": True}
        member |= dict.fromkeys(_ADMIN_RIGHTS, False)
    if status == "creator":
        member["is_anonymous"] = False
    return member


_ADMIN_RIGHTS = (
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)


def _check_keyboard(markup: Any) -> None:
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for button in itertools.chain.from_iterable(rows):
        data = button.get("callback_data", "")
        if not 1 <= len(data.encode()) <= 64:
            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")


async def _read_params(request: web.Request) -> tuple[JSONDict, dict[str, bytes]]:
    """Parameters as the Bot API reads them: query string, JSON body, form or multipart."""
    params: JSONDict = dict(request.query)
    files: dict[str, bytes] = {}
    if request.content_type == "application/json":
        params.update(await request.json())
        return params, files
    if request.method == "POST" and request.can_read_body:
        form = await request.post()
        for name, value in form.items():
            if isinstance(value, web.FileField):
                files[name] = value.file.read()
            else:
                params[name] = _decoded(str(value))
    return params, files


def _decoded(value: str) -> Any:
    """Form values that are JSON (objects, arrays, numbers, booleans) are read as JSON."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def _error(error: ApiError) -> web.Response:
    body: JSONDict = {"ok": False, "error_code": error.status, "description": error.description}
    if error.retry_after is not None:
        body["parameters"] = {"retry_after": error.retry_after}
    return web.json_response(body, status=error.status)
