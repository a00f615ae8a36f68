"""The API's route table: each endpoint declared once, next to its handler, with its pydantic
models, the right it needs and whether it changes something. The aiohttp routes and the OpenAPI
document (`adapters.web.api.openapi`) are both built from this table, so they cannot disagree.

A handler gets a `Call` (who, the parsed path, query and body) and returns a pydantic model, or
raises `ApiError` for a 4xx with a plain sentence. The wrapper here does the rest the same way
for every endpoint: sign-in (401), the role's right (403), input validation (400/422), the JSON
answer, and the audit entry of every call that changes something (`adapters.web.api.audit`).
A handler's unexpected failure is one log line and a 500 with no detail.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import redis
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.web.access import Principal
from adapters.web.api.audit import AuditLog
from adapters.web.deps import WebDeps
from pipeline.errors import failure_origin
from policy.model import RoleRight

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
STORE_DOWN = "The store (Redis) is unavailable right now; try again in a moment."
MAX_JSON_BYTES = 256 * 1024
"""A JSON body larger than this is refused with 413 before parsing."""

Method = Literal["GET", "POST", "PUT", "DELETE"]
M = TypeVar("M", bound=BaseModel)


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer: the status again and one plain sentence."""

    model_config = ConfigDict(frozen=True)

    status: int = Field(ge=400, le=599)
    error: str = Field(description="what went wrong, in plain words")


