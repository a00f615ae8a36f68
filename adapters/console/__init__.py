"""The console adapter: the whole product in a terminal, and the adapter tests drive.

`novacast chat` runs it in its own process (so `PLATFORM` has no live start for the bot);
workers post to a terminal through its Redis stream (`outbox.sync_sender`). Buttons are shown
as numbered labels to type: the text fallback for a platform without buttons.
"""

from adapters.console.adapter import ConsoleAdapter, parse_line
from adapters.console.outbox import ConsoleOutbox, sync_sender
from adapters.console.text import RENDERS
from adapters.registry import NoSettings, Platform

__all__ = ["PLATFORM", "ConsoleAdapter", "ConsoleOutbox", "parse_line"]

PLATFORM = Platform(name="console", settings=NoSettings, sender=sync_sender, renders=RENDERS)
