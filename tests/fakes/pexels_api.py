"""A fake Pexels API, and the stock-catalogue half it shares with the fake Pixabay.

After www.pexels.com/api/documentation: `GET /videos/search` and `GET /v1/search` (photos)
with `query`, `orientation` (landscape|portrait|square), `page`, `per_page` (default 15,
max 80); the bare key in `Authorization` (401 otherwise); `X-Ratelimit-Limit`,
`X-Ratelimit-Remaining` and `X-Ratelimit-Reset` (a UNIX time) on every answer.

Both fakes are built from a catalogue of `Item`s: each is a solid colour made by ffmpeg (an
H.264 mp4 without sound for a video, a JPEG for a photo), small by default (360x640, 3 s) and
made once per test session. Searching matches query words against an item's words like the
real services (any word in common, plurals alike; most words in common first, then catalogue
order). The
media, its thumbnail (a small JPEG of the colour) and its renditions are served by the fake
itself under `/media/...`, so a download is a real playable file.

    with PexelsFake([Item(1, "video", "#ff0000", "red octopus ocean", "Jane Doe")]) as fake:
        source = fake.source()                  # a real PexelsSource pointing at the fake
        fake.env                                # PEXELS_API_KEY, PEXELS_API_URL, no search cache
        fake.rate_limit_next(1, reset=1)        # next API call: 429 with the real headers
        fake.fail_next(2, 503)                  # next two API calls: 503 ("hang" stalls)
        fake.stop()                             # an outage: connections are refused
        fake.garbled.add(1)                     # item 1 is answered without its "id"
        fake.requests                           # every request as it arrived (served.Recorded)
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import re
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest
from aiohttp import web

from pipeline.ffmpeg import run_ffmpeg
from pipeline.media.pexels import PexelsSource
from tests.fakes.served import Recorded, ThreadedServer

PEXELS_KEY = "pexels-test-key-563492ad6f91700001000001"
THUMB_WIDTH = 160
HANG_SECONDS = 20.0
NO_SEARCH_CACHE = {"NOVACAST_STOCK_CACHE_SECONDS": "0"}
"""In `env`: every search reaches the fake, so scripted failures and recorded calls line up."""

Kind = Literal["video", "photo"]
Failure = int | Literal["hang"]


@dataclass(frozen=True)
class Item:
    """One picture in a fake catalogue.

    `colour` is "#rrggbb"; `words` are what the service knows about it (alt text, tags, the
    page's slug), as a string or a sequence. `renditions` are extra (width, height) files of
    the same video (Pexels' `video_files`, Pixabay's tiny/small/medium/large); the item's own
    size is always one of them."""

    id: int
    kind: Kind
    colour: str
    words: str | tuple[str, ...]
    user: str = "Jane Doe"
    width: int = 360
    height: int = 640
    seconds: float = 3.0
    renditions: tuple[tuple[int, int], ...] = ()
    safe: bool = True

    @property
    def word_set(self) -> set[str]:
        text = self.words if isinstance(self.words, str) else " ".join(self.words)
        return set(words_of(text))

    @property
    def tags(self) -> str:
        """Pixabay's `tags`: the words, comma-separated."""
        return ", ".join(self.words.split() if isinstance(self.words, str) else self.words)

    @property
    def slug(self) -> str:
        return "-".join(words_of(self.tags)) or "untitled"

    @property
    def sizes(self) -> list[tuple[int, int]]:
        """Every file size offered, smallest first."""
        return sorted({(self.width, self.height), *self.renditions}, key=lambda s: s[0] * s[1])

    @property
    def hex(self) -> str:
        return self.colour.removeprefix("#").removeprefix("0x").lower()


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def orientation_of(width: int, height: int) -> str:
    if width == height:
        return "square"
    return "portrait" if height > width else "landscape"


def stem(word: str) -> str:
    """Singular and plural alike, as the real searches match them ("hearts" finds "heart")."""
    if len(word) <= 3:
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "ches", "shes", "zes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def matching(items: Iterable[Item], query: str) -> list[Item]:
    """Items sharing any word with `query` (plurals alike), most shared words first, then
    catalogue order."""
    wanted = {stem(w) for w in words_of(query)}
    scored = [(len(wanted & {stem(w) for w in item.word_set}), index, item)
              for index, item in enumerate(items)]
    return [item for score, _, item in sorted(scored, key=lambda s: (-s[0], s[1])) if score]


# --- media made by ffmpeg, once per session --------------------------------------------------

_MADE: dict[tuple[str, str, int, int, float], Path] = {}
_MAKING: dict[tuple[str, str, int, int, float], threading.Lock] = {}
_MADE_LOCK = threading.Lock()
_MEDIA_DIR: Path | None = None


def media_file(kind: str, colour: str, width: int, height: int, seconds: float = 3.0) -> Path:
    """A solid-colour file: kind "video" (H.264 mp4), "photo" (JPEG), "png" or "thumb" (a
    JPEG `THUMB_WIDTH` wide). Made once per test session and shared by every fake; different
    files are made in parallel, the same one once."""
    hex_colour = colour.removeprefix("#").removeprefix("0x").lower()
    key = (kind, hex_colour, width, height, seconds if kind == "video" else 0.0)
    with _MADE_LOCK:
        if key in _MADE:
            return _MADE[key]
        making = _MAKING.setdefault(key, threading.Lock())
        folder = _media_dir()
    with making:
        if key not in _MADE:
            path = folder / f"{kind}-{hex_colour}-{width}x{height}-{key[4]:g}{_SUFFIX[kind]}"
            _make(path, kind, hex_colour, width, height, seconds)
            _MADE[key] = path
        return _MADE[key]


def _media_dir() -> Path:
    global _MEDIA_DIR  # noqa: PLW0603 - one cache directory per test session
    if _MEDIA_DIR is None:
        _MEDIA_DIR = Path(tempfile.mkdtemp(prefix="novacast-stock-"))
        atexit.register(shutil.rmtree, _MEDIA_DIR, ignore_errors=True)
    return _MEDIA_DIR


_SUFFIX = {"video": ".mp4", "photo": ".jpg", "png": ".png", "thumb": ".jpg"}


def _make(path: Path, kind: str, hex_colour: str, width: int, height: int, seconds: float) -> None:
    if kind == "thumb":
        width, height = THUMB_WIDTH, max(2, round(THUMB_WIDTH * height / width / 2) * 2)
    source = f"color=c=0x{hex_colour}:s={width}x{height}:r=25"
    if kind == "video":
        args = ["-f", "lavfi", "-i", f"{source}:d={seconds}", "-c:v", "libx264",
                "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart"]
    elif kind == "png":  # drawn in RGB, so the file holds exactly the colour asked
        args = ["-f", "lavfi", "-i", f"{source},format=rgb24", "-frames:v", "1", "-update", "1"]
    else:
        args = ["-f", "lavfi", "-i", source, "-frames:v", "1", "-update", "1", "-q:v", "3"]
    run_ffmpeg([*args, "-y", str(path)], duration=seconds if kind == "video" else 0.04)


def octopus_catalogue() -> list[Item]:
    """Eight portrait clips and two photos of distinct colours for "why octopuses have three
    hearts": words a scene describer or a sentence's keywords are likely to search for."""
    rows = [
        (101, "video", "#d62828", "octopus octopuses swimming ocean sea animal tentacles"),
        (102, "video", "#f77f00", "three hearts heart blood pumping anatomy octopus"),
        (103, "video", "#fcbf49", "gills breathing water oxygen fish sea"),
        (104, "video", "#2a9d8f", "blue blood copper hemocyanin science lab"),
        (105, "video", "#264653", "deep sea ocean dark water diving underwater"),
        (106, "video", "#8338ec", "arms tentacles suction cups octopus closeup"),
        (107, "video", "#3a86ff", "swimming jet propulsion squid cephalopod"),
        (108, "video", "#ff006e", "brain intelligence smart animal puzzle"),
        (109, "photo", "#06d6a0", "octopus reef coral photo marine life"),
        (110, "photo", "#ffd166", "heart organ illustration medical body"),
    ]
    return [Item(id_, kind, colour, words, user=f"Creator {id_}")  # type: ignore[arg-type]
            for id_, kind, colour, words in rows]


# --- the serving half both fakes share --------------------------------------------------------


@dataclass
class _Injected:
    """Scripted trouble for the next API calls: statuses, hangs, and 429 reset times."""

    failures: deque[Failure] = field(default_factory=deque)
    resets: deque[float] = field(default_factory=deque)


class StockFake(ThreadedServer):
    """What the Pexels and Pixabay fakes share: catalogue, media routes, injection, recording.

    A subclass adds its API routes (`api_routes`) and its rate-limit and error shapes."""

    service = ""
    rate_limit = 100

    def __init__(self, catalogue: Iterable[Item], api_key: str) -> None:
        super().__init__()
        self.catalogue = list(catalogue)
        self.api_key = api_key
        self.requests: list[Recorded] = []
        self.chunked_media = False
        """Serve media without Content-Length (chunked), as some CDNs do."""
        self.garbled: set[int] = set()
        """Item ids answered without their `id` field: an item a client cannot read."""
        self._injected = _Injected()
        self._stopped = False
        self._closing: asyncio.Event | None = None
        with ThreadPoolExecutor(4) as pool:  # made up front: answers carry sizes
            list(pool.map(self._files_of, self.catalogue))

    # --- scripting ---------------------------------------------------------------------------

    def fail_next(self, count: int, status: Failure = 500) -> None:
        """The next `count` API calls answer `status` ("hang": no answer until the client
        gives up or the fake stops)."""
        self._injected.failures.extend([status] * count)

    def rate_limit_next(self, count: int, reset: float = 1.0) -> None:
        """The next `count` API calls answer 429 saying the limit resets in `reset` seconds."""
        self._injected.failures.extend([429] * count)
        self._injected.resets.extend([reset] * count)

    def stop(self) -> None:
        """An outage: the server goes away and connections are refused from now on."""
        if not self._stopped:
            self._stopped = True
            if self._closing is not None:
                self._loop.call_soon_threadsafe(self._closing.set)
            super().__exit__()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The API root, as `<SERVICE>_API_URL` takes it."""
        return self.base_url

    @property
    def env(self) -> dict[str, str]:
        """The key and API root variables that point NOVACAST at this fake."""
        raise NotImplementedError

    def apply_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Set `env` in the process environment for one test."""
        for name, value in self.env.items():
            monkeypatch.setenv(name, value)

    def api_calls(self) -> list[Recorded]:
        """The recorded requests to the API (not to the media files)."""
        return [r for r in self.requests if not r.path.startswith("/media/")]

    # --- serving -----------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        self._closing = asyncio.Event()
        self.api_routes(app)
        app.router.add_get("/media/{id}/{width}x{height}.{ext}", self._media)
        app.router.add_get("/media/{id}/thumb.jpg", self._thumb)

    def api_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def trouble(self, request: web.Request) -> web.StreamResponse | None:
        """Record the call; the scripted failure for it, if any."""
        self.requests.append(Recorded.of(request, None))
        if not self._injected.failures:
            return None
        failure = self._injected.failures.popleft()
        if failure == "hang":
            assert self._closing is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), HANG_SECONDS)
            return web.Response(status=504, text="Gateway Timeout")
        if failure == 429:
            reset = self._injected.resets.popleft() if self._injected.resets else 60.0
            return self.too_many(reset)
        return web.Response(status=failure, text=f"{failure} scripted failure")

    def too_many(self, reset: float) -> web.Response:
        raise NotImplementedError

    def garble(self, item: Item, answer: dict[str, Any]) -> dict[str, Any]:
        if item.id in self.garbled:
            del answer["id"]
        return answer

    def item(self, item_id: str) -> Item:
        for item in self.catalogue:
            if str(item.id) == item_id:
                return item
        raise web.HTTPNotFound(text="Not Found")

    def media_url(self, item: Item, width: int, height: int) -> str:
        ext = "mp4" if item.kind == "video" else "jpg"
        return f"{self.base_url}/media/{item.id}/{width}x{height}.{ext}"

    def thumb_url(self, item: Item) -> str:
        return f"{self.base_url}/media/{item.id}/thumb.jpg"

    def file_size(self, item: Item, width: int, height: int) -> int:
        return self._files_of(item)[(width, height)].stat().st_size

    def _files_of(self, item: Item) -> dict[tuple[int, int], Path]:
        kind = "video" if item.kind == "video" else "photo"
        files = {size: media_file(kind, item.colour, *size, item.seconds) for size in item.sizes}
        media_file("thumb", item.colour, item.width, item.height)
        return files

    async def _media(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(Recorded.of(request, None))
        item = self.item(request.match_info["id"])
        size = (int(request.match_info["width"]), int(request.match_info["height"]))
        path = self._files_of(item).get(size)
        if path is None:
            raise web.HTTPNotFound(text="Not Found")
        kind = "video/mp4" if item.kind == "video" else "image/jpeg"
        if not self.chunked_media:
            return web.FileResponse(path, headers={"Content-Type": kind})
        response = web.StreamResponse(headers={"Content-Type": kind})
        response.enable_chunked_encoding()
        await response.prepare(request)
        data = path.read_bytes()
        for start in range(0, len(data), 16384):
            await response.write(data[start:start + 16384])
        await response.write_eof()
        return response

    async def _thumb(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(Recorded.of(request, None))
        item = self.item(request.match_info["id"])
        path = await asyncio.to_thread(media_file, "thumb", item.colour, item.width, item.height)
        return web.FileResponse(path, headers={"Content-Type": "image/jpeg"})


def page_of(hits: list[Any], query: dict[str, str], default: int, most: int) -> list[Any]:
    per_page = min(int(query.get("per_page", default)), most)
    page = max(1, int(query.get("page", "1")))
    return hits[(page - 1) * per_page: page * per_page]


# --- Pexels ----------------------------------------------------------------------------------


class PexelsFake(StockFake):
    """`with PexelsFake(catalogue) as fake:` serves Pexels' search API until the block ends."""

    service = "pexels"
    rate_limit = 20000

    def __init__(self, catalogue: Iterable[Item], api_key: str = PEXELS_KEY) -> None:
        super().__init__(catalogue, api_key)

    @property
    def env(self) -> dict[str, str]:
        return {"PEXELS_API_KEY": self.api_key, "PEXELS_API_URL": self.url, **NO_SEARCH_CACHE}

    def source(self, **options: Any) -> PexelsSource:
        """A real PexelsSource pointed at this fake (`options` go to its constructor)."""
        return PexelsSource(self.api_key, self.url, **options)

    def api_routes(self, app: web.Application) -> None:
        app.router.add_get("/videos/search", self._videos)
        app.router.add_get("/v1/search", self._photos)

    def _headers(self, remaining: int, reset: float) -> dict[str, str]:
        return {"X-Ratelimit-Limit": str(self.rate_limit),
                "X-Ratelimit-Remaining": str(remaining),
                "X-Ratelimit-Reset": str(int(time.time() + reset))}

    def too_many(self, reset: float) -> web.Response:
        return web.Response(status=429, text="Too Many Requests",
                            headers=self._headers(0, max(reset, 0.0) + 0.999))

    async def _checked(self, request: web.Request, kind: Kind) -> web.Response:
        trouble = await self.trouble(request)
        if trouble is not None:
            return trouble  # type: ignore[return-value]
        if request.headers.get("Authorization") != self.api_key:
            return web.json_response({"error": "Unauthorized"}, status=401)
        query = dict(request.query)
        if not query.get("query", "").strip():
            return web.json_response({"error": "query is required"}, status=400)
        hits = [i for i in matching(self.catalogue, query["query"]) if i.kind == kind]
        if query.get("orientation"):
            hits = [i for i in hits if orientation_of(i.width, i.height) == query["orientation"]]
        shown = page_of(hits, query, 15, 80)
        body = self._body(kind, shown, query, len(hits))
        remaining = self.rate_limit - len(self.api_calls())
        return web.json_response(body, headers=self._headers(remaining, 30 * 86400))

    async def _videos(self, request: web.Request) -> web.Response:
        return await self._checked(request, "video")

    async def _photos(self, request: web.Request) -> web.Response:
        return await self._checked(request, "photo")

    def _body(self, kind: Kind, shown: list[Item], query: dict[str, str], total: int) -> Any:
        page, per_page = int(query.get("page", "1")), min(int(query.get("per_page", 15)), 80)
        body: dict[str, Any] = {"page": page, "per_page": per_page, "total_results": total}
        if kind == "video":
            body["url"] = f"https://www.pexels.com/search/videos/{query['query']}/"
            body["videos"] = [self.garble(item, self.video(item)) for item in shown]
        else:
            body["photos"] = [self.garble(item, self.photo(item)) for item in shown]
        if page * per_page < total:
            body["next_page"] = f"{self.base_url}{'/videos' if kind == 'video' else '/v1'}" \
                f"/search/?page={page + 1}&per_page={per_page}&query={query['query']}"
        return body

    def video(self, item: Item) -> dict[str, Any]:
        """A video object as documented (id, size, url, image, duration, user, files)."""
        return {
            "id": item.id,
            "width": item.width,
            "height": item.height,
            "url": f"https://www.pexels.com/video/{item.slug}-{item.id}/",
            "image": self.thumb_url(item),
            "full_res": None,
            "tags": [],
            "duration": round(item.seconds),
            "user": {"id": 1000 + item.id, "name": item.user,
                     "url": f"https://www.pexels.com/@{words_of(item.user)[0]}"},
            "video_files": [self._file(item, n, size) for n, size in enumerate(item.sizes)],
            "video_pictures": [{"id": item.id * 10, "picture": self.thumb_url(item), "nr": 0}],
        }

    def _file(self, item: Item, n: int, size: tuple[int, int]) -> dict[str, Any]:
        short = min(size)
        quality = "uhd" if short >= 2160 else "hd" if short >= 720 else "sd"
        return {"id": item.id * 100 + n, "quality": quality, "file_type": "video/mp4",
                "width": size[0], "height": size[1], "fps": 25.0,
                "link": self.media_url(item, *size), "size": self.file_size(item, *size)}

    def photo(self, item: Item) -> dict[str, Any]:
        """A photo object as documented (id, size, url, photographer, src, alt)."""
        full = self.media_url(item, item.width, item.height)
        thumb = self.thumb_url(item)
        return {
            "id": item.id,
            "width": item.width,
            "height": item.height,
            "url": f"https://www.pexels.com/photo/{item.slug}-{item.id}/",
            "photographer": item.user,
            "photographer_url": f"https://www.pexels.com/@{words_of(item.user)[0]}",
            "photographer_id": 1000 + item.id,
            "avg_color": f"#{item.hex.upper()}",
            "src": {"original": full, "large2x": full, "large": full, "medium": thumb,
                    "small": thumb, "portrait": full, "landscape": full, "tiny": thumb},
            "liked": False,
            "alt": " ".join(words_of(item.tags)),
        }
