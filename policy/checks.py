"""Small composable checks over policy data, in the spirit of nonebot2's `Rule` and `Permission`.

A check is a callable returning `None` (allowed) or a `Refusal` naming the rule in plain words.
`Rule(a, b)` passes when every check passes (the first refusal wins); `Permission(a, b)` passes
when any check passes. Both compose with `&` and `|`.

Approval checks read an `Approval`: who acts, whom the video is for, and the roles the
platform reported for the person acting (the core fills it from the event's typed speaker).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Generic, TypeVar

from policy.model import ROLE_GROUP_PREFIX, BlockedTopic, Policy, RoleRight

T = TypeVar("T")


@dataclass(frozen=True)
class Refusal:
    """Why something is not allowed: `rule` a short machine name, `reason` a sentence for users."""

    rule: str
    reason: str


Check = Callable[[T], Refusal | None]


class Rule(Generic[T]):
    """All checks must pass; the first refusal is returned."""

    def __init__(self, *checks: Check[T]) -> None:
        self.checks = tuple(checks)

    def __call__(self, subject: T) -> Refusal | None:
        for check in self.checks:
            refusal = check(subject)
            if refusal is not None:
                return refusal
        return None

    def __and__(self, other: Check[T]) -> Rule[T]:
        return Rule(*self.checks, other)


class Permission(Generic[T]):
    """Any check passing is enough; when none does, `refusal` says who would have been allowed."""

    def __init__(self, *checks: Check[T], refusal: Refusal) -> None:
        self.checks = tuple(checks)
        self.refusal = refusal

    def __call__(self, subject: T) -> Refusal | None:
        if any(check(subject) is None for check in self.checks):
            return None
        return self.refusal

    def __or__(self, other: Check[T]) -> Permission[T]:
        return Permission(*self.checks, other, refusal=self.refusal)


# --- text -------------------------------------------------------------------------------------

_HOMOGLYPHS = str.maketrans("аеорсухіјѕԁɡαοικνρτυχ", "aeopcyxijsdgaoikvptux")
_LEET = {"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g"}
_LEET_I = str.maketrans({**_LEET, "1": "i"})
_LEET_L = str.maketrans({**_LEET, "1": "l"})
_SYMBOLS = {"@": "a", "$": "s", "+": "t", "!": "i"}
_SYMBOL_IN_WORD = re.compile(r"(?<=[^\W_])[@$+!|](?=[^\W_])")
_SPACED_LETTERS = re.compile(r"(?<![^\W_])[^\W_](?:[\s.*_-]+[^\W_](?![^\W_])){2,}")
_SEPARATORS = re.compile(r"[\s.*_-]+")


def fold_variants(text: str) -> tuple[str, ...]:
    """`text` reduced for matching: case, accents, look-alikes, l33t digits, s p a c e d letters.

    Two variants, because `1` and `|` stand for either `i` or `l`.
    """
    base = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    base = "".join(c for c in base if unicodedata.category(c) not in ("Mn", "Cf"))
    base = base.translate(_HOMOGLYPHS)
    return tuple(
        _join_spaced(_symbols(base, pipe).translate(table))
        for table, pipe in ((_LEET_I, "i"), (_LEET_L, "l"))
    )


def _symbols(text: str, pipe: str) -> str:
    """Symbols read as letters only inside a word (`k!ll`, `a$$hat`), not as punctuation."""
    return _SYMBOL_IN_WORD.sub(lambda m: _SYMBOLS.get(m.group(), pipe), text)


def _join_spaced(text: str) -> str:
    return _SPACED_LETTERS.sub(lambda m: _SEPARATORS.sub("", m.group()), text)


def phrase_pattern(phrase: str) -> str:
    """A regex for `phrase`: word-bounded, letters may repeat, words may run together."""
    words = re.findall(r"[^\W_]+", fold_variants(phrase)[0])
    body = r"[\W_]*".join(_word_pattern(word) for word in words)
    return rf"(?<![^\W_]){body}(?:e?s)?(?![^\W_])"


def _word_pattern(word: str) -> str:
    runs = re.finditer(r"(.)\1*", word)
    return "".join(
        re.escape(m.group(1)) + ("+" if len(m.group()) == 1 else f"{{{len(m.group())},}}")
        for m in runs
    )


class Terms:
    """Phrases compiled once; `found_in(text)` is True when any of them occurs in `text`."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self.phrases = tuple(p for p in phrases if p.strip())

    @cached_property
    def _regex(self) -> re.Pattern[str] | None:
        if not self.phrases:
            return None
        return re.compile("|".join(phrase_pattern(p) for p in self.phrases))

    def found_in(self, text: str) -> bool:
        regex = self._regex
        return regex is not None and any(regex.search(v) for v in fold_variants(text))


