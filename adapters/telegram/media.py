"""The files a Telegram message carries, fetched into the incoming folder.

Per file: refused at once when Telegram's declared size is over the cap (no getFile, no
download); else getFile (through PTB), whose `file_path` must be a path under the Bot API's
file root (`{TELEGRAM_API_URL}/file/bot<token>/…`, as PTB builds it); a local path or another
host is refused, so a hostile answer cannot make the bot copy a file off its own disk. The
download streams through `adapters.incoming.Fetcher` with the cap enforced as it goes.
"""

from __future__ import annotations

import logging

from telegram import Bot, Message
from telegram.error import BadRequest, TelegramError

from adapters.incoming import Fetcher, Offered, not_fetched, refused
from adapters.telegram.inbound import TelegramFile, media_of
from adapters.telegram.outbound import DeliveryFailed, retrying
from bot.events import Attachment

log = logging.getLogger(__name__)

BOT_API_LIMIT = (
    "Telegram does not let bots download files over 20 MB, so I couldn't fetch {name}; "
    "please send a shorter clip or a smaller file."
)


async def attachments(bot: Bot, message: Message, fetcher: Fetcher) -> list[Attachment]:
    """Every file of `message`, fetched or refused with a sentence."""
    found = []
    for item in media_of(message, fetcher.max_bytes):
        found.append(await _one(bot, item, fetcher))
    return found


async def _one(bot: Bot, item: TelegramFile, fetcher: Fetcher) -> Attachment:
    early = fetcher.precheck(item.offered)
    if early is not None:
        return early
    try:
        file = await retrying("getFile", lambda: bot.get_file(item.file_id))
    except BadRequest as error:
        if "too big" in error.message.lower():
            return refused(item.offered, BOT_API_LIMIT.format(name=item.offered.shown_name))
        log.warning("Telegram refused getFile: %s", error.message[:200])
        return not_fetched(item.offered)
    except (DeliveryFailed, TelegramError) as error:
        log.warning("getFile failed: %s", type(error).__name__)
        return not_fetched(item.offered)
    url = file.file_path or ""
    if not url.startswith(bot.base_file_url + "/") or "/../" in url:
        log.warning("Telegram's getFile named a file outside the Bot API file root; not fetched")
        return not_fetched(item.offered)
    size = file.file_size if file.file_size is not None else item.offered.size
    offered = Offered(name=item.offered.name, mime=item.offered.mime, size=size, url=url)
    return await fetcher.fetch(offered)

