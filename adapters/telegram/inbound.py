"""Telegram updates -> core events. Pure functions of PTB objects; no network, no state.

Private chat: every text is for the bot. Groups: commands only when addressed to the bot
(`/make@novacast_bot`), free text only when it replies to the bot or mentions it.
Anything else (edits, channel posts, stickers, other bots' commands) is skipped quietly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from telegram import CallbackQuery, Chat, Message, MessageEntity, Update

from adapters import buttons
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


def to_event(update: Update, me: BotIdentity) -> Event | None:
    """The core event an update stands for, or None when it is not for the bot."""
    if not isinstance(update.update_id, int):
        return None
    if update.callback_query is not None:
        return _button(update, update.callback_query)
    message = update.message
    if message is None or message.from_user is None or message.from_user.is_bot:
        return None
    text = message.text
    if not isinstance(text, str) or not text.strip():
        return None
    if text.startswith("/"):
        return _command(update, message, text, me)
    return _message(update, message, text, me)


def conversation_of(message: Message, user_id: int, user_name: str) -> Conversation:
    """workspace = channel = chat id; thread = forum topic id or ""; user = sender id."""
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


def is_group(message: Message) -> bool:
    return message.chat.type != Chat.PRIVATE


def _raw(update: Update) -> dict[str, Any]:
    """The update as Telegram sent it (the core reads who is speaking from `speaker`)."""
    raw: dict[str, Any] = update.to_dict()
    return raw


def _sender(message: Message) -> Conversation:
    user = message.from_user
    assert user is not None
    return conversation_of(message, user.id, user.full_name or user.username or "")


def _command(update: Update, message: Message, text: str, me: BotIdentity) -> Event | None:
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
        raw=_raw(update),
        name=COMMAND_ALIASES.get(name, name),
        args=(match["args"] or "").strip(),
    )


def _message(update: Update, message: Message, text: str, me: BotIdentity) -> Event | None:
    if is_group(message):
        mentioned = _mentions(message, me)
        if not (mentioned or _replies_to_bot(message, me)):
            return None
        text = _strip_mention(text, me)
        if not text:
            return None
    return MessageEvent(
        conversation=_sender(message), event_id=event_id(update), raw=_raw(update), text=text
    )


def _replies_to_bot(message: Message, me: BotIdentity) -> bool:
    replied = message.reply_to_message
    author = replied.from_user if replied is not None else None
    return author is not None and author.id == me.id


def _mentions(message: Message, me: BotIdentity) -> bool:
    for entity, value in message.parse_entities().items():
        if entity.type == MessageEntity.MENTION and me.named(value):
            return True
        if entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == me.id:
            return True
    return False


def _strip_mention(text: str, me: BotIdentity) -> str:
    pattern = re.compile(rf"@{re.escape(me.username)}\b", re.IGNORECASE)
    return pattern.sub("", text).strip()


def _button(update: Update, query: CallbackQuery) -> Event | None:
    pressed = buttons.decode(query.data if isinstance(query.data, str) else "")
    message = query.message
    if pressed is None or not isinstance(message, Message):
        return None
    user = query.from_user
    return ButtonEvent(
        conversation=conversation_of(message, user.id, user.full_name or user.username or ""),
        event_id=event_id(update),
        raw=_raw(update),
        action=pressed.action.value,
        project_id=pressed.project_id,
    )
