"""The first burst after start: 200 concurrent conversations per platform against a fresh bot.

Run `python bench/load_bench.py [--platforms telegram,slack,discord] [--conversations 200]
[--warm-round]`. For each platform, a fresh `novacast bot` process (only that platform
configured, long-term memory on, against the fakes in tests/fakes; Redis from REDIS_URL or an
embedded one) is started; as soon as /readyz answers 200, every conversation sends its `/make`
at once (Telegram: the webhook with its secret; Slack: the signed /slack/events slash command;
Discord: INTERACTION_CREATE through the fake gateway), then every draft's button is pressed at
once (Render on Telegram and Slack, Revise on Discord).

It prints per platform: time to ready; ack latency p50/p99/max of the commands and of the button
presses (Telegram and Slack: client send to HTTP 200; Discord: the fake's INTERACTION_CREATE to
the interaction callback); the draft latency (burst start to the fake receiving the draft:
Telegram's sendMessage exactly, Slack's chat.postMessage polled every 10 ms); Telegram's button
answer latency; events lost (a conversation without its draft,
progress or answer); the bot's RSS at ready and after the bursts; whether torch is mapped.
Targets (issue 11): acks p99 < 200 ms; Telegram draft p99 <= 1 s. Exit status 1 if one is missed.
`--warm-round` sends a 20-conversation round first (to compare the first burst with a later one).
`--floor` first sends the same 200 webhook posts to a null aiohttp server (a child process that
only answers 200): the part of an ack latency that is this client, the kernel and aiohttp, not the
bot. `--py-spy PATH` samples the bot during the bursts with py-spy (`pip install py-spy`; PATH is
its executable) and prints where its threads spent the time holding the GIL (collapsed stacks in
bench-profile-*.txt): the bot's Python runs one thread at a time, and without `--gil` a thread
waiting on a socket (Redis, a thread pool's queue) was counted as running.
No worker runs: renders stay queued.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import acks_discord
import acks_slack
import acks_telegram
import harness
from aiohttp import ClientSession, TCPConnector
from harness import line

from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack, SlackSigner
from tests.fakes.telegram import Call, FakeTelegram, private_chat, user

ACK_TARGET_MS = 200.0
DRAFT_TARGET_MS = 1000.0


@dataclass
class Outcome:
    platform: str
    ready_s: float = 0.0
    commands: list[float] = field(default_factory=list)
    buttons: list[float] = field(default_factory=list)
    drafts: list[float] = field(default_factory=list)
    answers: list[float] = field(default_factory=list)
    lost: int = 0
    memory: list[tuple[str, harness.Memory]] = field(default_factory=list)
    torch: bool = False
    draft_cpu: dict[str, float] = field(default_factory=dict)
    """The bot's CPU seconds by thread from the /make burst's start to its last draft: less
    noisy than latencies on a shared machine, and it shows whose work the drafts wait for."""

    def missed(self) -> list[str]:
        missed = [f"{name} p99" for name, values in (("command ack", self.commands),
                                                      ("button ack", self.buttons))
                  if harness.percentile(values, 0.99) * 1000 >= ACK_TARGET_MS]
        late = harness.percentile(self.drafts, 0.99) * 1000 > DRAFT_TARGET_MS
        if self.platform == "telegram" and late:
            missed.append("draft p99")
        return missed + (["events lost"] if self.lost else [])


Burst = Callable[[Any, str, int, str], Awaitable[Outcome]]


async def telegram_burst(api: FakeTelegram, base: str, n: int, tag: str) -> Outcome:
    """acks_telegram's round, with 200 connections at once (aiohttp's default pool holds 100:
    the other 100 would wait in the client, not in the bot)."""
    first = 900_000 if tag == "W" else 100_000  # new people each round (rate limits are per person)
    users = [user(first + i, f"U{i}") for i in range(n)]
    url, ids = f"{base}/telegram/webhook", {u["id"] for u in users}
    outcome = Outcome("telegram")
    async with ClientSession(connector=TCPConnector(limit=0)) as session:
        cpu = cpu_by_thread(BOT_PID)
        started = time.monotonic()
        idea = "/make 20s on why cats purr"
        makes = [api.message_update(private_chat(u), u, idea) for u in users]
        outcome.commands = await asyncio.gather(*(acks_telegram.post(session, url, m)
                                                  for m in makes))

        def is_draft(c: Call) -> bool:
            return (c.method == "sendMessage" and c.at >= started
                    and "Draft v1" in str(c.params.get("text")) and c.params.get("chat_id") in ids)

        await acks_telegram.wait_all(api, is_draft, n, 60)
        outcome.draft_cpu = cpu_since(cpu, BOT_PID)
        drafts = {c.params["chat_id"]: c for c in api.calls if is_draft(c)}
        outcome.drafts = [d.at - started for d in drafts.values()]
        presses = [api.callback_update(u, api.message(drafts[u["id"]]),
                                       acks_telegram._render_data(drafts[u["id"]]))
                   for u in users if u["id"] in drafts]
        pressed = time.monotonic()
        outcome.buttons = await asyncio.gather(*(acks_telegram.post(session, url, p)
                                                 for p in presses))

    def answered(c: Call) -> bool:
        return c.method == "answerCallbackQuery" and c.at >= pressed

    await acks_telegram.wait_all(api, answered, len(presses), 30)
    await acks_telegram.wait_all(api, lambda c: acks_telegram._is_progress(c, ids, pressed),
                                 len(presses), 60)
    outcome.answers = [c.at - pressed for c in api.calls if answered(c)]
    progress = {c.params["chat_id"] for c in api.calls
                if acks_telegram._is_progress(c, ids, pressed)}
    outcome.lost = (n - len(drafts)) + (len(presses) - len(progress))
    outcome.lost += len(presses) - len(outcome.answers)
    return outcome


async def slack_burst(fake: FakeSlack, base: str, n: int, tag: str) -> Outcome:
    signer = SlackSigner(harness.SLACK_SECRET, f"{base}/slack/events")
    channels = {f"C{tag}{i:04d}" for i in range(n)}  # acks_slack.run_round's channels
    seen: dict[str, float] = {}

    async def watch() -> None:  # when each draft shows up at the fake (polled every 10 ms)
        while len(seen) < n:
            now = time.monotonic()
            for channel in acks_slack.drafts(fake, channels):
                seen.setdefault(channel, now)
            await asyncio.sleep(0.01)

    started = time.monotonic()
    watcher = asyncio.create_task(watch())
    async with ClientSession(connector=TCPConnector(limit=0)) as session:
        result = await acks_slack.run_round(tag, n, fake, signer, session)
    watcher.cancel()
    bad = sum(1 for status in result.statuses if status != 200)
    return Outcome("slack", commands=[ms / 1000 for ms in result.command_ms],
                   buttons=[ms / 1000 for ms in result.button_ms],
                   drafts=[at - started for at in seen.values()],
                   lost=result.lost_drafts + result.lost_progress + bad)


async def discord_burst(fake: FakeDiscord, _base: str, n: int, tag: str) -> Outcome:
    first = 0 if tag != "W" else 10_000
    result = await acks_discord.one_round(fake, acks_discord.members(fake, n, first), first)
    return Outcome("discord", commands=[ms / 1000 for ms in result["commands"]],
                   buttons=[ms / 1000 for ms in result["buttons"]], lost=result["lost"])


async def run_platform(platform: str, n: int, warm_round: bool, redis: str) -> Outcome:
    with tempfile.TemporaryDirectory() as tmp:
        fake: Any
        if platform == "telegram":
            fake, burst = FakeTelegram(), telegram_burst
        elif platform == "slack":
            fake, burst = FakeSlack(harness.SLACK_TOKEN), slack_burst
        else:
            fake, burst = FakeDiscord(harness.DISCORD_TOKEN), discord_burst
        async with fake:
            root = {"telegram": lambda: fake.url, "slack": lambda: fake.api_url,
                    "discord": lambda: f"{fake.api_url} {fake.gateway_url}"}[platform]()
            port = harness.free_port()
            env = harness.bot_env(redis, Path(tmp) / "var", port, {platform: root})
            log = Path(tmp) / "bot.log"
            with harness.bot_process(env, log) as child:
                global BOT_PID  # noqa: PLW0603 (one bot at a time)
                BOT_PID = child.pid
                ready = await harness.wait_ready(port, child)
                at_ready = harness.memory(child.pid)
                base = f"http://127.0.0.1:{port}"
                if warm_round:
                    await burst(fake, base, 20, "W")
                started = time.monotonic()
                with profiled(child.pid, platform):
                    outcome = await burst(fake, base, n, "F")
                outcome.memory = [("at ready", at_ready),
                                  (f"after the bursts ({time.monotonic() - started:.1f} s)",
                                   harness.memory(child.pid))]
                outcome.ready_s, outcome.torch = ready, harness.torch_mapped(child.pid)
                errors = [t for t in log.read_text(errors="replace").splitlines()
                          if "Traceback" in t]
                if errors:
                    print(f"  ({platform}: {len(errors)} tracebacks in the bot's log)")
                return outcome


PY_SPY: str | None = None
BOT_PID = 0
"""The bot being measured (for `cpu_by_thread`)."""


def cpu_by_thread(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) used so far by `pid`'s event loop (its main thread) and by
    its other threads together (Python 3.11 gives its threads no OS names: they all show the
    process's name in /proc, so they are told apart by id only)."""
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue  # the thread ended
        name = "event loop" if task.name == str(pid) else "other threads"
        fields = stat[stat.rindex(")") + 2 :].split()
        used[name] = used.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return used


