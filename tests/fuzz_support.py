"""The fuzz run over every HTTP route, shared by `tests/e2e/test_fuzz_routes.py` (small) and
`bench/fuzz_routes.py` (≥ 5,000 cases per route).

`BotInThread` runs `tests.edges_support.edge_bot` (the real server app, Slack and Telegram
adapters against their fakes, the real core, real Redis) on its own event loop; Hypothesis drives
requests at it from the calling thread. `fuzz(...)` returns a `FuzzReport`: the statuses per
route, the log lines with a traceback or at ERROR and above, whether the bot still answered on
Slack and on Telegram afterwards, and the process's resident memory after a warm-up round (a
tenth of the cases), half-way and at the end: a leak grows in the second half too; the
allocator's high-water mark from large payloads does not. The Redis database is the caller's
to flush first (delivery ids are remembered: a second run's "still answers" check would be a
redelivery).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import redis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import FlakyStrategyDefinition

from tests.edges_support import EdgeBot, edge_bot
from tests.fuzz_payloads import MediaRequest, media_request, slack_body, telegram_body

T = TypeVar("T")
ROUTES = ("slack", "telegram", "media")
ALIVE_USER = 4999
"""A Telegram user no strategy draws: the after-fuzz `/help` is not rate limited."""


def rss_mb() -> float:
    """This process's resident memory (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class LogTrap(logging.Handler):
    """Keeps every record with a traceback, and every record at ERROR or above."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.tracebacks: list[str] = []
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = f"{record.name}: {record.getMessage()[:300]}"
        if record.exc_info or record.exc_text or "Traceback (most recent" in record.getMessage():
            self.tracebacks.append(line)
        if record.levelno >= logging.ERROR:
            self.errors.append(line)


class BotInThread:
    """`with BotInThread(redis_url, data_dir) as bot:` then `bot.run(coroutine_fn)`."""

    def __init__(self, redis_url: str, data_dir: Path) -> None:
        self._redis_url = redis_url
        self._data_dir = data_dir
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.bot: EdgeBot | None = None
        self._thread = threading.Thread(target=self._serve, name="fuzzed-bot", daemon=True)

    def _serve(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # handed to the caller
            self._failure = error
            self._ready.set()

    async def _main(self) -> None:
        connection = redis.Redis.from_url(self._redis_url)
        try:
            async with edge_bot(connection, self._data_dir) as bot:
                self.bot, self._loop, self._stop = bot, asyncio.get_running_loop(), asyncio.Event()
                self._ready.set()
                await self._stop.wait()
                await bot.slack.drain(30)
        finally:
            connection.close()

    def __enter__(self) -> BotInThread:
        self._thread.start()
        self._ready.wait(60)
        if self._failure is not None or self.bot is None:
            raise RuntimeError("the bot did not start") from self._failure
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(90)

    def run(self, make: Callable[[EdgeBot], Coroutine[Any, Any, T]], timeout: float = 60) -> T:
        assert self._loop is not None
        assert self.bot is not None
        return asyncio.run_coroutine_threadsafe(make(self.bot), self._loop).result(timeout)


@dataclass
class FuzzReport:
    cases: int
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    tracebacks: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    alive_slack: bool = False
    alive_telegram: bool = False
    rss_before_mb: float = 0.0
    rss_half_mb: float = 0.0
    """After the first half of the cases: the second half should add next to nothing."""
    rss_after_mb: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)
    wrong: list[str] = field(default_factory=list)
    """Each request answered 5xx or not at all, with what was sent."""

    @property
    def server_errors(self) -> int:
        return sum(n for c in self.statuses.values() for s, n in c.items() if s >= 500)

    @property
    def unanswered(self) -> int:
        return sum(c[NO_ANSWER] for c in self.statuses.values())

    def lines(self) -> list[str]:
        out = [f"cases per route: {self.cases}"]
        for route, counts in self.statuses.items():
            total = sum(counts.values())
            rate = total / self.seconds[route] if self.seconds.get(route) else 0.0
            shown = ", ".join(f"{s}: {n}" for s, n in sorted(counts.items()))
            out.append(f"  {route:9} {total:6} requests ({rate:.0f}/s)  {shown}")
        out.append(f"5xx: {self.server_errors}   unanswered: {self.unanswered}   tracebacks in "
                   f"the log: {len(self.tracebacks)}   ERROR lines: {len(self.errors)}")
        out += [f"  wrong: {line}" for line in self.wrong[:10]]
        out.append(f"still answers afterwards: slack {self.alive_slack}, "
                   f"telegram {self.alive_telegram}")
        out.append(f"RSS after warm-up {self.rss_before_mb:.0f} MB, half-way "
                   f"{self.rss_half_mb:.0f} MB, after {self.rss_after_mb:.0f} MB (second half: "
                   f"{self.rss_after_mb - self.rss_half_mb:+.0f} MB)")
        out += [f"  traceback: {line}" for line in self.tracebacks[:5]]
        out += [f"  error: {line}" for line in self.errors[:10]]
        return out


def _prepare_media(data_dir: Path) -> None:
    """What the media strategies name: a rendered video, a published one, the AOF, a symlink."""
    video = data_dir / "media" / "T1" / "p1" / "video.mp4"
    video.parent.mkdir(parents=True, exist_ok=True)
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    (video.parent / "narration.wav").write_bytes(b"RIFF")
    published = data_dir / "published" / "T1" / "video.mp4"
    published.parent.mkdir(parents=True, exist_ok=True)
    published.write_bytes(video.read_bytes())
    aof = data_dir / "redis" / "appendonly.aof"
    aof.parent.mkdir(parents=True, exist_ok=True)
    aof.write_text("SET secret 1\n")
    escape = video.with_name("escape.mp4")
    if not escape.is_symlink():
        os.symlink(aof, escape)


def _hypothesis(cases: int) -> settings:
    """Generation only: a wrong answer is recorded (with the request) rather than raised, so one
    bad case never stops the run, and nothing is replayed."""
    return settings(
        max_examples=cases,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


NO_ANSWER = 0
"""The status recorded when a request got no HTTP answer within the timeout."""


def _drive(
    strategy: st.SearchStrategy[T],
    cases: int,
    send: Callable[[T], int],
    seen: Counter[int],
    wrong: list[str],
) -> None:
    def one(value: T) -> None:
        try:
            status = send(value)
        except (TimeoutError, OSError) as error:
            status = NO_ANSWER
            wrong.append(f"{type(error).__name__} for {value!r:.300}")
        seen[status] += 1
        if status >= 500:
            wrong.append(f"HTTP {status} for {value!r:.300}")

    goal = sum(seen.values()) + cases
    for _ in range(5):  # Hypothesis now and then calls its own generation flaky: go on
        left = goal - sum(seen.values())
        if left <= 0:
            return
        try:
            _hypothesis(left)(given(strategy)(one))()
        except FlakyStrategyDefinition:
            continue


def fuzz(
    redis_url: str, data_dir: Path, cases: int, routes: tuple[str, ...] = ROUTES
) -> FuzzReport:
    """`cases` Hypothesis examples per route against one running bot; see the module doc."""
    _prepare_media(data_dir)
    trap = LogTrap()
    root = logging.getLogger()
    root.addHandler(trap)
    report = FuzzReport(cases=cases)
    try:
        with BotInThread(redis_url, data_dir) as running:
            respond = running.run(_response_url)
            senders: dict[str, tuple[st.SearchStrategy[Any], Callable[[Any], int]]] = {
                "slack": (slack_body(respond), lambda body: running.run(
                    lambda bot: bot.post_slack(body))),
                "telegram": (telegram_body(), lambda body: running.run(
                    lambda bot: bot.post_telegram(body))),
                "media": (media_request(), lambda req: running.run(
                    lambda bot: bot.get(_media_path(bot, req)))),
            }
            for route in routes:  # warm-up: caches, pools and Hypothesis fill before measuring
                strategy, send = senders[route]
                _drive(strategy, max(20, cases // 10), send, Counter(), report.wrong)
            report.rss_before_mb = rss_mb()
            for half in (cases // 2, cases - cases // 2):  # RSS between: growth or plateau?
                for route in routes:
                    strategy, send = senders[route]
                    seen = report.statuses.setdefault(route, Counter())
                    started = time.perf_counter()
                    _drive(strategy, half, send, seen, report.wrong)
                    report.seconds[route] = report.seconds.get(route, 0.0) + (
                        time.perf_counter() - started
                    )
                report.rss_half_mb = report.rss_half_mb or rss_mb()
            report.alive_slack = running.run(_slack_answers, timeout=240)
            report.alive_telegram = running.run(_telegram_answers, timeout=240)
            report.rss_after_mb = rss_mb()
    finally:
        root.removeHandler(trap)
    report.tracebacks, report.errors = trap.tracebacks, trap.errors
    return report


async def _response_url(bot: EdgeBot) -> str:
    return bot.slack_fake.response_url("fuzz")


def _media_path(bot: EdgeBot, request: MediaRequest) -> str:
    token = bot.media_token(request.payload) if request.payload is not None else request.raw_token
    return f"/media/{quote(token, safe='')}/{quote(request.name, safe='')}"


async def _telegram_answers(bot: EdgeBot) -> bool:
    fake = bot.telegram_fake
    person = {"id": ALIVE_USER, "is_bot": False, "first_name": "Alive"}
    chat = {"id": ALIVE_USER, "type": "private", "first_name": "Alive"}
    update = fake.message_update(chat, person, "/help")
    if await bot.post_telegram(json.dumps(update).encode()) != 200:
        return False
    deadline = time.monotonic() + 200
    while time.monotonic() < deadline:
        if any(c.params.get("chat_id") == ALIVE_USER for c in fake.sent("sendMessage")):
            return True
        await asyncio.sleep(0.2)
    return False


async def _slack_answers(bot: EdgeBot) -> bool:
    body = bot.signer.command("help", user="U0ALIVE", channel="D0ALIVE", command="/novacast")
    if await bot.post_slack(body) != 200:
        return False
    deadline = time.monotonic() + 200
    while time.monotonic() < deadline:
        if any(m.get("channel") == "D0ALIVE" for m in bot.slack_fake.posted()):
            return True
        await asyncio.sleep(0.2)
    return False
