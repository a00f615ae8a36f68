"""Discord (discord.py): app commands, persistent buttons, threads, progress edits, uploads.

`PLATFORM` is all the registry needs. `from_settings(settings, dispatch, connection, links)`
is how `novacast bot` starts it; it returns None unless DISCORD_BOT_TOKEN is set.
`DISCORD_API_URL` and `DISCORD_GATEWAY_URL` point discord.py elsewhere (a test fake, a proxy);
attachments users send are fetched only from `DISCORD_CDN_URL`.
Workers post through `adapters.discord.outbound.sync_sender`.
See README.md in this package for setting up the application and bot.
"""

from __future__ import annotations

import redis

from adapters.base import ChatAdapter, Dispatch
from adapters.discord.adapter import DiscordAdapter
from adapters.discord.endpoints import point_discord_at
from adapters.discord.outbound import RENDERS, sync_sender
from adapters.discord.settings import DiscordSettings
from adapters.media_links import MediaLinks
from adapters.registry import Platform

__all__ = ["PLATFORM", "DiscordAdapter", "DiscordSettings", "from_settings"]


def from_settings(
    settings: DiscordSettings, dispatch: Dispatch, connection: redis.Redis, links: MediaLinks
) -> ChatAdapter | None:
    """The Discord adapter, or None when DISCORD_BOT_TOKEN is unset."""
    token = settings.bot_token
    if token is None or not token.get_secret_value().strip():
        return None
    point_discord_at(settings.api_url, settings.gateway_url)
    return DiscordAdapter(token, dispatch, connection, links, cdn_url=settings.cdn_url)


PLATFORM = Platform(
    name="discord",
    settings=DiscordSettings,
    start=from_settings,
    sender=sync_sender,
    renders=RENDERS,
)
