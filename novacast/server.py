"""`novacast bot`: every configured chat adapter plus the bot's HTTP server.

Routes: `/healthz` (the process is up), `/readyz`, `/media/{token}/{name}` (signed, expiring
links to rendered videos) and whatever webhook routes the adapters bring (`/slack/events`,
`/telegram/webhook`). Which adapters exist is the registry's (`adapters.registry`); each starts
when its own settings are complete.

`/readyz` is green only when Redis answers, every adapter is connected *and making progress*
(a poller that completed no getUpdates cycle lately, a gateway whose heartbeats go unacked,
count as not connected), and the core is warm: `Readiness.warm` is set once the engine is built
and a first classification (which loads the embedding model when one is used) has run, in a
thread, so the HTTP site and its acks never wait on model loading.

`/metrics` is the Prometheus exposition of this process (`pipeline.telemetry`'s metrics, the
RQ queue depths read at scrape time, the process's own): with NOVACAST_METRICS_TOKEN set it
asks for `Authorization: Bearer <token>`; without, it answers only direct requests from a
private or loopback address (no proxy's forwarding header). Every request, and every event an
adapter reads from one, runs under a trace id (`pipeline.telemetry`), returned as `X-Trace-Id`.

Every route refuses bad input with a 4xx and one short log line. The access log (`-v`) never
holds a media token or a query string (`RedactingAccessLogger`). An event that arrives while
Redis is down is answered `replies.CANNOT_SAVE`, not dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import hmac
import ipaddress
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import click
import redis
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from adapters.base import ChatAdapter, Dispatch
from adapters.media_links import MediaLinks, links_for
from adapters.registry import platforms
from bot import replies
from bot.actions import Action, Say
from bot.availability import store_unavailable
from bot.engine import Engine
from bot.events import Event, ReplyTarget
from novacast.cpu import one_cpu
from novacast.malloc import limit_arenas
from novacast.observability import redacted_path as redacted_token_path
from novacast.wiring import build_engine, redis_connection
from pipeline.media.sources import ranks_by_meaning
from pipeline.memory import embeddings
from pipeline.settings import Settings, load_settings
from pipeline.telemetry import event_trace, request_arrived, watch_queues
from workers.catalog import QUEUES

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
"""Webhook bodies larger than this get 413 before any parsing."""

CONNECTION: web.AppKey[redis.Redis] = web.AppKey("connection", redis.Redis)
ADAPTERS: web.AppKey[Sequence[ChatAdapter]] = web.AppKey("adapters", Sequence)
LINKS: web.AppKey[MediaLinks] = web.AppKey("links", MediaLinks)

PING_SECONDS = 2.0
"""`/readyz` counts Redis as down when a PING takes longer than this."""


class Readiness:
    """Whether the core is warm (engine built, first classification done); `/readyz` waits for
    it. `Readiness(warm=True)` for an app whose core needs no warming (tests, tools)."""

    def __init__(self, *, warm: bool = False) -> None:
        self._warm = threading.Event()
        self.warm_seconds: float | None = None
        if warm:
            self._warm.set()

    @property
    def warm(self) -> bool:
        return self._warm.is_set()

    def set_warm(self, seconds: float) -> None:
        self.warm_seconds = seconds
        self._warm.set()


READINESS: web.AppKey[Readiness] = web.AppKey("readiness", Readiness)


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    connection = request.app[CONNECTION]
    try:
        async with asyncio.timeout(PING_SECONDS):
            redis_ok = bool(await asyncio.to_thread(connection.ping))
    except (redis.RedisError, TimeoutError):
        redis_ok = False
    adapters = {a.name: a.connected for a in request.app[ADAPTERS]}
    warm = request.app[READINESS].warm
    ready = redis_ok and warm and all(adapters.values())
    body = {"ready": ready, "redis": redis_ok, "warm": warm, "adapters": adapters}
    return web.json_response(body, status=200 if ready else 503)


async def media(request: web.Request) -> web.StreamResponse:
    """A signed link's video; any bad token (forged, expired, malformed, not rendered media)
    is a 404 with one short log line."""
    path = request.app[LINKS].resolve(request.match_info["token"])
    if path is None:
        log.info("refused a media link that is invalid, expired or names no rendered video")
        raise web.HTTPNotFound(text="This link is invalid or has expired.")
    return web.FileResponse(path, headers={"Content-Type": "video/mp4"})


METRICS_TOKEN_ENV = "NOVACAST_METRICS_TOKEN"  # noqa: S105 (a variable's name)
FORWARDED = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def metrics_allowed(request: web.Request, token: str) -> bool:
    """With a token: the bearer matches. Without: a direct request from a private address."""
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), token.encode())
    if any(header in request.headers for header in FORWARDED):
        return False
    try:
        peer = ipaddress.ip_address((request.remote or "").split("%", 1)[0])
    except ValueError:
        return False
    return peer.is_private or peer.is_loopback


async def metrics(request: web.Request) -> web.Response:
    """Prometheus' text exposition of every metric of this process."""
    if not metrics_allowed(request, os.environ.get(METRICS_TOKEN_ENV, "").strip()):
        raise web.HTTPForbidden(text="metrics need NOVACAST_METRICS_TOKEN or a private address")
    body = await asyncio.to_thread(generate_latest, REGISTRY)  # queue depths read Redis
    response = web.Response(body=body)
    response.content_type = CONTENT_TYPE_LATEST.split(";", 1)[0]
    return response


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def trace_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Each request under a new trace id (an event a webhook carries shares it), sent back as
    `X-Trace-Id` so a caller can quote it."""
    trace = request_arrived()
    try:
        response = await handler(request)
    except web.HTTPException as error:
        error.headers["X-Trace-Id"] = trace
        raise
    response.headers["X-Trace-Id"] = trace
    return response


def queue_lengths(connection: redis.Redis) -> Callable[[list[str]], list[int]]:
    """One pipelined LLEN per RQ queue (RQ keeps each queue as the list `rq:queue:<name>`)."""

    def lengths(queues: list[str]) -> list[int]:
        with connection.pipeline(transaction=False) as pipe:
            for queue in queues:
                pipe.llen(f"rq:queue:{queue}")
            return [int(n) for n in pipe.execute()]

    return lengths


def redacted_path(path: str) -> str:
    """A request path fit for a log: a media, sign-in or picture link's token replaced
    (`novacast.observability.TOKEN_PATHS`), the length bounded."""
    return redacted_token_path(path)[:200]


class RedactingAccessLogger(AbstractAccessLogger):
    """aiohttp's access log without secrets: no link token, no query string (`-v` shows it)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %.3fs',
            request.remote,
            request.method,
            redacted_path(request.path),
            response.status,
            time,
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


