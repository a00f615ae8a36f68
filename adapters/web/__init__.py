"""The web platform: the studio (pages and WebSocket chat) and the HTTP API under /api/v1.

`PLATFORM` is all the registry needs. It reads no credentials: `novacast bot` always serves it,
and every page, socket and API call needs a session (a one-time link from `novacast invite`, or
the operator's link `novacast up` prints) or an API key. Workers post to a studio conversation
through its Redis stream (`adapters.web.outbox.sync_sender`).
"""

from __future__ import annotations

import redis

from adapters.base import Dispatch
from adapters.media_links import MediaLinks
from adapters.registry import NoSettings, Platform
from adapters.web.adapter import WebAdapter
from adapters.web.outbox import RENDERS, WebOutbox, sync_sender
from adapters.web.sessions import Sessions, sign_in_link
from pipeline.settings import load_settings
from policy import load_policy

__all__ = ["PLATFORM", "Sessions", "WebAdapter", "WebOutbox", "from_settings", "sign_in_link"]


def from_settings(
    settings: NoSettings, dispatch: Dispatch, connection: redis.Redis, links: MediaLinks
) -> WebAdapter:
    """The studio and the API: always on (no credentials; everything behind sign-in or a key)."""
    del settings
    return WebAdapter(dispatch, connection, links, load_policy(), load_settings().base_url)


PLATFORM = Platform(
    name="web", settings=NoSettings, start=from_settings, sender=sync_sender, renders=RENDERS
)
