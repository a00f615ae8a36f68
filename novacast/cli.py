"""The `novacast` command: make, chat, worker, bot, scheduler, up.

Each command lives in the module that owns what it does and is imported only when it runs
(`COMMANDS`), so `novacast scheduler` never loads the chat SDKs and `novacast make` never loads
the bot's server. Before any command is imported, `.env` in the working directory is read into
the environment (variables already set win), so every setting — the pydantic ones and those read
with `os.environ` alike — sees it.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import click
from dotenv import load_dotenv

COMMANDS = {
    "make": "novacast.make:command",
    "chat": "novacast.console:chat_command",
    "up": "novacast.console:up_command",
    "bot": "novacast.server:command",
    "worker": "novacast.background:worker_command",
    "scheduler": "novacast.background:scheduler_command",
    "invite": "novacast.invite:command",
    "keys": "novacast.keys:command",
}
"""Command name -> "module:attribute" of its click command."""


class LazyGroup(click.Group):
    """A click group whose commands are imported from `COMMANDS` when they are asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:  # noqa: ARG002 (click's signature)
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:  # noqa: ARG002
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        module, _, attribute = spec.partition(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command

    def invoke(self, ctx: click.Context) -> object:
        load_dotenv(Path.cwd() / ".env", override=False)
        return super().invoke(ctx)


@click.group(cls=LazyGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log what happens underneath.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """NOVACAST: turn an idea into a narrated short video, from a chat or a terminal."""
    # Logs (JSON for the long-running processes), Sentry when SENTRY_DSN is set; httpx's
    # request lines, which hold Telegram's token, stay held back (novacast.observability).
    from novacast import observability  # noqa: PLC0415 (after .env is read: LazyGroup.invoke)

    observability.start(ctx.invoked_subcommand, verbose=verbose)
