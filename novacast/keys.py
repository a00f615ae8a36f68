"""`novacast keys create|list|revoke`: API keys for /api/v1, per workspace and role.

A new key is printed once (`nck_<id>_<secret>`); Redis keeps only its hash
(`adapters.web.api.keys`). The commands work against the same Redis the bot uses (REDIS_URL,
or the embedded server of this data dir).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from adapters.web.access import Role
from adapters.web.api.keys import ApiKeys, KeyInfo
from novacast.wiring import reachable_redis
from pipeline.settings import load_settings


@contextmanager
def _keys() -> Iterator[ApiKeys]:
    with reachable_redis(load_settings()) as handle:
        yield ApiKeys(handle.connection)


@click.group("keys")
def command() -> None:
    """API keys for the HTTP API (/api/v1): create, list, revoke."""


@command.command("create")
@click.option("--workspace", required=True, help="The workspace the key acts in.")
@click.option(
    "--role",
    required=True,
    type=click.Choice([role.value for role in Role]),
    help="What it may do (policy.yaml `roles:`).",
)
@click.option("--name", default="", help="What the key is for (shown in lists and the audit).")
def create(workspace: str, role: str, name: str) -> None:
    """Make a key and print it: it is shown this once."""
    if not workspace.strip():
        raise click.BadParameter("must not be empty", param_hint="--workspace")
    with _keys() as keys:
        made = keys.create(workspace.strip(), Role(role), name.strip())
    click.echo(made.token)
    click.echo(
        f"key {made.info.id} ({role} in {made.info.workspace}); keep it safe: it is not "
        "shown again.",
        err=True,
    )


def _line(info: KeyInfo) -> str:
    used = info.last_used_at.isoformat(timespec="seconds") if info.last_used_at else "never"
    state = f"revoked {info.revoked_at:%Y-%m-%d}" if info.revoked_at else "active"
    name = f" {info.name!r}" if info.name else ""
    return f"{info.id}  {info.workspace}  {info.role.value}  {state}  last used {used}{name}"


@command.command("list")
@click.option("--workspace", default=None, help="Only this workspace's keys.")
def list_keys(workspace: str | None) -> None:
    """List keys (never their secrets)."""
    with _keys() as keys:
        listed = keys.list(workspace.strip() if workspace else None)
    for info in listed:
        click.echo(_line(info))
    if not listed:
        click.echo("no keys", err=True)


@command.command("revoke")
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke a key by its id (the part after nck_): it stops working at once."""
    with _keys() as keys:
        revoked = keys.revoke(key_id.strip())
    if revoked is None:
        raise click.ClickException(f"there is no key {key_id!r}")
    click.echo(f"revoked {revoked.id} ({revoked.role.value} in {revoked.workspace})")
