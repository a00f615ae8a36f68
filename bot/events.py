"""Inbound events: what an adapter hands the core, with the platform payload kept untouched."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Conversation(BaseModel):
    """Who is talking where. One workspace never sees another's projects."""

    model_config = ConfigDict(frozen=True)

    adapter: str = Field(
        min_length=1, description="platform name: console, telegram, slack, discord"
    )
    workspace: str = Field(min_length=1, description="team, guild or chat id")
    channel: str = Field(min_length=1)
    thread: str = ""
    user: str = Field(min_length=1)
    user_name: str = ""

    @property
    def key(self) -> str:
        """Stable id of the conversation (workspace + channel + thread + user)."""
        return ":".join((self.adapter, self.workspace, self.channel, self.thread or "-", self.user))


class ReplyTarget(BaseModel):
    """Where replies go; serializable so a worker on another machine can post progress."""

    model_config = ConfigDict(frozen=True)

    adapter: str
    workspace: str
    channel: str
    thread: str = ""
    message_id: str = ""
    """A message to edit in place (progress), when the platform allows it."""
    user: str = ""
    """Who the conversation is with: ephemeral notices from a worker go to this user."""

    @classmethod
    def of(cls, conversation: Conversation) -> ReplyTarget:
        return cls(
            adapter=conversation.adapter,
            workspace=conversation.workspace,
            channel=conversation.channel,
            thread=conversation.thread,
            user=conversation.user,
        )


class _Inbound(BaseModel):
    model_config = ConfigDict(frozen=True)

    conversation: Conversation
    event_id: str = Field(default="", description="platform delivery id, for dedupe")
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)


class MessageEvent(_Inbound):
    """Free text typed in the conversation."""

    kind: Literal["message"] = "message"
    text: str


class CommandEvent(_Inbound):
    """A slash command: `/make octopus hearts` is name='make', args='octopus hearts'."""

    kind: Literal["command"] = "command"
    name: str = Field(min_length=1, max_length=32)
    args: str = ""


class ButtonEvent(_Inbound):
    """A button press; `action` is an action name, `project_id` the project it acts on."""

    kind: Literal["button"] = "button"
    action: str = Field(min_length=1, max_length=32)
    project_id: str = ""


Event = Annotated[MessageEvent | CommandEvent | ButtonEvent, Field(discriminator="kind")]
