"""Outbound actions: what the core asks an adapter to do. Each adapter declares which it renders."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.events import ReplyTarget


class ButtonAction(StrEnum):
    """Every button the product shows; the value travels in platform callback data."""

    RENDER = "render"
    REVISE = "revise"
    CANCEL = "cancel"
    APPROVE = "approve"
    SCHEDULE = "schedule"
    REJECT = "reject"
    RETRY = "retry"
    UNSCHEDULE = "unschedule"


BUTTON_LABELS: dict[ButtonAction, str] = {
    ButtonAction.RENDER: "Render",
    ButtonAction.REVISE: "Revise",
    ButtonAction.CANCEL: "Cancel",
    ButtonAction.APPROVE: "Approve & publish",
    ButtonAction.SCHEDULE: "Schedule",
    ButtonAction.REJECT: "Reject",
    ButtonAction.RETRY: "Retry publishing",
    ButtonAction.UNSCHEDULE: "Cancel schedule",
}


class Button(BaseModel):
    model_config = ConfigDict(frozen=True)

    action: ButtonAction
    project_id: str

    @property
    def label(self) -> str:
        return BUTTON_LABELS[self.action]


class _Outbound(BaseModel):
    model_config = ConfigDict(frozen=True)

    target: ReplyTarget


class Say(_Outbound):
    """Post a new message, optionally with buttons (platforms without buttons list them as text)."""

    kind: Literal["say"] = "say"
    text: str
    buttons: list[Button] = Field(default_factory=list)
    ephemeral: bool = False


class Progress(_Outbound):
    """Create or edit-in-place the one progress message identified by `key`."""

    kind: Literal["progress"] = "progress"
    key: str = Field(min_length=1, description="stable per render, e.g. project id + version")
    stage: str
    percent: int = Field(ge=0, le=100)
    done: bool = False


class Preview(_Outbound):
    """Post a playable video (or a link where the platform's size limit forbids)."""

    kind: Literal["preview"] = "preview"
    path: str
    caption: str
    buttons: list[Button] = Field(default_factory=list)


class Picture(_Outbound):
    """Post one still image (a storyboard's contact sheet) with a caption; a platform that
    cannot show images prints the caption and the file's path."""

    kind: Literal["picture"] = "picture"
    path: str
    caption: str = ""


class AskApproval(_Outbound):
    """Ask for a decision on a rendered version; a platform without buttons lists them as text."""

    kind: Literal["ask_approval"] = "ask_approval"
    project_id: str = Field(min_length=1)
    text: str
    buttons: list[Button] = Field(min_length=1)


class JobsStarted(_Outbound):
    """Background jobs the core enqueued for this event; a patient adapter may wait on them."""

    kind: Literal["jobs"] = "jobs"
    job_ids: list[str]


Action = Annotated[
    Say | Progress | Preview | Picture | AskApproval | JobsStarted, Field(discriminator="kind")
]
