"""Discord (discord.py): app commands, persistent buttons, threads, progress edits, uploads.

`from_settings(settings, dispatch, connection)` is what `novacast bot` calls; it returns None
unless DISCORD_BOT_TOKEN is set. `DISCORD_API_URL` and `DISCORD_GATEWAY_URL` point discord.py
elsewhere (a test fake, a proxy). Workers post through `adapters.discord.outbound.sync_sender`.
See README.md in this package for setting up the application and bot.
"""

from __future__ import annotations

import redis

from adapters.base import ChatAdapter, Dispatch
from adapters.discord.adapter import DiscordAdapter
from adapters.discord.endpoints import point_discord_at
from adapters.media_links import MediaLinks, link_secret
from pipeline.settings import Settings

__all__ = ["DiscordAdapter", "from_settings"]


def from_settings(
    settings: Settings, dispatch: Dispatch, connection: redis.Redis
) -> ChatAdapter | None:
    """The Discord adapter, or None when DISCORD_BOT_TOKEN is unset."""
    token = settings.discord_bot_token
    if token is None or not token.get_secret_value().strip():
        return None
    point_discord_at(settings.discord_api_url, settings.discord_gateway_url)
    links = MediaLinks(link_secret(connection), settings.base_url, settings.data_dir)
    return DiscordAdapter(token, dispatch, connection, links)
