"""Discord's settings from the environment (and `.env`); names are the contracts in DESIGN.md."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.discord.endpoints import DEFAULT_API_URL, DEFAULT_CDN_URL, DEFAULT_GATEWAY_URL


class DiscordSettings(BaseSettings):
    """DISCORD_BOT_TOKEN turns Discord on; the URLs point discord.py elsewhere (a fake, a proxy)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    bot_token: SecretStr | None = Field(default=None, alias="DISCORD_BOT_TOKEN")
    api_url: str = Field(default=DEFAULT_API_URL, alias="DISCORD_API_URL")
    gateway_url: str = Field(default=DEFAULT_GATEWAY_URL, alias="DISCORD_GATEWAY_URL")
    cdn_url: str = Field(default=DEFAULT_CDN_URL, alias="DISCORD_CDN_URL")
    """Where attachments are fetched from; an attachment URL anywhere else is refused."""
