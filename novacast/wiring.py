"""Builds the running parts from settings: Redis (given or embedded), the core, the worker."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import click
import redis

from bot.engine import Engine
from novacast.embedded_redis import EmbeddedRedis, running_server
from pipeline.ffmpeg import FfmpegUnsuitable, ffmpeg_exe
from pipeline.memory import memory_from_env
from pipeline.render import RENDER_NEEDS
from pipeline.settings import Settings
from pipeline.writers.choose import writer_from_env
from policy import load_policy
from workers import runtime
from workers.queues import RQJobQueue


@dataclass(frozen=True)
class RedisHandle:
    """A connection, and whether this process started the server behind it just now."""

    connection: redis.Redis
    url: str
    started_here: bool


@contextmanager
def _connected(url: str, *, started_here: bool) -> Iterator[RedisHandle]:
    connection = redis.Redis.from_url(url)
    try:
        yield RedisHandle(connection, url, started_here)
    finally:
        connection.close()


@contextmanager
def redis_connection(settings: Settings) -> Iterator[RedisHandle]:
    """REDIS_URL's server; else the embedded server already running for this data dir; else
    a new embedded one (append-only under the data dir) that lives as long as the block.

    An embedded server's URL is exported as REDIS_URL so child processes (a worker) share it.
    """
    if settings.redis_url:
        with _connected(settings.redis_url, started_here=False) as handle:
            yield handle
        return
    shared = running_server(settings.data_dir)
    with contextlib.ExitStack() as stack:
        if shared is None:
            shared = stack.enter_context(EmbeddedRedis(settings.data_dir)).url
            started_here = True
        else:
            started_here = False
        os.environ["REDIS_URL"] = shared
        stack.callback(os.environ.pop, "REDIS_URL", None)
        yield stack.enter_context(_connected(shared, started_here=started_here))


def build_engine(connection: redis.Redis, *, long_term_memory: bool = True) -> Engine:
    """The core, built once per process by the bot and by each worker: RQ behind it; the LLM
    writer when a provider is configured (else the offline writer); the policy. Prompts,
    models.yaml and the policy are validated here, so broken files fail at start.

    With `long_term_memory` (the bot), memory is on unless NOVACAST_MEMORY=off (Qdrant local
    under the data dir, or QDRANT_URL), its model loading in the background."""
    memory = memory_from_env() if long_term_memory else None
    engine = Engine(
        connection,
        writer_from_env(connection),
        RQJobQueue(connection),
        load_policy(),
        memory=memory,
    )
    if memory is not None:
        threading.Thread(target=engine.warm, name="memory-warm-up", daemon=True).start()
    return engine


def install_worker_runtime(connection: redis.Redis) -> runtime.Runtime:
    """What `novacast worker` does before taking jobs (and tests running jobs in-process): build
    the core once and install it, with the RQ JobQueue, as this process's worker runtime.

    A worker's core has no long-term memory. Local Qdrant allows one process per directory, and
    the bot holds it (under `novacast up` the worker starts first and would take it from the
    bot); and a render worker need not import the embedding model (~7 s, hundreds of MB) for
    the rare scheduled show. Shows draft without long-term memory, as they always did."""
    installed = runtime.Runtime(
        core=build_engine(connection, long_term_memory=False), jobs=RQJobQueue(connection)
    )
    runtime.install(installed)
    return installed


def require_ffmpeg() -> None:
    """Stop a command that renders at its start, in plain words, when no ffmpeg here can render
    (an unsuitable NOVACAST_FFMPEG, or neither PATH's nor the bundled one has what it needs)."""
    try:
        ffmpeg_exe(RENDER_NEEDS)
    except FfmpegUnsuitable as error:
        raise click.ClickException(str(error)) from None
