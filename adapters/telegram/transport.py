"""PTB's requests over aiohttp: the same Bot API calls as `HTTPXRequest`, for a tenth of the CPU.

Under a burst of 200 `/make` the bot's CPU is what the drafts wait for, and PTB's default
transport (httpx over httpcore) spent ~2-3 ms of it per call here: request and response
objects, anyio cancel scopes, and a scan of every pooled connection (`has_expired`, a
`getpeername` each) per request. aiohttp, already the bot's HTTP server, sends the same
form-encoded (or multipart) request for ~0.25 ms (200 concurrent sendMessage calls to a local
server, measured in the client's process).

`AiohttpRequest` is a `telegram.request.BaseRequest`: PTB keeps parsing answers and raising its
errors; this only moves bytes. Connections are kept alive and pooled (`connection_pool_size`).
A timed-out call raises `TimedOut`, any other transport failure `NetworkError` naming the
aiohttp error's class only (its text can quote the URL, which carries the token). Proxies from
the environment are honoured, as httpx did.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

Seconds = float | None


class AiohttpRequest(BaseRequest):
    """A Bot API transport over one aiohttp session (made on first use, closed on shutdown)."""

    def __init__(
        self,
        connection_pool_size: int = 64,
        *,
        read_timeout: Seconds = 5.0,
        write_timeout: Seconds = 5.0,
        connect_timeout: Seconds = 5.0,
        pool_timeout: Seconds = 1.0,
        media_write_timeout: Seconds = 20.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._defaults = {
            "read": read_timeout,
            "write": write_timeout,
            "connect": connect_timeout,
            "pool": pool_timeout,
            "media_write": media_write_timeout,
        }
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> Seconds:
        return self._defaults["read"]

    async def initialize(self) -> None:
        self._open()

    async def shutdown(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size)
            self._session = aiohttp.ClientSession(
                connector=connector,
                trust_env=True,
                headers={"User-Agent": self.USER_AGENT},
                skip_auto_headers=("Accept-Encoding",),
            )
        return self._session

    async def do_request(  # noqa: PLR0917 (BaseRequest's signature)
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        uploads = bool(request_data and request_data.contains_files)
        timeout = self._timeout(
            self._given(read_timeout, "read"),
            self._given(write_timeout, "media_write" if uploads else "write"),
            self._given(connect_timeout, "connect"),
            self._given(pool_timeout, "pool"),
        )
        try:
            async with self._open().request(
                method, url, data=_body(request_data), timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:  # its text may quote the URL, and so the token
            raise NetworkError(f"aiohttp.{type(error).__name__}") from None

    def _given(self, value: object, name: str) -> Seconds:
        if isinstance(value, DefaultValue):
            return self._defaults[name]
        return float(value) if isinstance(value, int | float) else None

    @staticmethod
    def _timeout(
        read: Seconds, write: Seconds, connect: Seconds, pool: Seconds
    ) -> aiohttp.ClientTimeout:
        """aiohttp has no write timeout: the whole call is bounded by the sum of the phases'
        (unbounded when one of them is); a wait for a pooled connection counts as connecting."""
        parts = (read, write, connect, pool)
        total = None if None in parts else sum(p for p in parts if p is not None)
        waiting = None if connect is None or pool is None else connect + pool
        return aiohttp.ClientTimeout(
            total=total, connect=waiting, sock_connect=connect, sock_read=read
        )


def _body(request_data: RequestData | None) -> aiohttp.FormData | dict[str, str] | None:
    """Form fields (values JSON-encoded as PTB encodes them), multipart when files go along."""
    if request_data is None:
        return None
    fields = request_data.json_parameters
    if not request_data.contains_files:
        return fields
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form

