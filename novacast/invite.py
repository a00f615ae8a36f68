"""`novacast invite`: a one-time sign-in link to a workspace's web studio, with a role.

The link is printed, never stored as it is (Redis keeps its hash); it works once, within 24 h.
It is made against the same Redis the bot uses (REDIS_URL, or the embedded server of this data
dir), under the bot's public URL (NOVACAST_PUBLIC_URL, else http://localhost:PORT).
"""

from __future__ import annotations

import click

from adapters.web.access import Role
from adapters.web.sessions import sign_in_link
from novacast.wiring import reachable_redis
from pipeline.settings import load_settings


@click.command("invite")
@click.option("--workspace", required=True, help="The workspace the person signs in to.")
@click.option(
    "--role",
    required=True,
    type=click.Choice([role.value for role in Role]),
    help="What they may do (policy.yaml `roles:`).",
)
@click.option("--name", default="", help="How they are shown; the same name is the same person.")
def command(workspace: str, role: str, name: str) -> None:
    """Print a one-time sign-in link (24 h) to the web studio."""
    if not workspace.strip():
        raise click.BadParameter("must not be empty", param_hint="--workspace")
    settings = load_settings()
    with reachable_redis(settings) as handle:
        link = sign_in_link(
            handle.connection,
            settings.base_url,
            workspace=workspace.strip(),
            role=role,
            name=name.strip(),
        )
        if handle.started_here:
            click.echo(
                "(NOVACAST is not running here: the link is kept in its data and works "
                "once `novacast up` does.)",
                err=True,
            )
    click.echo(link)
