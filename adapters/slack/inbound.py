"""Slack payloads -> the fields NOVACAST needs, validated; anything else is skipped quietly.

Slash commands (form fields), Events API callbacks (`app_mention`, `message`) and block_actions
interactions are read into small frozen models. A payload missing a field or carrying a wrong
type becomes None, never an exception.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.base import encodable
from adapters.buttons import decode
from bot.actions import Button

COMMAND_PREFIXES = ("novacast", "nc")
"""`/novacast make …` (or `/nc make …`) is the same as `/make …`."""
HANDLED_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})
"""Message subtypes that are a person typing; edits, joins, bot posts and the like are skipped."""
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_SLASHED = re.compile(r"^/(?P<name>[a-z]{1,32})\b\s*(?P<args>.*)$", re.DOTALL | re.IGNORECASE)

_Id = Field(min_length=1, max_length=64)


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class SlashCommand(_Payload):
    team_id: str = _Id
    channel_id: str = _Id
    user_id: str = _Id
    user_name: str = ""
    command: str = Field(min_length=2, max_length=64)
    text: str = Field(default="", max_length=8000)
    trigger_id: str = ""
    response_url: str = ""
    channel_name: str = ""

    @property
    def is_dm(self) -> bool:
        return self.channel_id.startswith("D") or self.channel_name == "directmessage"

    def name_and_args(self) -> tuple[str, str]:
        """`/make idea` -> ("make", "idea"); `/novacast make idea` -> the same."""
        name = self.command.lstrip("/").lower()
        text = self.text.strip()
        if name in COMMAND_PREFIXES:
            first, _, rest = text.partition(" ")
            return (first.lower()[:32] or "help"), rest.strip()
        return name[:32], text


class SharedFile(_Payload):
    """A file on a `file_share` message, as the event declares it (files.info says the rest)."""

    id: str = _Id
    name: str = Field(default="", max_length=1000)
    mimetype: str = Field(default="", max_length=200)
    size: int | None = Field(default=None, ge=0)


class MessageEventPayload(_Payload):
    type: str
    channel: str = _Id
    user: str = _Id
    text: str = Field(default="", max_length=40000)
    ts: str = _Id
    thread_ts: str | None = None
    channel_type: str = ""
    subtype: str | None = None
    bot_id: str | None = None
    files: list[SharedFile] = Field(default_factory=list, max_length=100)

    @property
    def is_dm(self) -> bool:
        return self.channel_type == "im" or self.channel.startswith("D")

    @property
    def from_person(self) -> bool:
        return self.bot_id is None and self.subtype in HANDLED_SUBTYPES


class Envelope(_Payload):
    """An Events API `event_callback` around a message or mention."""

    team_id: str = _Id
    event_id: str = _Id
    event: MessageEventPayload


class _Team(_Payload):
    id: str = _Id


class _User(_Payload):
    id: str = _Id
    username: str = ""
    name: str = ""


class _Container(_Payload):
    channel_id: str = _Id
    message_ts: str = ""
    thread_ts: str | None = None
    is_ephemeral: bool = False


class _ButtonPress(_Payload):
    action_id: str = ""
    value: str = Field(default="", max_length=2000)


class BlockActions(_Payload):
    type: str
    team: _Team
    user: _User
    container: _Container
    trigger_id: str = ""
    response_url: str = ""
    actions: list[_ButtonPress] = Field(min_length=1)
    message: dict[str, Any] = Field(default_factory=dict)

    @property
    def thread(self) -> str:
        """The thread the button's message is in ("" for a top-level message)."""
        thread = self.container.thread_ts or self.message.get("thread_ts")
        return thread if isinstance(thread, str) else ""

    @property
    def button(self) -> Button | None:
        return decode(self.actions[0].value)


M = TypeVar("M", bound=_Payload)


def read(model: type[M], data: Any) -> M | None:
    """`data` as `model`, or None when it does not fit."""
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


def strip_mentions(text: str) -> str:
    return _MENTION.sub("", text).strip()


def as_command(text: str) -> tuple[str, str] | None:
    """`/status` or `/make idea` typed as a message -> (name, args); None for plain words."""
    match = _SLASHED.match(text.strip())
    return (match["name"].lower(), match["args"].strip()) if match else None


_OBJECT_FIELDS = (
    "container", "message", "enterprise", "view", "event", "item", "assistant_thread",
    "previous_message", "function_data", "state", "bot_profile",
)
"""Fields Slack sends as objects; Bolt calls `.get` on them wherever they appear."""
_ID_FIELDS = ("team", "user", "channel")
"""An id, or an object with an `id` (interactions): Bolt reads either, nothing else."""
_MATCHED_STRINGS = ("type", "command", "callback_id", "action_id", "block_id", "subtype")
"""Fields Bolt's listener matchers compare with strings or regular expressions."""
_NESTED = ("event", "message", "previous_message", "item", "assistant_thread")


def well_formed(body: str) -> bool:
    """True when the body has the outline Bolt routes on (a JSON object, or form fields whose
    `payload` is one), with objects and lists where Slack sends them and strings where Bolt's
    matchers expect them. Field-level checks come later, in the models above; this only keeps
    Bolt's own routing and middleware (which assume Slack's types) from tripping."""
    data = _parse(body)
    if data is None or not encodable(data):
        return False
    if "payload" in data:
        payload = _parse_json(data["payload"])
        return payload is not None and encodable(payload) and _interaction_outline(payload)
    if data.get("type") == "event_callback":
        event = data.get("event")
        if not (isinstance(event, dict) and isinstance(event.get("type"), str)):
            return False
    return _outline(data)


def _outline(data: dict[str, Any]) -> bool:
    """Slack's types where Bolt relies on them, at the top and in the nested event objects."""
    if not _typed(data):
        return False
    if any(isinstance(data.get(k), dict) and not _typed(data[k]) for k in _NESTED):
        return False
    authorizations = data.get("authorizations")
    if authorizations is not None and not (
        isinstance(authorizations, list) and all(isinstance(a, dict) for a in authorizations)
    ):
        return False
    actions = data.get("actions", [])
    return isinstance(actions, list) and all(
        isinstance(a, dict) and _typed(a) for a in actions
    )


def _typed(data: dict[str, Any]) -> bool:
    objects_ok = all(isinstance(data.get(k), dict | None) for k in _OBJECT_FIELDS)
    ids_ok = all(isinstance(data.get(k), str | dict | None) for k in _ID_FIELDS)
    strings_ok = all(isinstance(data.get(k), str | None) for k in _MATCHED_STRINGS)
    shared_ok = isinstance(data.get("is_ext_shared_channel"), bool | None)
    event_ok = "event" not in data or isinstance(data["event"], dict)  # `.get("event", {})`
    return objects_ok and ids_ok and strings_ok and shared_ok and event_ok


def _parse(body: str) -> dict[str, Any] | None:
    if body.lstrip().startswith(("{", "[")):
        return _parse_json(body)
    try:
        return dict(parse_qsl(body, strict_parsing=bool(body)))
    except ValueError:
        return None


def _parse_json(text: object) -> dict[str, Any] | None:
    """A JSON object from `text`, or None: not a string, not JSON, nested too deeply (a
    RecursionError), or not an object."""
    if not isinstance(text, str):
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _interaction_outline(payload: dict[str, Any] | None) -> bool:
    if payload is None or not isinstance(payload.get("type"), str):
        return False
    return _outline(payload)
