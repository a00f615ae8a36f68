"""NOVACAST's own roles (the web studio's sign-ins and the API's keys): the role alone decides
what such a speaker may approve and change, whatever the chat platforms' rules say."""

from __future__ import annotations

import pytest

from policy import Approval, approval_permission, edit_permission, load_policy, parse_policy
from policy.model import ROLE_GROUP_PREFIX


def _web(role: str, *, user: str = "session:u1", requester: str = "session:u1") -> Approval:
    return Approval("web", "acme", user, requester, groups=frozenset({ROLE_GROUP_PREFIX + role}))


@pytest.mark.parametrize(
    ("role", "approve", "edit"),
    [("editor", False, True), ("approver", True, True), ("admin", True, True)],
)
def test_the_packaged_roles(role: str, approve: bool, edit: bool) -> None:
    policy = load_policy()
    others_video = _web(role, requester="session:someone-else")
    own_video = _web(role)
    for subject in (others_video, own_video):
        assert (approval_permission(policy, "web", "acme")(subject) is None) is approve
        assert (edit_permission(policy, "web", "acme")(subject) is None) is edit


def test_an_editor_who_asked_for_the_video_still_may_not_approve_it() -> None:
    refusal = approval_permission(load_policy(), "web", "acme")(_web("editor"))
    assert refusal is not None
    assert refusal.rule == "roles"
    assert "editor" in refusal.reason
    assert "admin or approver role" in refusal.reason


def test_a_role_the_policy_leaves_out_may_do_nothing() -> None:
    policy = parse_policy({"roles": {"admin": ["view", "edit", "approve", "schedule", "admin"]}})
    assert approval_permission(policy, "web", "acme")(_web("approver")) is not None
    assert edit_permission(policy, "web", "acme")(_web("editor")) is not None
    assert approval_permission(policy, "web", "acme")(_web("admin")) is None


def test_chat_platform_speakers_keep_the_platform_rules() -> None:
    policy = load_policy()
    requester = Approval("slack", "T1", "U1", "U1")
    stranger = Approval("slack", "T1", "U2", "U1", groups=frozenset({"S0EDITORS"}))
    assert approval_permission(policy, "slack", "T1")(requester) is None
    refusal = approval_permission(policy, "slack", "T1")(stranger)
    assert refusal is not None
    assert refusal.rule == "approvers"
