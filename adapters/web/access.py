"""Who is acting on the web platform: a person signed in to the studio, or a program holding an
API key. Both resolve to one `Principal` (a workspace, an id, a role), which becomes the core's
conversation and typed speaker, so the chat's policy checks apply unchanged.

A role's rights come from the policy (`roles:` in policy.yaml). The studio and the API refuse
what a role lacks before the core sees the request (`Principal.may`); the core's approval and
editing checks also see the role, as the speaker group `novacast-role:<role>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.events import Conversation, Speaker
from policy import Policy
from policy.model import ROLE_GROUP_PREFIX, RoleRight

ADAPTER = "web"
"""The platform name of the studio and the API (conversations, reply targets, the registry)."""


class Role(StrEnum):
    """NOVACAST's own roles (policy.model.RoleName)."""

    EDITOR = "editor"
    APPROVER = "approver"
    ADMIN = "admin"


class Via(StrEnum):
    """How the principal proved who it is."""

    SESSION = "session"
    KEY = "key"


@dataclass(frozen=True)
class Principal:
    """A signed-in person (`via=SESSION`, `id` their user id) or an API key (`via=KEY`, `id` the
    key's public id), acting in one workspace with one role."""

    workspace: str
    id: str
    role: Role
    via: Via
    name: str = ""

    @property
    def user(self) -> str:
        """The user id the core sees: `session:<id>` or `key:<id>` (never clash)."""
        return f"{self.via.value}:{self.id}"

    def may(self, policy: Policy, right: RoleRight) -> bool:
        return policy.role_may(self.role.value, right)

    def conversation(self, channel: str, thread: str = "") -> Conversation:
        """The core's conversation for this principal in `channel` of its workspace."""
        return Conversation(
            adapter=ADAPTER,
            workspace=self.workspace,
            channel=channel,
            thread=thread,
            user=self.user,
            user_name=self.name,
        )

    def speaker(self, conversation: Conversation) -> Speaker:
        """The typed speaker of an event this principal sends in `conversation` (its own)."""
        return Speaker.of(
            conversation,
            is_admin=self.role is Role.ADMIN,
            groups=frozenset({ROLE_GROUP_PREFIX + self.role.value}),
        )
