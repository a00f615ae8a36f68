"""The `editors` section of the policy: defaults, validation, and the refusal it words."""

from __future__ import annotations

import pytest

from policy import Approval, PolicyError, edit_permission, load_policy, parse_policy


def acting(
    user: str, *, adapter: str = "slack", is_admin: bool = False,
    groups: frozenset[str] = frozenset(),
) -> Approval:
    return Approval(adapter=adapter, workspace="T1", user=user, requester="U1",
                    is_admin=is_admin, groups=groups)


def test_the_packaged_defaults_are_requester_admins_approvers_and_the_console() -> None:
    editors = load_policy().editors
    assert (editors.requester_may_edit, editors.admins_may_edit, editors.approvers_may_edit) == (
        True, True, True)
    assert editors.trusted_adapters == ["console"]
    check = edit_permission(load_policy(), "slack", "T1")
    assert check(acting("U1")) is None
    assert check(acting("U2", is_admin=True)) is None
    assert check(acting("U2", adapter="console")) is None
    refusal = check(acting("U2"))
    assert refusal is not None
    assert refusal.rule == "editors"
    assert refusal.reason == ("Only the person who asked for it or workspace admins may change "
                              "this draft (editing policy).")


def test_nobody_allowed_says_so() -> None:
    policy = parse_policy({"editors": {"requester_may_edit": False, "admins_may_edit": False,
                                       "trusted_adapters": []}})
    refusal = edit_permission(policy, "slack", "T1")(acting("U1", is_admin=True))
    assert refusal is not None
    assert refusal.reason.startswith("Nobody may change drafts in this workspace yet")


def test_a_workspace_override_and_a_group() -> None:
    policy = parse_policy({"editors": {"workspaces": {"discord": {"T1": {
        "groups": ["R0EDIT"], "requester_may_edit": False}}}}})
    check = edit_permission(policy, "discord", "T1")
    assert check(acting("U1", adapter="discord")) is not None
    assert check(acting("U7", adapter="discord", groups=frozenset({"R0EDIT"}))) is None
    assert edit_permission(policy, "slack", "T1")(acting("U1")) is None, "other workspaces keep it"


def test_a_typo_names_the_field() -> None:
    with pytest.raises(PolicyError, match=r"editors\.requester_may_editt"):
        parse_policy({"editors": {"requester_may_editt": True}}, source="policy.yaml")
