"""Who a Slack user is to the approval policy: workspace admin or owner, and user groups.

Looked up with users.info and usergroups.list (include_users), cached briefly in Redis. Any
failure (missing scope, Slack down, odd payload) means "not an admin, no groups", never an error.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

import redis
from aiohttp import ClientError
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

CACHE_SECONDS = 60
_LOOKUP_ERRORS = (
    SlackApiError,
    SlackClientError,
    ClientError,
    asyncio.TimeoutError,
    KeyError,
    TypeError,
    ValueError,
)


@dataclass(frozen=True)
class Identity:
    is_admin: bool = False
    groups: tuple[str, ...] = ()

    def as_raw(self) -> dict[str, Any]:
        """The `raw["novacast"]` section policy checks read."""
        return {"is_admin": self.is_admin, "groups": list(self.groups)}


class Identities:
    def __init__(
        self, client: AsyncWebClient, connection: redis.Redis, prefix: str = "novacast:slack"
    ) -> None:
        self._client = client
        self._redis = connection
        self._prefix = prefix

    async def of(self, team: str, user: str) -> Identity:
        key = f"{self._prefix}:identity:{team}:{user}"
        cached = await asyncio.to_thread(self._redis.get, key)
        if isinstance(cached, bytes):
            data = json.loads(cached)
            return Identity(bool(data["is_admin"]), tuple(data["groups"]))
        try:
            identity = Identity(await self._is_admin(user), await self._groups(user))
        except _LOOKUP_ERRORS as error:
            log.warning("could not look up Slack user %s: %s", user, type(error).__name__)
            return Identity()
        payload = json.dumps({"is_admin": identity.is_admin, "groups": identity.groups})
        await asyncio.to_thread(self._redis.set, key, payload, ex=CACHE_SECONDS)
        return identity

    async def _is_admin(self, user: str) -> bool:
        response = await self._client.users_info(user=user)
        profile = response["user"]
        return any(
            profile.get(flag) is True for flag in ("is_admin", "is_owner", "is_primary_owner")
        )

    async def _groups(self, user: str) -> tuple[str, ...]:
        try:
            response = await self._client.usergroups_list(include_users=True)
        except SlackApiError as error:  # no usergroups:read scope, or a free workspace
            log.info("usergroups.list failed: %s", error.response.get("error"))
            return ()
        groups = response["usergroups"]
        return tuple(
            str(g["id"]) for g in groups if isinstance(g, dict) and user in (g.get("users") or [])
        )
