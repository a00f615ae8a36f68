"""Builds the running parts from settings: Redis (given or embedded), the core, the worker."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis

from bot.engine import Engine
from novacast.embedded_redis import EmbeddedRedis, running_server
from pipeline.memory import memory_from_env
from pipeline.settings import Settings
from pipeline.writers.choose import writer_from_env
from policy import load_policy
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


def build_engine(connection: redis.Redis) -> Engine:
    """The core with RQ behind it; the LLM writer when a provider is configured (else the
    offline writer); long-term memory unless NOVACAST_MEMORY=off (Qdrant local under the data
    dir, or QDRANT_URL), its model loading in the background. Prompts and models.yaml are
    validated here, so broken files fail at start."""
    engine = Engine(
        connection,
        writer_from_env(connection),
        RQJobQueue(connection),
        load_policy(),
        memory=memory_from_env(),
    )
    threading.Thread(target=engine.warm, name="memory-warm-up", daemon=True).start()
    return engine
