"""`/readyz` turns green only once the core is warm, and red while an adapter makes no progress
(a Telegram poller whose getUpdates cycles stopped completing, a Discord gateway that stopped
acknowledging heartbeats) — issue 11, items 4 and 6."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from adapters.discord import DiscordAdapter, DiscordSettings
from adapters.discord import from_settings as discord_adapter
from adapters.media_links import MediaLinks
from bot.actions import Action
from bot.events import Event
from novacast.server import Readiness, start_warming
from novacast.wiring import build_engine
from tests.edges_support import EdgeBot, edge_bot
from tests.fakes.discord import FakeDiscord

DISCORD_TOKEN = "dc-edges-token-77aa"


async def _ready(bot: EdgeBot) -> tuple[int, dict[str, Any]]:
    async with bot.session.get(bot.url + "/readyz") as response:
        return response.status, await response.json()


async def _until_status(bot: EdgeBot, status: int, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        got, body = await _ready(bot)
        if got == status:
            return body
        assert time.monotonic() < deadline, f"/readyz stayed {got}: {body}"
        await asyncio.sleep(0.1)


async def test_ready_only_once_the_core_is_warm_and_acks_never_wait_for_it(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    readiness = Readiness()
    async with edge_bot(redis_conn, data_dir, readiness=readiness) as bot:
        status, body = await _ready(bot)
        assert (status, body["warm"], body["redis"]) == (503, False, True)
        assert all(body["adapters"].values())
        assert await bot.get("/healthz") == 200
        # the HTTP side answers while the core is cold: a signed command is acked
        command = bot.signer.command("/help", user="U0ADA", channel="D0ADA", command="/novacast")
        assert await bot.post_slack(command) == 200

        thread = start_warming(build_engine(redis_conn), readiness)
        body = await _until_status(bot, 200)
        assert body == {"ready": True, "redis": True, "warm": True, "adapters": body["adapters"]}
        assert readiness.warm_seconds is not None
        thread.join(timeout=5)


async def test_a_poller_that_stops_completing_getupdates_is_not_ready(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    async with edge_bot(
        redis_conn, data_dir, webhook=False, poll_timeout=1, stall_grace=1.0
    ) as bot:
        await _until_status(bot, 200)
        bot.telegram_fake.fail_next("getUpdates", 500, times=3)  # PTB backs off 1, 1.5, 2.25 s
        body = await _until_status(bot, 503, timeout=15)
        assert body["adapters"] == {"slack": True, "telegram": False}
        assert body["redis"] is True
        await _until_status(bot, 200, timeout=30)  # polling completes cycles again


def test_a_discord_gateway_that_stops_acknowledging_heartbeats_is_not_ready(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    async def scenario() -> None:
        async with FakeDiscord(DISCORD_TOKEN) as fake:
            fake.heartbeat_interval_ms = 300
            settings = DiscordSettings.model_validate({
                "DISCORD_BOT_TOKEN": DISCORD_TOKEN,
                "DISCORD_API_URL": fake.api_url,
                "DISCORD_GATEWAY_URL": fake.gateway_url,
            })
            links = MediaLinks(b"secret", "http://bot.example", data_dir)
            adapter = discord_adapter(settings, _nobody, redis_conn, links)
            assert isinstance(adapter, DiscordAdapter)
            adapter.heartbeat_grace = 0.5
            async with adapter:
                await _until(lambda: adapter.connected, "connected")
                await asyncio.sleep(1.5)  # heartbeats acknowledged: still ready
                assert adapter.connected
                fake.acks_heartbeats = False
                await _until(lambda: not adapter.connected, "not ready")
                assert adapter.stalled

    asyncio.run(asyncio.wait_for(scenario(), timeout=60))


async def _nobody(_event: Event) -> list[Action]:
    return []


async def _until(check: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never {what}"
        await asyncio.sleep(0.05)
