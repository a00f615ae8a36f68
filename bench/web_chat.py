"""200 concurrent studio chats through WebSockets against a fresh `novacast bot`.

Run `python bench/web_chat.py [--conversations 200] [--no-slack] [--rounds 1]` (REDIS_URL: a
spare, empty database; unset: an embedded server for the run). For each round a fresh bot
process (no chat platform configured: only the always-on web platform; long-term memory on;
Redis from REDIS_URL or an embedded one) is started; once /readyz answers 200, N people are
signed in with one-time links (`adapters.web.sessions.sign_in_link`, POST /signin/<token>), each
opens `/ws` and waits for `hello`; then every socket sends `/make 20s on why cats purr` at once.

It prints the draft latency, p50/p99/max: from each socket's own send to its draft frame (a `say`
with a Render button) arriving on that socket, and from the burst's start (the figure the Slack
path reports); the echo latency (the user's own line back through the stream); events lost; the
bot's RSS at ready, with the sockets open, and after the burst. Unless `--no-slack`, it then runs
bench/load_bench.py's Slack round in the same run (a fresh bot with only Slack, against the fake
Slack: `/make` through signed /slack/events, the draft polled at the fake every 10 ms, measured
from the burst's start) and prints its draft line beside ours. `--py-spy PATH` samples the bot
during the burst (load_bench's --gil profile). No worker runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import harness
import load_bench
import redis
from aiohttp import ClientSession, ClientWebSocketResponse, TCPConnector, WSMsgType
from harness import line

from adapters.web.sessions import COOKIE, sign_in_link

IDEA = "/make 20s on why cats purr"
TIMEOUT = 120.0


@dataclass
class Outcome:
    ready_s: float = 0.0
    drafts: list[float] = field(default_factory=list)
    """Seconds from each socket's own send to its draft."""
    since_burst: list[float] = field(default_factory=list)
    echoes: list[float] = field(default_factory=list)
    lost: int = 0
    memory: list[tuple[str, harness.Memory]] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)
    """The bot's CPU seconds by thread from the burst's start to its last draft (less noisy
    than latencies on a shared machine)."""


async def sign_in(session: ClientSession, link: str) -> str:
    """The session cookie a one-time link gives."""
    async with session.post(link, allow_redirects=False) as response:
        assert response.status == 303, response.status
        return response.cookies[COOKIE].value


async def open_socket(session: ClientSession, base: str, cookie: str) -> ClientWebSocketResponse:
    ws = await session.ws_connect(
        f"{base}/ws", headers={"Origin": base, "Cookie": f"{COOKIE}={cookie}"}, max_msg_size=0
    )
    hello = json.loads((await ws.receive(timeout=TIMEOUT)).data)
    assert hello["type"] == "hello", hello
    return ws


async def one_make(ws: ClientWebSocketResponse, burst: float) -> tuple[float, float, float]:
    """(send->echo, send->draft, burst->draft) in seconds for one socket."""
    sent = time.monotonic()
    await ws.send_str(json.dumps({"type": "text", "text": IDEA}))
    echo = 0.0
    while True:
        message = await ws.receive(timeout=TIMEOUT)
        if message.type != WSMsgType.TEXT:
            raise ConnectionError(f"socket ended: {message.type}")
        frame = json.loads(message.data)
        now = time.monotonic()
        if frame["type"] == "echo" and not echo:
            echo = now - sent
        buttons = [b["action"] for b in frame.get("buttons", [])]
        if frame["type"] == "say" and "render" in buttons:
            return echo, now - sent, now - burst


async def burst(base: str, redis_url: str, n: int, pid: int, outcome: Outcome) -> None:
    connection = redis.Redis.from_url(redis_url)
    links = [sign_in_link(connection, base, workspace="bench", role="editor", name=f"person {i}")
             for i in range(n)]
    connection.close()
    async with ClientSession(connector=TCPConnector(limit=0)) as session:
        cookies = await asyncio.gather(*(sign_in(session, link) for link in links))
        sockets = await asyncio.gather(*(open_socket(session, base, c) for c in cookies))
        outcome.memory.append((f"with {n} sockets open", harness.memory(pid)))
        with profiled(pid):
            cpu = load_bench.cpu_by_thread(pid)
            started = time.monotonic()  # after py-spy has attached
            results = await asyncio.gather(*(one_make(ws, started) for ws in sockets),
                                           return_exceptions=True)
            outcome.cpu = load_bench.cpu_since(cpu, pid)
        for result in results:
            if isinstance(result, BaseException):
                outcome.lost += 1
                continue
            echo, draft, since = result
            outcome.echoes.append(echo)
            outcome.drafts.append(draft)
            outcome.since_burst.append(since)
        await asyncio.gather(*(ws.close() for ws in sockets))


