"""What the web platform's routes are built from: the core (dispatch), Redis, signed media links,
the policy, and how a request proves who it is."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import redis
from aiohttp import web

from adapters.base import Dispatch
from adapters.media_links import MediaLinks
from adapters.web.access import Principal
from policy import Policy

Authenticate = Callable[[web.Request], Principal | None]
"""A request -> who made it (an API key, else a studio session whose cross-site-forgery token
matches for a state-changing method), or None."""


@dataclass(frozen=True)
class WebDeps:
    connection: redis.Redis
    dispatch: Dispatch
    links: MediaLinks
    policy: Policy
    authenticate: Authenticate
