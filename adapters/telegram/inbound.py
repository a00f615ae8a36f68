"""Telegram updates -> core events. Pure functions of PTB objects; no network, no state.

Private chat: every text is for the bot. Groups: commands only when addressed to the bot
(`/make@novacast_bot`), free text only when it replies to the bot or mentions it.
Anything else (edits, channel posts, stickers, other bots' commands) is skipped quietly.

A photo, video, animation or document (an image or video sent as a file) is a message whose
text is its caption; `media_of` says which files it carries, as Telegram declared them (the
adapter fetches them, `adapters.incoming`). In groups the caption must address the bot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from telegram import CallbackQuery, Chat, Message, MessageEntity, PhotoSize, Update

from adapters import buttons
from adapters.incoming import Offered
from bot.events import ButtonEvent, CommandEvent, Conversation, Event, MessageEvent

ADAPTER = "telegram"
_COMMAND = re.compile(
    r"^/(?P<name>[A-Za-z0-9_]{1,32})(?:@(?P<bot>[A-Za-z0-9_]{1,64}))?(?:\s+(?P<args>.*))?$",
    re.DOTALL,
)
COMMAND_ALIASES = {"start": "help"}
"""Telegram clients send /start when a user opens the bot; it means "what can you do"."""


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is (from getMe), to tell commands and mentions addressed to it."""

    id: int
    username: str

    def named(self, name: str | None) -> bool:
        return bool(name) and str(name).lower().lstrip("@") == self.username.lower()


def event_id(update: Update) -> str:
    return f"tg:{update.update_id}"


def to_event(update: Update, me: BotIdentity, raw: dict[str, Any] | None = None) -> Event | None:
    """The core event an update stands for, or None when it is not for the bot. `raw`: the
    JSON the update arrived as (else the update serialized back)."""
    raw = raw if raw is not None else update.to_dict()
    if not isinstance(update.update_id, int):
        return None
    if update.callback_query is not None:
        return _button(update, update.callback_query, raw)
    message = update.message
    if message is None or message.from_user is None or message.from_user.is_bot:
        return None
    if has_media(message):
        caption = message.caption if isinstance(message.caption, str) else ""
        return _message(update, message, caption, me, raw)
    return _typed(update, message, me, raw)


def _typed(
    update: Update, message: Message, me: BotIdentity, raw: dict[str, Any]
) -> Event | None:
    text = message.text
    if not isinstance(text, str) or not text.strip():
        return None
    if text.startswith("/"):
        return _command(update, message, text, me, raw)
    return _message(update, message, text, me, raw)


@dataclass(frozen=True)
class TelegramFile:
    """One file a message carries: its id for getFile, and what Telegram declared about it."""

    file_id: str
    offered: Offered


def has_media(message: Message) -> bool:
    return bool(message.photo or message.video or message.animation or message.document)


def media_of(message: Message, max_bytes: int) -> list[TelegramFile]:
    """The files to fetch: the largest photo size within `max_bytes` (else the smallest, to be
    refused by its size), the video, the animation (a GIF arrives as MP4) or the document."""
    found: list[TelegramFile] = []
    if message.photo:
        size = _photo_size(message.photo, max_bytes)
        found.append(_file(size.file_id, "photo.jpg", "image/jpeg", size.file_size))
    if message.animation:
        a = message.animation
        found.append(_file(a.file_id, a.file_name or "animation.mp4", a.mime_type, a.file_size))
    elif message.document:
        d = message.document
        found.append(_file(d.file_id, d.file_name or "", d.mime_type, d.file_size))
    if message.video:
        v = message.video
        found.append(_file(v.file_id, v.file_name or "video.mp4", v.mime_type, v.file_size))
    return found


def _photo_size(sizes: tuple[PhotoSize, ...], max_bytes: int) -> PhotoSize:
    fitting = [s for s in sizes if (_count(s.file_size) or 0) <= max_bytes]
    if not fitting:
        return min(sizes, key=lambda s: _count(s.file_size) or 0)
    return max(
        fitting,
        key=lambda s: ((_count(s.width) or 0) * (_count(s.height) or 0), _count(s.file_size) or 0),
    )


def _file(file_id: object, name: object, mime: object, size: object) -> TelegramFile:
    """A file as declared; PTB checks no types, so what is not the documented type is absent."""
    offered = Offered(name=_text(name), mime=_text(mime), size=_count(size))
    return TelegramFile(_text(file_id), offered)


def _count(value: object) -> int | None:
    """A non-negative integer as declared, else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def conversation_of(message: Message, user_id: int, user_name: str) -> Conversation:
    """workspace = channel = chat id; thread = forum topic id or ""; user = sender id.
    Ids that are not integers (PTB checks no types) are a ValueError: the update is skipped."""
    if not _is_id(message.chat.id) or not _is_id(user_id):
        raise ValueError("a chat or user id that is not an integer")
    chat = str(message.chat.id)
    topic = message.message_thread_id if message.is_topic_message else None
    return Conversation(
        adapter=ADAPTER,
        workspace=chat,
        channel=chat,
        thread=str(topic) if isinstance(topic, int) else "",
        user=str(user_id),
        user_name=user_name[:64],
    )


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_group(message: Message) -> bool:
    return message.chat.type != Chat.PRIVATE


def _sender(message: Message) -> Conversation:
    user = message.from_user
    assert user is not None
    return conversation_of(message, user.id, user.full_name or user.username or "")


def _command(
    update: Update, message: Message, text: str, me: BotIdentity, raw: dict[str, Any]
) -> Event | None:
    match = _COMMAND.match(text)
    if match is None:
        return None
    addressed = match["bot"]
    if addressed is not None and not me.named(addressed):
        return None  # another bot's command
    if addressed is None and is_group(message):
        return None  # in groups, only /cmd@our_bot is ours
    name = match["name"].lower()
    return CommandEvent(
        conversation=_sender(message),
        event_id=event_id(update),
        raw=raw,
        name=COMMAND_ALIASES.get(name, name),
        args=(match["args"] or "").strip(),
    )


def _message(
    update: Update, message: Message, text: str, me: BotIdentity, raw: dict[str, Any]
) -> Event | None:
    if is_group(message):
        mentioned = _mentions(message, me)
        if not (mentioned or _replies_to_bot(message, me)):
            return None
        text = _strip_mention(text, me)
        if not text and not has_media(message):
            return None
    return MessageEvent(
        conversation=_sender(message), event_id=event_id(update), raw=raw, text=text
    )


def _replies_to_bot(message: Message, me: BotIdentity) -> bool:
    replied = message.reply_to_message
    author = replied.from_user if replied is not None else None
    return author is not None and author.id == me.id


def _mentions(message: Message, me: BotIdentity) -> bool:
    entities = message.parse_caption_entities() if message.caption else message.parse_entities()
    for entity, value in entities.items():
        if entity.type == MessageEntity.MENTION and me.named(value):
            return True
        if entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == me.id:
            return True
    return False


def _strip_mention(text: str, me: BotIdentity) -> str:
    pattern = re.compile(rf"@{re.escape(me.username)}\b", re.IGNORECASE)
    return pattern.sub("", text).strip()


def _button(update: Update, query: CallbackQuery, raw: dict[str, Any]) -> Event | None:
    pressed = buttons.decode(query.data if isinstance(query.data, str) else "")
    message = query.message
    if pressed is None or not isinstance(message, Message):
        return None
    user = query.from_user
    return ButtonEvent(
        conversation=conversation_of(message, user.id, user.full_name or user.username or ""),
        event_id=event_id(update),
        raw=raw,
        action=pressed.action.value,
        project_id=pressed.project_id,
    )
