"""The policy file as validated data: a typo or a wrong value fails naming the file and field."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

POLICY_ENV = "NOVACAST_POLICY"
"""Environment variable naming a policy file that replaces the packaged one."""

PACKAGED_POLICY = Path(__file__).with_name("policy.yaml")


class PolicyError(ValueError):
    """The policy file is missing, is not YAML, or has a field with a wrong value."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BlockedTopic(_Strict):
    """A topic refused as a whole; any of its phrases triggers it. Replies name only the topic."""

    name: str = Field(min_length=1, max_length=60)
    phrases: list[str] = Field(min_length=1)

    @field_validator("phrases")
    @classmethod
    def _no_blank_phrases(cls, phrases: list[str]) -> list[str]:
        if any(not p.strip() for p in phrases):
            raise ValueError("phrases must not be blank")
        return phrases


class Moderation(_Strict):
    blocked_topics: list[BlockedTopic] = Field(default_factory=list)
    blocked_words: list[str] = Field(default_factory=list)


class Limits(_Strict):
    max_idea_chars: int = Field(default=500, ge=20)
    max_message_chars: int = Field(default=2000, ge=20)
    min_seconds: int = Field(default=10, ge=5)
    max_seconds: int = Field(default=120, le=180)
    default_seconds: int = 30

    @model_validator(mode="after")
    def _ordered(self) -> Limits:
        if not self.min_seconds <= self.default_seconds <= self.max_seconds:
            raise ValueError("need min_seconds <= default_seconds <= max_seconds")
        return self

    def clamp_seconds(self, seconds: int | None) -> int:
        """The requested length fitted into the allowed range (the default when none was asked)."""
        if seconds is None:
            return self.default_seconds
        return max(self.min_seconds, min(self.max_seconds, seconds))


class RateLimit(_Strict):
    events: int = Field(default=12, ge=1)
    window_seconds: int = Field(default=60, ge=1)
    renders_per_hour: int = Field(default=20, ge=1)
    exempt_adapters: list[str] = Field(default_factory=lambda: ["console"])
    """Adapters whose user is the local operator (a piped console script is not a flood)."""


class WorkspaceApprovers(_Strict):
    users: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    """Discord role ids or Slack user-group ids whose members may approve."""
    requester_may_approve: bool | None = None
    """None keeps the global setting."""


class Approvers(_Strict):
    requester_may_approve: bool = True
    admins_may_approve: bool = True
    trusted_adapters: list[str] = Field(default_factory=lambda: ["console"])
    workspaces: dict[str, dict[str, WorkspaceApprovers]] = Field(default_factory=dict)
    """adapter -> workspace id -> listed approvers and overrides."""

    def for_workspace(self, adapter: str, workspace: str) -> WorkspaceApprovers:
        return self.workspaces.get(adapter, {}).get(workspace, WorkspaceApprovers())

    def requester_allowed(self, adapter: str, workspace: str) -> bool:
        override = self.for_workspace(adapter, workspace).requester_may_approve
        return self.requester_may_approve if override is None else override


class WorkspaceEditors(_Strict):
    users: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    """Discord role ids or Slack user-group ids whose members may change drafts."""
    requester_may_edit: bool | None = None
    """None keeps the global setting."""


class Editors(_Strict):
    """Who may change a draft: Render, Revise, any reply that refines it, Undo, its pictures.

    Anyone matching any rule may; everyone else is refused with a sentence saying who may.
    """

    requester_may_edit: bool = True
    admins_may_edit: bool = True
    approvers_may_edit: bool = True
    """The approvers listed for the workspace (`approvers.workspaces`) may change drafts too."""
    trusted_adapters: list[str] = Field(default_factory=lambda: ["console"])
    workspaces: dict[str, dict[str, WorkspaceEditors]] = Field(default_factory=dict)
    """adapter -> workspace id -> listed editors and overrides."""

    def for_workspace(self, adapter: str, workspace: str) -> WorkspaceEditors:
        return self.workspaces.get(adapter, {}).get(workspace, WorkspaceEditors())

    def requester_allowed(self, adapter: str, workspace: str) -> bool:
        override = self.for_workspace(adapter, workspace).requester_may_edit
        return self.requester_may_edit if override is None else override


TargetKind = Literal["folder", "youtube", "tiktok", "x", "chat"]
"""Every kind of publish target: a policy naming another fails to load. Each has one publisher
factory in `workers.publishers.PUBLISHERS`, which is checked against this list."""
TARGET_KINDS: tuple[TargetKind, ...] = get_args(TargetKind)


class PublishTarget(_Strict):
    """One place approved videos go. Secrets are never here: `credentials` names the
    environment prefix they are read from (`<PREFIX>_CLIENT_ID`, `<PREFIX>_REFRESH_TOKEN`, … or
    the same names with `_FILE` for Docker secrets)."""

    kind: TargetKind
    credentials: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]{0,40}$")
    """Environment prefix of the account's secrets; default YOUTUBE, TIKTOK or X by kind."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Kind-specific settings: privacy, tags, category_id, text_template, privacy_level …"""
    adapter: str | None = None
    """chat: the platform to post into (telegram, slack, discord, console)."""
    workspace: str | None = None
    """chat: the team, guild or chat id; default the approving workspace."""
    channel: str | None = None
    """chat: the channel (or chat id) that receives the final video."""
    thread: str = ""

    @model_validator(mode="after")
    def _chat_needs_channel(self) -> PublishTarget:
        if self.kind == "chat" and (not self.adapter or not self.channel):
            raise ValueError("a chat target needs an adapter and a channel")
        if self.kind != "chat" and (self.adapter or self.channel or self.thread):
            raise ValueError("only a chat target takes adapter, channel or thread")
        return self

    @property
    def secrets_prefix(self) -> str:
        return self.credentials or {"youtube": "YOUTUBE", "tiktok": "TIKTOK", "x": "X"}.get(
            self.kind, ""
        )


