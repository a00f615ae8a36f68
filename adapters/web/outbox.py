"""The studio's outbound side: one Redis stream per conversation, written by any process.

A worker (through `sync_sender`, the platform's `sender`) and the bot itself (the answers of
`dispatch`, and what the user typed, as `echo`: `WebOutbox.fields` / `echo_entry`, written by
`adapters.web.hub` without a thread) append entries to
`novacast:web:outbox:<workspace>:<channel>` (MAXLEN ~500). The bot's hub reads the streams of the
conversations that are open in a browser and each socket forwards the entries as frames
(`adapters.web.frames`); the same stream is the history a reloaded page shows.

An entry keeps the action as the core made it (with a file's path, not a link), so links are
signed when a frame is made, by the bot that serves them. A storyboard picture gets an id here
(`PictureIds`): the bot serves `/pictures/<id>` to a session of the same workspace only.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import redis
from pydantic import TypeAdapter

from adapters.web.sessions import PREFIX
from bot.actions import Action, AskApproval, JobsStarted, Picture, Preview, Progress, Say
from bot.events import ReplyTarget

STREAM_MAXLEN = 500
RENDERS = frozenset({Say, Progress, Preview, Picture, AskApproval, JobsStarted})
"""Every action type the studio shows (JobsStarted: nothing to show, nothing appended)."""
PICTURE_SECONDS = 30 * 24 * 3600
ACTIONS: TypeAdapter[Action] = TypeAdapter(Action)

SUPERSEDE = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 4))
local older = redis.call('HGET', KEYS[2], ARGV[2])
if older then redis.call('XDEL', KEYS[1], older) end
redis.call('HSET', KEYS[2], ARGV[2], id)
redis.call('EXPIRE', KEYS[2], ARGV[3])
return id
"""
"""Append a progress entry and delete the one it replaces (same progress key), atomically."""
PROGRESS_IDS_SECONDS = 7 * 24 * 3600


def stream_key(workspace: str, channel: str) -> str:
    return f"{PREFIX}:outbox:{workspace}:{channel}"


@dataclass(frozen=True)
class Entry:
    """One stream entry: an action, or what the user typed (`echo`)."""

    id: str
    action: Action | None = None
    echo: str = ""
    picture: str = ""
    """For a Picture: the id `/pictures/<id>` serves it under."""


def parse_entry(entry_id: bytes | str, fields: dict[bytes, bytes]) -> Entry | None:
    """An entry as written by `WebOutbox`; None for anything else (never raises)."""
    ident = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    try:
        if b"echo" in fields:
            return Entry(ident, echo=fields[b"echo"].decode())
        action = ACTIONS.validate_json(fields[b"action"])
        return Entry(ident, action=action, picture=fields.get(b"picture", b"").decode())
    except (KeyError, ValueError, UnicodeError):
        return None


def echo_entry(text: str) -> dict[str, str | bytes]:
    """The stream entry of what the user typed."""
    return {"echo": text}


class PictureIds:
    """Random ids for storyboard files, each bound to its workspace (Redis, 30 days)."""

    def __init__(self, connection: redis.Redis) -> None:
        self._redis = connection

    @staticmethod
    def _key(picture_id: str) -> str:
        return f"{PREFIX}:picture:{picture_id}"

    def register(self, workspace: str, path: str) -> str:
        picture_id = secrets.token_urlsafe(16)
        record = json.dumps({"workspace": workspace, "path": path})
        self._redis.set(self._key(picture_id), record, ex=PICTURE_SECONDS)
        return picture_id

    def path(self, workspace: str, picture_id: str) -> str | None:
        """The file of `picture_id` when it belongs to `workspace`, else None."""
        if not (0 < len(picture_id) <= 64 and picture_id.isascii()):
            return None
        stored = self._redis.get(self._key(picture_id))
        if not isinstance(stored, bytes):
            return None
        record: dict[str, Any] = json.loads(stored)
        return str(record["path"]) if record.get("workspace") == workspace else None


class WebOutbox:
    """Appends to one conversation's stream (from the bot or a worker)."""

    def __init__(self, connection: redis.Redis, workspace: str, channel: str) -> None:
        self._redis = connection
        self._workspace = workspace
        self.key = stream_key(workspace, channel)

    @classmethod
    def of(cls, connection: redis.Redis, target: ReplyTarget) -> WebOutbox:
        return cls(connection, target.workspace, target.channel)

    def send(self, action: Action) -> None:
        self.append(action)

    def append(self, action: Action) -> str | None:
        """Append `action`; its entry id, or None for one with nothing to show (JobsStarted).

        A progress update replaces the conversation's previous entry for the same render (the
        message is edited in place anyway): a render sends a hundred updates, which otherwise
        filled the stream's ~500 entries and pushed the draft out of the history a reloaded page
        shows. A socket that already read the older entry keeps it; one that had not reads only
        the newer."""
        fields = self.fields(action)
        if fields is None:
            return None
        if isinstance(action, Progress):
            return self._supersede(action.key, fields)
        return self._append(fields)

    def _supersede(self, progress_key: str, fields: dict[str, str | bytes]) -> str:
        flat = [part for pair in fields.items() for part in pair]
        entry_id = self._redis.eval(
            SUPERSEDE, 2, self.key, self.key + ":progress",
            STREAM_MAXLEN, progress_key, PROGRESS_IDS_SECONDS, *flat,
        )
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    def fields(self, action: Action) -> dict[str, str | bytes] | None:
        """The stream entry for `action` (a Picture's id registered now); None for one with
        nothing to show (JobsStarted); TypeError for a type the studio does not show."""
        if type(action) not in RENDERS:
            raise TypeError(f"the web studio cannot show {type(action).__name__}")
        if isinstance(action, JobsStarted):
            return None
        fields: dict[str, str | bytes] = {"action": ACTIONS.dump_json(action)}
        if isinstance(action, Picture):
            fields["picture"] = PictureIds(self._redis).register(self._workspace, action.path)
        return fields

    def echo(self, text: str) -> str:
        """Append what the user typed (so the history shows both sides)."""
        return self._append(echo_entry(text))

    def _append(self, fields: dict[str, str | bytes]) -> str:
        entry_id = self._redis.xadd(
            self.key,
            fields,  # type: ignore[arg-type]
            maxlen=STREAM_MAXLEN,
            approximate=True,
        )
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    def recent(self, count: int) -> tuple[list[Entry], str]:
        """The last `count` entries, oldest first, and the id to read on from ("0-0" when the
        stream is empty)."""
        raw: list[tuple[bytes, dict[bytes, bytes]]] = self._redis.xrevrange(self.key, count=count)  # type: ignore[assignment]
        parsed = (parse_entry(entry_id, fields) for entry_id, fields in reversed(raw))
        last = raw[0][0].decode() if raw else "0-0"
        return [entry for entry in parsed if entry is not None], last


def sync_sender(target: ReplyTarget, connection: redis.Redis) -> WebOutbox:
    """The studio's outbound side for `adapters.outbox.sender_for` (any process)."""
    return WebOutbox.of(connection, target)
