"""Files users send, fetched by their platform's adapter into the incoming folder.

Each adapter describes a file as its platform declared it (`Offered`: the name, the type, the
declared size and where to fetch it) and hands it to `Fetcher.fetch`, which gives the core an
`Attachment`: a local file, or one sentence saying why there is none. The rules, the same on
every platform:

- a file declared larger than the cap (NOVACAST_MAX_UPLOAD_MB, default 200) is refused before
  any request is made; a download is cut off as soon as it passes the cap or its declared size;
- only the origins the adapter names (its platform's file host) are fetched, and redirects are
  not followed, so a hostile payload cannot point the bot, or its credentials, anywhere else;
- a file declared as something other than a picture or a video is not fetched;
- the local name is ours (a random id and a known media suffix): nothing the user typed
  becomes part of a path. The file is unvetted; the asset store probes it before use.

URLs may carry a token (Telegram's do) and are never logged or put in a sentence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

import httpx
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.events import Attachment
from pipeline.settings import load_settings

log = logging.getLogger(__name__)

DEFAULT_MAX_UPLOAD_MB = 200
MAX_ATTACHMENTS = 10
"""As many files as one message event carries; more are left out with a sentence."""
DOWNLOAD_SECONDS = 300.0
"""The longest one download may take, start to finish."""
CHUNK_BYTES = 256 * 1024
MEDIA_SUFFIXES = frozenset(
    {"jpg", "jpeg", "png", "gif", "webp", "heic", "heif", "bmp", "tif", "tiff",
     "mp4", "m4v", "mov", "webm", "mkv", "avi", "3gp", "mpg", "mpeg"}
)
MIME_SUFFIXES = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/heic": "heic",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
    "video/x-matroska": "mkv",
}
_SAFE_SUFFIX = re.compile(r"^[a-z0-9]{1,5}$")
UNKNOWN_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
"""Types that say nothing: such a file is fetched and left to the probe."""


class UploadSettings(BaseSettings):
    """How large a file users may send (the same cap on every platform)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    max_upload_mb: int = Field(
        default=DEFAULT_MAX_UPLOAD_MB, ge=1, le=100_000, alias="NOVACAST_MAX_UPLOAD_MB"
    )

    @property
    def max_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024


def incoming_dir(platform: str) -> Path:
    """Where a platform's fetched files land (`<data dir>/incoming/<platform>`)."""
    return load_settings().incoming_dir / platform


@dataclass(frozen=True)
class Offered:
    """A file as the platform declared it, before anything is fetched."""

    name: str
    mime: str
    size: int | None
    """The platform's declared size in bytes; None when it did not say."""
    url: str = field(default="", repr=False)
    """Where to fetch it (may hold a token: never logged)."""

    @property
    def shown_name(self) -> str:
        """The name for a sentence: the user's own, shortened, or what kind of file it is."""
        name = " ".join(self.name.split())[:80]
        return f"“{name}”" if name else "your file"


def megabytes(size: int) -> str:
    if size >= 1024**3:
        return f"{size / 1024**3:.1f} GB"
    return f"{max(size / 1024**2, 0.1):.1f} MB"


def too_big(offered: Offered, size: int, cap: int) -> Attachment:
    return refused(
        offered,
        f"{offered.shown_name} is {megabytes(size)}, more than the {megabytes(cap)} I accept; "
        "please send a shorter clip or a smaller file.",
    )


def not_media(offered: Offered) -> Attachment:
    return refused(
        offered, f"{offered.shown_name} isn't a picture or a video, so I left it alone."
    )


def not_fetched(offered: Offered) -> Attachment:
    return refused(
        offered, f"I couldn't download {offered.shown_name} just now; please send it again."
    )


def not_on_platform(offered: Offered, platform: str) -> Attachment:
    return refused(
        offered,
        f"{offered.shown_name} isn't stored on {platform.title()}, so I didn't fetch it; "
        "please upload the file itself.",
    )


def too_many(offered: Offered, left: int) -> Attachment:
    return refused(
        offered,
        f"I take up to {MAX_ATTACHMENTS} files per message, so I left out {left} of them, "
        f"starting with {offered.shown_name}; please send those again.",
    )


def refused(offered: Offered, sentence: str) -> Attachment:
    return Attachment(
        name=offered.name[:255],
        mime=offered.mime[:100],
        size_bytes=offered.size or 0,
        refused=sentence,
    )


def is_declared_media(offered: Offered) -> bool:
    """Declared a picture or a video, or declared nothing that says otherwise."""
    mime = offered.mime.split(";", 1)[0].strip().lower()
    if mime.startswith(("image/", "video/")):
        return True
    return mime in UNKNOWN_TYPES and _suffix_of(offered.name) in MEDIA_SUFFIXES | {""}


