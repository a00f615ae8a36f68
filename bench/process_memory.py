"""Resident memory of the real processes: `novacast bot` after start, `novacast worker` idle.

Run `python bench/process_memory.py`. It starts (Redis from REDIS_URL, else an embedded one):
- a fresh `novacast bot` with Telegram, Slack and Discord configured against the fakes in
  tests/fakes and long-term memory on; its RSS when /readyz turns green, then after it answered a
  line only the embedding model understands ("list your commands": the model is loaded and has
  run), then after a minute of 60 more such lines (flat or not);
- a `novacast worker` (Piper voice loaded at start), its RSS once it has registered and is
  waiting for jobs.
`--memory off` starts the bot with NOVACAST_MEMORY=off (no vector memory, no model) and asks
"/help" instead (the rules answer it). `--no-worker` measures the bot only.
For each: RSS (anonymous / file-backed), and whether torch's libraries are mapped (they are
whenever a Python process has imported torch). Targets (issue 11): bot <= 250 MB, worker <= 400 MB.
`--detail` adds where it is: the largest mappings of /proc/<pid>/smaps by resident size (the
anonymous ones together, files by name) and how many malloc arenas threads were given.

Where the bot's memory went (2026-12-06, this bench, 279 -> 220 MB; docs/operations.md):
qdrant-client's import (~38 MB: grpc, protobuf stubs, pydantic models) -> local memory in SQLite;
the model's token table made resident by read-ahead (~10 MB) -> rows read per pass; a malloc
arena per thread (~5 MB) -> one arena (novacast.malloc).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import harness
import redis
from rq import Worker

from bot import replies
from novacast.processes import worker_process
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram, private_chat, user

BOT_TARGET_MB = 250.0
WORKER_TARGET_MB = 400.0


MEMORY = "on"
"""--memory: long-term memory on (the model answers) or off (the rules answer "/help")."""
DETAIL = False
"""--detail: print the largest mappings too."""
HEAP_MAX = 64 * 1024 * 1024
"""glibc reserves each thread arena's heap as 64 MB aligned on 64 MB (64-bit)."""


def detail(pid: int, top: int = 12) -> None:
    """The largest mappings by resident size, anonymous ones together; thread arenas."""
    sizes: collections.Counter[str] = collections.Counter()
    name, arenas = "", 0
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if "-" in fields[0] and len(fields) >= 5:
            start = int(fields[0].split("-")[0], 16)
            name = Path(fields[5]).name if len(fields) > 5 else "[anonymous]"
            arenas += name == "[anonymous]" and start % HEAP_MAX == 0 and fields[1][:2] == "rw"
        elif fields[0] == "Rss:":
            sizes[name] += int(fields[1])
    for mapped, kb in sizes.most_common(top):
        print(f"    {kb / 1024:6.1f} MB  {mapped}")
    print(f"    malloc arenas of threads: {arenas} (64 MB-aligned anonymous heaps)")


async def ask(api: FakeTelegram, port: int, person: int, text: str) -> float:
    """Send `text` through the webhook; seconds until the bot's answer reached the fake."""
    sender = user(person, f"P{person}")
    before = len(api.sent("sendMessage"))
    started = time.monotonic()
    update = api.message_update(private_chat(sender), sender, text)
    secret = {"X-Telegram-Bot-Api-Secret-Token": harness.TELEGRAM_SECRET}
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    async with aiohttp.ClientSession() as session, session.post(
        url, json=update, headers=secret
    ) as response:
        await response.read()
    answer = (await api.wait_for("sendMessage", before + 1, timeout=60))[-1]
    if answer.params.get("text") != replies.HELP:
        raise RuntimeError(f"unexpected answer: {answer.params.get('text')!r}")
    return time.monotonic() - started


async def bot(redis_url: str, tmp: Path) -> bool:
    async with FakeTelegram() as telegram, FakeSlack(harness.SLACK_TOKEN) as slack, \
            FakeDiscord(harness.DISCORD_TOKEN) as discord:
        port = harness.free_port()
        fakes = {"telegram": telegram.url, "slack": slack.api_url,
                 "discord": f"{discord.api_url} {discord.gateway_url}"}
        env = harness.bot_env(redis_url, tmp / "bot-data", port, fakes)
        if MEMORY == "off":
            env["NOVACAST_MEMORY"] = "off"
        line = "list your commands" if MEMORY == "on" else "/help"
        with harness.bot_process(env, tmp / "bot.log") as child:
            ready = await harness.wait_ready(port, child)
            at_ready = harness.memory(child.pid)
            first = await ask(telegram, port, 1, line)
            after_first = harness.memory(child.pid)
            for person in range(2, 62):
                await ask(telegram, port, person, line)
                await asyncio.sleep(1)
            later = harness.memory(child.pid)
            print(f"bot (telegram + slack + discord, memory {MEMORY}), ready in {ready:.1f} s:")
            print(f"  {at_ready}  when /readyz turned green")
            by = "by the model" if MEMORY == "on" else "(/help)"
            print(f"  {after_first}  after its first answer {by} ({first * 1000:.0f} ms)")
            print(f"  {later}  after 60 more, one a second")
            print(f"  torch mapped: {harness.torch_mapped(child.pid)}; target <= "
                  f"{BOT_TARGET_MB:.0f} MB: {'ok' if after_first.rss <= BOT_TARGET_MB else 'OVER'}")
            if DETAIL:
                detail(child.pid)
            return after_first.rss <= BOT_TARGET_MB and not harness.torch_mapped(child.pid)


def worker(redis_url: str, tmp: Path) -> bool:
    env = {**os.environ, "REDIS_URL": redis_url, "NOVACAST_DATA_DIR": str(tmp / "worker-data")}
    connection = redis.Redis.from_url(redis_url)
    started = time.monotonic()
    with worker_process(tmp / "logs", env) as child:
        while not Worker.all(connection=connection):
            if child.poll() is not None or time.monotonic() - started > 120:
                raise RuntimeError("the worker did not register")
            time.sleep(0.1)
        registered = time.monotonic() - started
        time.sleep(2)
        reading = harness.memory(child.pid)
        print(f"worker, registered in {registered:.1f} s (voice loaded):")
        print(f"  {reading}  waiting for jobs")
        print(f"  torch mapped: {harness.torch_mapped(child.pid)}; target <= "
              f"{WORKER_TARGET_MB:.0f} MB: {'ok' if reading.rss <= WORKER_TARGET_MB else 'OVER'}")
        if DETAIL:
            detail(child.pid)
        return reading.rss <= WORKER_TARGET_MB and not harness.torch_mapped(child.pid)


def main() -> int:
    global MEMORY, DETAIL
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--memory", choices=("on", "off"), default="on")
    parser.add_argument("--no-worker", action="store_true")
    parser.add_argument("--detail", action="store_true", help="the largest mappings too")
    args = parser.parse_args()
    MEMORY, DETAIL = args.memory, args.detail
    with tempfile.TemporaryDirectory() as tmp, harness.redis_url() as url:
        good = asyncio.run(bot(url, Path(tmp)))
        if not args.no_worker:
            good = worker(url, Path(tmp)) and good
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
