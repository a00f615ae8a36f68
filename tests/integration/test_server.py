"""The bot's HTTP server: health, readiness, and signed media links."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Self

import pytest
import pytest_asyncio
import redis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.media_links import MediaLinks
from novacast.server import build_app


class StubbornAdapter:
    """A real ChatAdapter with nothing to connect to: it never becomes ready."""

    name = "nowhere"
    connected = False

    def routes(self) -> list[web.RouteDef]:
        return []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


@pytest.fixture
def links(data_dir: Path) -> MediaLinks:
    return MediaLinks(b"test-secret", "http://bot.example", data_dir)


@pytest_asyncio.fixture
async def client(redis_conn: redis.Redis, links: MediaLinks) -> AsyncIterator[TestClient]:
    app = build_app(redis_conn, [], links)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_healthz_and_readyz(client: TestClient) -> None:
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert await ready.json() == {"ready": True, "redis": True, "warm": True, "adapters": {}}


async def test_not_ready_while_an_adapter_is_disconnected(
    redis_conn: redis.Redis, links: MediaLinks
) -> None:
    app = build_app(redis_conn, [StubbornAdapter()], links)
    async with TestClient(TestServer(app)) as test_client:
        ready = await test_client.get("/readyz")
        assert ready.status == 503
        assert (await ready.json())["adapters"] == {"nowhere": False}


async def test_a_signed_link_serves_the_video_and_nothing_else(
    client: TestClient, links: MediaLinks, data_dir: Path
) -> None:
    video = data_dir / "media" / "T1" / "p1" / "video.mp4"
    video.parent.mkdir(parents=True)
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    url = links.url_for(video)
    assert url.startswith("http://bot.example/media/")
    path = url.removeprefix("http://bot.example")
    served = await client.get(path)
    assert served.status == 200
    assert await served.read() == video.read_bytes()
    token = path.split("/")[2]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert (await client.get(f"/media/{forged}/video.mp4")).status == 404
    assert (await client.get("/media/not-a-token/video.mp4")).status == 404


async def test_expired_links_and_escapes_are_refused(links: MediaLinks, data_dir: Path) -> None:
    video = data_dir / "media" / "v.mp4"
    video.parent.mkdir()
    video.write_bytes(b"x")
    expired = links.url_for(video, ttl=-1).split("/")[4]
    assert links.resolve(expired) is None
    outside = data_dir.parent / "secret.txt"
    outside.write_text("no")
    with pytest.raises(ValueError, match="is not in the subpath"):
        links.url_for(outside)
    with pytest.raises(ValueError, match="is not in the subpath"):
        links.url_for(data_dir / "v.mp4")  # under the data dir, but not rendered media
    assert links.resolve(links.url_for(video).split("/")[4]) == video.resolve()
    assert time.time() > 0
