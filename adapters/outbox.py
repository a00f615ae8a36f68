"""Outbound from any process: the sender for a reply target's platform.

Workers post progress and previews through this, with nothing but Redis, credentials and the
job's reply target — no live gateway or terminal needed. Which platforms exist, and how each
one sends, is the registry's (`adapters.registry`); this is the workers' door to it.
"""

from __future__ import annotations

import redis

from adapters.base import Sender
from adapters.registry import is_platform, platform
from bot.events import ReplyTarget

__all__ = ["Sender", "is_platform", "sender_for"]


def sender_for(target: ReplyTarget, connection: redis.Redis) -> Sender:
    """The sender for `target.adapter`; an unknown platform, or an action type the platform
    does not render, fails loudly."""
    return platform(target.adapter).sender_for(target, connection)
