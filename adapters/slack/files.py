"""Files shared into a Slack conversation, fetched into the incoming folder.

Per file: refused at once when the event's declared size is over the cap or its type is not a
picture or a video (no call, no download); else files.info (Slack's own record: name, type,
size, `url_private_download`/`url_private`), and a bounded GET of that URL with the bot token
as a bearer credential, only when it is on the configured files origin (SLACK_FILES_URL): an
event pointing `url_private` anywhere else is refused and nothing is sent there.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import ClientError
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.incoming import Fetcher, Offered, not_fetched, refused
from adapters.slack.inbound import SharedFile
from adapters.slack.options import Credentials
from bot.events import Attachment

log = logging.getLogger(__name__)

ADAPTER = "slack"
LOOKUP_ERRORS = (SlackApiError, SlackClientError, ClientError, asyncio.TimeoutError, OSError)
NO_FILE_SCOPE = (
    "I'm not allowed to read files in this workspace yet, so I couldn't fetch {name}; "
    "an admin can add the files:read permission to the NOVACAST app."
)


def fetcher_for(credentials: Credentials) -> Fetcher:
    token = credentials.bot_token.get_secret_value()
    return Fetcher(
        ADAPTER, origins=[credentials.files_url], headers={"Authorization": f"Bearer {token}"}
    )


async def attachments(
    client: AsyncWebClient, files: list[SharedFile], fetcher: Fetcher
) -> list[Attachment]:
    """Every shared file, fetched or refused with a sentence."""
    return [await _one(client, shared, fetcher) for shared in files]


async def _one(client: AsyncWebClient, shared: SharedFile, fetcher: Fetcher) -> Attachment:
    declared = Offered(name=shared.name, mime=shared.mimetype, size=shared.size)
    early = fetcher.precheck(declared)
    if early is not None:
        return early
    try:
        response = await client.files_info(file=shared.id)
    except SlackApiError as error:
        code = error.response.get("error") if isinstance(error.response.data, dict) else None
        log.warning("files.info refused: %s", code)
        if code == "missing_scope":
            return refused(declared, NO_FILE_SCOPE.format(name=declared.shown_name))
        return not_fetched(declared)
    except LOOKUP_ERRORS as error:
        log.warning("files.info failed: %s", type(error).__name__)
        return not_fetched(declared)
    record: Any = response.get("file")
    if not isinstance(record, dict):
        return not_fetched(declared)
    return await fetcher.fetch(_offered(record, declared))


def _offered(record: dict[str, Any], declared: Offered) -> Offered:
    size = record.get("size")
    url = record.get("url_private_download") or record.get("url_private") or ""
    return Offered(
        name=str(record.get("name") or declared.name),
        mime=str(record.get("mimetype") or declared.mime),
        size=size if isinstance(size, int) and size >= 0 else declared.size,
        url=str(url),
    )
