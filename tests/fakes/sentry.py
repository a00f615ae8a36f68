"""A fake of Sentry's ingestion endpoint that records every envelope sentry-sdk sends.

After develop.sentry.dev/sdk/data-model/envelopes/: `POST /api/<project>/envelope/`, a body of
newline-separated JSON (the envelope header, then per item its header and its payload, whose
`length`, when given, is in bytes), gzip-compressed when `Content-Encoding: gzip`; the DSN's
public key arrives in `X-Sentry-Auth` (`sentry_key=…`). Answers 200 `{}` like Sentry.

    with SentryFake() as sentry:
        env = {"SENTRY_DSN": sentry.dsn}         # http://public@127.0.0.1:<port>/1
        ...
        sentry.events()                           # the error events, parsed
        sentry.raw                                # every body as it arrived (decompressed)
"""

from __future__ import annotations

import gzip
import json
import threading
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.served import ThreadedServer

PUBLIC_KEY = "public"
PROJECT = "1"
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Envelope:
    """One envelope: its header, and its items as (item header, payload) pairs."""

    header: dict[str, Any]
    items: list[tuple[dict[str, Any], Any]]


def parse_envelope(body: bytes) -> Envelope:
    """The envelope format: a header line, then items (a header line and a payload)."""
    head, _, rest = body.partition(b"\n")
    items: list[tuple[dict[str, Any], Any]] = []
    while rest.strip():
        line, _, rest = rest.partition(b"\n")
        item_header = json.loads(line)
        length = item_header.get("length")
        if length is None:
            payload, _, rest = rest.partition(b"\n")
        else:
            payload, rest = rest[:length], rest[length + 1 :]
        try:
            parsed: Any = json.loads(payload)
        except ValueError:
            parsed = payload
        items.append((item_header, parsed))
    return Envelope(json.loads(head), items)


class SentryFake(ThreadedServer):
    def __init__(self) -> None:
        super().__init__()
        self.raw: list[bytes] = []
        self.envelopes: list[Envelope] = []
        self.refused = 0
        self._lock = threading.Lock()

    @property
    def dsn(self) -> str:
        return self.base_url.replace("http://", f"http://{PUBLIC_KEY}@") + f"/{PROJECT}"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/{project}/envelope/", self._envelope)

    async def _envelope(self, request: web.Request) -> web.Response:
        auth = request.headers.get("X-Sentry-Auth", "")
        if request.match_info["project"] != PROJECT or f"sentry_key={PUBLIC_KEY}" not in auth:
            with self._lock:
                self.refused += 1
            return web.json_response({"detail": "bad dsn"}, status=401)
        body = await request.read()  # aiohttp undoes Content-Encoding: gzip itself
        if body[:2] == GZIP_MAGIC:
            body = gzip.decompress(body)
        with self._lock:
            self.raw.append(body)
            self.envelopes.append(parse_envelope(body))
        return web.json_response({})

    def events(self) -> list[dict[str, Any]]:
        """Every error event received so far (items of type `event`)."""
        with self._lock:
            return [
                payload
                for envelope in self.envelopes
                for header, payload in envelope.items
                if header.get("type") == "event" and isinstance(payload, dict)
            ]

    def text(self) -> str:
        """Everything received, as one string (for asserting something is absent)."""
        with self._lock:
            return "\n".join(body.decode("utf-8", "replace") for body in self.raw)
