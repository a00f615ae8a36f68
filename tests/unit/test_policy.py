"""The policy file loads, fails loudly when broken, and its checks compose."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.events import Conversation, MessageEvent, Speaker
from policy import (
    POLICY_ENV,
    Approval,
    MaxChars,
    Permission,
    PolicyError,
    Refusal,
    Rule,
    approval_permission,
    content_rule,
    load_policy,
    parse_policy,
)


def test_packaged_policy_loads_with_the_documented_defaults() -> None:
    policy = load_policy()
    assert policy.limits.max_idea_chars == 500
    assert policy.limits.max_message_chars == 2000
    assert (policy.limits.min_seconds, policy.limits.max_seconds) == (10, 120)
    assert policy.limits.default_seconds == 30
    assert policy.rate_limit.events == 12
    assert policy.rate_limit.window_seconds == 60
    assert policy.approvers.requester_may_approve is True
    assert policy.publish_targets("slack", "T1") == ["folder"]
    names = {topic.name for topic in policy.moderation.blocked_topics}
    assert {"weapons manufacture", "self-harm instructions", "hate"} <= names
    assert "sexual content involving minors" in names


def test_environment_variable_overrides_the_packaged_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("limits:\n  max_idea_chars: 100\npublish:\n  default: [folder, youtube]\n")
    monkeypatch.setenv(POLICY_ENV, str(path))
    policy = load_policy()
    assert policy.limits.max_idea_chars == 100
    assert policy.publish_targets("console", "local") == ["folder", "youtube"]


def test_explicit_path_wins_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(POLICY_ENV, str(tmp_path / "missing.yaml"))
    path = tmp_path / "mine.yaml"
    path.write_text("rate_limit:\n  events: 3\n")
    assert load_policy(path).rate_limit.events == 3


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("limits:\n  max_idea_chars: lots\n", "limits.max_idea_chars"),
        ("limits:\n  min_seconds: 60\n  default_seconds: 30\n", "limits"),
        ("moderation:\n  blocked_topics:\n    - name: x\n", "moderation.blocked_topics.0.phrases"),
        ("approvers:\n  requester_may_aprove: true\n", "approvers.requester_may_aprove"),
        ("publish:\n  default: []\n", "publish.default"),
        ("publish:\n  default: [folder, vimeo]\n", "publish"),
        ("publish:\n  targets:\n    team:\n      kind: chat\n", "publish.targets.team"),
        ("publish:\n  targets:\n    yt:\n      kind: youtube\n      credentials: a-b\n",
         "publish.targets.yt.credentials"),
        ("schedules:\n  min_recurring_minutes: 0\n", "schedules.min_recurring_minutes"),
    ],
)
def test_a_broken_file_names_the_file_and_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    assert str(path) in str(raised.value)
    assert f"'{field}'" in str(raised.value)


def test_unreadable_and_non_yaml_files_fail_with_the_path(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"missing\.yaml"):
        load_policy(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("limits: [unclosed\n")
    with pytest.raises(PolicyError, match=r"bad\.yaml: not valid YAML"):
        load_policy(bad)


def test_an_empty_file_means_all_defaults(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    policy = load_policy(path)
    assert policy.limits.default_seconds == 30
    assert policy.approvers.trusted_adapters == ["console"]


def test_seconds_are_clamped_into_the_allowed_range() -> None:
    limits = load_policy().limits
    assert limits.clamp_seconds(None) == 30
    assert limits.clamp_seconds(3) == 10
    assert limits.clamp_seconds(45) == 45
    assert limits.clamp_seconds(600) == 120


# --- content -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "how to build a bomb at home",
        "How To BUILD A BOMB",
        "b u i l d a b o m b",
        "build a b0mb",
        "buіld а bomb",  # Cyrillic і and а
        "ｂｕｉｌｄ ａ ｂｏｍｂ",  # full-width
        "pipebombs for beginners",
        "how to k1ll myself",
        "heil hitler",
    ],
)
def test_blocked_topics_are_found_through_simple_obfuscation(text: str) -> None:
    refusal = content_rule(load_policy())(text)
    assert refusal is not None
    assert refusal.rule.startswith("blocked_topic:")


@pytest.mark.parametrize(
    "text",
    [
        "the history of the atomic bomb",
        "why octopuses have three hearts",
        "bombastic movie trailers",
        "Scunthorpe United's best season",
        "how to build a birdhouse",
        "self-care tips for exam week",
    ],
)
def test_innocent_text_passes(text: str) -> None:
    assert content_rule(load_policy())(text) is None


def test_refusals_name_the_topic_but_never_the_phrases() -> None:
    refusal = content_rule(load_policy())("please explain how to build a bomb")
    assert refusal is not None
    assert "weapons manufacture" in refusal.reason
    assert "bomb" not in refusal.reason


def test_blocked_words_match_whole_words_only() -> None:
    policy = parse_policy({"moderation": {"blocked_words": ["darn"]}})
    rule = content_rule(policy)
    assert rule("well darn it") is not None
    assert rule("D.A.R.N") is not None
    assert rule("darns everywhere") is not None
    assert rule("darning socks") is None
    refusal = rule("darn")
    assert refusal is not None
    assert "darn" not in refusal.reason


def test_max_chars_reports_length_and_limit() -> None:
    check = MaxChars(10, "idea")
    assert check("short") is None
    refusal = check("x" * 20_000)
    assert refusal == Refusal(
        "max_idea_chars", "That idea is 20,000 characters long; please keep it under 10."
    )


def test_rule_returns_the_first_refusal_and_composes_with_and() -> None:
    def never(_: str) -> Refusal:
        return Refusal("never", "no")

    def always(_: str) -> None:
        return None

    assert Rule(always, always)("x") is None
    assert Rule(always, never)("x") == Refusal("never", "no")
    assert (Rule[str](always) & never)("x") == Refusal("never", "no")


def test_permission_passes_when_any_check_passes_and_composes_with_or() -> None:
    refusal = Refusal("nobody", "nobody may")

    def deny(_: str) -> Refusal:
        return Refusal("deny", "")

    def allow(_: str) -> None:
        return None

    assert Permission(deny, refusal=refusal)("x") == refusal
    assert (Permission(deny, refusal=refusal) | allow)("x") is None


# --- approval ------------------------------------------------------------------------------


def _approval(user: str, *, adapter: str = "slack", admin: bool = False) -> Approval:
    return Approval(adapter=adapter, workspace="T1", user=user, requester="U1", is_admin=admin)


def test_default_approvers_are_requester_admins_and_the_console() -> None:
    permission = approval_permission(load_policy(), "slack", "T1")
    assert permission(_approval("U1")) is None
    assert permission(_approval("U2", admin=True)) is None
    refusal = permission(_approval("U2"))
    assert refusal is not None
    assert "the person who asked for the video" in refusal.reason
    assert "workspace admins" in refusal.reason
    console = approval_permission(load_policy(), "console", "local")
    assert console(_approval("someone", adapter="console")) is None


def test_workspace_lists_and_overrides() -> None:
    policy = parse_policy({
        "approvers": {
            "admins_may_approve": False,
            "workspaces": {"slack": {"T1": {"users": ["U9"], "requester_may_approve": False}}},
        }
    })
    permission = approval_permission(policy, "slack", "T1")
    assert permission(_approval("U9")) is None
    refusal = permission(_approval("U1"))
    assert refusal is not None
    assert refusal.reason == (
        "Only the approvers listed in the policy may approve videos in this workspace "
        "(approval policy)."
    )
    other = approval_permission(policy, "slack", "T2")
    assert other(Approval("slack", "T2", "U1", "U1")) is None


def test_admin_flag_must_be_a_real_true_on_the_speaker() -> None:
    assert Speaker(id="U1", is_admin=True).is_admin
    with pytest.raises(ValidationError):
        Speaker(id="U1", is_admin="true")  # type: ignore[arg-type]
    assert not Speaker(id="U1").is_admin
    payload_claim = MessageEvent(
        conversation=Conversation(adapter="slack", workspace="T1", channel="C1", user="U1"),
        raw={"novacast": {"is_admin": True}, "is_admin": True},
        text="approve it",
    )
    assert not payload_claim.speaker.is_admin


def test_members_of_listed_roles_or_groups_may_approve() -> None:
    workspaces = {"discord": {"G1": {"groups": ["R-editors"]}}}
    policy = parse_policy({"approvers": {"requester_may_approve": False,
                                         "admins_may_approve": False, "workspaces": workspaces}})
    check = approval_permission(policy, "discord", "G1")
    speaker = Speaker(id="U9", groups=frozenset({"R-editors"}))
    editor = Approval("discord", "G1", "U9", requester="U1", groups=speaker.groups)
    assert check(editor) is None
    outsider = Approval("discord", "G1", "U8", requester="U1", groups=frozenset({"R-other"}))
    refusal = check(outsider)
    assert refusal is not None
    assert "approver roles or groups" in refusal.reason
    with pytest.raises(ValidationError):
        Speaker(id="U9", groups="R-editors")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Speaker(id="U9", groups=["R-editors", 7])  # type: ignore[list-item]


def test_named_targets_and_their_secret_prefixes(tmp_path: Path) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text(
        "publish:\n"
        "  default: [folder]\n"
        "  workspaces:\n    slack:\n      T1: [brand-yt, team-channel, x]\n"
        "  targets:\n"
        "    brand-yt: {kind: youtube, credentials: BRAND_YT, options: {privacy: unlisted}}\n"
        "    team-channel: {kind: chat, adapter: slack, channel: C0FINAL}\n"
    )
    policy = load_policy(path)
    names = policy.publish_targets("slack", "T1")
    assert names == ["brand-yt", "team-channel", "x"]
    brand = policy.publish.target("brand-yt")
    assert brand is not None
    assert brand.secrets_prefix == "BRAND_YT"
    assert brand.options == {"privacy": "unlisted"}
    x_target = policy.publish.target("x")
    assert x_target is not None
    assert x_target.secrets_prefix == "X"
    channel = policy.publish.target("team-channel")
    assert channel is not None
    assert (channel.adapter, channel.channel) == ("slack", "C0FINAL")
