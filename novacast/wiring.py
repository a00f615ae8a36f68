"""Builds the running parts from settings: Redis (given or embedded), the core, the worker, and
the picture parts (a director per workspace, the media cache, the asset store), once per
process and handed to both the core and the worker runtime."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import click
import redis

from bot.engine import Engine
from novacast.embedded_redis import EmbeddedRedis, running_server
from pipeline.ffmpeg import FfmpegUnsuitable, ffmpeg_exe
from pipeline.media.assets import AssetStore
from pipeline.media.cache import MediaCache
from pipeline.media.director import Director, director_from_env
from pipeline.media.sources import ranks_by_meaning
from pipeline.memory import embeddings, memory_from_env
from pipeline.render import RENDER_NEEDS
from pipeline.settings import Settings, load_settings
from pipeline.writers.choose import writer_from_env
from policy import load_policy
from workers import runtime
from workers.queues import RQJobQueue


@dataclass(frozen=True)
class RedisHandle:
    """A connection, and whether this process started the server behind it just now."""

    connection: redis.Redis
    url: str
    """May hold a password: print or log `shown_url`, never this."""
    started_here: bool

    @property
    def shown_url(self) -> str:
        return redacted_url(self.url)


def redacted_url(url: str) -> str:
    """`url` fit to print: no user name or password, no query string (which may carry a token),
    e.g. `redis://:s3cret@host:6379/0` -> `redis://***@host:6379/0`."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    if parts.username or parts.password:
        netloc = f"***@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


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


@contextmanager
def reachable_redis(settings: Settings) -> Iterator[RedisHandle]:
    """`redis_connection` for a one-shot command (`invite`, `keys`): Redis unreachable is one
    plain sentence and a non-zero exit, not a traceback."""
    try:
        with redis_connection(settings) as handle:
            yield handle
    except redis.RedisError as error:
        raise click.ClickException(
            f"could not reach Redis ({type(error).__name__}); is it running?"
        ) from None


def build_pictures(connection: redis.Redis, settings: Settings | None = None) -> runtime.Pictures:
    """The picture parts of a process: the media cache under the data dir (capped by
    NOVACAST_MEDIA_CACHE_MB), the workspaces' uploads (files under the data dir, index in Redis),
    and a director per workspace with the sources whose keys the environment has (the built-in
    backgrounds always)."""
    settings = settings or load_settings()

    def directors(workspace: str) -> Director:
        return director_from_env(connection, settings, workspace)

    return runtime.Pictures(
        directors=directors,
        cache=MediaCache(settings.media_cache_dir, settings.media_cache_bytes),
        assets=AssetStore(connection, settings.assets_dir),
    )


def build_engine(
    connection: redis.Redis,
    *,
    long_term_memory: bool = True,
    pictures: runtime.Pictures | None = None,
) -> Engine:
    """The core, built once per process by the bot and by each worker: RQ behind it; the LLM
    writer when a provider is configured (else the offline writer); the policy; the picture
    parts (`build_pictures`, unless given). Prompts, models.yaml and the policy are validated
    here, so broken files fail at start.

    With `long_term_memory` (the bot), memory is on unless NOVACAST_MEMORY=off (local files
    under the data dir, or QDRANT_URL), its model loading in the background."""
    memory = memory_from_env() if long_term_memory else None
    pictures = pictures or build_pictures(connection)
    engine = Engine(
        connection,
        writer_from_env(connection),
        RQJobQueue(connection),
        load_policy(),
        memory=memory,
        pictures=pictures.directors,
        assets=pictures.assets,
    )
    if memory is not None:
        threading.Thread(target=engine.warm, name="memory-warm-up", daemon=True).start()
    elif long_term_memory and ranks_by_meaning(os.environ):
        # stock pictures are ranked by meaning: the first draft must not wait for the model
        threading.Thread(target=embeddings.load, name="model-warm-up", daemon=True).start()
    return engine


def install_worker_runtime(connection: redis.Redis) -> runtime.Runtime:
    """What `novacast worker` does before taking jobs (and tests running jobs in-process): build
    the core and the picture parts once and install them, with the RQ JobQueue, as this
    process's worker runtime.

    A worker's core has no long-term memory. The local memory allows one process per folder, and
    the bot holds it (under `novacast up` the worker starts first and would take it from the
    bot); and a render worker need not import the embedding model (~7 s, hundreds of MB) for
    the rare scheduled show. Shows draft without long-term memory, as they always did."""
    pictures = build_pictures(connection)
    installed = runtime.Runtime(
        core=build_engine(connection, long_term_memory=False, pictures=pictures),
        jobs=RQJobQueue(connection),
        pictures=pictures,
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
