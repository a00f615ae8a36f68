"""Slack credentials and tunables, and the Web API clients built from them.

Credentials come from `SlackSettings` (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET,
SLACK_APP_TOKEN, SLACK_API_URL). Slack-only tunables are read here, so they need no shared
field: SLACK_UPLOAD_LIMIT_BYTES (above it a preview is posted as a signed link) and
SLACK_MAX_RETRY_AFTER (the longest Retry-After a rate-limited call waits for).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.settings import SlackSettings

SLACK_UPLOAD_LIMIT = 1024**3
"""Slack accepts files up to 1 GB."""


class SlackOptions(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    upload_limit_bytes: int = Field(
        default=SLACK_UPLOAD_LIMIT, ge=1, alias="SLACK_UPLOAD_LIMIT_BYTES"
    )
    max_retry_after: int = Field(default=30, ge=1, alias="SLACK_MAX_RETRY_AFTER")
    rate_limit_retries: int = Field(default=3, ge=0, le=10, alias="SLACK_RATE_LIMIT_RETRIES")


@dataclass(frozen=True)
class Credentials:
    """What the adapter needs from the settings; secrets stay SecretStr until a client is built."""

    bot_token: SecretStr
    api_url: str
    signing_secret: SecretStr | None = None
    app_token: SecretStr | None = None
    files_url: str = "https://files.slack.com"
    """The only origin shared files are fetched from (with the bot token)."""

    @classmethod
    def from_settings(cls, settings: SlackSettings) -> Credentials | None:
        """None when the bot token is unset (the platform is not configured)."""
        token = settings.bot_token
        if token is None or not token.get_secret_value():
            return None
        return cls(
            bot_token=token,
            api_url=_with_slash(settings.api_url),
            signing_secret=_set(settings.signing_secret),
            app_token=_set(settings.app_token),
            files_url=settings.files_url,
        )

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None


class BoundedRateLimitRetryHandler(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handler (sleeps Retry-After), but gives up when Slack asks for too long."""

    def __init__(self, max_retry_count: int, max_retry_after: int) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_retry_after = max_retry_after

    async def _can_retry_async(
        self,
        *,
        state: RetryState,  # noqa: ARG002 (the SDK's signature)
        request: HttpRequest,  # noqa: ARG002
        response: HttpResponse | None = None,
        error: Exception | None = None,  # noqa: ARG002
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        return _retry_after(response) <= self.max_retry_after


def retry_handlers(options: SlackOptions) -> list[AsyncRetryHandler]:
    return [
        AsyncConnectionErrorRetryHandler(max_retry_count=1),
        BoundedRateLimitRetryHandler(options.rate_limit_retries, options.max_retry_after),
        AsyncServerErrorRetryHandler(max_retry_count=2),
    ]


def web_client(credentials: Credentials, options: SlackOptions) -> AsyncWebClient:
    """The bot-token client, retrying 429s (after Retry-After), 500/503s and dropped connections."""
    return AsyncWebClient(
        token=credentials.bot_token.get_secret_value(),
        base_url=credentials.api_url,
        retry_handlers=retry_handlers(options),
    )


def _retry_after(response: HttpResponse) -> int:
    for name, values in response.headers.items():
        if name.lower() == "retry-after" and values:
            try:
                return int(values[0])
            except ValueError:
                return 1
    return 1


def _set(secret: SecretStr | None) -> SecretStr | None:
    return secret if secret is not None and secret.get_secret_value() else None


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"
