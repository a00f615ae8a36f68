"""The console adapter: the whole product in a terminal, and the adapter tests drive."""

from adapters.console.adapter import ConsoleAdapter, parse_line
from adapters.console.outbox import ConsoleOutbox

__all__ = ["ConsoleAdapter", "ConsoleOutbox", "parse_line"]
