"""Telegram's settings from the environment (and `.env`); names are the contracts in DESIGN.md."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class TelegramSettings(BaseSettings):
    """TELEGRAM_BOT_TOKEN turns Telegram on; TELEGRAM_WEBHOOK_URL switches polling to a webhook."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    bot_token: SecretStr | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    api_url: str = Field(default="https://api.telegram.org", alias="TELEGRAM_API_URL")
    webhook_url: str | None = Field(default=None, alias="TELEGRAM_WEBHOOK_URL")
    webhook_secret: SecretStr | None = Field(default=None, alias="TELEGRAM_WEBHOOK_SECRET")
