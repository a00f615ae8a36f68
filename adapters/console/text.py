"""How actions read in a terminal: buttons become numbered labels to type."""

from __future__ import annotations

from bot.actions import AskApproval, Button, JobsStarted, Picture, Preview, Progress, Say

BAR_WIDTH = 20
RENDERS = frozenset({Say, AskApproval, Progress, Preview, Picture, JobsStarted})
"""Every action type the console shows (JobsStarted: the jobs a patient console waits for;
Picture: a still it cannot draw, so its caption and the file's path)."""


def buttons_line(buttons: list[Button]) -> str:
    if not buttons:
        return ""
    labels = "   ".join(f"[{n}] {b.label}" for n, b in enumerate(buttons, start=1))
    return f"{labels}\n(type a number or a label)"


def say_text(action: Say | AskApproval) -> str:
    parts = [action.text, buttons_line(action.buttons)]
    return "\n".join(p for p in parts if p)


def progress_text(action: Progress) -> str:
    filled = round(BAR_WIDTH * action.percent / 100)
    bar = "█" * filled + "·" * (BAR_WIDTH - filled)
    return f"[{bar}] {action.percent:3d}%  {action.stage}"


def preview_text(action: Preview) -> str:
    parts = [f"▶ {action.caption}", f"  {action.path}", buttons_line(action.buttons)]
    return "\n".join(p for p in parts if p)


def picture_text(action: Picture) -> str:
    """A still as a terminal shows it: the caption on one line, the file's path under it."""
    parts = [f"🖼 {action.caption}" if action.caption else "🖼", f"  {action.path}"]
    return "\n".join(parts)
