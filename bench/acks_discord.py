"""Discord ack latency: 200 concurrent conversations through the fake gateway, real discord.py.

Run `python bench/acks_discord.py [--users 200] [--rounds 5]`. Each round, 200 new users run
`/make` at once, then each presses Revise on their draft, all at once. Measured at the fake:
the time from sending INTERACTION_CREATE to receiving the interaction callback POST (the ack
Discord wants within 3 s), p50/p99 for commands and buttons; "lost" counts interactions that
got no ack or no followup answer. RSS is this process's (bot and fake share it; the fake
forgets its records after each round), after each round, to show memory stays flat. The core
is the real engine (offline writer) on an embedded Redis, warmed and its start-up objects frozen
as `novacast bot` does before /readyz turns green (a full garbage collection over them had fallen
inside the first burst, ~80-110 ms that every ack waited for).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from adapters.discord import DiscordSettings, from_settings  # noqa: E402
from bot.actions import Action  # noqa: E402
from bot.events import Event  # noqa: E402
from novacast.embedded_redis import EmbeddedRedis  # noqa: E402
from novacast.server import freeze_start_up_objects, media_links, warm_up  # noqa: E402
from novacast.wiring import build_engine  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from tests.fakes.discord import FakeDiscord  # noqa: E402

TOKEN = "bench-token"
TARGET_P99_MS = 200.0


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def members(fake: FakeDiscord, count: int, first: int) -> list[dict[str, Any]]:
    """`count` people; each round brings new ones (the core rate-limits each person)."""
    ids = range(first, first + count)
    return [fake.member(str(710000000000000000 + i), f"user{i}") for i in ids]


async def wave(fake: FakeDiscord, interactions: list[dict[str, Any]]) -> tuple[list[float], int]:
    """Deliver all at once; ack latencies (ms) and how many got no ack and answer within 30 s."""
    await asyncio.gather(*(fake.deliver(i) for i in interactions))
    tokens = {i["token"] for i in interactions}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answered = {r.path.split("/")[3] for r in fake.calls("POST", "/webhooks/") if r.ok}
        answered |= {r.path.split("/")[3] for r in fake.calls("PATCH", "/webhooks/") if r.ok}
        if tokens <= answered:
            break
        await asyncio.sleep(0.05)
    states = [fake.interactions[i["id"]] for i in interactions]
    latencies = [(s.acked_at - s.pushed_at) * 1000 for s in states if s.acked]
    lost = len(tokens - answered) + sum(not s.acked for s in states)
    return latencies, lost


async def one_round(fake: FakeDiscord, people: list[dict[str, Any]], n: int) -> dict[str, Any]:
    commands = [fake.command("make", m, {"idea": f"10s on tide pools, take {n}"}) for m in people]
    command_ms, lost_commands = await wave(fake, commands)
    drafts = [fake.messages[fake.channel_id][fake.interactions[c["id"]].original_id]
              for c in commands]
    presses = []
    for member, draft in zip(people, drafts, strict=True):
        revise = next(c["custom_id"] for row in draft["components"] for c in row["components"]
                      if c["custom_id"].startswith("nc1:revise:"))
        presses.append(fake.component(draft, revise, member))
    button_ms, lost_buttons = await wave(fake, presses)
    fake.forget()
    gc.collect()
    return {"commands": command_ms, "buttons": button_ms,
            "lost": lost_commands + lost_buttons, "rss": rss_mb()}


def report(label: str, values: list[float]) -> str:
    p50, p99 = statistics.median(values), percentile(values, 0.99)
    verdict = "ok" if p99 < TARGET_P99_MS else "OVER TARGET"
    return f"{label:8} acks: n={len(values):4}  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  ({verdict})"


async def main(users: int, rounds: int, data_dir: Path, connection: redis.Redis) -> int:
    engine = build_engine(connection)
    warm_up(engine)
    freeze_start_up_objects()  # as `novacast bot` does once warm (novacast.server)

    async def dispatch(event: Event) -> list[Action]:
        return await asyncio.to_thread(engine.handle, event)

    async with FakeDiscord(TOKEN) as fake:
        settings = DiscordSettings.model_validate({
            "DISCORD_BOT_TOKEN": TOKEN, "DISCORD_API_URL": fake.api_url,
            "DISCORD_GATEWAY_URL": fake.gateway_url,
        })
        links = media_links(Settings.model_validate({"NOVACAST_DATA_DIR": data_dir}), connection)
        adapter = from_settings(settings, dispatch, connection, links)
        assert adapter is not None
        async with adapter:
            print(f"bot connected; RSS {rss_mb():.1f} MB; {users} users × {rounds} rounds")
            results = [await one_round(fake, members(fake, users, n * users), n)
                       for n in range(rounds)]
    for n, result in enumerate(results):
        print(f"round {n + 1}: lost {result['lost']}, RSS {result['rss']:.1f} MB, command p99 "
              f"{percentile(result['commands'], 0.99):.0f} ms, button p99 "
              f"{percentile(result['buttons'], 0.99):.0f} ms")
    print(report("command", [v for r in results for v in r["commands"]]))
    print(report("button", [v for r in results for v in r["buttons"]]))
    lost = sum(r["lost"] for r in results)
    print(f"events lost: {lost}; RSS growth after round 1: "
          f"{results[-1]['rss'] - results[0]['rss']:+.1f} MB")
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with EmbeddedRedis() as server, tempfile.TemporaryDirectory() as tmp:
        conn = redis.Redis.from_url(server.url, max_connections=64)
        code = asyncio.run(main(args.users, args.rounds, Path(tmp), conn))
    sys.exit(code)