def build_app(
    connection: redis.Redis,
    adapters: Sequence[ChatAdapter],
    links: MediaLinks,
    readiness: Readiness | None = None,
) -> web.Application:
    """The bot's HTTP app. Without `readiness` the core counts as warm."""
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[trace_requests])
    app[CONNECTION], app[ADAPTERS], app[LINKS] = connection, adapters, links
    app[READINESS] = readiness or Readiness(warm=True)
    watch_queues(QUEUES, queue_lengths(connection))
    app.add_routes(
        [
            web.get("/healthz", healthz),
            web.get("/readyz", readyz),
            web.get("/metrics", metrics),
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
    """The core as an async callable, run on its own small thread pool. The engine answers a
    Redis outage itself; should one escape it, the user still hears `CANNOT_SAVE`.

    The core runs in a copy of the caller's context: `run_in_executor` copies no contextvars,
    and the event's trace id must reach the core's log lines and the jobs it enqueues."""
    pool = ThreadPoolExecutor(max_workers=CORE_THREADS, thread_name_prefix="core")

    async def dispatch(event: Event) -> list[Action]:
        context = contextvars.copy_context()
        context.run(event_trace)  # an adapter that set none gets one here
        try:
            return await asyncio.get_running_loop().run_in_executor(
                pool, context.run, engine.handle, event
            )
        except redis.RedisError as error:
            if not store_unavailable(error):
                raise
            log.warning("Redis is unavailable (%s); told the user to retry", type(error).__name__)
            target = ReplyTarget.of(event.conversation)
            return [Say(target=target, text=replies.CANNOT_SAVE)]

    return dispatch


def warm_up(engine: Engine) -> float:
    """What must be loaded before `/readyz` says ready: the intent model's examples and the
    embedding model behind it (a first classification), and the embedding model itself when
    stock pictures are ranked by meaning. Returns the seconds it took."""
    started = time.perf_counter()
    engine.warm()
    engine.classify("warm up: is this a new idea?")
    if engine.recall is not None or ranks_by_meaning(os.environ):
        embeddings.warm_up()
    return time.perf_counter() - started


def freeze_start_up_objects() -> None:
    """Collect once, then keep what start-up made (modules, models, the core, the adapters:
    ~170k objects) out of every later collection (`gc.freeze`). Otherwise a full collection
    walked them all, 80-110 ms, and one fell inside the first burst of events every time:
    every Discord ack of the burst waited for it (bench/acks_discord.py, issue 11)."""
    gc.collect()
    gc.freeze()


def start_warming(engine: Engine, readiness: Readiness) -> threading.Thread:
    """`warm_up` in a daemon thread; `readiness` turns warm when it is done (a failure is
    logged once and leaves the core to load lazily: the bot still answers, `/readyz` stays
    red so an operator looks)."""

    def run() -> None:
        try:
            seconds = warm_up(engine)
        except Exception as error:
            log.error("warming the core failed: %s", type(error).__name__)
            return
        freeze_start_up_objects()
        readiness.set_warm(seconds)
        log.info("core warm in %.1f s", seconds)

    thread = threading.Thread(target=run, name="core-warm-up", daemon=True)
    thread.start()
    return thread


async def serve(settings: Settings, connection: redis.Redis, stop: asyncio.Event) -> None:
    """Run the adapters and the HTTP server until `stop` is set."""
    engine = build_engine(connection)
    readiness = Readiness()
    start_warming(engine, readiness)
    dispatch = make_dispatch(engine)
    links = media_links(settings, connection)
    adapters = configured_adapters(dispatch, connection, links)
    app = build_app(connection, adapters, links, readiness)
    runner = web.AppRunner(app, access_log_class=RedactingAccessLogger)
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


def require_free_port(port: int) -> None:
    """Stop at start, in words, when something already listens on the HTTP port: found later,
    at `TCPSite.start`, it surfaced as an uncaught OSError and a C++ abort of the model threads
    already started (exit -6)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds
        try:
            probe.bind(("0.0.0.0", port))  # noqa: S104 (the bot's own interfaces)
        except OSError as error:
            raise click.ClickException(
                f"port {port} is in use ({error.strerror}): stop what holds it, or set "
                "NOVACAST_HTTP_PORT to a free port"
            ) from None


@click.command("bot")
def command() -> None:
    """The chat bot: every adapter whose credentials are set, and the HTTP server."""
    settings = load_settings()
    require_free_port(settings.http_port)
    limit_arenas()  # before any thread starts (novacast.malloc)
    one_cpu()  # before any thread starts: threads inherit it (novacast.cpu)
    sys.exit(run_bot(settings))
