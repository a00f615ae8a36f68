"""Pexels videos and photos (www.pexels.com/api/documentation), as a `MediaSource`.

`GET {PEXELS_API_URL}/videos/search` and `GET {PEXELS_API_URL}/v1/search` with `query`,
`orientation` and `per_page`, the bare key in `Authorization`. A video becomes one candidate:
of its `video_files` (mp4 only) the smallest whose short side reaches `short_side` (1080 by
default, so Full HD rather than 4K when both exist), else the largest there is. Clips shorter
than the query's minimum are left out (the search API has no duration filter). A photo is
downloaded from its original, asked at the frame's height when it is much larger. What a
candidate shows (`text`) is the photo's alt text, the video's tags and the words of its page's
address ("/video/octopus-swimming-in-the-sea-856410/"). Credit as the Pexels License asks:
"Video by NAME on Pexels".
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import httpx

from pipeline.media import web
from pipeline.media.model import Candidate, MediaKind, MediaQuery, SourceUnavailable

DEFAULT_URL = "https://api.pexels.com"
KEY_ENV = "PEXELS_API_KEY"
URL_ENV = "PEXELS_API_URL"
LICENCE = "Pexels License"
LABEL = "Pexels"
PHOTO_LONG_SIDE = 1920
"""Photos much larger than this on their long side are asked at this size."""


class PexelsSource(web.StockSource):
    name = "pexels"
    label = LABEL
    key_env, url_env, default_url = KEY_ENV, URL_ENV, DEFAULT_URL

    def search(self, query: MediaQuery) -> list[Candidate]:
        found: list[Candidate] = []
        with self._session() as http:
            if MediaKind.VIDEO in query.kinds:
                body = self._get(http, "/videos/search", query)
                videos = web.mapped(self._video, _items(body, "videos"))
                found += [c for c in videos if web.long_enough(c, query)]
            if MediaKind.PHOTO in query.kinds:
                body = self._get(http, "/v1/search", query)
                found += web.mapped(self._photo, _items(body, "photos"))
        return found

    def _get(self, http: httpx.Client, path: str, query: MediaQuery) -> Any:
        params = {"query": query.text, "orientation": query.orientation.value,
                  "per_page": query.limit}
        return web.get_json(http, self.base_url + path, label=LABEL, params=params,
                            headers={"Authorization": self._key}, limits=self.limits,
                            cache=self.cache)

    def _video(self, video: dict[str, Any]) -> Candidate | None:
        chosen = best_file(video.get("video_files") or [], self.short_side)
        if chosen is None:
            return None
        user = (video.get("user") or {}).get("name") or "an unnamed creator"
        tags = " ".join(str(t) for t in video.get("tags") or [])
        return Candidate(
            source=self.name, id=str(video["id"]), kind=MediaKind.VIDEO,
            width=int(chosen["width"]), height=int(chosen["height"]),
            duration=float(video.get("duration") or 0), thumbnail_url=video.get("image") or "",
            download_url=chosen["link"], size_bytes=chosen.get("size"), licence=LICENCE,
            credit=f"Video by {user} on Pexels", page_url=video.get("url") or "",
            text=" ".join(t for t in (tags, slug_words(video.get("url") or "")) if t),
        )

    def _photo(self, photo: dict[str, Any]) -> Candidate:
        src = photo.get("src") or {}
        width, height = int(photo["width"]), int(photo["height"])
        url, width, height = photo_url(src.get("original") or "", width, height)
        alt = photo.get("alt") or slug_words(photo.get("url") or "")
        return Candidate(
            source=self.name, id=str(photo["id"]), kind=MediaKind.PHOTO, width=width,
            height=height, thumbnail_url=src.get("medium") or src.get("tiny") or "",
            download_url=url, licence=LICENCE,
            credit=f"Photo by {photo.get('photographer') or 'an unnamed creator'} on Pexels",
            page_url=photo.get("url") or "", text=alt,
        )


from_env = PexelsSource.from_env
"""What the source registry calls: a source from the environment, None without a key."""


def _items(body: Any, key: str) -> list[Any]:
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise SourceUnavailable(f"{LABEL} sent an answer that could not be read.")
    return items



def best_file(files: list[dict[str, Any]], short_side: int) -> dict[str, Any] | None:
    """The mp4 whose short side is the smallest at or above `short_side`, else the largest."""
    usable = [f for f in files if f.get("file_type") == "video/mp4" and f.get("link")
              and f.get("width") and f.get("height")]
    usable.sort(key=lambda f: min(f["width"], f["height"]))
    enough = [f for f in usable if min(f["width"], f["height"]) >= short_side]
    if enough:
        return enough[0]
    return usable[-1] if usable else None


def photo_url(original: str, width: int, height: int) -> tuple[str, int, int]:
    """The address to fetch a photo at, and the size it comes at: the original, or the
    original asked at `PHOTO_LONG_SIDE` on its long side when it is over 1.25 times that."""
    long_side = max(width, height)
    if not original or long_side <= PHOTO_LONG_SIDE * 1.25:
        return original, width, height
    scale = PHOTO_LONG_SIDE / long_side
    side = "h" if height >= width else "w"
    joiner = "&" if urlsplit(original).query else "?"
    sized = f"{original}{joiner}auto=compress&cs=tinysrgb&{side}={PHOTO_LONG_SIDE}"
    return sized, max(1, round(width * scale)), max(1, round(height * scale))


def slug_words(page_url: str) -> str:
    """"https://www.pexels.com/video/octopus-in-the-sea-856410/" -> "octopus in the sea"."""
    slug = urlsplit(page_url).path.rstrip("/").rsplit("/", 1)[-1]
    return " ".join(w for w in re.split(r"[-_]+", slug) if w and not w.isdigit())

