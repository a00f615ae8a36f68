"""The HTTP API under /api/v1: JSON in and out, each endpoint declared once in a route table
(`adapters.web.api.table`) with its pydantic models, its right and whether it is audited; the
OpenAPI document at /api/v1/openapi.json is built from that table.

`api_routes(deps)` is what the web adapter mounts. Who calls is `deps.authenticate` (an API key,
`adapters.web.api.keys.ApiKeys.principal`, else a studio session); changes go through the core
(`deps.dispatch`), reads come from the stores the core owns.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import redis
from aiohttp import web

from adapters.web.api import admin, assets, projects, routing, schedules, usage
from adapters.web.api.audit import AuditLog
from adapters.web.api.keys import ApiKeys
from adapters.web.api.openapi import document
from adapters.web.api.table import PREFIX, STORE_DOWN, Endpoint, error_response, route_defs
from adapters.web.deps import WebDeps
from bot.project import ProjectStore

__all__ = ["ApiKeys", "api_routes", "endpoints"]

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

TABLES = (projects.table, schedules.table, assets.table, routing.table, usage.table, admin.table)
"""Every module's route table; an endpoint is added by declaring it in its module."""


def endpoints() -> list[Endpoint]:
    return [e for t in TABLES for e in t.endpoints]


def _openapi_handler(deps: WebDeps, doc: dict[str, Any]) -> Handler:
    """The document, to anyone signed in (like everything else: nothing without a key or a
    session)."""

    async def openapi(request: web.Request) -> web.Response:
        try:
            principal = deps.authenticate(request)
        except redis.RedisError:
            return error_response(503, STORE_DOWN, retry_after=5)
        if principal is None:
            return error_response(401, "Sign in, or send a valid API key.")
        return web.json_response(doc)

    return openapi


def _backfill(deps: WebDeps) -> None:
    """Index the projects stored before the index; with Redis down, the next start does it."""
    try:
        added = ProjectStore(deps.connection).backfill_index()
    except redis.RedisError as error:
        log.warning("project index backfill skipped (%s); next start", type(error).__name__)
        return
    if added:
        log.warning("indexed %d projects stored before the per-workspace index", added)


def api_routes(deps: WebDeps) -> list[web.RouteDef]:
    """The /api/v1 routes and the OpenAPI document. Projects stored before the per-workspace
    index existed are indexed here, once per Redis (`ProjectStore.backfill_index`)."""
    _backfill(deps)
    listed = endpoints()
    audit = AuditLog(deps.connection)
    return [
        web.get(PREFIX + "/openapi.json", _openapi_handler(deps, document(listed))),
        *route_defs(listed, deps, audit),
        assets.file_route(deps),
    ]
