"""What NOVACAST's Discord messages are made of: text that fits, progress lines, buttons.

Buttons carry `adapters.buttons` payloads (`nc1:approve:3f2a…`) as their custom ids. They are
`DynamicItem`s in a persistent view (`timeout=None`): the client registers the item class once
(`add_dynamic_items`), and discord.py rebuilds the button from any matching custom id, so
buttons on messages posted before a restart, or by a worker, keep working with no stored state.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Protocol, Self, runtime_checkable

import discord

from adapters.buttons import PREFIX, decode, encode
from bot.actions import Button, ButtonAction, Progress

log = logging.getLogger(__name__)

MAX_CONTENT = 2000
"""Discord's limit on a message's content, in characters."""
MAX_BUTTONS = 25
"""Five action rows of five buttons."""
NO_PINGS = discord.AllowedMentions.none()
"""Text the bot posts often quotes users (their idea): it must never ping @everyone or roles."""
TEMPLATE = re.compile(rf"{PREFIX}:(?P<action>[a-z]{{1,16}}):(?P<project>[0-9A-Za-z_-]{{1,32}})")

_STYLES = {
    ButtonAction.RENDER: discord.ButtonStyle.primary,
    ButtonAction.APPROVE: discord.ButtonStyle.success,
    ButtonAction.CANCEL: discord.ButtonStyle.danger,
    ButtonAction.REJECT: discord.ButtonStyle.danger,
}


@runtime_checkable
class ButtonHandler(Protocol):
    """The client side that answers a pressed button (the adapter's Discord client)."""

    async def handle_button(self, interaction: discord.Interaction, button: Button) -> None: ...


class ActionButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=TEMPLATE):
    """One product button; its custom id is the whole state it needs."""

    def __init__(self, button: Button | None, custom_id: str = "") -> None:
        self.button = button
        label = button.label if button is not None else "…"
        style = _STYLES.get(button.action) if button is not None else None
        super().__init__(
            discord.ui.Button(
                label=label,
                style=style or discord.ButtonStyle.secondary,
                custom_id=encode(button) if button is not None else custom_id,
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        del interaction, item
        return cls(decode(match.group(0)), match.group(0))

    async def callback(self, interaction: discord.Interaction) -> None:
        client = interaction.client
        if self.button is None or not isinstance(client, ButtonHandler):
            log.info("ignoring a button press with an unknown custom id")
            return
        await client.handle_button(interaction, self.button)


def view_for(buttons: list[Button]) -> discord.ui.View | None:
    """A persistent view holding `buttons`, or None when there are none."""
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for button in buttons[:MAX_BUTTONS]:
        view.add_item(ActionButton(button))
    return view


def fit(text: str) -> str:
    """`text` cut to Discord's content limit (never empty: Discord refuses empty messages)."""
    text = text.strip() or "…"
    return text if len(text) <= MAX_CONTENT else text[: MAX_CONTENT - 1] + "…"


def progress_text(action: Progress) -> str:
    """One line, edited in place: stage, percent and a bar."""
    filled = action.percent // 10
    bar = "▰" * filled + "▱" * (10 - filled)
    icon = "✅" if action.done and action.percent >= 100 else ("⚠️" if action.done else "⏳")
    return f"{icon} Rendering — {action.stage} {bar} {action.percent}%"
