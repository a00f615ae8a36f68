"""The `novacast` command: make, chat, worker, bot, scheduler, up."""

from __future__ import annotations

import logging
import sys

import click

from pipeline.ffmpeg import FfmpegUnsuitable, ffmpeg_exe
from pipeline.render import RENDER_NEEDS
from pipeline.script import Aspect
from pipeline.settings import load_settings


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log what happens underneath.")
def main(verbose: bool) -> None:
    """NOVACAST: turn an idea into a narrated short video, from a chat or a terminal."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    # httpx logs every request URL at INFO, and Telegram's API URLs contain the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _require_ffmpeg() -> None:
    """Stop a command that renders at its start, in plain words, when no ffmpeg here can render
    (an unsuitable NOVACAST_FFMPEG, or neither PATH's nor the bundled one has what it needs)."""
    try:
        ffmpeg_exe(RENDER_NEEDS)
    except FfmpegUnsuitable as error:
        raise click.ClickException(str(error)) from None


@main.command()
@click.argument("idea")
@click.option("--seconds", type=click.IntRange(10, 120), default=None, help="Target length.")
@click.option("--aspect", type=click.Choice([a.value for a in Aspect]), default=None)
@click.option(
    "--out", "out", type=click.Path(dir_okay=False), default=None, help="Where to write the MP4."
)
@click.option(
    "--music",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Background music, ducked under the voice.",
)
def make(
    idea: str, seconds: int | None, aspect: str | None, out: str | None, music: str | None
) -> None:
    """Make one video from IDEA, end to end, and print its path."""
    _require_ffmpeg()
    from novacast.make import MakeRequest, make_video

    request = MakeRequest(
        idea=idea, seconds=seconds, aspect=Aspect(aspect) if aspect else None, out=out, music=music
    )
    path = make_video(request, load_settings())
    click.echo(str(path))


@main.command()
def chat() -> None:
    """Talk to the bot in this terminal (buttons are typed as their label or number)."""
    _require_ffmpeg()
    from novacast.console import run_chat

    sys.exit(run_chat(load_settings()))


@main.command()
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
def worker(burst: bool) -> None:
    """Run one render/publish worker against REDIS_URL."""
    _require_ffmpeg()
    import redis

    from novacast.wiring import install_worker_runtime
    from workers.worker import run_worker

    settings = load_settings()
    if not settings.redis_url:
        raise click.UsageError(
            "REDIS_URL is not set; `novacast up` starts Redis and a worker together."
        )
    connection = redis.Redis.from_url(settings.redis_url)
    install_worker_runtime(connection)
    run_worker(connection, burst=burst)


@main.command()
def up() -> None:
    """Redis (embedded without REDIS_URL), a worker, the bot and the scheduler, until Ctrl-C."""
    _require_ffmpeg()
    from novacast.console import run_up

    sys.exit(run_up(load_settings()))


@main.command()
def bot() -> None:
    """The chat bot: every adapter whose credentials are set, and the HTTP server."""
    from novacast.server import run_bot

    sys.exit(run_bot(load_settings()))


@main.command()
def scheduler() -> None:
    """Fire due schedules into the queues until SIGTERM or Ctrl-C (several may run at once)."""
    import signal
    import threading

    from novacast.embedded_redis import running_server
    from novacast.wiring import redis_connection
    from workers.due_schedules import Scheduler

    settings = load_settings()
    if not settings.redis_url and running_server(settings.data_dir) is None:
        raise click.UsageError(
            "REDIS_URL is not set and no embedded Redis runs for this data dir; "
            "`novacast up` starts Redis and the scheduler together."
        )
    # Each firing is one line worth seeing, even without --verbose.
    logging.getLogger("workers.due_schedules").setLevel(logging.INFO)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    with redis_connection(settings) as handle:
        Scheduler(handle.connection).run(stop)
