"""`GET /api/v1/projects` with 10,000 projects in one workspace: p50/p99 per page through HTTP,
against a bare `GET /healthz` on the same server in the same run as the reference.

Run `python bench/api_projects.py [--projects 10000] [--limit 50] [--passes 3]`. The projects
are written straight into the store (`ProjectStore.create`, pipelined: the core is not what is
measured), with creation times a second apart, in a workspace of their own. The server is the
API's own routes (`api_routes`, authenticated by a real API key) in an aiohttp app in a child
process; this process is the client (one keep-alive connection, requests one after another).
Each pass walks every page from the newest to the oldest by cursor; then `--jumps` requests
start from random cursors deep in the list. The server's own CPU per call (its `Server-Timing:
cpu;dur=` header) is printed too: on a machine shared with other work the wall times move with
its load, the CPU spent does not. Redis: REDIS_URL's server (database 15 unless the
URL names one), else an embedded one; the bench's keys are deleted at the end.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import redis  # noqa: E402
from aiohttp import web  # noqa: E402

from adapters.media_links import MediaLinks  # noqa: E402
from adapters.web.access import ADAPTER, Role  # noqa: E402
from adapters.web.api import api_routes  # noqa: E402
from adapters.web.api.keys import ApiKeys  # noqa: E402
from adapters.web.deps import WebDeps  # noqa: E402
from bot.actions import Action  # noqa: E402
from bot.events import Conversation, Event  # noqa: E402
from bot.project import Project, ProjectStore, index_member  # noqa: E402
from novacast.embedded_redis import EmbeddedRedis  # noqa: E402
from novacast.server import freeze_start_up_objects  # noqa: E402
from pipeline.writers.offline import OfflineWriter  # noqa: E402
from policy import load_policy  # noqa: E402


def fill(connection: redis.Redis, workspace: str, count: int) -> list[str]:
    """`count` projects in `workspace`, a second apart; their index members, newest first."""
    script = OfflineWriter().script("why octopuses have three hearts", 30)
    where = Conversation(adapter=ADAPTER, workspace=workspace, channel="api", user="key:bench")
    store = ProjectStore(connection)
    start = datetime.now(UTC) - timedelta(seconds=count)
    members = []
    with connection.pipeline(transaction=False) as pipe:
        for n in range(count):
            project = Project.start(where, script).model_copy(
                update={"created_at": start + timedelta(seconds=n)}
            )
            pipe.set(store._key(project.id), project.model_dump_json())
            key, entry = store._index_entry(project)
            pipe.zadd(key, entry)
            members.append(index_member(project))
        pipe.execute()
    return members[::-1]


async def _nothing(_event: Event) -> list[Action]:
    return []


def serve(url: str, data_dir: str, port_out: Any) -> None:
    """The child process: the API's routes plus a bare /healthz, until killed."""
    connection = redis.Redis.from_url(url)
    deps = WebDeps(
        connection=connection,
        dispatch=_nothing,  # the listing never reaches the core
        links=MediaLinks(b"bench-secret", "http://localhost", Path(data_dir)),
        policy=load_policy(),
        authenticate=ApiKeys(connection).principal,
    )
    app = web.Application()

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.add_routes([web.get("/healthz", healthz), *api_routes(deps)])

    async def started(_app: web.Application) -> None:
        port_out.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    runner = web.AppRunner(app, access_log=None)
    import asyncio

    loop = asyncio.new_event_loop()
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    freeze_start_up_objects()  # as `novacast bot` does before /readyz turns green
    loop.run_until_complete(started(app))
    loop.run_forever()


SERVER_CPU: list[float] = []
"""The server's own CPU per API page (its Server-Timing header): independent of the load."""


def timed(
    client: httpx.Client, path: str, params: dict[str, Any] | None = None
) -> tuple[float, Any]:
    began = time.perf_counter()
    answer = client.get(path, params=params)
    elapsed = (time.perf_counter() - began) * 1000
    if answer.status_code != 200:
        raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:200]}")
    timing = answer.headers.get("Server-Timing", "")
    if timing.startswith("cpu;dur="):
        SERVER_CPU.append(float(timing.removeprefix("cpu;dur=")))
    return elapsed, answer.json()


