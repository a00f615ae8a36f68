"""The web platform's live side: the studio (pages, sign-in, the WebSocket chat) and the HTTP
API under /api/v1, all routes of the bot's one aiohttp server.

It needs no credentials, so `novacast bot` always starts it; nothing is reachable without a
session or an API key (`adapters.web.gate`). The API's routes come from the api package
(`adapters.web.api.api_routes(deps)`), built from the same `WebDeps` as the studio.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from types import TracebackType
from typing import Self

import redis
from aiohttp import web

from adapters.base import Dispatch
from adapters.media_links import MediaLinks
from adapters.web.access import ADAPTER
from adapters.web.chat import Chat
from adapters.web.deps import WebDeps
from adapters.web.gate import API_PACKAGE, Gate
from adapters.web.outbox import PictureIds
from adapters.web.pages import Pages
from adapters.web.sessions import Sessions
from pipeline.settings import load_settings
from policy import Policy

log = logging.getLogger(__name__)


def api_routes(deps: WebDeps) -> list[web.RouteDef]:
    """The API's routes, when the api package is installed here."""
    try:
        api = importlib.import_module(API_PACKAGE)
    except ModuleNotFoundError as error:
        if error.name != API_PACKAGE:
            raise
        return []
    build = getattr(api, "api_routes", None)
    if build is None:
        log.warning("%s has no api_routes yet: /api/v1 is not served", API_PACKAGE)
        return []
    routes: list[web.RouteDef] = build(deps)
    return routes


class WebAdapter:
    """The studio and the API (see the module docstring)."""

    name = ADAPTER

    def __init__(
        self,
        dispatch: Dispatch,
        connection: redis.Redis,
        links: MediaLinks,
        policy: Policy,
        public_url: str,
        *,
        data_dir: Path | None = None,
    ) -> None:
        self.sessions = Sessions(connection)
        self.gate = Gate(self.sessions, connection)
        self.deps = WebDeps(
            connection=connection,
            dispatch=dispatch,
            links=links,
            policy=policy,
            authenticate=self.gate.authenticate,
        )
        data_dir = data_dir or load_settings().data_dir
        self.pages = Pages(self.gate, policy, public_url, PictureIds(connection), data_dir)
        self.chat = Chat(self.gate, dispatch, connection, links, policy, public_url)
        self._open = False

    def routes(self) -> list[web.RouteDef]:
        return [*self.pages.routes(), *self.chat.routes(), *api_routes(self.deps)]

    @property
    def connected(self) -> bool:
        return self._open

    async def __aenter__(self) -> Self:
        self._open = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._open = False
        await self.chat.close()
