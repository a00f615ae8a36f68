"""Discord objects → core events: who is talking where, and may they approve.

A conversation is guild + channel + thread + user; direct messages are each user's own
workspace (`dm-<user id>`), so no one's DM projects are reachable from anywhere else. In Discord
a thread is itself a channel: a message or interaction inside a thread has `channel` = the
thread's parent and `thread` = the thread id. The event's speaker is an admin when their
permissions include Manage Server or Administrator, and carries their role ids for role-based
approval; Discord tells no time zone.
"""

from __future__ import annotations

from typing import Any

import discord

from adapters.discord.outbound import ADAPTER
from bot.actions import Button
from bot.events import ButtonEvent, CommandEvent, Conversation, MessageEvent, Speaker

MAX_TEXT = 4000
"""Longer text is cut before it reaches the core (Discord's own limit is 2,000–4,000)."""


def workspace_of(guild_id: int | None, user_id: int) -> str:
    """The guild; direct messages are each user's own workspace (`dm-<user id>`)."""
    return str(guild_id) if guild_id else f"dm-{user_id}"


def place_of(channel: Any, channel_id: int | None) -> tuple[str, str]:
    """(channel, thread) ids for a channel object that may be a thread."""
    if isinstance(channel, discord.Thread) and channel.parent_id:
        return str(channel.parent_id), str(channel.id)
    return str(channel_id or getattr(channel, "id", None) or "unknown"), ""


def conversation(
    user: discord.abc.User, guild_id: int | None, channel: tuple[str, str]
) -> Conversation:
    return Conversation(
        adapter=ADAPTER,
        workspace=workspace_of(guild_id, user.id),
        channel=channel[0],
        thread=channel[1],
        user=str(user.id),
        user_name=user.display_name,
    )


def is_admin(permissions: discord.Permissions | None) -> bool:
    return permissions is not None and (permissions.manage_guild or permissions.administrator)


def roles_of(user: discord.abc.User) -> frozenset[str]:
    if not isinstance(user, discord.Member):
        return frozenset()
    return frozenset(str(role.id) for role in user.roles if not role.is_default())


def speaker_of(
    where: Conversation, user: discord.abc.User, permissions: discord.Permissions | None
) -> Speaker:
    """The conversation's user with their admin status and role ids."""
    return Speaker.of(where, is_admin=is_admin(permissions), groups=roles_of(user))


def ids_raw(**ids: Any) -> dict[str, Any]:
    """The platform ids of the payload, kept as given."""
    return {k: v for k, v in ids.items() if v is not None}


def interaction_conversation(
    interaction: discord.Interaction, thread: str = ""
) -> Conversation:
    channel, in_thread = place_of(interaction.channel, interaction.channel_id)
    return conversation(interaction.user, interaction.guild_id, (channel, thread or in_thread))


def interaction_speaker(interaction: discord.Interaction, where: Conversation) -> Speaker:
    permissions = interaction.permissions if interaction.guild_id else None
    return speaker_of(where, interaction.user, permissions)


def interaction_raw(interaction: discord.Interaction) -> dict[str, Any]:
    return ids_raw(
        interaction_id=str(interaction.id),
        type=interaction.type.value,
        data=interaction.data,
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
    )


def command_event(
    interaction: discord.Interaction, name: str, args: str = "", thread: str = ""
) -> CommandEvent:
    where = interaction_conversation(interaction, thread)
    return CommandEvent(
        conversation=where,
        speaker=interaction_speaker(interaction, where),
        event_id=f"dc:{interaction.id}",
        raw=interaction_raw(interaction),
        name=name,
        args=args[:MAX_TEXT],
    )


def button_event(interaction: discord.Interaction, button: Button) -> ButtonEvent:
    where = interaction_conversation(interaction)
    return ButtonEvent(
        conversation=where,
        speaker=interaction_speaker(interaction, where),
        event_id=f"dc:{interaction.id}",
        raw=interaction_raw(interaction),
        action=button.action.value,
        project_id=button.project_id,
    )


def message_place(message: discord.Message) -> tuple[str, str]:
    """Where a message belongs; a reply to a draft the bot started a thread on joins that thread."""
    channel, thread = place_of(message.channel, message.channel.id)
    replied_to = message.reference.message_id if message.reference else None
    if thread or message.guild is None or replied_to is None:
        return channel, thread
    started = message.guild.get_thread(replied_to)
    me = message.guild.me
    if started is not None and me is not None and started.owner_id == me.id:
        return channel, str(started.id)
    return channel, thread


def message_event(message: discord.Message) -> MessageEvent:
    guild = message.guild
    author = message.author
    permissions = author.guild_permissions if isinstance(author, discord.Member) else None
    where = conversation(author, guild.id if guild else None, message_place(message))
    return MessageEvent(
        conversation=where,
        speaker=speaker_of(where, author, permissions),
        event_id=f"dc:{message.id}",
        raw=ids_raw(message_id=str(message.id), channel_id=message.channel.id),
        text=message.content[:MAX_TEXT],
    )


def is_for_the_bot(message: discord.Message, me: discord.ClientUser | None) -> bool:
    """Free text the bot reads: a DM, a thread the bot started, or a reply to the bot."""
    if me is None or message.author.bot:
        return False
    if not message.content.strip() and not message.attachments:
        return False
    if isinstance(message.channel, discord.DMChannel):
        return True
    if isinstance(message.channel, discord.Thread) and message.channel.owner_id == me.id:
        return True
    replied = message.reference.resolved if message.reference else None
    return isinstance(replied, discord.Message) and replied.author.id == me.id
