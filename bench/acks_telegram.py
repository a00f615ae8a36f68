"""Telegram ack latency under load: 200 concurrent conversations through the real `novacast bot`.

Run `python bench/acks_telegram.py [--conversations 200] [--rounds 2]`. It starts an embedded
Redis (or uses REDIS_URL), the fake Bot API (tests/fakes/telegram.py) and a real `novacast bot`
process with only Telegram configured, in webhook mode. Per round (new users each round), it
delivers every conversation's `/make` to the webhook at once, waits for every draft, delivers
every draft's Render press at once, and waits for every progress message and callback answer.

It prints: webhook ack latency (send to HTTP 200, what Telegram waits on) for commands and
button presses; the button ack the user sees (send to answerCallbackQuery reaching the API);
the draft latency (send to the draft's sendMessage); events lost; the bot's RSS after a warm-up
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
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from novacast.embedded_redis import EmbeddedRedis  # noqa: E402
from tests.fakes.telegram import (  # noqa: E402
    BOT_USERNAME,
    TOKEN,
    Call,
    FakeTelegram,
    private_chat,
    user,
)

SECRET = "bench-secret"


@dataclass
class Round:
    command_acks: list[float] = field(default_factory=list)
    button_acks: list[float] = field(default_factory=list)
    answer_latency: list[float] = field(default_factory=list)
    draft_latency: list[float] = field(default_factory=list)
    lost: int = 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def _redis() -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    with EmbeddedRedis() as server:
        yield server.url


@contextlib.contextmanager
def bot_process(api_url: str, redis_url: str, port: int, data_dir: Path) -> Iterator[int]:
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "NOVACAST_DATA_DIR": str(data_dir),
        "NOVACAST_HTTP_PORT": str(port),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": api_url,
        "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/webhook",
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "DISCORD_BOT_TOKEN"):
        env.pop(name, None)
    child = subprocess.Popen([sys.executable, "-m", "novacast", "bot"], env=env, cwd=data_dir)
    try:
        yield child.pid
    finally:
        child.terminate()
        child.wait(timeout=30)


async def wait_ready(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise TimeoutError("the bot did not become ready")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def post(session: aiohttp.ClientSession, url: str, update: dict[str, Any]) -> float:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    start = time.monotonic()
    async with session.post(url, json=update, headers=headers) as response:
        await response.read()
        if response.status != 200:
            raise RuntimeError(f"webhook answered {response.status}")
    return time.monotonic() - start


def _first_to(api: FakeTelegram, method: str, chat_id: int, after: float) -> Call | None:
    for call in api.calls:
        if call.method == method and call.at >= after and call.params.get("chat_id") == chat_id:
            return call
    return None


async def wait_all(api: FakeTelegram, predicate: Any, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while sum(1 for c in api.calls if predicate(c)) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def run_round(api: FakeTelegram, url: str, users: list[dict[str, Any]]) -> Round:
    result = Round()
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        idea = "/make 20s on why cats purr"
        makes = [api.message_update(private_chat(u), u, idea) for u in users]
        result.command_acks = await asyncio.gather(*(post(session, url, m) for m in makes))
        ids = {u["id"] for u in users}

        def is_draft(c: Call) -> bool:
            return (
                c.method == "sendMessage"
                and c.at >= started
                and "Draft v1" in str(c.params.get("text"))
                and c.params.get("chat_id") in ids
            )

        await wait_all(api, is_draft, len(users), 60)
        drafts = {c.params["chat_id"]: c for c in api.calls if is_draft(c)}
        result.draft_latency = [d.at - started for d in drafts.values()]
        presses = [
            api.callback_update(u, api.message(drafts[u["id"]]), _render_data(drafts[u["id"]]))
            for u in users
            if u["id"] in drafts
        ]
        pressed = time.monotonic()
        result.button_acks = await asyncio.gather(*(post(session, url, p) for p in presses))
    await wait_all(api, lambda c: _is_progress(c, ids, pressed), len(presses), 60)
    await wait_all(
        api, lambda c: c.method == "answerCallbackQuery" and c.at >= pressed, len(presses), 30
    )
    answers = [c for c in api.calls if c.method == "answerCallbackQuery" and c.at >= pressed]
    result.answer_latency = [c.at - pressed for c in answers]
    progress = {c.params["chat_id"] for c in api.calls if _is_progress(c, ids, pressed)}
    result.lost = (len(users) - len(drafts)) + (len(presses) - len(progress))
    result.lost += len(presses) - len(answers)
    return result


def _render_data(call: Call) -> str:
    rows = call.params["reply_markup"]["inline_keyboard"]
    return str(next(b["callback_data"] for row in rows for b in row if b["text"] == "Render"))


def _is_progress(call: Call, ids: set[int], after: float) -> bool:
    text = str(call.params.get("text", ""))
    return (
        call.method == "sendMessage"
        and call.at >= after
        and "Rendering" in text
        and call.params.get("chat_id") in ids
    )


def _ms(values: list[float]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return (
        f"p50 {statistics.median(ordered) * 1000:6.1f} ms  p99 {p99 * 1000:6.1f} ms  "
        f"max {ordered[-1] * 1000:6.1f} ms"
    )


def report(name: str, result: Round, rss: float) -> None:
    print(f"{name}: lost {result.lost}, bot RSS {rss:.1f} MB")
    print(f"  /make webhook ack      {_ms(result.command_acks)}")
    print(f"  button webhook ack     {_ms(result.button_acks)}")
    print(f"  button answered (user) {_ms(result.answer_latency)}")
    print(f"  draft posted           {_ms(result.draft_latency)}")


async def main(conversations: int, rounds: int) -> None:
    port = _free_port()
    data_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"novacast-bench-tg-{port}"
    data_dir.mkdir(parents=True, exist_ok=True)
    async with FakeTelegram() as api:
        with _redis() as redis_url, bot_process(api.url, redis_url, port, data_dir) as pid:
            await wait_ready(port)
            url = f"http://127.0.0.1:{port}/telegram/webhook"
            print(f"{conversations} conversations, bot @{BOT_USERNAME} pid {pid}")
            for number in range(rounds + 1):
                users = [user(100_000 * (number + 1) + i, f"U{i}") for i in range(conversations)]
                result = await run_round(api, url, users)
                report("warm-up" if number == 0 else f"round {number}", result, rss_mb(pid))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.conversations, args.rounds))
