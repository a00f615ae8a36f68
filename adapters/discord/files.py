"""Files attached to a Discord message, fetched into the incoming folder.

Per attachment: refused at once when its declared `size` is over the cap or its type is not a
picture or a video (nothing fetched); else a bounded GET of its `url`, only when that URL is on
the configured CDN origin (DISCORD_CDN_URL): an attachment pointing anywhere else is refused.
The CDN needs no credentials, so the bot token never goes with these requests. discord.py's
`Attachment.read`/`save` read the whole body into memory with no cap, so the download goes
through the shared bounded stream (`adapters.incoming`) instead.
"""

from __future__ import annotations

import discord

from adapters.incoming import Fetcher, Offered
from bot.events import Attachment

ADAPTER = "discord"


def offered_of(attachment: discord.Attachment) -> Offered:
    return Offered(
        name=attachment.filename,
        mime=attachment.content_type or "",
        size=attachment.size,
        url=attachment.url,
    )


def fetcher_for(cdn_url: str) -> Fetcher:
    return Fetcher(ADAPTER, origins=[cdn_url])


async def attachments(message: discord.Message, cdn_url: str) -> list[Attachment]:
    """Every attachment of `message`, fetched or refused with a sentence."""
    if not message.attachments:
        return []
    async with fetcher_for(cdn_url) as fetcher:
        return await fetcher.fetch_all(offered_of(a) for a in message.attachments)
