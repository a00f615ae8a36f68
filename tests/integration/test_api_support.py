"""The API as the bot serves it, for the API tests: `api_routes` in a real aiohttp app on an
ephemeral port, authenticated by real API keys (`ApiKeys.principal`), with the real core
(`novacast.wiring.build_engine` behind `novacast.server.make_dispatch`), real Redis and a real
data dir. The server runs on its own event loop in a thread, so tests (and schemathesis, which
is synchronous) talk to it over HTTP like any client.

One server per test module (`api` fixture); each test takes a fresh workspace with one key per
role (`api.workspace()`), so tests share the server without sharing data.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from aiohttp import web

from adapters.web import WebAdapter
from adapters.web.access import Role
from adapters.web.api import api_routes
from adapters.web.api.keys import ApiKeys
from adapters.web.deps import WebDeps
from novacast.server import build_app, make_dispatch, media_links
from novacast.wiring import build_engine
from pipeline.settings import load_settings
from policy import load_policy

ROLES = (Role.EDITOR, Role.APPROVER, Role.ADMIN)


@dataclass
class Workspace:
    """A fresh workspace and a client per role (plus `anonymous`, with no key)."""

    name: str
    tokens: dict[Role, str]
    base_url: str
    keys: ApiKeys
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, role: Role | None = None, token: str | None = None) -> httpx.Client:
        headers = {}
        if token is not None or role is not None:
            headers["Authorization"] = f"Bearer {token or self.tokens[role]}"  # type: ignore[index]
        made = httpx.Client(base_url=self.base_url, headers=headers, timeout=30, trust_env=False)
        self.clients.append(made)
        return made

    @property
    def editor(self) -> httpx.Client:
        return self.client(Role.EDITOR)

    @property
    def approver(self) -> httpx.Client:
        return self.client(Role.APPROVER)

    @property
    def admin(self) -> httpx.Client:
        return self.client(Role.ADMIN)

    @property
    def anonymous(self) -> httpx.Client:
        return self.client()

    def close(self) -> None:
        for made in self.clients:
            made.close()


@dataclass
class ApiServer:
    base_url: str
    connection: redis.Redis
    data_dir: Path
    keys: ApiKeys
    workspaces: list[Workspace] = field(default_factory=list)

    def workspace(self) -> Workspace:
        name = f"ws-{secrets.token_hex(4)}"
        tokens = {role: self.keys.create(name, role, name=f"test {role}").token for role in ROLES}
        made = Workspace(name, tokens, self.base_url, self.keys)
        self.workspaces.append(made)
        return made


class _Served:
    """An aiohttp app on 127.0.0.1:<ephemeral> in a thread with its own loop."""

    def __init__(self, build: Any) -> None:
        self._build = build
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="api-server", daemon=True)
        self.port = 0
        self._runner: web.AppRunner | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        self._runner = web.AppRunner(self._build())
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def __enter__(self) -> _Served:
        self._thread.start()
        if not self._ready.wait(60):
            raise TimeoutError("the API server did not start")
        return self

    def __exit__(self, *_: object) -> None:
        async def stop() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()


def build_bot_app(connection: redis.Redis, public_url: str) -> web.Application:
    """The bot's real HTTP app (`novacast.server.build_app`) with the web adapter, which mounts
    the API behind its gate (API keys first, else the studio's session and CSRF token)."""
    links = media_links(load_settings(), connection)
    engine = build_engine(connection, long_term_memory=False)
    adapter = WebAdapter(make_dispatch(engine), connection, links, load_policy(), public_url)
    return build_app(connection, [adapter], links)


def build_api_app(connection: redis.Redis) -> web.Application:
    """What the web adapter mounts, on a bare app: the real core, links and keys."""
    engine = build_engine(connection, long_term_memory=False)
    keys = ApiKeys(connection)
    deps = WebDeps(
        connection=connection,
        dispatch=make_dispatch(engine),
        links=media_links(load_settings(), connection),
        policy=load_policy(),
        authenticate=keys.principal,
    )
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.add_routes(api_routes(deps))
    return app


@contextmanager
def api_server(redis_url: str, data_dir: Path, *, whole_bot: bool = False) -> Iterator[ApiServer]:
    """An API server on the test database and `data_dir`: the API's routes on a bare app, or
    (`whole_bot`) the bot's whole app with the web adapter."""
    data_dir.mkdir(exist_ok=True)
    before = os.environ.get("NOVACAST_DATA_DIR")
    os.environ["NOVACAST_DATA_DIR"] = str(data_dir)
    load_settings.cache_clear()
    connection = redis.Redis.from_url(redis_url)
    connection.flushdb()

    def build() -> web.Application:
        if whole_bot:
            return build_bot_app(connection, load_settings().base_url)
        return build_api_app(connection)

    try:
        with _Served(build) as served:
            server = ApiServer(
                f"http://127.0.0.1:{served.port}", connection, data_dir, ApiKeys(connection)
            )
            yield server
            for made in server.workspaces:
                made.close()
    finally:
        connection.flushdb()
        connection.close()
        if before is None:
            os.environ.pop("NOVACAST_DATA_DIR", None)
        else:
            os.environ["NOVACAST_DATA_DIR"] = before
        load_settings.cache_clear()


@pytest.fixture(scope="module")
def api(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """One API server for the module, on the test database and a data dir of its own."""
    with api_server(redis_url, tmp_path_factory.mktemp("api") / "var") as server:
        yield server