PY_SPY: str | None = None


@contextlib.contextmanager
def profiled(pid: int) -> Iterator[None]:
    """load_bench's py-spy sampling (--gil) around the burst, when --py-spy is given."""
    if PY_SPY is None:
        yield
        return
    load_bench.PY_SPY = PY_SPY
    with load_bench.profiled(pid, "web"):
        yield


async def run_web(n: int, redis_url: str) -> Outcome:
    outcome = Outcome()
    with tempfile.TemporaryDirectory() as tmp:
        port = harness.free_port()
        env = harness.bot_env(redis_url, Path(tmp) / "var", port, {})
        log = Path(tmp) / "bot.log"
        with harness.bot_process(env, log) as child:
            outcome.ready_s = await harness.wait_ready(port, child)
            outcome.memory.append(("at ready", harness.memory(child.pid)))
            started = time.monotonic()
            await burst(f"http://127.0.0.1:{port}", redis_url, n, child.pid, outcome)
            outcome.memory.append((f"after the burst ({time.monotonic() - started:.1f} s)",
                                   harness.memory(child.pid)))
            errors = [t for t in log.read_text(errors="replace").splitlines() if "Traceback" in t]
            if errors:
                print(f"  (web: {len(errors)} tracebacks in the bot's log)")
    return outcome


def report(outcome: Outcome, n: int) -> None:
    print(f"web: {n} concurrent WebSocket chats, first burst after ready; "
          f"ready in {outcome.ready_s:.2f} s")
    print(line("echo (own send)", outcome.echoes))
    print(line("draft frame (own send)", outcome.drafts))
    print(line("draft frame (burst start)", outcome.since_burst))
    if outcome.cpu:
        by = sorted(outcome.cpu.items(), key=lambda kv: -kv[1])
        print(f"  bot CPU until the last draft: {sum(outcome.cpu.values()):.2f} s ("
              + ", ".join(f"{name} {seconds:.2f}" for name, seconds in by) + ")")
    print(f"  events lost: {outcome.lost}")
    for label, reading in outcome.memory:
        print(f"  bot {reading}  {label}")


async def slack_reference(n: int, redis_url: str) -> list[float]:
    outcome = await load_bench.run_platform("slack", n, False, redis_url)
    print(f"slack (bench/load_bench.py's round, same run): ready in {outcome.ready_s:.2f} s")
    print(line("draft posted (burst start)", outcome.drafts))
    print(f"  events lost: {outcome.lost}")
    for label, reading in outcome.memory:
        print(f"  bot {reading}  {label}")
    return outcome.drafts


async def main(n: int, slack: bool, rounds: int) -> int:
    """Web rounds (each a fresh bot), then one Slack round: its conversations have fixed
    channel names, so a second Slack round against the same Redis would be deduplicated."""
    worse = False
    with harness.redis_url() as redis_url:
        webs = []
        for _ in range(rounds):
            webs.append(await run_web(n, redis_url))
            report(webs[-1], n)
            worse |= bool(webs[-1].lost)
        if slack:
            drafts = await slack_reference(n, redis_url)
            theirs = harness.percentile(drafts, 0.99)
            for web in webs:
                ours = harness.percentile(web.since_burst, 0.99)
                verdict = "under" if drafts and ours < theirs else "NOT under"
                print(f"web draft p99 {ours * 1000:.0f} ms is {verdict} Slack's "
                      f"{theirs * 1000:.0f} ms")
                worse |= verdict != "under"
    return 1 if worse else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--no-slack", action="store_true")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--py-spy", default=None, help="py-spy's path: sample the bot's burst")
    args = parser.parse_args()
    PY_SPY = args.py_spy
    logging.basicConfig(level=logging.ERROR)
    sys.exit(asyncio.run(main(args.conversations, not args.no_slack, args.rounds)))
