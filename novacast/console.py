"""`novacast chat` and `novacast up`: one-machine runs with Redis and a worker looked after."""

from __future__ import annotations

import _thread
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import click
import redis

from adapters.console import ConsoleAdapter
from adapters.web.access import Role
from adapters.web.sessions import sign_in_link
from novacast.processes import live_workers, prefixed_process, wait_for_worker, worker_process
from novacast.wiring import RedisHandle, build_engine, redis_connection, require_ffmpeg
from pipeline.settings import Settings, load_settings

OPERATOR_WORKSPACE = "main"
"""The studio workspace `novacast up` signs the operator in to, unless `--workspace` names one."""

GREETING = (
    "NOVACAST — type /make <idea> to start (e.g. /make 30s on why octopuses have three hearts).\n"
    "Buttons show as [1] Render [2] Revise …: type the number or the label. /help lists the rest."
)


class _Leave:
    """SIGTERM, and SIGHUP (the terminal closed), unwind the main thread like Ctrl-C, so the
    embedded Redis and the worker child are stopped instead of being left running.

    Python runs a signal handler between any two bytecodes of the main thread, also inside a
    finalizer or an at-fork hook, where an exception it raises is printed and dropped
    ("Exception ignored in: _releaseLock": logging's after-fork hook, while the worker child was
    being started). The chat then went on reading stdin and never exited. So the handler also
    remembers the signal: every line read checks it, and while the main thread waits for a line
    a watchdog raises it there again (a wait is never in the middle of a cleanup).
    """

    def __init__(self) -> None:
        self.signum = 0
        self._waiting = threading.Event()

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        del frame
        if not self.signum:
            self.signum = signum
            threading.Thread(target=self._raise_again, name="leave", daemon=True).start()
        raise SystemExit(128 + signum)

    def _raise_again(self) -> None:
        while True:
            time.sleep(0.5)
            if self._waiting.is_set():
                _thread.interrupt_main(signal.Signals(self.signum))

    def check(self) -> None:
        """Leave now if a signal came and its first exit was dropped."""
        if self.signum:
            raise SystemExit(128 + self.signum)

    def lines(self, source: Iterable[str]) -> Iterator[str]:
        """`source`'s lines, checking for a signal before each and while waiting for it."""
        lines = iter(source)
        while True:
            self.check()
            self._waiting.set()
            try:
                line = next(lines, None)
            finally:
                self._waiting.clear()
            if line is None:
                return
            yield line


@contextmanager
def _worker_unless_running(
    settings: Settings, handle: RedisHandle
) -> Iterator[subprocess.Popen[bytes] | None]:
    """Start a worker unless one is serving this Redis already.

    A server this process just started has no live worker, whatever stale registrations its
    append-only file still holds, so one is always started for it.
    """
    if not handle.started_here and live_workers(handle.connection):
        yield None
        return
    with worker_process(settings.data_dir / "logs") as child:
        yield child


def _typed_lines() -> Iterator[str]:
    while True:
        try:
            yield input("› ")
        except (EOFError, KeyboardInterrupt):
            print()
            return


def run_chat(settings: Settings) -> int:
    """The console adapter on stdin/stdout, with Redis and a worker if none is running."""
    leave = _Leave()
    leave.install()
    interactive = sys.stdin.isatty()
    with (
        redis_connection(settings) as handle,
        _worker_unless_running(settings, handle) as child,
    ):
        connection = handle.connection
        adapter = ConsoleAdapter(
            build_engine(connection).handle,
            connection,
            sys.stdout,
            patient=not interactive,
            workers_alive=_alive_check(connection, child),
        )
        if interactive:
            print(GREETING)
        try:
            return adapter.run(leave.lines(_typed_lines() if interactive else sys.stdin))
        except KeyboardInterrupt:
            print("\nStopped. Drafts are kept; run `novacast chat` again to pick up.")
            return 130


def _alive_check(
    connection: redis.Redis, child: subprocess.Popen[bytes] | None
) -> Callable[[], bool]:
    if child is not None:
        return lambda: child.poll() is None
    return lambda: bool(live_workers(connection))


def run_up(settings: Settings, workspace: str = OPERATOR_WORKSPACE) -> int:
    """Redis, one worker, the scheduler and the bot until Ctrl-C, their logs prefixed by
    process, and a one-time link signing the operator in to `workspace`'s web studio."""
    leave = _Leave()
    leave.install()
    out = sys.stdout
    with (
        redis_connection(settings) as handle,
        prefixed_process("worker", out) as worker,
    ):
        if not wait_for_worker(handle.connection, worker):
            print("[up] the worker did not start; see its lines above", flush=True)
            return 1
        print(f"[up] redis {handle.shown_url}", flush=True)
        print(f"[up] worker pid {worker.pid}", flush=True)
        with (
            prefixed_process("scheduler", out) as scheduler,
            prefixed_process("bot", out) as bot,
        ):
            print(f"[up] scheduler pid {scheduler.pid}", flush=True)
            print(f"[up] bot pid {bot.pid} on port {settings.http_port}", flush=True)
            link = sign_in_link(
                handle.connection, settings.base_url, workspace=workspace, role=Role.ADMIN,
                name="operator",
            )
            print(f"[up] studio: open {link} to sign in as the operator", flush=True)
            print("[up] (one use, 24 h; `novacast invite` makes links for others)", flush=True)
            return _watch(leave, worker, scheduler, bot)


def _watch(leave: _Leave, *children: subprocess.Popen[bytes]) -> int:
    """Wait until Ctrl-C (exit 0), SIGTERM/SIGHUP, or a child's death (exit 1, saying which)."""
    try:
        while all(child.poll() is None for child in children):
            leave.check()
            time.sleep(0.2)
    except KeyboardInterrupt:
        print("[up] stopping", flush=True)
        return 0
    dead = next(child for child in children if child.poll() is not None)
    print(f"[up] process {dead.pid} exited with {dead.returncode}", flush=True)
    return 1


@click.command("chat")
def chat_command() -> None:
    """Talk to the bot in this terminal (buttons are typed as their label or number)."""
    require_ffmpeg()
    sys.exit(run_chat(load_settings()))


@click.command("up")
@click.option(
    "--workspace",
    default=OPERATOR_WORKSPACE,
    show_default=True,
    help="The web studio workspace the printed sign-in link opens.",
)
def up_command(workspace: str) -> None:
    """Redis (embedded without REDIS_URL), a worker, the bot and the scheduler, until Ctrl-C;
    prints a one-time link that signs the operator in to the web studio."""
    require_ffmpeg()
    sys.exit(run_up(load_settings(), workspace))
