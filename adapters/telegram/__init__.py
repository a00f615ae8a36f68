"""Telegram, through python-telegram-bot: long polling, or a webhook at `/telegram/webhook`.

`PLATFORM` is all the registry needs: `from_settings` is how `novacast bot` starts it live,
`outbound.sync_sender` is what workers post through, `TelegramSettings` what it reads.
"""

from __future__ import annotations

import re

import redis

from adapters.base import ChatAdapter, Dispatch
from adapters.media_links import MediaLinks
from adapters.registry import Platform
from adapters.telegram.adapter import WEBHOOK_PATH, TelegramAdapter, TelegramConfig
from adapters.telegram.inbound import BotIdentity, to_event
from adapters.telegram.outbound import RENDERS, TelegramSender, api_roots, sync_sender
from adapters.telegram.settings import TelegramSettings

__all__ = [
    "PLATFORM",
    "WEBHOOK_PATH",
    "BotIdentity",
    "TelegramAdapter",
    "TelegramConfig",
    "TelegramSender",
    "TelegramSettings",
    "config_from_settings",
    "from_settings",
    "sync_sender",
    "to_event",
]

_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
"""What the Bot API accepts as a webhook `secret_token`."""


def config_from_settings(settings: TelegramSettings) -> TelegramConfig | None:
    """The adapter's configuration, or None when TELEGRAM_BOT_TOKEN is unset."""
    if settings.bot_token is None:
        return None
    secret = settings.webhook_secret
    secret_value = secret.get_secret_value() if secret is not None else None
    if settings.webhook_url and not (secret_value and _SECRET.match(secret_value)):
        raise ValueError(
            "TELEGRAM_WEBHOOK_URL is set, so TELEGRAM_WEBHOOK_SECRET must be set too "
            "(1-256 characters: letters, digits, _ and -)"
        )
    base, files = api_roots(settings)
    return TelegramConfig(
        token=settings.bot_token.get_secret_value(),
        base_url=base,
        base_file_url=files,
        webhook_url=settings.webhook_url or None,
        webhook_secret=secret_value if settings.webhook_url else None,
    )


def from_settings(
    settings: TelegramSettings, dispatch: Dispatch, connection: redis.Redis, links: MediaLinks
) -> ChatAdapter | None:
    """The Telegram adapter, or None when this platform's credentials are unset."""
    config = config_from_settings(settings)
    if config is None:
        return None
    return TelegramAdapter(config, dispatch, connection, links)


PLATFORM = Platform(
    name="telegram",
    settings=TelegramSettings,
    start=from_settings,
    sender=sync_sender,
    renders=RENDERS,
)