@dataclass(frozen=True)
class MaxChars:
    """Text no longer than `limit` characters; `what` names the text ("idea", "message")."""

    limit: int
    what: str

    def __call__(self, text: str) -> Refusal | None:
        if len(text) <= self.limit:
            return None
        return Refusal(
            f"max_{self.what}_chars",
            f"That {self.what} is {len(text):,} characters long; please keep it under "
            f"{self.limit:,}.",
        )


class NoBlockedTopic:
    """Refuses text touching a blocked topic; the reason names the topic, never its phrases."""

    def __init__(self, topic: BlockedTopic) -> None:
        self.topic = topic
        self.terms = Terms(topic.phrases)

    def __call__(self, text: str) -> Refusal | None:
        if not self.terms.found_in(text):
            return None
        return Refusal(
            f"blocked_topic:{self.topic.name}",
            f"I can't make videos about {self.topic.name}; that topic is blocked by this "
            "workspace's policy. Try a different idea.",
        )


class NoBlockedWords:
    """Refuses text using a blocked word; the reason never repeats the word."""

    def __init__(self, words: Iterable[str]) -> None:
        self.terms = Terms(words)

    def __call__(self, text: str) -> Refusal | None:
        if not self.terms.found_in(text):
            return None
        return Refusal(
            "blocked_word",
            "That message uses language this workspace's policy blocks. Please rephrase it.",
        )


def content_rule(policy: Policy) -> Rule[str]:
    """Blocked topics and words from the policy, as one rule over (already cleaned) text."""
    topics = [NoBlockedTopic(topic) for topic in policy.moderation.blocked_topics]
    return Rule(*topics, NoBlockedWords(policy.moderation.blocked_words))


# --- approval ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Approval:
    """Someone pressing Approve: where, who, and who asked for the video."""

    adapter: str
    workspace: str
    user: str
    requester: str
    is_admin: bool = False
    groups: frozenset[str] = frozenset()


def _deny(rule: str) -> Refusal:
    return Refusal(rule, "")


def is_requester(approval: Approval) -> Refusal | None:
    return None if approval.user == approval.requester else _deny("requester")


def is_workspace_admin(approval: Approval) -> Refusal | None:
    return None if approval.is_admin else _deny("workspace_admin")


@dataclass(frozen=True)
class IsListed:
    users: frozenset[str]

    def __call__(self, approval: Approval) -> Refusal | None:
        return None if approval.user in self.users else _deny("listed_approver")


@dataclass(frozen=True)
class InGroup:
    groups: frozenset[str]

    def __call__(self, approval: Approval) -> Refusal | None:
        return None if approval.groups & self.groups else _deny("approver_group")


@dataclass(frozen=True)
class OnTrustedAdapter:
    adapters: frozenset[str]

    def __call__(self, approval: Approval) -> Refusal | None:
        return None if approval.adapter in self.adapters else _deny("trusted_adapter")


