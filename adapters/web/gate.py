"""Who a web request comes from, and whether it may come from where it does.

`Gate.authenticate` is the `WebDeps.authenticate` every studio and API route uses:

1. an API key (`Authorization: Bearer ...`, the api helper's `ApiKeys`): a request that
   presents one never falls back to a cookie, so a bad key is a 401 even in a signed-in browser;
2. else the studio's session cookie; for a state-changing method the request must also carry
   the session's CSRF token in `X-CSRF-Token`, or it is refused with 403 (raised here, so every
   route gets the same answer without repeating the check).

Cross-site requests: a cookie is `SameSite=Strict`, the WebSocket and the sign-in form check
the `Origin` header (`same_origin`), and every state-changing call needs the CSRF header, which
another site cannot read or set.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import redis
from aiohttp import web

from adapters.web.access import Principal
from adapters.web.sessions import COOKIE, Session, Sessions, csrf_matches

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
API_PACKAGE = f"{__package__}.api"
"""The api helper's package (imported when present; the studio works without it)."""
KeyCheck = Callable[[web.Request], Principal | None]


def api_keys(connection: Any) -> tuple[KeyCheck | None, Callable[[web.Request], bool]]:
    """The api helper's key check and "does it present a key" test, when that package is here."""
    try:
        keys = importlib.import_module(f"{API_PACKAGE}.keys")
    except ModuleNotFoundError as error:
        if not (error.name or "").startswith(API_PACKAGE):
            raise
        return None, lambda _request: False
    presents: Callable[[web.Request], bool] = getattr(
        keys, "presents_key", lambda r: r.headers.get("Authorization", "").startswith("Bearer ")
    )
    return keys.ApiKeys(connection).principal, presents


class Gate:
    """Authenticates requests; see the module docstring."""

    def __init__(self, sessions: Sessions, connection: Any) -> None:
        self.sessions = sessions
        self._key_principal, self._presents_key = api_keys(connection)

    def session(self, request: web.Request) -> Session | None:
        """The request's studio session (no CSRF check: for safe methods and pages)."""
        return self.sessions.session(request.cookies.get(COOKIE))

    def authenticate(self, request: web.Request) -> Principal | None:
        try:
            return self._authenticate(request)
        except redis.RedisError as error:
            log.warning("could not reach Redis to authenticate (%s)", type(error).__name__)
            raise web.HTTPServiceUnavailable(
                text='{"error": "the store is unavailable; try again"}',
                content_type="application/json",
            ) from None

    def _authenticate(self, request: web.Request) -> Principal | None:
        if self._presents_key(request):
            return self._key_principal(request) if self._key_principal else None
        session = self.session(request)
        if session is None:
            return None
        if request.method not in SAFE_METHODS and not csrf_matches(
            session, request.headers.get(CSRF_HEADER)
        ):
            log.info("refused a state-changing request without its CSRF token")
            raise web.HTTPForbidden(
                text='{"error": "missing or wrong X-CSRF-Token"}', content_type="application/json"
            )
        return session.principal


def own_origins(request: web.Request, public_url: str) -> set[str]:
    """The origins this server answers as: the public URL's, and the Host the request came to."""
    origins = {_origin_of(public_url)}
    host = request.headers.get("Host", "")
    if host:
        origins.add(f"{request.scheme}://{host}".lower())
        # behind a TLS-terminating proxy the bot sees http; the browser's origin is https
        origins.add(f"https://{host}".lower())
    return {origin for origin in origins if origin}


def same_origin(request: web.Request, public_url: str, *, required: bool) -> bool:
    """The request's Origin is ours (absent counts as ours only when not `required`)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return not required
    return origin.lower().rstrip("/") in own_origins(request, public_url)


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()