BUILTIN_TARGETS: dict[str, PublishTarget] = {
    "folder": PublishTarget(kind="folder"),
    "youtube": PublishTarget(kind="youtube"),
    "tiktok": PublishTarget(kind="tiktok"),
    "x": PublishTarget(kind="x"),
}
"""Targets usable by name without a definition (platform ones read the default secrets)."""


class Publish(_Strict):
    default: list[str] = Field(default_factory=lambda: ["folder"], min_length=1)
    workspaces: dict[str, dict[str, list[str]]] = Field(default_factory=dict)
    """adapter -> workspace id -> target names."""
    targets: dict[str, PublishTarget] = Field(default_factory=dict)
    """Named targets beyond the built-in folder, youtube, tiktok and x."""

    @model_validator(mode="after")
    def _names_exist(self) -> Publish:
        named = [*self.default]
        for workspaces in self.workspaces.values():
            for names in workspaces.values():
                named.extend(names)
        unknown = sorted({name for name in named if self.target(name) is None})
        if unknown:
            raise ValueError(f"unknown publish targets {unknown}: define them under targets")
        return self

    def target(self, name: str) -> PublishTarget | None:
        return self.targets.get(name) or BUILTIN_TARGETS.get(name)


class Schedules(_Strict):
    max_active_per_workspace: int = Field(default=50, ge=1, le=1000)
    min_recurring_minutes: int = Field(default=60, ge=1)
    """A recurring schedule may not fire more often than this (a /make every minute is abuse)."""
    auto_publish: dict[str, list[str]] = Field(default_factory=dict)
    """adapter -> workspaces whose recurring /make publishes without waiting for approval
    (the person who set up the schedule must be an approver). Everywhere else it asks."""

    def may_auto_publish(self, adapter: str, workspace: str) -> bool:
        return workspace in self.auto_publish.get(adapter, [])


RoleName = Literal["editor", "approver", "admin"]
"""NOVACAST's own roles, for people and programs without a chat platform account: the web
studio's sign-ins (`novacast invite --role`) and the HTTP API's keys (`novacast keys create
--role`)."""
ROLE_NAMES: tuple[RoleName, ...] = get_args(RoleName)

RoleRight = Literal["view", "edit", "approve", "schedule", "admin"]
"""What a role may do in its workspace: see its projects; make and change drafts and render;
approve and publish (and reject); schedule and cancel schedules; manage keys, prompts and model
routing."""

ROLE_GROUP_PREFIX = "novacast-role:"
"""A speaker whose role is R carries the group `novacast-role:R` (set by the web adapter only:
no chat platform's group or role id has this form); the role alone then decides what they may
(policy.checks.RoleFirst)."""


def _default_roles() -> dict[RoleName, list[RoleRight]]:
    return {
        "editor": ["view", "edit"],
        "approver": ["view", "edit", "approve", "schedule"],
        "admin": ["view", "edit", "approve", "schedule", "admin"],
    }


class Policy(_Strict):
    moderation: Moderation = Field(default_factory=Moderation)
    limits: Limits = Field(default_factory=Limits)
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    approvers: Approvers = Field(default_factory=Approvers)
    editors: Editors = Field(default_factory=Editors)
    publish: Publish = Field(default_factory=Publish)
    schedules: Schedules = Field(default_factory=Schedules)
    roles: dict[RoleName, list[RoleRight]] = Field(default_factory=_default_roles)
    """What each of NOVACAST's own roles may do; a role left out may do nothing."""

    def role_may(self, role: str, right: RoleRight) -> bool:
        """Whether `role` (a `RoleName`) has `right`; an unknown role has none."""
        return any(name == role and right in rights for name, rights in self.roles.items())

    def publish_targets(self, adapter: str, workspace: str) -> list[str]:
        """Where an approved video of this workspace goes."""
        return self.publish.workspaces.get(adapter, {}).get(workspace, self.publish.default)


def load_policy(path: Path | None = None) -> Policy:
    """Read and validate a policy file: `path`, else $NOVACAST_POLICY, else the packaged one."""
    if path is None:
        env = os.environ.get(POLICY_ENV, "").strip()
        path = Path(env) if env else PACKAGED_POLICY
    return parse_policy(_read_yaml(path), source=str(path))


def parse_policy(data: Any, source: str = "<policy>") -> Policy:
    """Validate already-parsed policy data; errors name `source` and the failing field."""
    if data is None:
        data = {}
    try:
        return Policy.model_validate(data)
    except ValidationError as error:
        raise PolicyError(f"{source}: {_describe(error)}") from None


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PolicyError(f"{path}: cannot read the policy file ({error.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise PolicyError(f"{path}: not valid YAML ({error})") from None


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(top level)"
        problems.append(f"field '{field}': {item['msg']}")
    return "; ".join(problems)