def same_origin(url: str, origins: Iterable[str]) -> bool:
    """True when `url` is http(s) on one of `origins` (scheme, host and port all equal)."""
    try:
        target = _origin(url)
    except ValueError:
        return False
    allowed = set()
    for origin in origins:
        with contextlib.suppress(ValueError):
            allowed.add(_origin(origin))
    return target in allowed


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname or parts.username:
        raise ValueError("not an http(s) URL")
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, parts.hostname.lower(), port


def _suffix_of(name: str) -> str:
    suffix = PurePosixPath(name.replace("\\", "/")).suffix.lower().lstrip(".")
    return suffix if _SAFE_SUFFIX.match(suffix) else ""


def local_suffix(offered: Offered) -> str:
    """A suffix from a known list (by the declared type, else the name), or `.bin`."""
    mime = offered.mime.split(";", 1)[0].strip().lower()
    suffix = MIME_SUFFIXES.get(mime) or _suffix_of(offered.name)
    return f".{suffix}" if suffix in MEDIA_SUFFIXES else ".bin"


class _TooLarge(Exception):
    """The body grew past what we allow (the size seen so far)."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class Fetcher:
    """Fetches offered files from the given origins (with the given headers) into `folder`.

    `async with Fetcher("slack", origins=[...], headers={...}) as fetcher:` opens one HTTP
    client for the files of one message."""

    def __init__(
        self,
        platform: str,
        *,
        origins: Iterable[str],
        headers: Mapping[str, str] | None = None,
        folder: Path | None = None,
        settings: UploadSettings | None = None,
    ) -> None:
        self.platform = platform
        self._origins = tuple(origins)
        self._headers = dict(headers or {})
        self._folder = folder or incoming_dir(platform)
        self.max_bytes = (settings or UploadSettings()).max_bytes
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Self:
        self._client = httpx.AsyncClient(
            follow_redirects=False, timeout=httpx.Timeout(30.0, connect=10.0)
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def precheck(self, offered: Offered) -> Attachment | None:
        """The refusal for a file that must not be fetched at all, else None (no request)."""
        if offered.size is not None and offered.size > self.max_bytes:
            return too_big(offered, offered.size, self.max_bytes)
        if not is_declared_media(offered):
            return not_media(offered)
        return None

    def allowed(self, url: str) -> bool:
        return same_origin(url, self._origins)

    async def fetch(self, offered: Offered) -> Attachment:
        """The file in the incoming folder, or the sentence why not (nothing left behind)."""
        early = self.precheck(offered)
        if early is not None:
            return early
        if not self.allowed(offered.url):
            log.warning("refused to fetch a file from a host that is not %s's", self.platform)
            return not_on_platform(offered, self.platform)
        self._folder.mkdir(parents=True, exist_ok=True)
        target = self._folder / f"{uuid.uuid4().hex}{local_suffix(offered)}"
        partial = target.with_name(target.name + ".part")
        try:
            async with asyncio.timeout(DOWNLOAD_SECONDS):
                size = await self._stream(offered, partial)
        except _TooLarge as error:
            partial.unlink(missing_ok=True)
            if error.size <= self.max_bytes:  # more than declared, yet under the cap
                log.warning("a download was larger than its platform declared")
                return not_fetched(offered)
            return too_big(offered, error.size, self.max_bytes)
        except (httpx.HTTPError, OSError, TimeoutError) as error:
            partial.unlink(missing_ok=True)
            log.warning("a download failed: %s", type(error).__name__)
            return not_fetched(offered)
        partial.rename(target)
        return Attachment(
            path=str(target), name=offered.name[:255], mime=offered.mime[:100], size_bytes=size
        )

    async def _stream(self, offered: Offered, partial: Path) -> int:
        assert self._client is not None, "use the Fetcher as an async context"
        limit = self.max_bytes if offered.size is None else min(offered.size, self.max_bytes)
        async with self._client.stream("GET", offered.url, headers=self._headers) as response:
            if response.status_code != 200:
                log.warning("a download answered HTTP %s", response.status_code)
                raise httpx.HTTPStatusError("not 200", request=response.request, response=response)
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                raise _TooLarge(int(declared))
            size = 0
            with partial.open("wb") as out:
                async for chunk in response.aiter_raw(CHUNK_BYTES):
                    size += len(chunk)
                    if size > limit:
                        raise _TooLarge(size)
                    out.write(chunk)
        if size == 0:
            raise OSError("empty download")
        return size

    async def fetch_all(self, offers: Iterable[Offered]) -> list[Attachment]:
        """Each offered file in order (at most MAX_ATTACHMENTS; the rest say so)."""
        offered = list(offers)
        if len(offered) <= MAX_ATTACHMENTS:
            return [await self.fetch(one) for one in offered]
        kept, left = offered[: MAX_ATTACHMENTS - 1], offered[MAX_ATTACHMENTS - 1 :]
        return [*[await self.fetch(one) for one in kept], too_many(left[0], len(left))]
