"""Slack for NOVACAST: a Bolt AsyncApp (HTTP events at `/slack/events`, or Socket Mode).

`PLATFORM` is all the registry needs. `from_settings(settings, dispatch, connection, links)`
gives the adapter, or None when Slack is not configured (SLACK_BOT_TOKEN plus
SLACK_SIGNING_SECRET for HTTP, or SLACK_APP_TOKEN for Socket Mode); workers post through
`adapters.slack.outbound.sync_sender`. Setup: README.md here.
"""

from __future__ import annotations

import logging

import redis

from adapters.base import Dispatch
from adapters.media_links import MediaLinks
from adapters.registry import Platform
from adapters.slack.adapter import EVENTS_PATH, SlackAdapter
from adapters.slack.options import Credentials, SlackOptions
from adapters.slack.outbound import RENDERS, SlackSender, sync_sender
from adapters.slack.settings import SlackSettings

log = logging.getLogger(__name__)

__all__ = [
    "EVENTS_PATH",
    "PLATFORM",
    "SlackAdapter",
    "SlackOptions",
    "SlackSender",
    "SlackSettings",
    "from_settings",
    "sync_sender",
]


def from_settings(
    settings: SlackSettings, dispatch: Dispatch, connection: redis.Redis, links: MediaLinks
) -> SlackAdapter | None:
    """The Slack adapter when its credentials are set, else None."""
    credentials = Credentials.from_settings(settings)
    if credentials is None:
        return None
    if credentials.signing_secret is None and credentials.app_token is None:
        log.warning(
            "SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET (HTTP events) nor "
            "SLACK_APP_TOKEN (Socket Mode) is: Slack stays off"
        )
        return None
    return SlackAdapter(credentials, dispatch, connection, links)


PLATFORM = Platform(
    name="slack",
    settings=SlackSettings,
    start=from_settings,
    sender=sync_sender,
    renders=RENDERS,
)
