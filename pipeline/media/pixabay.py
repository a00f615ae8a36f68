"""Pixabay videos and images (pixabay.com/api/docs), as a `MediaSource`.

`GET {PIXABAY_API_URL}/api/videos/` and `GET {PIXABAY_API_URL}/api/` with the key as `key=` in
the query string (so it is never put in a message or a log line), `q`, `per_page` (3-200),
`safesearch=true`; images also take `orientation` (vertical/horizontal; a square frame asks for
all) and `image_type=photo`. The video API has no orientation filter, so clips of the frame's
shape are put first, in Pixabay's order otherwise. A video's rendition is the smallest whose
short side reaches `short_side` (1080 by default), else the largest offered; an image is
downloaded as `largeImageURL` (1280 px). `text` is the hit's tags. Credit as the Pixabay
Content License asks: "Video by USER on Pixabay".
"""

from __future__ import annotations

from typing import Any

import httpx

from pipeline.media import web
from pipeline.media.model import (
    Candidate,
    MediaKind,
    MediaQuery,
    Orientation,
    SourceUnavailable,
)

DEFAULT_URL = "https://pixabay.com"
KEY_ENV = "PIXABAY_API_KEY"
URL_ENV = "PIXABAY_API_URL"
LICENCE = "Pixabay Content License"
LABEL = "Pixabay"
RENDITIONS = ("tiny", "small", "medium", "large")
PIXABAY_ORIENTATION = {Orientation.PORTRAIT: "vertical", Orientation.LANDSCAPE: "horizontal"}


class PixabaySource(web.StockSource):
    name = "pixabay"
    label = LABEL
    key_env, url_env, default_url = KEY_ENV, URL_ENV, DEFAULT_URL

    def search(self, query: MediaQuery) -> list[Candidate]:
        found: list[Candidate] = []
        with self._session() as http:
            if MediaKind.VIDEO in query.kinds:
                hits = self._get(http, "/api/videos/", query, {})
                videos = [c for c in web.mapped(self._video, hits) if web.long_enough(c, query)]
                found += sorted(videos, key=lambda c: c.orientation != query.orientation)
            if MediaKind.PHOTO in query.kinds:
                extra = {"image_type": "photo"}
                if query.orientation in PIXABAY_ORIENTATION:
                    extra["orientation"] = PIXABAY_ORIENTATION[query.orientation]
                found += web.mapped(self._image, self._get(http, "/api/", query, extra))
        return found

    def _get(
        self, http: httpx.Client, path: str, query: MediaQuery, extra: dict[str, str]
    ) -> list[Any]:
        params: dict[str, str | int] = {"key": self._key, "q": query.text,
                                        "per_page": max(3, query.limit), "safesearch": "true",
                                        **extra}
        body = web.get_json(http, self.base_url + path, label=LABEL, params=params,
                            limits=self.limits, cache=self.cache)
        hits = body.get("hits") if isinstance(body, dict) else None
        if not isinstance(hits, list):
            raise SourceUnavailable(f"{LABEL} sent an answer that could not be read.")
        return hits[: query.limit]

    def _video(self, hit: dict[str, Any]) -> Candidate | None:
        chosen = best_rendition(hit.get("videos") or {}, self.short_side)
        if chosen is None:
            return None
        return Candidate(
            source=self.name, id=str(hit["id"]), kind=MediaKind.VIDEO,
            width=int(chosen["width"]), height=int(chosen["height"]),
            duration=float(hit.get("duration") or 0),
            thumbnail_url=chosen.get("thumbnail") or "", download_url=chosen["url"],
            size_bytes=chosen.get("size") or None, licence=LICENCE,
            credit=f"Video by {hit.get('user') or 'an unnamed creator'} on Pixabay",
            page_url=hit.get("pageURL") or "", text=hit.get("tags") or "",
        )

    def _image(self, hit: dict[str, Any]) -> Candidate:
        width, height = int(hit.get("imageWidth") or 0), int(hit.get("imageHeight") or 0)
        large = hit.get("largeImageURL") or hit.get("webformatURL") or ""
        if large and max(width, height) > 1280:  # largeImageURL is at most 1280 px
            scale = 1280 / max(width, height)
            width, height = round(width * scale), round(height * scale)
        return Candidate(
            source=self.name, id=str(hit["id"]), kind=MediaKind.PHOTO, width=width,
            height=height, thumbnail_url=hit.get("webformatURL") or hit.get("previewURL") or "",
            download_url=large, licence=LICENCE,
            credit=f"Photo by {hit.get('user') or 'an unnamed creator'} on Pixabay",
            page_url=hit.get("pageURL") or "", text=hit.get("tags") or "",
        )


from_env = PixabaySource.from_env
"""What the source registry calls: a source from the environment, None without a key."""



def best_rendition(videos: dict[str, Any], short_side: int) -> dict[str, Any] | None:
    """Of tiny/small/medium/large, the smallest whose short side reaches `short_side`, else the
    largest; renditions Pixabay leaves empty (no url or size) are skipped."""
    usable = [v for name in RENDITIONS if isinstance(v := videos.get(name), dict)
              and v.get("url") and v.get("width") and v.get("height")]
    usable.sort(key=lambda v: min(v["width"], v["height"]))
    enough = [v for v in usable if min(v["width"], v["height"]) >= short_side]
    if enough:
        return enough[0]
    return usable[-1] if usable else None
