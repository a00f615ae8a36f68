"""With Redis unreachable, every API call is a 503 JSON with Retry-After (the key cannot be
checked, nothing can be read or changed), never a 500; the routes still build (the index
backfill waits for the next start)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from aiohttp import web
from redis.backoff import NoBackoff
from redis.retry import Retry

from adapters.media_links import MediaLinks
from adapters.web.api import api_routes, endpoints
from adapters.web.api.keys import ApiKeys
from adapters.web.deps import WebDeps
from bot.actions import Action
from bot.events import Event
from policy import load_policy
from tests.integration.test_api_roles import _call
from tests.integration.test_api_support import _Served


async def _core(_event: Event) -> list[Action]:
    raise AssertionError("no call reaches the core without a checked key")


@pytest.fixture(scope="module")
def down(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket closes
    connection = redis.Redis(  # no retries: each refused connection answers at once
        port=port, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    data_dir = tmp_path_factory.mktemp("api-down")

    def build() -> web.Application:
        deps = WebDeps(
            connection=connection,
            dispatch=_core,
            links=MediaLinks(b"secret", "http://localhost", Path(data_dir)),
            policy=load_policy(),
            authenticate=ApiKeys(connection).principal,
        )
        app = web.Application()
        app.add_routes(api_routes(deps))
        return app

    with _Served(build) as served:
        yield f"http://127.0.0.1:{served.port}"


def test_every_call_is_a_503_while_redis_is_down(down: str) -> None:
    headers = {"Authorization": "Bearer nck_0123456789ab_" + "A" * 43}
    with httpx.Client(base_url=down, headers=headers, trust_env=False) as client:
        answers = [_call(client, endpoint) for endpoint in endpoints()]
        answers.append(client.get("/api/v1/openapi.json"))
    assert {a.status_code for a in answers} == {503}
    assert all(a.headers["Retry-After"] == "5" for a in answers)
    assert all("unavailable" in a.json()["error"] for a in answers)
