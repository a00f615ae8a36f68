"""The studio's WebSocket frames (the wire: README.md here).

Inbound: `{"type":"text","text":...}` or `{"type":"button","action":...,"project_id":...}`,
validated strictly (`read_frame`); a typed line becomes a core event exactly as on the other
platforms (`/name args` a command, anything else a message). Outbound: each stream entry
(`adapters.web.outbox.Entry`) as one JSON frame; a preview's file becomes a signed `/media/...`
link (relative, so it is this server's own origin whatever the public URL says).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from adapters.media_links import MediaLinks
from adapters.web.outbox import Entry
from bot.actions import Action, AskApproval, Button, ButtonAction, Picture, Preview, Progress, Say
from bot.events import ButtonEvent, CommandEvent, Conversation, Event, MessageEvent, Speaker

MAX_TEXT_CHARS = 4000
_COMMAND = re.compile(r"^/([A-Za-z][\w-]{0,31})(?:\s+(.*))?$", re.DOTALL)


class TextFrame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["text"]
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)


class ButtonFrame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["button"]
    action: ButtonAction
    project_id: str = Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_-]+$")


Inbound = Annotated[TextFrame | ButtonFrame, Field(discriminator="type")]
_INBOUND: TypeAdapter[Inbound] = TypeAdapter(Inbound)


class BadFrame(ValueError):
    """A frame we refuse; the message is safe to show (it quotes nothing the user sent)."""


def read_frame(data: str) -> TextFrame | ButtonFrame:
    """A client frame, or BadFrame saying what is wrong with it."""
    try:
        parsed: Any = json.loads(data)
    except (ValueError, RecursionError):
        raise BadFrame("That frame is not JSON.") from None
    try:
        return _INBOUND.validate_python(parsed)
    except ValidationError as error:
        where = ", ".join(".".join(map(str, e["loc"])) or "frame" for e in error.errors()[:3])
        raise BadFrame(f"That frame is not one I understand (check: {where}).") from None


def event_for(
    frame: TextFrame | ButtonFrame, conversation: Conversation, speaker: Speaker, event_id: str
) -> Event | None:
    """The core event a frame means; None for a blank line."""
    common: dict[str, Any] = {
        "conversation": conversation,
        "speaker": speaker,
        "event_id": event_id,
        "raw": frame.model_dump(),
    }
    if isinstance(frame, ButtonFrame):
        return ButtonEvent(action=frame.action.value, project_id=frame.project_id, **common)
    text = frame.text.strip()
    if not text:
        return None
    if command := _COMMAND.match(text):
        name, args = command.group(1).lower(), (command.group(2) or "").strip()
        return CommandEvent(name=name, args=args, **common)
    return MessageEvent(text=text, **common)


def _buttons(buttons: list[Button]) -> list[dict[str, str]]:
    return [
        {"action": b.action.value, "project_id": b.project_id, "label": b.label} for b in buttons
    ]


def media_url(links: MediaLinks, path: str) -> str:
    """A signed link to a rendered video, as a path on this server; "" when the file is not
    one (deleted, or not rendered media)."""
    try:
        return urlsplit(links.url_for(Path(path))).path
    except (ValueError, OSError):
        return ""


def frame_of(entry: Entry, links: MediaLinks) -> dict[str, Any] | None:
    """The frame an entry shows as; None for an entry with nothing to show."""
    if entry.action is None:
        return {"type": "echo", "id": entry.id, "text": entry.echo}
    return action_frame(entry.id, entry.action, links, entry.picture)


def action_frame(
    ident: str, action: Action, links: MediaLinks, picture: str = ""
) -> dict[str, Any] | None:
    if isinstance(action, Say):
        return {"type": "say", "id": ident, "text": action.text,
                "buttons": _buttons(action.buttons), "ephemeral": action.ephemeral}
    if isinstance(action, Progress):
        return {"type": "progress", "id": ident, "key": action.key, "stage": action.stage,
                "percent": action.percent, "done": action.done}
    if isinstance(action, Preview):
        return {"type": "preview", "id": ident, "url": media_url(links, action.path),
                "caption": action.caption, "buttons": _buttons(action.buttons)}
    if isinstance(action, Picture):
        url = f"/pictures/{picture}" if picture else ""
        return {"type": "picture", "id": ident, "url": url, "caption": action.caption}
    if isinstance(action, AskApproval):
        return {"type": "ask_approval", "id": ident, "project_id": action.project_id,
                "text": action.text, "buttons": _buttons(action.buttons)}
    return None


def history(entries: list[Entry], links: MediaLinks, keep: int = 60) -> list[dict[str, Any]]:
    """The last `keep` frames of a conversation's recent entries, oldest first; a render's
    progress only as its latest report (the client edits one message per key anyway, and one
    render writes dozens); no ephemeral notice (those are for the moment, as on the chat
    platforms). Links are signed only for the frames kept."""
    latest = {e.action.key: e.id for e in entries if isinstance(e.action, Progress)}
    shown = [
        e for e in entries
        if not (isinstance(e.action, Progress) and latest[e.action.key] != e.id)
        and not (isinstance(e.action, Say) and e.action.ephemeral)
    ]
    kept = shown[-keep:] if keep > 0 else []
    frames = (frame_of(entry, links) for entry in kept)
    return [frame for frame in frames if frame is not None]


def error_frame(text: str) -> dict[str, Any]:
    return {"type": "error", "text": text}
