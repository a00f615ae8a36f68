"""`novacast bot`: every configured chat adapter plus the bot's HTTP server.

Routes: `/healthz` (the process is up), `/readyz` (Redis answers and every adapter is
connected), `/media/{token}/{name}` (signed, expiring links to rendered videos) and whatever
webhook routes the adapters bring (`/slack/events`, `/telegram/webhook`). Which adapters
exist is the registry's (`adapters.registry`); each starts when its own settings are complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import click
import redis
from aiohttp import web

from adapters.base import ChatAdapter, Dispatch
from adapters.media_links import MediaLinks, links_for
from adapters.registry import platforms
from bot.actions import Action
from bot.engine import Engine
from bot.events import Event
from novacast.wiring import build_engine, redis_connection
from pipeline.settings import Settings, load_settings

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
"""Webhook bodies larger than this get 413 before any parsing."""

CONNECTION: web.AppKey[redis.Redis] = web.AppKey("connection", redis.Redis)
ADAPTERS: web.AppKey[Sequence[ChatAdapter]] = web.AppKey("adapters", Sequence)
LINKS: web.AppKey[MediaLinks] = web.AppKey("links", MediaLinks)


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    connection = request.app[CONNECTION]
    try:
        redis_ok = bool(await asyncio.to_thread(connection.ping))
    except redis.RedisError:
        redis_ok = False
    adapters = {a.name: a.connected for a in request.app[ADAPTERS]}
    ready = redis_ok and all(adapters.values())
    body = {"ready": ready, "redis": redis_ok, "adapters": adapters}
    return web.json_response(body, status=200 if ready else 503)


async def media(request: web.Request) -> web.StreamResponse:
    path = request.app[LINKS].resolve(request.match_info["token"])
    if path is None:
        raise web.HTTPNotFound(text="This link is invalid or has expired.")
    return web.FileResponse(path, headers={"Content-Type": "video/mp4"})


def build_app(
    connection: redis.Redis, adapters: Sequence[ChatAdapter], links: MediaLinks
) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[CONNECTION], app[ADAPTERS], app[LINKS] = connection, adapters, links
    app.add_routes(
        [
            web.get("/healthz", healthz),
            web.get("/readyz", readyz),
            web.get("/media/{token}/{name}", media),
        ]
    )
    for adapter in adapters:
        app.add_routes(adapter.routes())
    return app


def media_links(settings: Settings, connection: redis.Redis) -> MediaLinks:
    return links_for(connection, settings)


def configured_adapters(
    dispatch: Dispatch, connection: redis.Redis, links: MediaLinks
) -> list[ChatAdapter]:
    """Every registered platform that starts live and whose settings are complete."""
    live = (platform.live(dispatch, connection, links) for platform in platforms())
    return [adapter for adapter in live if adapter is not None]


CORE_THREADS = 2
"""Threads that run the (synchronous) core. Few on purpose: under a burst of events, more
threads only starve the adapters' event loop, which must keep acknowledging within ms."""


def make_dispatch(engine: Engine) -> Dispatch:
    """The core as an async callable, run on its own small thread pool."""
    pool = ThreadPoolExecutor(max_workers=CORE_THREADS, thread_name_prefix="core")

    async def dispatch(event: Event) -> list[Action]:
        return await asyncio.get_running_loop().run_in_executor(pool, engine.handle, event)

    return dispatch


async def serve(settings: Settings, connection: redis.Redis, stop: asyncio.Event) -> None:
    """Run the adapters and the HTTP server until `stop` is set."""
    dispatch = make_dispatch(build_engine(connection))
    links = media_links(settings, connection)
    adapters = configured_adapters(dispatch, connection, links)
    runner = web.AppRunner(build_app(connection, adapters, links))
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", settings.http_port).start()  # noqa: S104
    names = ", ".join(a.name for a in adapters) or "none (set platform credentials)"
    log.warning("bot listening on :%s; adapters: %s", settings.http_port, names)
    try:
        async with contextlib.AsyncExitStack() as stack:
            for adapter in adapters:
                await stack.enter_async_context(adapter)
            await stop.wait()
    finally:
        await runner.cleanup()


def run_bot(settings: Settings) -> int:
    """The `novacast bot` process: stops cleanly on Ctrl-C or SIGTERM."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        with redis_connection(settings) as handle:
            await serve(settings, handle.connection, stop)

    asyncio.run(main())
    return 0


@click.command("bot")
def command() -> None:
    """The chat bot: every adapter whose credentials are set, and the HTTP server."""
    sys.exit(run_bot(load_settings()))
