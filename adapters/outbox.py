"""Outbound from any process: pick the sender for a reply target's adapter.

Workers post progress and previews through this, with nothing but Redis, credentials and the
job's reply target — no live gateway or terminal needed.
"""

from __future__ import annotations

from typing import Protocol

import redis

from bot.actions import Action
from bot.events import ReplyTarget


class Sender(Protocol):
    """Delivers outbound actions for one platform."""

    def send(self, action: Action) -> None: ...


def sender_for(target: ReplyTarget, connection: redis.Redis) -> Sender:
    """The sender for `target.adapter`; an unknown adapter fails loudly."""
    if target.adapter == "console":
        from adapters.console.outbox import ConsoleOutbox

        return ConsoleOutbox(connection, target.workspace)
    raise ValueError(f"no outbound sender for adapter {target.adapter!r}")
