"""What the bot keeps about a Slack workspace, in Redis so every replica agrees: which threads
are NOVACAST conversations, and who a user is to the approval policy.

Threads. A thread becomes ours when the bot starts it (the root message of `/make`) or is
mentioned in it; replies in other threads are people talking to each other and are left
alone. Slash commands other than `/make` carry no thread, so they continue the user's latest
thread in the channel.

People. Workspace admin or owner (users.info) and user groups (usergroups.list with
include_users), cached briefly. Any failure (missing scope, Slack down, odd payload) means
"not an admin, no groups", never an error.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

import redis
from aiohttp import ClientError
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.events import Conversation, Speaker

log = logging.getLogger(__name__)

THREAD_TTL_SECONDS = 30 * 24 * 3600


class Threads:
    """Threads the bot takes part in, and each user's latest one per channel."""

    def __init__(self, connection: redis.Redis, prefix: str = "novacast:slack") -> None:
        self._redis = connection
        self._prefix = prefix

    def adopt(self, team: str, channel: str, thread_ts: str, user: str) -> None:
        """Mark the thread as a conversation with the bot, and as `user`'s latest here."""
        pipe = self._redis.pipeline()
        pipe.set(self._thread_key(team, channel, thread_ts), 1, ex=THREAD_TTL_SECONDS)
        pipe.set(self._latest_key(team, channel, user), thread_ts, ex=THREAD_TTL_SECONDS)
        pipe.execute()

    def first_delivery(self, team: str, trigger_id: str) -> bool:
        """False when this slash command was seen before (a Socket Mode redelivery)."""
        key = f"{self._prefix}:command:{team}:{trigger_id}"
        return bool(self._redis.set(key, 1, nx=True, ex=24 * 3600))

    def is_ours(self, team: str, channel: str, thread_ts: str) -> bool:
        return bool(self._redis.exists(self._thread_key(team, channel, thread_ts)))

    def latest(self, team: str, channel: str, user: str) -> str:
        value = self._redis.get(self._latest_key(team, channel, user))
        return value.decode() if isinstance(value, bytes) else ""

    def _thread_key(self, team: str, channel: str, thread_ts: str) -> str:
        return f"{self._prefix}:thread:{team}:{channel}:{thread_ts}"

    def _latest_key(self, team: str, channel: str, user: str) -> str:
        return f"{self._prefix}:latest-thread:{team}:{channel}:{user}"


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
    timezone: str = ""
    """The profile's IANA zone (users.info `tz`): how the core reads "tomorrow 9am"."""

    def speaker(self, conversation: Conversation) -> Speaker:
        """The conversation's user as the core's policy checks and time-zone reading see them."""
        return Speaker.of(
            conversation,
            is_admin=self.is_admin,
            groups=frozenset(self.groups),
            timezone=self.timezone or None,
        )


class Identities:
    def __init__(
        self, client: AsyncWebClient, connection: redis.Redis, prefix: str = "novacast:slack"
    ) -> None:
        self._client = client
        self._redis = connection
        self._prefix = prefix
        self._loading: dict[str, asyncio.Future[dict[str, list[str]]]] = {}

    async def of(self, team: str, user: str) -> Identity:
        key = f"{self._prefix}:identity:{team}:{user}"
        cached = await asyncio.to_thread(self._redis.get, key)
        if isinstance(cached, bytes):
            data = json.loads(cached)
            return Identity(
                bool(data["is_admin"]), tuple(data["groups"]), str(data.get("timezone", ""))
            )
        try:
            is_admin, timezone = await self._profile(user)
            identity = Identity(is_admin, await self._groups(team, user), timezone)
        except _LOOKUP_ERRORS as error:
            log.warning("could not look up Slack user %s: %s", user, type(error).__name__)
            return Identity()
        payload = json.dumps(
            {"is_admin": identity.is_admin, "groups": identity.groups, "timezone": timezone}
        )
        await asyncio.to_thread(self._redis.set, key, payload, ex=CACHE_SECONDS)
        return identity

    async def _profile(self, user: str) -> tuple[bool, str]:
        """(workspace admin or owner, the profile's time zone) from users.info."""
        response = await self._client.users_info(user=user)
        profile = response["user"]
        admin = any(
            profile.get(flag) is True for flag in ("is_admin", "is_owner", "is_primary_owner")
        )
        zone = profile.get("tz")
        return admin, zone if isinstance(zone, str) else ""

    async def _groups(self, team: str, user: str) -> tuple[str, ...]:
        members = await self._team_groups(team)
        return tuple(group for group, users in members.items() if user in users)

    async def _team_groups(self, team: str) -> dict[str, list[str]]:
        """The team's user groups and members; one usergroups.list per team at a time."""
        loading = self._loading.get(team)
        if loading is None:
            loading = asyncio.ensure_future(self._load_team_groups(team))
            self._loading[team] = loading
            loading.add_done_callback(lambda _done: self._loading.pop(team, None))
        return await asyncio.shield(loading)

    async def _load_team_groups(self, team: str) -> dict[str, list[str]]:
        key = f"{self._prefix}:usergroups:{team}"
        cached = await asyncio.to_thread(self._redis.get, key)
        if isinstance(cached, bytes):
            loaded: dict[str, list[str]] = json.loads(cached)
            return loaded
        try:
            response = await self._client.usergroups_list(include_users=True)
        except SlackApiError as error:  # no usergroups:read scope, or a free workspace
            log.info("usergroups.list failed: %s", error.response.get("error"))
            return {}
        members = {
            str(g["id"]): [str(u) for u in g.get("users") or []]
            for g in response["usergroups"]
            if isinstance(g, dict)
        }
        await asyncio.to_thread(self._redis.set, key, json.dumps(members), ex=CACHE_SECONDS)
        return members
