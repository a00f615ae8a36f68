"""`DiscordAdapter`: the discord.py client as a `ChatAdapter` (an async context).

Entering logs in over REST, syncs the app commands, and connects the gateway in a task;
`connected` is True from `on_ready` until the gateway drops, and only while the gateway
acknowledges our heartbeats (`stalled`: none acknowledged for two intervals plus
`heartbeat_grace`, `HEARTBEAT_GRACE_SECONDS` by default). Leaving closes the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from types import TracebackType
from typing import Self

import redis
from aiohttp import web
from pydantic import SecretStr

from adapters.base import Dispatch
from adapters.discord.client import NovacastClient
from adapters.discord.endpoints import DEFAULT_CDN_URL
from adapters.discord.outbound import ChannelSender, upload_limit_from_env
from adapters.media_links import MediaLinks
from adapters.progress import ProgressMessages

log = logging.getLogger(__name__)

READY_TIMEOUT = 30.0
HEARTBEAT_GRACE_SECONDS = 15.0


class DiscordAdapter:
    """Inbound over the gateway, outbound over REST; no HTTP routes of its own."""

    name = "discord"

    def __init__(
        self,
        token: SecretStr,
        dispatch: Dispatch,
        connection: redis.Redis,
        links: MediaLinks | None = None,
        upload_limit: int | None = None,
        *,
        cdn_url: str = DEFAULT_CDN_URL,
    ) -> None:
        self._token = token
        self._progress = ProgressMessages(connection)
        self._links = links
        self._limit = upload_limit or upload_limit_from_env()
        self.client = NovacastClient(dispatch, self._sender, cdn_url)
        self.heartbeat_grace = HEARTBEAT_GRACE_SECONDS
        self._task: asyncio.Task[None] | None = None

    def routes(self) -> list[web.RouteDef]:
        return []

    @property
    def connected(self) -> bool:
        return self.client.gateway_up and not self.client.is_closed() and not self.stalled

    @property
    def stalled(self) -> bool:
        """No heartbeat acknowledged for two heartbeat intervals plus a grace: the gateway is
        not making progress (discord.py would reconnect only after its own, longer timeout).
        Reads discord.py's keep-alive handler (`ws._keep_alive`, pinned discord.py < 3)."""
        keep_alive = getattr(getattr(self.client, "ws", None), "_keep_alive", None)
        interval = getattr(keep_alive, "interval", None)
        last_ack = getattr(keep_alive, "_last_ack", None)
        if not isinstance(interval, int | float) or not isinstance(last_ack, float):
            return False
        return time.perf_counter() - last_ack > 2 * interval + self.heartbeat_grace

    def _sender(self) -> ChannelSender:
        return ChannelSender(self.client.http, self._progress, self._links, self._limit)

    async def __aenter__(self) -> Self:
        await self.client.login(self._token.get_secret_value())
        self._task = asyncio.create_task(self._connect(), name="discord-gateway")
        ready = asyncio.create_task(self.client.ready_once.wait())
        done, _ = await asyncio.wait({ready, self._task}, timeout=READY_TIMEOUT,
                                     return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            await self.client.close()
            raise RuntimeError("Discord gateway did not become ready (check DISCORD_GATEWAY_URL)")
        return self

    async def _connect(self) -> None:
        try:
            await self.client.connect(reconnect=True)
        except Exception as error:  # reported; `connected` turns False
            log.error("Discord gateway stopped: %s", type(error).__name__)
        finally:
            self.client.gateway_up = False

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.client.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
