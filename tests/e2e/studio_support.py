"""The web studio for browser tests: the bot's real HTTP app (server.build_app with the web
adapter, the real core behind make_dispatch) on its own event loop in a thread, and Debian's
chromium through Playwright's sync API (the tests stay plain functions; the server's loop never
waits on the browser's)."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from aiohttp import web
from click.testing import CliRunner
from playwright.sync_api import ViewportSize

from adapters.web import WebAdapter
from novacast import invite
from novacast.server import build_app, make_dispatch, media_links
from novacast.wiring import build_engine
from pipeline.settings import Settings
from policy import load_policy

CHROMIUM = Path("/usr/bin/chromium")
REQUIRE_BROWSER = "NOVACAST_REQUIRE_BROWSER"
LAPTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}


def chromium_or_skip() -> Path:
    """Debian's chromium, or a skip that says why (a failure where CI requires the browser)."""
    if CHROMIUM.exists():
        return CHROMIUM
    why = f"{CHROMIUM} is missing (apt-get install chromium); the studio's browser tests need it"
    if os.environ.get(REQUIRE_BROWSER) == "1":
        pytest.fail(f"{why} and {REQUIRE_BROWSER}=1", pytrace=False)
    pytest.skip(why)


@dataclass(frozen=True)
class Studio:
    """The running bot as a browser sees it."""

    url: str
    connection: redis.Redis
    data_dir: Path

    def link(self, workspace: str, role: str, name: str) -> str:
        """A one-time sign-in link: what `novacast invite` prints (the real command, run in
        this process against the environment the test set: REDIS_URL, NOVACAST_PUBLIC_URL)."""
        args = ["--workspace", workspace, "--role", role, "--name", name]
        result = CliRunner().invoke(invite.command, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        link = result.output.strip()
        assert link.startswith(f"{self.url}/signin/"), link
        return link


def free_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


class ServerThread:
    """The bot's aiohttp app served from `sock` on an event loop of its own thread."""

    def __init__(self, connection: redis.Redis, settings: Settings, sock: socket.socket) -> None:
        self._connection, self._settings, self._sock = connection, settings, sock
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="studio-server", daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(120)
        if self._failure is not None:
            raise RuntimeError("the studio server did not start") from self._failure
        if not self._ready.is_set():
            raise TimeoutError("the studio server did not start")
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # reported to the test thread by __enter__
            self._failure = error
            self._ready.set()

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        links = media_links(self._settings, self._connection)
        dispatch = make_dispatch(build_engine(self._connection))
        adapter = WebAdapter(
            dispatch, self._connection, links, load_policy(), self._settings.base_url
        )
        runner = web.AppRunner(build_app(self._connection, [adapter], links))
        await runner.setup()
        try:
            async with adapter:
                await web.SockSite(runner, self._sock).start()
                self._ready.set()
                await self._stop.wait()
        finally:
            await runner.cleanup()


@contextmanager
def studio_server(connection: redis.Redis, data_dir: Path, sock: socket.socket) -> Iterator[Studio]:
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(NOVACAST_DATA_DIR=data_dir, NOVACAST_PUBLIC_URL=url)
    with ServerThread(connection, settings, sock):
        yield Studio(url, connection, data_dir)
