"""How NOVACAST's outbound actions look in Slack: mrkdwn text and Block Kit buttons.

Every text is escaped (`&`, `<`, `>`), so words a user typed can never turn into
`<!channel>` pings or links when the bot repeats them.
"""

from __future__ import annotations

from typing import Any

from adapters.buttons import encode
from bot.actions import Button, ButtonAction, Progress

ACTION_PREFIX = "novacast_"
"""Every button's action_id: `novacast_<action>`; its value is `adapters.buttons.encode`."""
BUTTONS_BLOCK = "novacast_buttons"
SECTION_LIMIT = 3000
"""Slack's limit for one section block's text."""
BAR_WIDTH = 20
_STYLES = {
    ButtonAction.RENDER: "primary",
    ButtonAction.APPROVE: "primary",
    ButtonAction.REJECT: "danger",
}

Block = dict[str, Any]


def escape(text: str) -> str:
    """Slack's three control characters, escaped as its docs ask."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def button_element(button: Button) -> Block:
    element: Block = {
        "type": "button",
        "action_id": f"{ACTION_PREFIX}{button.action.value}",
        "text": {"type": "plain_text", "text": button.label, "emoji": True},
        "value": encode(button),
    }
    style = _STYLES.get(button.action)
    if style:
        element["style"] = style
    return element


def sections(mrkdwn: str) -> list[Block]:
    """Text as section blocks of at most SECTION_LIMIT characters, split at line ends."""
    chunks: list[str] = []
    current = ""
    for whole in mrkdwn.splitlines(keepends=True):
        for start in range(0, len(whole), SECTION_LIMIT):
            piece = whole[start : start + SECTION_LIMIT]
            if len(current) + len(piece) > SECTION_LIMIT:
                chunks.append(current)
                current = ""
            current += piece
    chunks.append(current)
    return [_section(chunk) for chunk in chunks if chunk.strip()]


def message(text: str, buttons: list[Button] | None = None) -> dict[str, Any]:
    """`text` and `blocks` arguments for chat.postMessage / chat.update (text is escaped)."""
    safe = escape(text)
    blocks = sections(safe)
    if buttons:
        elements = [button_element(b) for b in buttons]
        blocks.append({"type": "actions", "block_id": BUTTONS_BLOCK, "elements": elements})
    return {"text": safe[:SECTION_LIMIT] or " ", "blocks": blocks}


def progress_text(action: Progress) -> str:
    filled = round(BAR_WIDTH * action.percent / 100)
    bar = "▰" * filled + "▱" * (BAR_WIDTH - filled)
    mark = "✅ " if action.done and action.percent >= 100 else ""
    return f"{mark}{bar} {action.percent}% — {action.stage}"


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}
