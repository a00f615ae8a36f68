"""Slack for NOVACAST: a Bolt AsyncApp (HTTP events at `/slack/events`, or Socket Mode).

`from_settings(settings, dispatch, connection)` gives the adapter, or None when Slack is not
configured (SLACK_BOT_TOKEN plus SLACK_SIGNING_SECRET for HTTP, or SLACK_APP_TOKEN for Socket
Mode). Workers post through `adapters.slack.outbound.sync_sender`. Setup: README.md here.
"""

from __future__ import annotations

import logging

import redis

from adapters.base import Dispatch
from adapters.slack.adapter import EVENTS_PATH, SlackAdapter
from adapters.slack.options import Credentials, SlackOptions
from adapters.slack.outbound import SlackSender, sync_sender
from pipeline.settings import Settings

log = logging.getLogger(__name__)

__all__ = [
    "EVENTS_PATH",
    "SlackAdapter",
    "SlackOptions",
    "SlackSender",
    "from_settings",
    "sync_sender",
]


def from_settings(
    settings: Settings, dispatch: Dispatch, connection: redis.Redis
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
    return SlackAdapter(credentials, dispatch, connection, settings)