@dataclass(frozen=True)
class RoleFirst:
    """For NOVACAST's own accounts (a speaker carrying `novacast-role:R`, set only by the web
    studio and the API) the role alone decides: an editor who asked for a video may not approve
    it by typing "publish it", whatever `requester_may_approve` says. Everyone else is decided
    by `otherwise`, the chat platforms' rules."""

    policy: Policy
    right: RoleRight
    otherwise: Check[Approval]

    def __call__(self, approval: Approval) -> Refusal | None:
        prefix = ROLE_GROUP_PREFIX
        roles = sorted(g.removeprefix(prefix) for g in approval.groups if g.startswith(prefix))
        if not roles:
            return self.otherwise(approval)
        if any(self.policy.role_may(role, self.right) for role in roles):
            return None
        allowed = sorted(r for r, rights in self.policy.roles.items() if self.right in rights)
        who = " or ".join(allowed) or "nobody"
        reason = (
            f"Your role ({', '.join(roles)}) may not {self.right} here; "
            f"that takes the {who} role (roles in the policy)."
        )
        return Refusal("roles", reason)


def approval_permission(policy: Policy, adapter: str, workspace: str) -> Check[Approval]:
    """Who may approve in this workspace, as one check whose refusal names the rule."""
    return RoleFirst(policy, "approve", _platform_approval(policy, adapter, workspace))


def _platform_approval(policy: Policy, adapter: str, workspace: str) -> Permission[Approval]:
    rules = policy.approvers
    listed = rules.for_workspace(adapter, workspace).users
    groups = rules.for_workspace(adapter, workspace).groups
    checks: list[Check[Approval]] = [OnTrustedAdapter(frozenset(rules.trusted_adapters))]
    who: list[str] = []
    if rules.requester_allowed(adapter, workspace):
        checks.append(is_requester)
        who.append("the person who asked for the video")
    if rules.admins_may_approve:
        checks.append(is_workspace_admin)
        who.append("workspace admins")
    if listed:
        checks.append(IsListed(frozenset(listed)))
        who.append("the approvers listed in the policy")
    if groups:
        checks.append(InGroup(frozenset(groups)))
        who.append("members of the approver roles or groups in the policy")
    return Permission(*checks, refusal=_approval_refusal(who))


def _approval_refusal(who: list[str]) -> Refusal:
    if not who:
        reason = "Nobody may approve videos in this workspace yet; ask an admin to add approvers."
    else:
        listed = who[0] if len(who) == 1 else ", ".join(who[:-1]) + " or " + who[-1]
        reason = f"Only {listed} may approve videos in this workspace (approval policy)."
    return Refusal("approvers", reason)


# --- editing a draft --------------------------------------------------------------------------


def edit_permission(policy: Policy, adapter: str, workspace: str) -> Check[Approval]:
    """Who may change a draft in this workspace (Render, Revise, refining replies, Undo, its
    pictures), as one check over the same `Approval` subject approve uses; its refusal names
    who may."""
    return RoleFirst(policy, "edit", _platform_editing(policy, adapter, workspace))


def _platform_editing(policy: Policy, adapter: str, workspace: str) -> Permission[Approval]:
    rules = policy.editors
    listed = rules.for_workspace(adapter, workspace)
    users, groups = set(listed.users), set(listed.groups)
    if rules.approvers_may_edit:
        approvers = policy.approvers.for_workspace(adapter, workspace)
        users.update(approvers.users)
        groups.update(approvers.groups)
    checks: list[Check[Approval]] = [OnTrustedAdapter(frozenset(rules.trusted_adapters))]
    who: list[str] = []
    if rules.requester_allowed(adapter, workspace):
        checks.append(is_requester)
        who.append("the person who asked for it")
    if users or groups:
        checks += [IsListed(frozenset(users)), InGroup(frozenset(groups))]
        who.append("the editors listed in the policy")
    if rules.admins_may_edit:
        checks.append(is_workspace_admin)
        who.append("workspace admins")
    return Permission(*checks, refusal=_edit_refusal(who))


def _edit_refusal(who: list[str]) -> Refusal:
    if not who:
        reason = "Nobody may change drafts in this workspace yet; ask an admin to add editors."
    else:
        listed = who[0] if len(who) == 1 else ", ".join(who[:-1]) + " or " + who[-1]
        reason = f"Only {listed} may change this draft (editing policy)."
    return Refusal("editors", reason)
