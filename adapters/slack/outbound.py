"""Slack's outbound side: core actions -> Web API calls, from the bot process or a worker.

`SlackSender` is the one implementation (async, slack_sdk's AsyncWebClient with retry handlers
for 429/500/connection errors). A worker gets it through `sync_sender(target, connection)`,
which needs only the bot token and API URL from the environment and the job's reply target:
no Bolt app, no HTTP listener, no socket.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import redis
from slack_sdk.web.async_client import AsyncWebClient

from adapters.media_links import MediaLinks, links_for
from adapters.progress import ProgressMessages
from adapters.slack import blocks
from adapters.slack.options import Credentials, SlackOptions, web_client
from adapters.slack.settings import SlackSettings
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

ADAPTER = "slack"
NEXT_STEP = "What next?"


RENDERS = frozenset({Say, AskApproval, Progress, Preview, Picture, JobsStarted})
"""Every action type `SlackSender.send` delivers (JobsStarted: nothing to show)."""


class SlackSender:
    """Renders actions with chat.postMessage / postEphemeral / update and files_upload_v2."""

    def __init__(
        self,
        client: AsyncWebClient,
        connection: redis.Redis,
        links: MediaLinks,
        options: SlackOptions,
    ) -> None:
        self._client = client
        self._connection = connection
        self._links = links
        self._options = options
        self._progress = ProgressMessages(connection)

    async def send(self, action: Action, user: str = "") -> None:
        """Deliver one action; `user` (who acted) receives ephemeral notices."""
        if isinstance(action, Say):
            await self._say(action, user)
        elif isinstance(action, Progress):
            await self._progress_message(action)
        elif isinstance(action, Preview):
            await self._preview(action)
        elif isinstance(action, AskApproval):
            await self.post(action.target, action.text, action.buttons)
        elif isinstance(action, Picture):
            await self._picture(action)
        elif not isinstance(action, JobsStarted):
            raise TypeError(f"the Slack adapter cannot render {type(action).__name__}")

    async def post(
        self, target: ReplyTarget, text: str, buttons: list[Button] | None = None
    ) -> str:
        """A new message in the target's channel (and thread); returns its ts."""
        response = await self._client.chat_postMessage(
            channel=target.channel, thread_ts=target.thread or None, **blocks.message(text, buttons)
        )
        return str(response["ts"])

    async def _say(self, action: Say, user: str) -> None:
        if action.ephemeral and user:
            await self._client.chat_postEphemeral(
                channel=action.target.channel,
                user=user,
                thread_ts=action.target.thread or None,
                **blocks.message(action.text, action.buttons),
            )
            return
        await self.post(action.target, action.text, action.buttons)

    async def _progress_message(self, action: Progress) -> None:
        """One message per render: the first report posts it, every later one edits it."""
        target, text = action.target, blocks.progress_text(action)
        existing = await self._recorded(target, action.key)
        if existing:
            if action.percent > 0 or action.done:  # "queued" never overwrites real progress
                await self._edit(target, existing, text)
            return
        ts = await self.post(target, text)
        claimed = await asyncio.to_thread(
            self._progress.claim, ADAPTER, target.channel, action.key, ts
        )
        if not claimed:  # another process posted first: keep theirs, drop ours
            await self._client.chat_delete(channel=target.channel, ts=ts)
            winner = await self._recorded(target, action.key)
            if winner and (action.percent > 0 or action.done):
                await self._edit(target, winner, text)

    async def _recorded(self, target: ReplyTarget, key: str) -> str | None:
        return await asyncio.to_thread(self._progress.get, ADAPTER, target.channel, key)

    async def _edit(self, target: ReplyTarget, ts: str, text: str) -> None:
        await self._client.chat_update(channel=target.channel, ts=ts, **blocks.message(text))

    async def _preview(self, action: Preview) -> None:
        path = Path(action.path)
        size = path.stat().st_size
        if size > self._options.upload_limit_bytes:
            await self.post(
                action.target, await self._link_text(action, path, size), action.buttons
            )
            return
        await self._client.files_upload_v2(
            channel=action.target.channel,
            thread_ts=action.target.thread or None,
            file=str(path),
            filename=path.name,
            title=action.caption[:250],
            initial_comment=blocks.escape(action.caption),
        )
        if action.buttons:
            await self.post(action.target, NEXT_STEP, action.buttons)

    async def _picture(self, action: Picture) -> None:
        """The still uploaded into the channel (and thread), the caption as its comment."""
        path = Path(action.path)
        await self._client.files_upload_v2(
            channel=action.target.channel,
            thread_ts=action.target.thread or None,
            file=str(path),
            filename=path.name,
            title=(action.caption or path.name)[:250],
            initial_comment=blocks.escape(action.caption) if action.caption else None,
        )

    async def _link_text(self, action: Preview, path: Path, size: int) -> str:
        url = self._links.url_for(path)
        limit = self._options.upload_limit_bytes
        return (
            f"{action.caption}\nThe video is {_megabytes(size)}, more than Slack lets a bot "
            f"upload ({_megabytes(limit)}), so here is a link instead (it expires in 7 days):\n"
            f"{url}"
        )


class SyncSlackSender:
    """The worker's face of `SlackSender`: each `send` runs the async sender to completion."""

    def __init__(
        self, connection: redis.Redis, settings: SlackSettings, links: MediaLinks
    ) -> None:
        self._connection = connection
        self._links = links
        self._credentials = Credentials.from_settings(settings)
        self._options = SlackOptions()

    def send(self, action: Action) -> None:
        if self._credentials is None:
            raise RuntimeError("SLACK_BOT_TOKEN is not set; cannot post to Slack")
        asyncio.run(self._send(self._credentials, action))

    async def _send(self, credentials: Credentials, action: Action) -> None:
        client = web_client(credentials, self._options)
        await SlackSender(client, self._connection, self._links, self._options).send(action)


def sync_sender(target: ReplyTarget, connection: redis.Redis) -> SyncSlackSender:
    """For `adapters.outbox.sender_for`: credentials from the environment, nothing else running."""
    del target  # every action carries its own target
    return SyncSlackSender(connection, SlackSettings(), links_for(connection))


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:,.1f} MB"
