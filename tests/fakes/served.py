"""The serving half every wire fake shares: an aiohttp app on 127.0.0.1 in a thread of its own.

The SDKs under test are synchronous, so each fake runs its own event loop on a daemon thread.
`with Fake(...) as fake:` serves on an ephemeral port until the block ends; `fake.base_url`.
A subclass calls `super().__init__()` and adds its routes in `routes(app)`.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any, Self

from aiohttp import web


@dataclass
class Recorded:
    """One request as it arrived; `body` is what the fake parsed (JSON, a form, a byte count)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any

    @classmethod
    def of(cls, request: web.Request, body: Any) -> Recorded:
        return cls(request.method, request.path, dict(request.query), dict(request.headers), body)


class ThreadedServer:
    client_max_size = 1024**2
    """Largest request body the fake reads (aiohttp's default is 1 MiB; uploads need more)."""

    def __init__(self) -> None:
        self.base_url = ""
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> None:
        app = web.Application(client_max_size=self.client_max_size)
        self.routes(app)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
