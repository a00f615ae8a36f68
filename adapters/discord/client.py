"""The discord.py client: app commands, the persistent buttons, free text, and their answers.

Every interaction is acknowledged at once with a deferred response (type 5 for commands, which
shows "thinking…"; type 6 for buttons, which shows nothing), then handed to the core; the
answers go out as followups (the first one replaces the "thinking…" message). `/make` in a
server text channel starts a thread on that message for the draft, so the conversation —
refinements typed in the thread, progress, preview — lives there.

The gateway is the only inbound path: Discord's HTTP interactions need Ed25519 verification
and discord.py has no receiver for them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Literal

import aiohttp
import discord
from discord import app_commands

from adapters.base import Dispatch
from adapters.discord import files, inbound
from adapters.discord.components import NO_PINGS, ActionButton, fit, view_for
from adapters.discord.endpoints import DEFAULT_CDN_URL
from adapters.discord.outbound import ChannelSender
from bot.actions import Action, Button, JobsStarted, Say
from bot.events import Event
from pipeline import telemetry

log = logging.getLogger(__name__)

ALREADY_ACKNOWLEDGED = 40060
THREAD_ARCHIVE_MINUTES: Literal[1440] = 1440
UNREADABLE = "I couldn't read that command; try `/help`."
Deferred = discord.InteractionCallbackResponse[discord.Client]
UNREACHABLE = (discord.HTTPException, aiohttp.ClientError, OSError, asyncio.TimeoutError)
CANT_DELIVER = "I couldn't post my answer here (Discord kept failing); please try again shortly."


def intents() -> discord.Intents:
    """Guilds, guild and DM messages, and message content (privileged: enable it in the portal)."""
    chosen = discord.Intents.none()
    chosen.guilds = chosen.guild_messages = chosen.dm_messages = True
    chosen.message_content = True
    return chosen


class NovacastClient(discord.Client):
    """Turns interactions and messages into core events and renders the core's answers."""

    def __init__(
        self,
        dispatch: Dispatch,
        sender: Callable[[], ChannelSender],
        cdn_url: str = DEFAULT_CDN_URL,
    ) -> None:
        super().__init__(intents=intents(), allowed_mentions=NO_PINGS)
        self.dispatch_event = dispatch
        self.channel_sender = sender
        self.cdn_url = cdn_url
        self.tree = app_commands.CommandTree(self)
        self.tree.error(self.on_command_error)
        self.ready_once = asyncio.Event()
        self.gateway_up = False
        _add_commands(self.tree, self)

    async def setup_hook(self) -> None:
        _guard_parsers(self)
        self.add_dynamic_items(ActionButton)
        await self.tree.sync()

    async def on_ready(self) -> None:
        self.gateway_up = True
        self.ready_once.set()

    async def on_resumed(self) -> None:
        self.gateway_up = True

    async def on_disconnect(self) -> None:
        self.gateway_up = False

    # --- inbound ------------------------------------------------------------------------------

    async def handle_command(
        self, interaction: discord.Interaction, name: str, args: str = ""
    ) -> None:
        deferred = await self._defer(interaction)
        if deferred is None:
            return
        thread = await self._draft_thread(interaction, deferred) if name == "make" else ""
        event = inbound.command_event(interaction, name, args, thread)
        await self._answer(interaction, event)

    async def handle_button(self, interaction: discord.Interaction, button: Button) -> None:
        if await self._defer(interaction) is None:
            return
        await self._answer(interaction, inbound.button_event(interaction, button))

    async def on_message(self, message: discord.Message) -> None:
        if not inbound.is_for_the_bot(message, self.user):
            return
        telemetry.event_arrived()
        event = inbound.message_event(message)
        if message.attachments:
            found = await files.attachments(message, self.cdn_url)
            event = event.model_copy(update={"attachments": found})
        actions = await self._dispatch(event)
        sender = self.channel_sender()
        for action in actions:
            await self._deliver(sender.send, action)

    async def _defer(self, interaction: discord.Interaction) -> Deferred | None:
        """Acknowledge within Discord's 3 s; None when already acknowledged (a redelivery)."""
        telemetry.event_arrived()
        try:
            deferred = await interaction.response.defer()
            telemetry.acked("discord")
            return deferred
        except discord.HTTPException as error:
            if error.code != ALREADY_ACKNOWLEDGED:
                log.warning("could not acknowledge interaction (HTTP %s)", error.status)
        except discord.InteractionResponded:
            pass
        return None

    async def _draft_thread(self, interaction: discord.Interaction, deferred: Deferred) -> str:
        """A thread on the "thinking…" message for the draft ("" in DMs, threads, or if refused)."""
        channel = interaction.channel
        message_id = getattr(deferred, "message_id", None)
        if not isinstance(channel, discord.TextChannel) or message_id is None:
            return ""
        try:
            thread = await channel.get_partial_message(message_id).create_thread(
                name=_thread_name(interaction), auto_archive_duration=THREAD_ARCHIVE_MINUTES
            )
        except discord.HTTPException as error:
            log.info("no draft thread (HTTP %s); replies stay in the channel", error.status)
            return ""
        return str(thread.id)

    async def _dispatch(self, event: Event) -> list[Action]:
        try:
            return await self.dispatch_event(event)
        except Exception:
            log.exception("the core failed on a Discord %s event", event.kind)
            return []

    # --- answers ------------------------------------------------------------------------------

    async def _answer(self, interaction: discord.Interaction, event: Event) -> None:
        actions = await self._dispatch(event)
        sender = self.channel_sender()
        said = False
        for action in actions:
            if isinstance(action, Say):
                said = await self._followup(interaction, sender, action) or said
            elif not isinstance(action, JobsStarted):
                await self._deliver(sender.send, action)
        if not said and interaction.type is discord.InteractionType.application_command:
            await self._quietly(interaction.delete_original_response())

    async def _followup(
        self, interaction: discord.Interaction, sender: ChannelSender, action: Say
    ) -> bool:
        """A followup (ephemeral when asked); if Discord keeps failing, a channel message."""
        view = view_for(action.buttons)
        extra: dict[str, Any] = {"view": view} if view is not None else {}
        try:
            await interaction.followup.send(
                fit(action.text), ephemeral=action.ephemeral, allowed_mentions=NO_PINGS, **extra
            )
            return True
        except discord.HTTPException as error:
            log.warning("followup failed (HTTP %s); posting in the channel", error.status)
        if not action.ephemeral:
            await self._deliver(sender.send, action)
        return False

    async def _deliver(self, send: Callable[[Action], Any], action: Action) -> None:
        try:
            await send(action)
        except UNREACHABLE as error:
            log.warning("could not deliver %s to Discord (%s)", action.kind, _why(error))
            if isinstance(action, Say):
                return
            await self._quietly(send(Say(target=action.target, text=CANT_DELIVER)))

    async def _quietly(self, call: Any) -> None:
        try:
            await call
        except UNREACHABLE as error:
            log.warning("Discord call failed (%s)", _why(error))

    async def on_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        log.info("unusable app command interaction: %s", type(error).__name__)
        if not interaction.response.is_done():
            await self._quietly(
                interaction.response.send_message(UNREADABLE, ephemeral=True)
            )


