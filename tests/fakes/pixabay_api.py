"""A fake Pixabay API, after pixabay.com/api/docs, on the stock catalogue of `pexels_api`.

`GET /api/` (images: `orientation` all|horizontal|vertical, `image_type`) and `GET /api/videos/`
(no orientation filter, as documented), both with `key`, `q` (at most 100 characters),
`safesearch`, `page`, `per_page` (3-200, default 20). A missing or wrong key, or a parameter out
of range, answers 400 with the plain-text "[ERROR 400] ..." body Pixabay sends. Every answer
carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (seconds left in the
window, as documented); a scripted 429 says "[ERROR 429] Too many requests".

    with PixabayFake([Item(7, "video", "#0000ff", "blue sea waves", "Kim")]) as fake:
        source = fake.source()                  # a real PixabaySource pointing at the fake
        fake.env                                # PIXABAY_API_KEY, PIXABAY_API_URL, no search cache

Scripting (`fail_next`, `rate_limit_next`, `stop`), recording and media are as in `pexels_api`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web

from pipeline.media.pixabay import PixabaySource
from tests.fakes.pexels_api import NO_SEARCH_CACHE, Item, StockFake, matching, page_of

PIXABAY_KEY = "12345678-0123456789abcdef0123456789"
RENDITION_NAMES = ("tiny", "small", "medium", "large")


class PixabayFake(StockFake):
    """`with PixabayFake(catalogue) as fake:` serves Pixabay's search API until the block ends."""

    service = "pixabay"
    rate_limit = 100

    def __init__(self, catalogue: Iterable[Item], api_key: str = PIXABAY_KEY) -> None:
        super().__init__(catalogue, api_key)

    @property
    def env(self) -> dict[str, str]:
        return {"PIXABAY_API_KEY": self.api_key, "PIXABAY_API_URL": self.url, **NO_SEARCH_CACHE}

    def source(self, **options: Any) -> PixabaySource:
        """A real PixabaySource pointed at this fake (`options` go to its constructor)."""
        return PixabaySource(self.api_key, self.url, **options)

    def api_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/", self._images)
        app.router.add_get("/api/videos/", self._videos)

    def _headers(self, remaining: int, reset: float) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.rate_limit),
                "X-RateLimit-Remaining": str(max(0, remaining)),
                "X-RateLimit-Reset": str(max(0, round(reset)))}

    def too_many(self, reset: float) -> web.Response:
        return web.Response(status=429, text="[ERROR 429] Too many requests",
                            headers=self._headers(0, reset))

    @staticmethod
    def _error(message: str) -> web.Response:
        return web.Response(status=400, text=f"[ERROR 400] {message}")

    def _refusal(self, query: dict[str, str]) -> web.Response | None:
        if query.get("key") != self.api_key:
            return self._error("Invalid or missing API key (https://pixabay.com/api/docs/).")
        if len(query.get("q", "")) > 100:
            return self._error('"q" exceeds the maximum length of 100 characters.')
        per_page = query.get("per_page", "20")
        if not per_page.isdigit() or not 3 <= int(per_page) <= 200:
            return self._error('"per_page" is out of valid range.')
        if query.get("orientation", "all") not in ("all", "horizontal", "vertical"):
            return self._error('"orientation" is not a valid value.')
        return None

    async def _answer(self, request: web.Request, video: bool) -> web.Response:
        trouble = await self.trouble(request)
        if trouble is not None:
            return trouble  # type: ignore[return-value]
        query = dict(request.query)
        refusal = self._refusal(query)
        if refusal is not None:
            return refusal
        hits = [i for i in matching(self.catalogue, query.get("q", ""))
                if (i.kind == "video") == video]
        if query.get("safesearch") == "true":
            hits = [i for i in hits if i.safe]
        if not video and query.get("orientation", "all") != "all":
            tall = query["orientation"] == "vertical"
            hits = [i for i in hits if i.width != i.height and (i.height > i.width) == tall]
        shown = page_of(hits, query, 20, 200)
        body = {"total": len(hits), "totalHits": len(hits),
                "hits": [self.garble(i, self.video(i) if video else self.image(i))
                         for i in shown]}
        remaining = self.rate_limit - len(self.api_calls())
        return web.json_response(body, headers=self._headers(remaining, 60))

    async def _images(self, request: web.Request) -> web.Response:
        return await self._answer(request, video=False)

    async def _videos(self, request: web.Request) -> web.Response:
        return await self._answer(request, video=True)

    def _common(self, item: Item, kind: str) -> dict[str, Any]:
        page = "videos" if kind in ("film", "animation") else "photos"
        return {"id": item.id, "pageURL": f"https://pixabay.com/{page}/{item.slug}-{item.id}/",
                "type": kind, "tags": item.tags, "views": 100, "downloads": 10, "likes": 5,
                "comments": 1, "user_id": 5000 + item.id, "user": item.user,
                "userImageURL": ""}

    def video(self, item: Item) -> dict[str, Any]:
        """A video hit as documented: `videos` has tiny, small, medium and large renditions
        (url, width, height, size, thumbnail); those the item lacks are empty, as Pixabay
        leaves a large one empty when there is none."""
        sizes = item.sizes[-len(RENDITION_NAMES):]
        named = dict(zip(RENDITION_NAMES[: len(sizes)], sizes, strict=True))
        videos = {}
        for name in RENDITION_NAMES:
            if name in named:
                width, height = named[name]
                videos[name] = {"url": self.media_url(item, width, height), "width": width,
                                "height": height, "size": self.file_size(item, width, height),
                                "thumbnail": self.thumb_url(item)}
            else:
                videos[name] = {"url": "", "width": 0, "height": 0, "size": 0, "thumbnail": ""}
        return {**self._common(item, "film"), "duration": round(item.seconds), "videos": videos}

    def image(self, item: Item) -> dict[str, Any]:
        """An image hit as documented (preview, webformat and large URLs, the full size)."""
        full = self.media_url(item, item.width, item.height)
        thumb = self.thumb_url(item)
        return {**self._common(item, "photo"), "previewURL": thumb, "previewWidth": 150,
                "previewHeight": round(150 * item.height / item.width), "webformatURL": thumb,
                "webformatWidth": 640, "webformatHeight": round(640 * item.height / item.width),
                "largeImageURL": full, "imageWidth": item.width, "imageHeight": item.height,
                "imageSize": self.file_size(item, item.width, item.height)}
