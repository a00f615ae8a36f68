"""Which publisher serves a publish target: one table, target kind → factory.

The kinds a policy may name are `policy.model.TargetKind` (an unknown kind fails when the policy
is loaded, at start); this table gives each of them its factory, and `unserved_kinds` says
which ones it lacks (the worker's start-up refuses to run while any does). A new publisher is
its module in `pipeline/publish/` (or `workers/` for one that needs a chat sender), its kind in
`TargetKind`, and one line here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

import redis
from pydantic import ValidationError

from bot import replies
from pipeline.errors import PermanentError
from pipeline.publish import Publisher
from pipeline.publish.folder import FolderPublisher
from pipeline.publish.tiktok import TikTokConfig, TikTokPublisher
from pipeline.publish.x import XConfig, XPublisher
from pipeline.publish.youtube import YouTubeConfig, YouTubePublisher
from pipeline.settings import load_settings
from policy import PublishTarget
from policy.model import TARGET_KINDS, TargetKind
from workers.channel_publisher import ChatChannelPublisher
from workers.publish_ledger import RedisCheckpoints

PublisherFactory = Callable[[str, PublishTarget, redis.Redis], Publisher]
"""(target name, its policy entry, Redis) → the publisher; may raise ValidationError."""


def _folder(name: str, spec: PublishTarget, connection: redis.Redis) -> Publisher:
    del name, spec, connection
    return FolderPublisher(load_settings().data_dir / "published")


def _chat(name: str, spec: PublishTarget, connection: redis.Redis) -> Publisher:
    return ChatChannelPublisher(name, spec, connection)


def _youtube(name: str, spec: PublishTarget, connection: redis.Redis) -> Publisher:
    config = YouTubeConfig.from_env(spec.secrets_prefix, **spec.options)
    return YouTubePublisher(config, RedisCheckpoints(connection, namespace=name))


def _tiktok(name: str, spec: PublishTarget, connection: redis.Redis) -> Publisher:
    config = TikTokConfig.from_env(spec.secrets_prefix, **spec.options)
    return TikTokPublisher(config, RedisCheckpoints(connection, namespace=name))


def _x(name: str, spec: PublishTarget, connection: redis.Redis) -> Publisher:
    config = XConfig.from_env(spec.secrets_prefix, **spec.options)
    return XPublisher(config, RedisCheckpoints(connection, namespace=name))


PUBLISHERS: Mapping[TargetKind, PublisherFactory] = MappingProxyType(
    {
        "folder": _folder,
        "chat": _chat,
        "youtube": _youtube,
        "tiktok": _tiktok,
        "x": _x,
    }
)


def unserved_kinds() -> list[str]:
    """Kinds the policy accepts that no factory serves (empty when the table is complete)."""
    return [kind for kind in TARGET_KINDS if kind not in PUBLISHERS]


def build_publisher(name: str, spec: PublishTarget, connection: redis.Redis) -> Publisher:
    """The publisher for one named target; bad options or missing secrets fail plainly."""
    factory = PUBLISHERS[spec.kind]  # complete: the worker checked `unserved_kinds` at start
    try:
        return factory(name, spec, connection)
    except ValidationError as error:
        fields = ", ".join(sorted({str(item["loc"][0]) for item in error.errors() if item["loc"]}))
        raise PermanentError(replies.bad_target_options(name, fields)) from None
