"""Outbound from any process: pick the sender for a reply target's adapter.

Workers post progress and previews through this, with nothing but Redis, credentials and the
job's reply target — no live gateway or terminal needed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Protocol

import redis

from bot.actions import Action
from bot.events import ReplyTarget


class Sender(Protocol):
    """Delivers outbound actions for one platform, from synchronous code (a worker)."""

    def send(self, action: Action) -> None: ...


SenderFactory = Callable[[ReplyTarget, redis.Redis], Sender]


SENDERS: dict[str, str] = {
    "console": "adapters.console.outbox",
    "telegram": "adapters.telegram.outbound",
    "slack": "adapters.slack.outbound",
    "discord": "adapters.discord.outbound",
}
"""Adapter name -> module with `sync_sender(target, connection) -> Sender` (imported lazily,
so a worker only loads the SDKs of the platforms it actually posts to)."""


def sender_for(target: ReplyTarget, connection: redis.Redis) -> Sender:
    """The sender for `target.adapter`; an unknown adapter fails loudly."""
    module_name = SENDERS.get(target.adapter)
    if module_name is None:
        raise ValueError(f"no outbound sender for adapter {target.adapter!r}")
    factory: SenderFactory = importlib.import_module(module_name).sync_sender
    return factory(target, connection)