class ApiError(Exception):
    """A refusal the client can act on: `status` (4xx) and a sentence."""

    def __init__(self, status: int, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after
        """Seconds, sent as Retry-After (a 429)."""


@dataclass(frozen=True)
class Call:
    """One authenticated request, parsed: what a handler works from."""

    deps: WebDeps
    principal: Principal
    request: web.Request
    path: Mapping[str, str]
    query: BaseModel | None
    body: BaseModel | None

    def query_as(self, model: type[M]) -> M:
        if not isinstance(self.query, model):
            raise TypeError(f"this endpoint's query is not a {model.__name__}")
        return self.query

    def body_as(self, model: type[M]) -> M:
        if not isinstance(self.body, model):
            raise TypeError(f"this endpoint's body is not a {model.__name__}")
        return self.body

    @property
    def workspace(self) -> str:
        return self.principal.workspace


Handler = Callable[[Call], Awaitable[BaseModel]]


@dataclass(frozen=True)
class Endpoint:
    """One route: `path` is relative to /api/v1 in aiohttp syntax (`/projects/{project_id}`)."""

    method: Method
    path: str
    handler: Handler
    summary: str
    right: RoleRight
    response: type[BaseModel]
    status: int = 200
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    multipart: bool = False
    """The body is a multipart form the handler reads itself (uploads); documented as such."""
    errors: tuple[int, ...] = ()
    """4xx statuses this endpoint answers besides the ones every endpoint may (400/401/403/422)."""
    tag: str = ""
    path_patterns: Mapping[str, str] = field(default_factory=dict)
    """Path parameter -> the regular expression it must match (else 404), for the document."""

    @property
    def changes(self) -> bool:
        return self.method != "GET"

    @property
    def operation_id(self) -> str:
        return self.handler.__name__.strip("_")


class Table:
    """Endpoints, registered with the `route` decorator next to their handlers."""

    def __init__(self) -> None:
        self.endpoints: list[Endpoint] = []

    def route(self, method: Method, path: str, **options: Any) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.endpoints.append(Endpoint(method, path, handler, **options))
            return handler

        return register


def error_response(status: int, message: str, retry_after: int | None = None) -> web.Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    body = ErrorBody(status=status, error=message).model_dump()
    return web.json_response(body, status=status, headers=headers)


def validation_message(error: ValidationError, where: str) -> str:
    """The first problem of a failed validation, named by field: "body.idea: Field required"."""
    first = error.errors(include_url=False, include_input=False)[0]
    place = ".".join(str(part) for part in first["loc"])
    place = f"{where}.{place}" if place else where
    return f"{place}: {first['msg']}"


async def _query(endpoint: Endpoint, request: web.Request) -> BaseModel | None:
    if endpoint.query is None:
        return None
    values = {key: request.query.getone(key) for key in request.query}
    try:
        return endpoint.query.model_validate(values)
    except ValidationError as error:
        raise ApiError(422, validation_message(error, "query")) from None


async def _body(endpoint: Endpoint, request: web.Request) -> BaseModel | None:
    if endpoint.body is None:
        return None
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise ApiError(413, f"The body is larger than {MAX_JSON_BYTES // 1024} KB.")
    raw = await request.content.read(MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        raise ApiError(413, f"The body is larger than {MAX_JSON_BYTES // 1024} KB.")
    try:
        data = json.loads(raw or b"null")
    except (ValueError, RecursionError):
        raise ApiError(400, "The body is not JSON.") from None
    try:
        return endpoint.body.model_validate(data)
    except ValidationError as error:
        raise ApiError(422, validation_message(error, "body")) from None


def _check_path(endpoint: Endpoint, request: web.Request) -> None:
    for name, pattern in endpoint.path_patterns.items():
        if re.fullmatch(pattern, request.match_info.get(name, "")) is None:
            raise ApiError(404, f"There is no such {name.removesuffix('_id')}.")


def _who(deps: WebDeps, request: web.Request) -> Principal:
    principal = deps.authenticate(request)
    if principal is None:
        raise ApiError(401, "Sign in, or send a valid API key (Authorization: Bearer nck_...).")
    return principal


def _check_right(deps: WebDeps, principal: Principal, endpoint: Endpoint) -> None:
    if not principal.may(deps.policy, endpoint.right):
        role = principal.role.value
        raise ApiError(403, f"The {role} role may not {endpoint.right} here.")


def _cpu_timing(started: float) -> str:
    """`Server-Timing` of the event loop thread's CPU while the call ran (calls that interleave
    with it count too): what a load-independent benchmark reads (bench/api_projects.py)."""
    return f"cpu;dur={(time.thread_time() - started) * 1000:.2f}"


def _http_message(refused: web.HTTPException) -> str:
    """The sentence of an aiohttp refusal whose text may be JSON (`{"error": ...}`)."""
    try:
        data = json.loads(refused.text or "")
    except ValueError:
        return refused.text or refused.reason
    return str(data.get("error", refused.reason)) if isinstance(data, dict) else refused.reason


def aiohttp_handler(
    endpoint: Endpoint, deps: WebDeps, audit: AuditLog
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler of one endpoint: who, may they, parse, run, answer, audit."""

    async def handle(request: web.Request) -> web.StreamResponse:
        principal: Principal | None = None
        status, note = 500, "failed"
        cpu_started = time.thread_time()
        try:
            principal = _who(deps, request)
            _check_right(deps, principal, endpoint)
            _check_path(endpoint, request)
            call = Call(
                deps,
                principal,
                request,
                dict(request.match_info),
                await _query(endpoint, request),
                await _body(endpoint, request),
            )
            result = await endpoint.handler(call)
            status, note = endpoint.status, "ok"
            body = result.model_dump_json()  # pydantic-core writes the JSON itself
            return web.Response(
                text=body,
                status=status,
                content_type="application/json",
                headers={
                    "Server-Timing": _cpu_timing(cpu_started),
                    "Cache-Control": "no-store",  # answers hold signed links and private data
                },
            )
        except ApiError as refused:
            status, note = refused.status, refused.message
            return error_response(refused.status, refused.message, refused.retry_after)
        except web.HTTPException as refused:  # the gate's CSRF refusal, raised while signing in
            status, note = refused.status, _http_message(refused)
            return error_response(status, note)
        except redis.RedisError as error:
            log.warning(
                "api %s %s: the store is unavailable (%s)",
                endpoint.method,
                endpoint.path,
                type(error).__name__,
            )
            status, note = 503, STORE_DOWN
            return error_response(status, note, retry_after=5)
        except Exception as error:
            log.error(
                "api %s %s failed: %s at %s",
                endpoint.method,
                endpoint.path,
                type(error).__name__,
                failure_origin(error),
            )
            return error_response(500, "Something went wrong on our side.")
        finally:
            if endpoint.changes and principal is not None:
                audit.record(
                    principal, f"{endpoint.method} {PREFIX}{endpoint.path}", request, status, note
                )

    handle.__name__ = endpoint.operation_id
    return handle


def route_defs(endpoints: list[Endpoint], deps: WebDeps, audit: AuditLog) -> list[web.RouteDef]:
    return [
        web.route(e.method, PREFIX + e.path, aiohttp_handler(e, deps, audit)) for e in endpoints
    ]
