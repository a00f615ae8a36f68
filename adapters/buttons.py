"""Button payloads on the wire: short, versioned, and the same on every platform.

`nc1:approve:3f2a9c1d` fits Telegram's 64-byte callback data, Discord's 100-character custom
ids and Slack's action values, and needs no server-side state, so buttons on old messages keep
working after a restart.
"""

from __future__ import annotations

import re

from bot.actions import Button, ButtonAction

PREFIX = "nc1"
_PROJECT_ID = re.compile(r"[0-9a-f]{1,32}")
_PATTERN = re.compile(rf"^{PREFIX}:(?P<action>[a-z]{{1,16}}):(?P<project>[0-9A-Za-z_-]{{1,32}})$")


def encode(button: Button) -> str:
    return f"{PREFIX}:{button.action.value}:{button.project_id}"


def decode(data: str) -> Button | None:
    """The button a payload names, or None for anything we did not send."""
    match = _PATTERN.match(data or "")
    if match is None:
        return None
    try:
        action = ButtonAction(match["action"])
    except ValueError:
        return None
    subject = match["project"]
    if action is not ButtonAction.UNSCHEDULE and not _PROJECT_ID.fullmatch(subject):
        return None  # only Cancel schedule carries a schedule id; every other button a project
    return Button(action=action, project_id=subject)
