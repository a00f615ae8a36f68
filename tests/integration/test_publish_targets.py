"""Publishers are chosen from one table by target kind: every kind the policy accepts has its
factory, each builds its own publisher (none falls through to another), and a kind the policy
does not know fails when the policy is loaded."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from pipeline.errors import PermanentError
from pipeline.publish.folder import FolderPublisher
from pipeline.publish.tiktok import TikTokPublisher
from pipeline.publish.x import XPublisher
from pipeline.publish.youtube import YouTubePublisher
from policy import PolicyError, PublishTarget, parse_policy
from policy.model import TARGET_KINDS
from workers.channel_publisher import ChatChannelPublisher
from workers.publishers import PUBLISHERS, build_publisher, unserved_kinds

SERVED_BY = {
    "folder": FolderPublisher,
    "chat": ChatChannelPublisher,
    "youtube": YouTubePublisher,
    "tiktok": TikTokPublisher,
    "x": XPublisher,
}


@pytest.fixture
def acme_secrets(monkeypatch: pytest.MonkeyPatch) -> str:
    """One account's secrets under the ACME_ prefix, for every platform's names."""
    for name in ("CLIENT_ID", "CLIENT_KEY", "CLIENT_SECRET", "REFRESH_TOKEN"):
        monkeypatch.setenv(f"ACME_{name}", f"acme-{name.lower()}")
    return "ACME"


def target(kind: str, credentials: str) -> PublishTarget:
    if kind == "chat":
        return PublishTarget(kind="chat", adapter="console", channel="final-cuts")
    if kind == "folder":
        return PublishTarget(kind="folder")
    return PublishTarget.model_validate({"kind": kind, "credentials": credentials})


def test_the_table_serves_exactly_the_kinds_the_policy_accepts() -> None:
    assert unserved_kinds() == []
    assert sorted(PUBLISHERS) == sorted(TARGET_KINDS) == sorted(SERVED_BY)


@pytest.mark.parametrize("kind", TARGET_KINDS)
def test_each_kind_builds_its_own_publisher(
    kind: str, acme_secrets: str, redis_conn: redis.Redis, data_dir: Path
) -> None:
    publisher = build_publisher(f"my-{kind}", target(kind, acme_secrets), redis_conn)
    assert type(publisher) is SERVED_BY[kind]


def test_a_remote_target_without_its_secrets_fails_plainly(
    redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOBODY_CLIENT_KEY", raising=False)
    with pytest.raises(PermanentError, match="NOBODY_CLIENT_KEY"):
        build_publisher("tt", target("tiktok", "NOBODY"), redis_conn)


def test_bad_options_name_the_target(acme_secrets: str, redis_conn: redis.Redis) -> None:
    spec = PublishTarget.model_validate(
        {"kind": "x", "credentials": acme_secrets, "options": {"poll_seconds": -1}}
    )
    with pytest.raises(PermanentError, match="the publish target “brand-x” has bad options"):
        build_publisher("brand-x", spec, redis_conn)


def test_an_unknown_kind_fails_when_the_policy_loads() -> None:
    data = {"publish": {"default": ["insta"], "targets": {"insta": {"kind": "instagram"}}}}
    with pytest.raises(PolicyError, match=r"field 'publish\.targets\.insta\.kind'"):
        parse_policy(data, source="policy.yaml")
