"""Inbound events: what an adapter hands the core, with the platform payload kept untouched.

Who is speaking travels typed (`Speaker`: roles and, when the platform knows it, the profile
time zone), filled by the adapter; `raw` is the platform's payload as it came, which the core
never reads for facts.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from bot.when_cron import valid_timezone


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


class Speaker(BaseModel):
    """Who sent an event, as their platform knows them: what approval policy and the time-zone
    lookup read. Filled by the adapter from the platform's own answer (a role lookup, a profile),
    never from anything the user typed; per event, because roles change."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, description="the platform's user id")
    name: str = Field(default="", description="display name")
    is_admin: StrictBool = False
    """Administers the workspace: Slack admin or owner, Discord Manage Server, Telegram admin."""
    groups: frozenset[str] = frozenset()
    """Role or user-group ids (Discord roles, Slack user groups), for role-based approval."""
    timezone: str | None = None
    """The profile's IANA zone, when the platform has one (Slack does)."""

    @field_validator("timezone", mode="before")
    @classmethod
    def _known_zone(cls, value: object) -> str | None:
        """A profile zone the zone database does not know is no zone (the platform only hints)."""
        return valid_timezone(value) if isinstance(value, str) else None

    @classmethod
    def of(
        cls,
        conversation: Conversation,
        *,
        is_admin: bool = False,
        groups: frozenset[str] | list[str] = frozenset(),
        timezone: str | None = None,
    ) -> Speaker:
        """The conversation's user, with what the platform says about them."""
        return cls(
            id=conversation.user,
            name=conversation.user_name,
            is_admin=is_admin,
            groups=frozenset(groups),
            timezone=timezone,
        )


class _Inbound(BaseModel):
    model_config = ConfigDict(frozen=True)

    conversation: Conversation
    speaker: Speaker = Field(default_factory=lambda data: Speaker.of(data["conversation"]))
    """Defaults to the conversation's user with no roles and no zone (an event the core makes
    itself, e.g. a scheduled show)."""
    event_id: str = Field(default="", description="platform delivery id, for dedupe")
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)
    """The platform's payload, untouched: for the adapter's own use, never read for facts."""

    @model_validator(mode="after")
    def _speaker_is_the_user(self) -> Self:
        """The speaker is the conversation's user: one id and one name, seen two ways."""
        who = self.conversation
        if (self.speaker.id, self.speaker.name) != (who.user, who.user_name):
            raise ValueError("the speaker must be the conversation's user")
        return self


class Attachment(BaseModel):
    """A file the user sent, already fetched by the adapter into a local file it chose.

    The adapter downloads with its own credentials and a size cap, and never hands the core a
    URL. `refused` is one sentence for the user when the adapter would not fetch it (too big,
    a download that failed); then `path` is empty. The file is unvetted: the asset store
    (pipeline.media.assets) probes it before anything uses it."""

    model_config = ConfigDict(frozen=True)

    path: str = ""
    name: str = Field(default="", max_length=255, description="the name the user gave it")
    mime: str = Field(default="", max_length=100, description="as the platform reported it")
    size_bytes: int = Field(default=0, ge=0)
    refused: str = ""

    @model_validator(mode="after")
    def _path_or_reason(self) -> Self:
        if bool(self.path) == bool(self.refused):
            raise ValueError("an attachment has either a local path or a reason it was refused")
        return self


class MessageEvent(_Inbound):
    """Free text typed in the conversation, with any files sent along."""

    kind: Literal["message"] = "message"
    text: str
    attachments: list[Attachment] = Field(default_factory=list, max_length=10)


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
