"""The bot's HTTP edge as `novacast bot` runs it, for the hardened-edges tests and the fuzz run.

`edge_bot(...)` starts the real server app (`novacast.server.build_app`, the redacting access
log) with the real Slack adapter (HTTP mode) and the real Telegram adapter (webhook mode, or
long polling) against the protocol fakes, the real core behind `make_dispatch`, real Redis and
a media-link signer sharing the server's secret. `logged_tracebacks(caplog)` lists the records
that carry a traceback (what no request may produce).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis
from aiohttp import web

from adapters import slack
from adapters.media_links import MediaLinks, link_secret
from adapters.slack import SlackAdapter, SlackSettings
from adapters.telegram import TelegramAdapter, TelegramConfig
from adapters.telegram.outbound import api_roots
from adapters.telegram.settings import TelegramSettings
from bot.actions import Action
from bot.events import Event
from novacast.server import (
    Readiness,
    RedactingAccessLogger,
    build_app,
    make_dispatch,
    media_links,
)
from novacast.wiring import build_engine
from pipeline.settings import Settings
from tests.fakes.slack import FakeSlack, SlackSigner
from tests.fakes.telegram import TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram import FakeTelegram

SLACK_TOKEN = "xoxb-1111-2222-novacastEDGEStoken"
SLACK_SECRET = "9a8b7c6d5e4f30211f2e3d4c5b6a7980"
TELEGRAM_SECRET = "edges-webhook_secret-0123"
SLACK_PATH = "/slack/events"
TELEGRAM_PATH = "/telegram/webhook"


@dataclass
class EdgeBot:
    """The running bot: its URL, the fakes it talks to, and what its core saw."""

    url: str
    slack_fake: FakeSlack
    telegram_fake: FakeTelegram
    slack: SlackAdapter
    telegram: TelegramAdapter
    signer: SlackSigner
    links: MediaLinks
    readiness: Readiness
    data_dir: Path
    events: list[Event]
    session: aiohttp.ClientSession

    async def post_slack(
        self, body: bytes, *, headers: dict[str, str] | None = None, signed: bool = True
    ) -> int:
        sent = self.signer.headers(body) if signed else {}
        if "=" in body[:20].decode(errors="replace") or not body.lstrip().startswith(b"{"):
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            sent["Content-Type"] = "application/json"
        async with self.session.post(
            self.url + SLACK_PATH, data=body, headers=sent | (headers or {})
        ) as response:
            await response.read()
            return response.status

    async def post_telegram(self, body: bytes, *, secret: str | None = TELEGRAM_SECRET) -> int:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        async with self.session.post(
            self.url + TELEGRAM_PATH, data=body, headers=headers
        ) as response:
            await response.read()
            return response.status

    async def get(self, path: str) -> int:
        async with self.session.get(self.url + path) as response:
            await response.read()
            return response.status

    def media_token(self, payload: bytes) -> str:
        """A media-link token for any payload, signed with the server's secret (so that it
        reaches the parser behind the signature)."""
        secret = link_secret(None, self.data_dir)  # what the server signs with
        signature = hmac.new(secret, payload, hashlib.sha256).digest()
        return _b64(payload) + "." + _b64(signature)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def telegram_config(fake: FakeTelegram, url: str, *, webhook: bool, **extra: Any) -> TelegramConfig:
    settings = TelegramSettings(TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN, TELEGRAM_API_URL=fake.url)
    base, files = api_roots(settings)
    hook = {"webhook_url": url + TELEGRAM_PATH, "webhook_secret": TELEGRAM_SECRET}
    return TelegramConfig(
        token=TELEGRAM_TOKEN, base_url=base, base_file_url=files, **(hook if webhook else {}),
        **extra,
    )


@contextlib.asynccontextmanager
async def edge_bot(
    connection: redis.Redis,
    data_dir: Path,
    *,
    webhook: bool = True,
    readiness: Readiness | None = None,
    **telegram_extra: Any,
) -> AsyncIterator[EdgeBot]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(NOVACAST_DATA_DIR=str(data_dir), NOVACAST_PUBLIC_URL=url)
    links = media_links(settings, connection)
    core = make_dispatch(build_engine(connection))
    events: list[Event] = []

    async def dispatch(event: Event) -> list[Action]:
        events.append(event)
        return await core(event)

    readiness = readiness or Readiness(warm=True)
    async with (
        FakeSlack(SLACK_TOKEN) as slack_fake,
        FakeTelegram() as telegram_fake,
        aiohttp.ClientSession() as session,
    ):
        slack_settings = SlackSettings(
            SLACK_BOT_TOKEN=SLACK_TOKEN,
            SLACK_SIGNING_SECRET=SLACK_SECRET,
            SLACK_API_URL=slack_fake.api_url,
        )
        slack_adapter = slack.from_settings(slack_settings, dispatch, connection, links)
        assert isinstance(slack_adapter, SlackAdapter)
        config = telegram_config(telegram_fake, url, webhook=webhook, **telegram_extra)
        telegram_adapter = TelegramAdapter(config, dispatch, connection, links)
        app = build_app(connection, [slack_adapter, telegram_adapter], links, readiness)
        runner = web.AppRunner(app, access_log_class=RedactingAccessLogger)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        try:
            async with slack_adapter, telegram_adapter:
                yield EdgeBot(
                    url=url,
                    slack_fake=slack_fake,
                    telegram_fake=telegram_fake,
                    slack=slack_adapter,
                    telegram=telegram_adapter,
                    signer=SlackSigner(SLACK_SECRET, url + SLACK_PATH),
                    links=links,
                    readiness=readiness,
                    data_dir=data_dir,
                    events=events,
                    session=session,
                )
        finally:
            await runner.cleanup()


def logged_tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every captured record that carries a traceback, as `logger: message`."""
    return [
        f"{r.name}: {r.getMessage()[:200]}"
        for r in caplog.records
        if r.exc_info or r.exc_text or "Traceback (most recent call last)" in r.getMessage()
    ]


def loud_records(caplog: pytest.LogCaptureFixture, level: int = logging.ERROR) -> list[str]:
    return [f"{r.name}: {r.getMessage()[:200]}" for r in caplog.records if r.levelno >= level]

