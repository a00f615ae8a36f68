"""Discord's outbound side: core actions → REST calls through discord.py's `HTTPClient`.

`ChannelSender` posts to a reply target's channel (its thread when it has one) and needs no
gateway: the bot uses it with its logged-in client's HTTP side, and a worker through
`sync_sender(target, connection)`, which logs in over REST in a short-lived event loop per
action with nothing but the bot token and the target.

Progress is one message per render, found through `ProgressMessages` (Redis), so the bot and
any worker edit the same message. Previews are uploaded when they fit the bot upload limit
(10 MiB by default, `DISCORD_UPLOAD_LIMIT_BYTES` to change it) and otherwise posted as a
signed, expiring link served by the bot's `/media/...` route, saying why.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import redis
from discord.http import HTTPClient, handle_message_parameters

from adapters.discord.components import NO_PINGS, fit, progress_text, view_for
from adapters.discord.endpoints import point_discord_at
from adapters.discord.settings import DiscordSettings
from adapters.media_links import MediaLinks, links_for
from adapters.progress import ProgressMessages
from bot.actions import (
    Action,
    AskApproval,
    Button,
    JobsStarted,
    Picture,
    Preview,
    Progress,
    Say,
)
from bot.events import ReplyTarget

log = logging.getLogger(__name__)

ADAPTER = "discord"
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
"""Discord's default upload limit for bots (servers with boosts allow more)."""


def upload_limit_from_env() -> int:
    value = os.environ.get("DISCORD_UPLOAD_LIMIT_BYTES", "")
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_UPLOAD_LIMIT


def channel_of(target: ReplyTarget) -> int:
    """Where a target's messages go: its thread (a channel in Discord's model), else its channel."""
    return int(target.thread or target.channel)


def mib(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


RENDERS = frozenset({Say, AskApproval, Progress, Preview, Picture, JobsStarted})
"""Every action type `ChannelSender.send` delivers (JobsStarted: nothing to show)."""


@dataclass
class ChannelSender:
    """Renders actions as channel messages; an action it cannot render fails loudly."""

    http: HTTPClient
    progress_messages: ProgressMessages
    links: MediaLinks | None = None
    upload_limit: int = DEFAULT_UPLOAD_LIMIT

    async def send(self, action: Action) -> None:
        if isinstance(action, Say | AskApproval):
            await self.post(action.target, action.text, action.buttons)
        elif isinstance(action, Progress):
            await self.progress(action)
        elif isinstance(action, Preview):
            await self.preview(action)
        elif isinstance(action, Picture):
            await self.picture(action)
        elif not isinstance(action, JobsStarted):
            raise TypeError(f"the Discord adapter cannot render {type(action).__name__}")

    async def post(
        self, target: ReplyTarget, text: str, buttons: list[Button] | None = None,
        file: discord.File | None = None,
    ) -> dict[str, Any]:
        """POST /channels/{id}/messages (multipart when there is a file); the new message."""
        extra: dict[str, Any] = {"file": file} if file is not None else {}
        view = view_for(buttons or [])
        if view is not None:
            extra["view"] = view
        with handle_message_parameters(
            content=fit(text), allowed_mentions=NO_PINGS, **extra
        ) as params:
            message = await self.http.send_message(channel_of(target), params=params)
        return dict(message)

    async def progress(self, action: Progress) -> None:
        """The first update posts the progress message; later ones edit it in place."""
        channel = channel_of(action.target)
        store, key = self.progress_messages, action.key
        existing = await asyncio.to_thread(store.get, ADAPTER, str(channel), key)
        if existing is not None:
            if action.percent > 0 or action.done:  # "queued" never overwrites real progress
                await self._edit(channel, existing, progress_text(action))
            return
        message = await self.post(action.target, progress_text(action))
        claimed = await asyncio.to_thread(store.claim, ADAPTER, str(channel), key, message["id"])
        if not claimed:  # another process posted first: keep one message
            await self.http.delete_message(channel, message["id"])
            winner = await asyncio.to_thread(store.get, ADAPTER, str(channel), key)
            if winner is not None and (action.percent > 0 or action.done):
                await self._edit(channel, winner, progress_text(action))

    async def _edit(self, channel: int, message_id: str, text: str) -> None:
        with handle_message_parameters(content=fit(text)) as params:
            await self.http.edit_message(channel, int(message_id), params=params)

    async def preview(self, action: Preview) -> None:
        """Upload the video; a link (and why) when it is too large or Discord refuses it."""
        path = Path(action.path)
        why = self._not_uploadable(path) or await self._upload(action, path)
        if why:
            await self.post(action.target, self._link_text(action, path, why), action.buttons)

    async def picture(self, action: Picture) -> None:
        """The still as a file on a message whose text is the caption."""
        path = Path(action.path)
        if path.stat().st_size > self.upload_limit:
            why = f"(The picture is {mib(path.stat().st_size)}, too large to show here.)"
            await self.post(action.target, f"{action.caption}\n{why}".strip())
            return
        await self.post(action.target, action.caption, file=discord.File(path, filename=path.name))

    def _not_uploadable(self, path: Path) -> str:
        size = path.stat().st_size if path.is_file() else 0
        if not size:
            return "The video file is missing"
        if size > self.upload_limit:
            return (
                f"The video is too large to upload here ({mib(size)}; Discord's limit for bots "
                f"is {mib(self.upload_limit)})"
            )
        return ""

    async def _upload(self, action: Preview, path: Path) -> str:
        """Empty once uploaded, else why it was not."""
        try:
            file = discord.File(path, filename=path.name)
            await self.post(action.target, action.caption, action.buttons, file)
        except discord.HTTPException as error:
            log.warning("preview upload refused by Discord (HTTP %s)", error.status)
            return f"Discord refused the upload (HTTP {error.status})"
        return ""

    def _link_text(self, action: Preview, path: Path, why: str) -> str:
        try:
            url = self.links.url_for(path) if self.links is not None and path.is_file() else ""
        except ValueError:  # outside the media root: never link it
            url = ""
        where = f", so here is a link (valid for 7 days): {url}" if url else "."
        return f"{action.caption}\n{why}{where}"


class DiscordSender:
    """The synchronous sender a worker uses: one short-lived event loop per action."""

    def __init__(
        self, settings: DiscordSettings, connection: redis.Redis, links: MediaLinks
    ) -> None:
        if settings.bot_token is None:
            raise ValueError("DISCORD_BOT_TOKEN is not set; cannot post to Discord")
        point_discord_at(settings.api_url, settings.gateway_url)
        self._token = settings.bot_token
        self._connection = connection
        self._links = links
        self._limit = upload_limit_from_env()

    def send(self, action: Action) -> None:
        asyncio.run(self._send(action))

    async def _send(self, action: Action) -> None:
        if isinstance(action, JobsStarted):
            return
        http = HTTPClient(asyncio.get_running_loop())
        try:
            await http.static_login(self._token.get_secret_value())
            sender = ChannelSender(
                http, ProgressMessages(self._connection), self._links, self._limit
            )
            await sender.send(action)
        finally:
            await http.close()


def sync_sender(target: ReplyTarget, connection: redis.Redis) -> DiscordSender:
    """Discord's outbound side for `adapters.outbox.sender_for` (credentials from the env)."""
    del target  # every action carries its own target
    return DiscordSender(DiscordSettings(), connection, links_for(connection))
