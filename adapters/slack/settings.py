"""Slack's settings from the environment (and `.env`); names are the contracts in DESIGN.md."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class SlackSettings(BaseSettings):
    """SLACK_BOT_TOKEN plus SLACK_SIGNING_SECRET (HTTP events) or SLACK_APP_TOKEN (Socket Mode)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    bot_token: SecretStr | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    signing_secret: SecretStr | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    api_url: str = Field(default="https://slack.com/api/", alias="SLACK_API_URL")
    app_token: SecretStr | None = Field(default=None, alias="SLACK_APP_TOKEN")
    files_url: str = Field(default="https://files.slack.com", alias="SLACK_FILES_URL")
    """Where Slack serves shared files (`url_private`); files anywhere else are not fetched."""
