"""Builds the running parts from settings: Redis (given or embedded), the core, the worker."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from bot.engine import Engine
from novacast.embedded_redis import EmbeddedRedis
from pipeline.settings import Settings
from pipeline.writers import OfflineWriter
from policy import load_policy
from workers.queues import RQJobQueue


@contextmanager
def redis_connection(settings: Settings, *, persist: bool = True) -> Iterator[redis.Redis]:
    """REDIS_URL's server, or a private embedded one that lives as long as the block.

    The embedded server's URL is exported as REDIS_URL so child processes (a worker) share it.
    """
    if settings.redis_url:
        connection = redis.Redis.from_url(settings.redis_url)
        try:
            yield connection
        finally:
            connection.close()
        return
    data_dir = settings.data_dir if persist else None
    with EmbeddedRedis(data_dir) as server:
        os.environ["REDIS_URL"] = server.url
        connection = redis.Redis.from_url(server.url)
        try:
            yield connection
        finally:
            connection.close()
            os.environ.pop("REDIS_URL", None)


def build_engine(connection: redis.Redis) -> Engine:
    """The conversational core with the offline writer and RQ behind it."""
    return Engine(connection, OfflineWriter(), RQJobQueue(connection), load_policy())
