"""Slack ack latency under load: 200 concurrent conversations through the real `novacast bot`.

Run `python bench/acks_slack.py [--conversations 200] [--rounds 2]`. It starts an embedded
Redis, the fake Slack Web API (tests/fakes/slack.py) and a real `novacast bot` process with only
Slack configured, then, per round, sends every conversation's signed `/make` at once, waits for
every draft, presses every draft's Render button at once, and waits for every progress message.
It prints slash-command and button ack latency (p50/p99/max, measured by the client from send to
HTTP response), how many conversations lost an event, and the bot process's RSS after a warm-up
round and after each measured round. No worker runs: renders stay queued.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiohttp import ClientSession, TCPConnector  # noqa: E402

from adapters.buttons import encode  # noqa: E402
from bot.actions import Button, ButtonAction  # noqa: E402
from novacast.embedded_redis import EmbeddedRedis  # noqa: E402
from tests.fakes.slack import FakeSlack, SlackSigner  # noqa: E402

TOKEN = "xoxb-bench-0000-novacast"
SECRET = "bench-signing-secret-0123456789ab"
TARGET_P99_MS = 200.0
WAIT_SECONDS = 120.0


@dataclass
class Round:
    name: str
    command_ms: list[float] = field(default_factory=list)
    button_ms: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lost_drafts: int = 0
    lost_progress: int = 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bot_env(redis_url: str, data_dir: Path, port: int, fake: FakeSlack) -> dict[str, str]:
    """The environment of `novacast bot` with Slack as the only platform."""
    others = ("TELEGRAM_", "DISCORD_", "SLACK_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(others)}
    return env | {
        "REDIS_URL": redis_url,
        "NOVACAST_DATA_DIR": str(data_dir),
        "NOVACAST_HTTP_PORT": str(port),
        "NOVACAST_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.api_url,
        "NO_PROXY": "127.0.0.1,localhost",
    }


@contextlib.contextmanager
def bot_process(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "novacast", "bot"], env=env, stdout=out, stderr=out, cwd=ROOT
        )
        try:
            yield child
        finally:
            child.terminate()
            child.wait(timeout=30)


async def wait_healthy(session: ClientSession, url: str, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"novacast bot exited with {child.returncode}")
        with contextlib.suppress(OSError):
            async with session.get(f"{url}/healthz") as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.1)
    raise TimeoutError("novacast bot did not become healthy")


async def timed(send: Callable[[], Awaitable[tuple[int, str]]], into: list[float]) -> int:
    started = time.perf_counter()
    status, _ = await send()
    into.append((time.perf_counter() - started) * 1000)
    return status


async def wait_for(check: Callable[[], int], want: int) -> int:
    """Poll until `check()` reaches `want` (or the wait runs out); returns how many are missing."""
    deadline = time.monotonic() + WAIT_SECONDS
    while check() < want and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return want - check()


def drafts(fake: FakeSlack, channels: set[str]) -> dict[str, dict[str, Any]]:
    return {
        m["channel"]: m
        for m in fake.posted()
        if m["channel"] in channels and m["thread_ts"] and "novacast_render" in str(m["blocks"])
    }


def progress_count(fake: FakeSlack, channels: set[str]) -> int:
    return sum(1 for m in fake.posted() if m["channel"] in channels and "% — " in m["text"])


async def run_round(
    name: str, n: int, fake: FakeSlack, signer: SlackSigner, session: ClientSession
) -> Round:
    result = Round(name)
    people = [(f"U{name}{i:04d}", f"C{name}{i:04d}") for i in range(n)]
    channels = {channel for _, channel in people}

    def command(user: str, channel: str) -> Callable[[], Awaitable[tuple[int, str]]]:
        body = signer.command(f"10s on bench topic {user}", user=user, channel=channel)
        return lambda: signer.post(session, body)

    sends = [timed(command(u, c), result.command_ms) for u, c in people]
    result.statuses += await asyncio.gather(*sends)
    result.lost_drafts = await wait_for(lambda: len(drafts(fake, channels)), n)
    posted = drafts(fake, channels)

    def press(user: str, channel: str) -> Callable[[], Awaitable[tuple[int, str]]]:
        draft = {**posted[channel], "channel": channel}
        project = str(draft["blocks"][-1]["elements"][0]["value"]).rsplit(":", 1)[1]
        value = encode(Button(action=ButtonAction.RENDER, project_id=project))
        body = signer.button(value, user=user, message=draft)
        return lambda: signer.post(session, body)

    clicks = [timed(press(u, c), result.button_ms) for u, c in people if c in posted]
    result.statuses += await asyncio.gather(*clicks)
    result.lost_progress = await wait_for(lambda: progress_count(fake, channels), len(clicks))
    return result


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(result: Round, n: int) -> None:
    for label, values in (("/make ack", result.command_ms), ("button ack", result.button_ms)):
        p50, p99 = statistics.median(values), percentile(values, 0.99)
        verdict = "OK" if p99 < TARGET_P99_MS else "OVER TARGET"
        print(
            f"  {label:11s} n={len(values):4d}  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  "
            f"max {max(values):6.1f} ms  [{verdict}]"
        )
    bad = sum(1 for s in result.statuses if s != 200)
    print(
        f"  events lost: drafts {result.lost_drafts}/{n}, progress {result.lost_progress}/{n}; "
        f"non-200 acks: {bad}"
    )


async def main(conversations: int, rounds: int) -> int:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp) / "redis") as server:
        async with FakeSlack(TOKEN) as fake:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            env = bot_env(server.url, Path(tmp) / "var", port, fake)
            with bot_process(env, Path(tmp) / "bot.log") as child:
                connector = TCPConnector(limit=0)
                async with ClientSession(connector=connector) as session:
                    await wait_healthy(session, url, child)
                    signer = SlackSigner(SECRET, f"{url}/slack/events")
                    return await measure(
                        conversations,
                        rounds,
                        fake=fake,
                        signer=signer,
                        session=session,
                        pid=child.pid,
                    )


async def measure(
    n: int, rounds: int, *, fake: FakeSlack, signer: SlackSigner, session: ClientSession, pid: int
) -> int:
    await run_round("W", 20, fake, signer, session)
    print(f"bot RSS after warm-up (20 conversations): {rss_mb(pid):.1f} MB")
    failed = False
    for index in range(rounds):
        result = await run_round(f"R{index}", n, fake, signer, session)
        print(f"round {index + 1}: {n} concurrent conversations")
        report(result, n)
        print(f"  bot RSS after round {index + 1}: {rss_mb(pid):.1f} MB")
        failed |= result.lost_drafts > 0 or result.lost_progress > 0
        failed |= percentile(result.command_ms + result.button_ms, 0.99) >= TARGET_P99_MS
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.conversations, args.rounds)))
