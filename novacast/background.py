"""`novacast worker` and `novacast scheduler`: the processes that work behind the chat.

Each serves its metrics on NOVACAST_METRICS_PORT when set (`novacast.observability`)."""

from __future__ import annotations

import logging
import signal
import threading

import click

from novacast.embedded_redis import running_server
from novacast.observability import serve_metrics
from novacast.wiring import install_worker_runtime, redis_connection, require_ffmpeg
from pipeline.settings import load_settings
from workers.due_schedules import Scheduler
from workers.recovery import resilient_connection
from workers.worker import run_worker


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
def worker_command(burst: bool) -> None:
    """Run one render/publish worker against REDIS_URL."""
    require_ffmpeg()
    settings = load_settings()
    if not settings.redis_url:
        raise click.UsageError(
            "REDIS_URL is not set; `novacast up` starts Redis and a worker together."
        )
    # rides out Redis restarts: commands retry with backoff, the outage is logged once
    connection = resilient_connection(settings.redis_url, "worker")
    install_worker_runtime(connection)
    serve_metrics("worker")
    run_worker(connection, burst=burst)


@click.command("scheduler")
def scheduler_command() -> None:
    """Fire due schedules into the queues until SIGTERM or Ctrl-C (several may run at once)."""
    settings = load_settings()
    if not settings.redis_url and running_server(settings.data_dir) is None:
        raise click.UsageError(
            "REDIS_URL is not set and no embedded Redis runs for this data dir; "
            "`novacast up` starts Redis and the scheduler together."
        )
    # Each firing is one line worth seeing, even without --verbose.
    logging.getLogger("workers.due_schedules").setLevel(logging.INFO)
    serve_metrics("scheduler")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    with redis_connection(settings) as handle:
        Scheduler(handle.connection).run(stop)
