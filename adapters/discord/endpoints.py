"""Where discord.py talks to: the REST root and the gateway (`DiscordSettings` says which).

discord.py has no base-URL option; its `Route.BASE` and `DiscordWebSocket.DEFAULT_GATEWAY` are
class attributes, so the values are process-wide (one Discord per process, which is the case
for the bot and for a worker).
"""

from __future__ import annotations

import discord.gateway
import discord.http
import yarl

DEFAULT_API_URL = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg/"
DEFAULT_CDN_URL = "https://cdn.discordapp.com"
"""Where Discord serves message attachments (fetched without credentials)."""


def point_discord_at(api_url: str, gateway_url: str) -> None:
    """Route every REST call to `api_url` and the gateway connection to `gateway_url`."""
    discord.http.Route.BASE = (api_url or DEFAULT_API_URL).rstrip("/")
    gateway = gateway_url or DEFAULT_GATEWAY_URL
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)
