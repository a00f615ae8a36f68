"""The common half of the fake chat-model APIs: an aiohttp server in a background thread.

The provider SDKs under test are synchronous, so the server runs its own event loop in a
thread and tests use it as a plain context manager (`with FakeOpenAI() as api:`). It records
every request, answers from scripted model outputs (a queue, optionally keyed by the name of
the JSON schema the request asked for), and can be told to fail the next N calls:
`"500"`, `"429"`, `"hang"` (no answer until the client gives up) or `"invalid_json"` (a 200
whose model text is not JSON). With nothing scripted it answers 500 and counts `unscripted`.
Subclasses give the route and the provider's exact response and error shapes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web

JSONDict = dict[str, Any]
FAILURES = ("500", "429", "hang", "invalid_json")
INVALID_TEXT = 'Sure! Here is your JSON: {"title": "Octopus hearts", "sentences": ['


@dataclass
class Recorded:
    """One request the SDK sent, and the model text and token counts the fake answered with."""

    path: str
    headers: dict[str, str]
    """Lower-cased names."""
    body: JSONDict
    status: int = 200
    text: str | None = None
    usage: tuple[int, int] = (0, 0)


@dataclass
class FakeChatAPI:
    route: str = "/"
    hang_seconds: float = 20.0
    requests: list[Recorded] = field(default_factory=list)
    unscripted: int = 0
    url: str = ""

    def __post_init__(self) -> None:
        self._answers: deque[str] = deque()
        self._keyed: dict[str, deque[str]] = defaultdict(deque)
        self._failures: deque[str] = deque()
        self._runner: web.AppRunner | None = None
        self._closing: asyncio.Event | None = None

    # --- scripting -----------------------------------------------------------------------

    def answer(self, *outputs: JSONDict | str, schema: str | None = None) -> None:
        """Queue model outputs (dicts are sent as JSON text); `schema` keys them to requests
        asking for that JSON schema name."""
        queue = self._keyed[schema] if schema else self._answers
        queue.extend(o if isinstance(o, str) else json.dumps(o) for o in outputs)

    def fail_next(self, count: int, mode: str = "500") -> None:
        assert mode in FAILURES, mode
        self._failures.extend([mode] * count)

    @property
    def left(self) -> int:
        return len(self._answers) + sum(len(q) for q in self._keyed.values())

    # --- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> Self:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *_exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        self._closing = asyncio.Event()
        app = web.Application()
        app.router.add_post(self.route, self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def _stop(self) -> None:
        assert self._closing is not None
        assert self._runner is not None
        self._closing.set()
        await self._runner.cleanup()

    # --- serving -------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        call = Recorded(request.path, {k.lower(): v for k, v in request.headers.items()}, body)
        self.requests.append(call)
        refusal = self.authorize(call)
        if refusal is not None:
            return self._fail(call, 401, refusal)
        mode = self._failures.popleft() if self._failures else None
        if mode == "hang":
            assert self._closing is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.hang_seconds)
            return self._fail(call, 504, "hung")
        if mode in ("500", "429"):
            return self._fail(call, int(mode), "scripted failure")
        text = INVALID_TEXT if mode == "invalid_json" else self._next_text(body)
        if text is None:
            self.unscripted += 1
            return self._fail(call, 500, "fake: no scripted answer left")
        return self._succeed(call, text)

    def _next_text(self, body: JSONDict) -> str | None:
        keyed = self._keyed.get(self.schema_name(body) or "")
        if keyed:
            return keyed.popleft()
        return self._answers.popleft() if self._answers else None

    def _succeed(self, call: Recorded, text: str) -> web.Response:
        call.text = text
        call.usage = (max(1, len(json.dumps(call.body)) // 4), max(1, len(text) // 4))
        return web.json_response(self.success_body(call.body, text, *call.usage))

    def _fail(self, call: Recorded, status: int, message: str) -> web.Response:
        call.status = status
        return web.json_response(self.error_body(status, message), status=status)

    # --- provider specifics (overridden) -------------------------------------------------

    def authorize(self, call: Recorded) -> str | None:
        """None when the request carries valid credentials, else the error message."""
        return None

    def schema_name(self, body: JSONDict) -> str | None:
        return None

    def success_body(self, body: JSONDict, text: str, tokens_in: int, tokens_out: int) -> JSONDict:
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> JSONDict:
        raise NotImplementedError