def walk(client: httpx.Client, limit: int) -> tuple[list[float], int]:
    """Every page, newest to oldest: the time of each, and how many projects were listed."""
    times, listed, cursor = [], 0, None
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        elapsed, page = timed(client, "/api/v1/projects", params)
        times.append(elapsed)
        listed += len(page["projects"])
        cursor = page["next_cursor"]
        if cursor is None:
            return times, listed


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"n={len(values):5d}  p50 {statistics.median(values):6.2f} ms  p99 {p99:6.2f} ms  "
        f"max {ordered[-1]:6.2f} ms"
    )


def bench(url: str, args: argparse.Namespace) -> None:
    connection = redis.Redis.from_url(url)
    workspace = f"bench-{os.getpid()}"
    began = time.perf_counter()
    members = fill(connection, workspace, args.projects)
    print(f"stored {args.projects} projects in {time.perf_counter() - began:.1f} s")
    token = ApiKeys(connection).create(workspace, Role.EDITOR, "bench").token
    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    with tempfile.TemporaryDirectory() as data_dir:
        child = context.Process(target=serve, args=(url, data_dir, ports), daemon=True)
        child.start()
        try:
            base = f"http://127.0.0.1:{ports.get(timeout=60)}"
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=base, headers=headers, trust_env=False) as client:
                run(client, members, args)
        finally:
            child.kill()
            child.join()
            cleanup(connection, workspace)


def run(client: httpx.Client, members: list[str], args: argparse.Namespace) -> None:
    for _ in range(20):  # warm both routes (imports, first connections)
        timed(client, "/healthz")
        timed(client, "/api/v1/projects", {"limit": args.limit})
    pages: list[float] = []
    healthz: list[float] = []
    SERVER_CPU.clear()
    for _ in range(args.passes):
        times, listed = walk(client, args.limit)
        assert listed == len(members), (listed, len(members))
        pages += times
        healthz += [timed(client, "/healthz")[0] for _ in range(len(times))]
    jumps = []
    for cursor in random.Random(7).sample(members, min(args.jumps, len(members))):
        jumps.append(timed(client, "/api/v1/projects", {"limit": args.limit, "cursor": cursor})[0])
    print(
        f"GET /api/v1/projects?limit={args.limit}, every page x {args.passes}: {percentiles(pages)}"
    )
    print(f"GET /api/v1/projects from random cursors:          {percentiles(jumps)}")
    print(f"GET /healthz (reference, same server):              {percentiles(healthz)}")
    print(f"server CPU per API call (Server-Timing):           {percentiles(SERVER_CPU)}")
    print("load average (1, 5, 15 min) at the end: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))


def cleanup(connection: redis.Redis, workspace: str) -> None:
    store = ProjectStore(connection)
    index = store._index_key(ADAPTER, workspace)
    ids = [m.decode().split(":", 1)[1] for m in connection.zrange(index, 0, -1)]  # type: ignore[union-attr]
    for start in range(0, len(ids), 1000):
        connection.delete(*[store._key(i) for i in ids[start : start + 1000]])
    connection.delete(index)
    for key in ApiKeys(connection).list(workspace):
        connection.delete(f"novacast:apikey:{key.id}")
    connection.delete(f"novacast:apikeys:{workspace}")
    connection.srem("novacast:apikey-workspaces", workspace)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--jumps", type=int, default=500)
    args = parser.parse_args()
    url = os.environ.get("REDIS_URL")
    if url:
        if url.count("/") <= 2 or not url.rsplit("/", 1)[1].isdigit():
            url = url.rstrip("/") + "/15"
        bench(url, args)
        return
    with tempfile.TemporaryDirectory() as folder, EmbeddedRedis(Path(folder)) as server:
        bench(server.url, args)


if __name__ == "__main__":
    main()