def cpu_since(before: dict[str, float], pid: int) -> dict[str, float]:
    now = cpu_by_thread(pid)
    return {k: now[k] - before.get(k, 0.0) for k in now if now[k] - before.get(k, 0.0) > 0.005}


@contextlib.contextmanager
def profiled(pid: int, platform: str) -> Iterator[None]:
    if PY_SPY is None:
        yield
        return
    out = Path(f"bench-profile-{platform}.txt").resolve()
    spy = subprocess.Popen([PY_SPY, "record", "--pid", str(pid), "--format", "raw", "--rate",
                            "250", "--threads", "--gil", "--output", str(out)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attached before the burst
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
        print(f"  profile: {out}")
        summarize(out)


def summarize(path: Path, top: int = 20) -> None:
    """CPU samples per thread (by name), the functions most often on the stack (inclusive), and
    the ones running (self)."""
    threads: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    running: Counter[str] = Counter()
    for text in path.read_text(errors="replace").splitlines():
        stack, _, count = text.rpartition(" ")
        frames, weight = stack.split(";"), int(count)
        name = frames[0].partition(": ")[2].rstrip("0123456789_") or "(unnamed)"
        threads[name] += weight
        named = [f.split(" (")[0] + " " + f.rsplit("/", 1)[-1].rstrip(")") for f in frames[1:]]
        for frame in set(named):
            inclusive[frame] += weight
        if named:
            running[named[-1]] += weight
    total = sum(threads.values()) or 1
    print(f"  CPU samples ({total}) by thread: " + ", ".join(
        f"{t} {c * 100 / total:.0f}%" for t, c in threads.most_common(8)))
    for title, counter in (("on the stack", inclusive), ("running", running)):
        print(f"  {title}:")
        for frame, count in counter.most_common(top):
            print(f"    {count * 100 / total:5.1f}%  {frame[:110]}")


NULL_SERVER = """
import sys
from aiohttp import web
async def ok(request):
    await request.read()
    return web.Response(text="ok")
app = web.Application()
app.router.add_post("/telegram/webhook", ok)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


async def floor(n: int) -> list[float]:
    """Ack latencies of `n` simultaneous webhook posts to a server that does nothing."""
    port = harness.free_port()
    child = subprocess.Popen([sys.executable, "-c", NULL_SERVER, str(port)])
    try:
        url = f"http://127.0.0.1:{port}/telegram/webhook"
        async with ClientSession(connector=TCPConnector(limit=0)) as session:
            for _ in range(100):
                with contextlib.suppress(OSError):
                    async with session.get(url) as response:
                        await response.read()
                        break
                await asyncio.sleep(0.1)
            api = FakeTelegram()
            people = [user(700_000 + i, f"N{i}") for i in range(n)]
            bodies = [api.message_update(private_chat(u), u, "/make x") for u in people]
            return list(await asyncio.gather(*(acks_telegram.post(session, url, b)
                                               for b in bodies)))
    finally:
        child.terminate()
        child.wait(timeout=10)


def report(outcome: Outcome, n: int, warm_round: bool) -> None:
    which = "after a 20-conversation warm-up round" if warm_round else "first burst after ready"
    print(f"{outcome.platform}: {n} concurrent conversations, {which}; "
          f"ready in {outcome.ready_s:.2f} s; torch mapped: {outcome.torch}")
    print(line("command ack", outcome.commands, ACK_TARGET_MS))
    print(line("button ack", outcome.buttons, ACK_TARGET_MS))
    if outcome.drafts:
        target = DRAFT_TARGET_MS if outcome.platform == "telegram" else None
        print(line("draft posted", outcome.drafts, target))
    if outcome.draft_cpu:
        by = sorted(outcome.draft_cpu.items(), key=lambda kv: -kv[1])
        print(f"  bot CPU until the last draft: {sum(outcome.draft_cpu.values()):.2f} s ("
              + ", ".join(f"{name} {seconds:.2f}" for name, seconds in by) + ")")
    if outcome.answers:
        print(line("button answered (user)", outcome.answers))
    print(f"  events lost: {outcome.lost}")
    for label, reading in outcome.memory:
        print(f"  bot {reading}  {label}")
    missed = outcome.missed()
    print(f"  targets: {'all met' if not missed else 'MISSED ' + ', '.join(missed)}")


async def main(platforms: list[str], n: int, warm_round: bool, null: bool = False) -> int:
    failed = False
    if null:
        print("null server (this client's share of an ack):")
        print(line("webhook ack", await floor(n)))
    with harness.redis_url() as redis:
        for platform in platforms:
            outcome = await run_platform(platform, n, warm_round, redis)
            report(outcome, n, warm_round)
            failed |= bool(outcome.missed())
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--platforms", default="telegram,slack,discord")
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--warm-round", action="store_true")
    parser.add_argument("--py-spy", default=None)
    parser.add_argument("--floor", action="store_true")
    args = parser.parse_args()
    PY_SPY = args.py_spy
    logging.basicConfig(level=logging.ERROR)
    chosen = [p.strip() for p in args.platforms.split(",") if p.strip()]
    sys.exit(asyncio.run(main(chosen, args.conversations, args.warm_round, args.floor)))