def _why(error: Exception) -> str:
    """An error in words that never include a token (no URLs, no request data)."""
    if isinstance(error, discord.HTTPException):
        return f"HTTP {error.status}"
    return type(error).__name__


def _thread_name(interaction: discord.Interaction) -> str:
    idea = ""
    data: dict[str, Any] = dict(interaction.data or {})
    options = data.get("options")
    for option in options if isinstance(options, list) else []:
        if isinstance(option, dict) and option.get("name") == "idea":
            idea = str(option.get("value", ""))
    return ("Draft: " + " ".join(idea.split()))[:100] or "Draft"


def _add_commands(tree: app_commands.CommandTree[NovacastClient], client: NovacastClient) -> None:
    @tree.command(name="make", description="Turn an idea into a short narrated video")
    @app_commands.describe(idea="What the video is about, e.g. 40s on why octopuses sleep")
    async def make(interaction: discord.Interaction, idea: str) -> None:
        await client.handle_command(interaction, "make", idea)

    @tree.command(name="status", description="Where your current video is")
    async def status(interaction: discord.Interaction) -> None:
        await client.handle_command(interaction, "status")

    @tree.command(name="schedules", description="Your scheduled videos")
    async def schedules(interaction: discord.Interaction) -> None:
        await client.handle_command(interaction, "schedules")

    @tree.command(name="assets", description="Your photos and clips for videos")
    @app_commands.describe(what="Leave empty to list them, or e.g. delete 2")
    async def assets(interaction: discord.Interaction, what: str = "") -> None:
        await client.handle_command(interaction, "assets", what)

    @tree.command(name="help", description="What NOVACAST can do")
    async def help_(interaction: discord.Interaction) -> None:
        await client.handle_command(interaction, "help")

    del make, status, schedules, assets, help_


def _guard_parsers(client: discord.Client) -> None:
    """A malformed gateway dispatch is skipped and logged, never allowed to end the connection.

    discord.py calls its parsers without a guard, so a payload with missing fields or wrong
    types would raise out of the gateway loop and stop the client.
    """
    parsers: dict[str, Callable[[Any], None]] = client._connection.parsers
    for name, parser in list(parsers.items()):
        parsers[name] = _guarded(name, parser)


def _guarded(name: str, parser: Callable[[Any], None]) -> Callable[[Any], None]:
    def parse(data: Any) -> None:
        try:
            parser(data)
        except Exception as error:
            log.warning("skipped a malformed %s dispatch (%s)", name, type(error).__name__)

    return parse
