"""An event that arrives while Redis is down is answered "I can't save that right now…" on every
platform, instead of an ack and silence; `/readyz` says Redis is down (issue 11, item 3).

Each test runs its own private redis-server (never the shared one) and stops it mid-test.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import redis

from adapters.buttons import encode
from adapters.console import ConsoleAdapter
from bot.actions import Button, ButtonAction
from bot.replies import CANNOT_SAVE
from novacast.embedded_redis import EmbeddedRedis
from novacast.wiring import build_engine
from tests.edges_support import EdgeBot, edge_bot, logged_tracebacks
from tests.fakes.telegram import private_chat, user

ADA = user(3001, "Ada", "ada")


@pytest.fixture
def private_redis() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture
async def bot(private_redis: EmbeddedRedis, data_dir: Path) -> AsyncIterator[EdgeBot]:
    connection = redis.Redis.from_url(private_redis.url, socket_timeout=2)
    async with edge_bot(connection, data_dir) as running:
        yield running
    connection.close()


async def _until(check: Callable[[], object], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def _told(bot: EdgeBot, hook: str) -> list[str]:
    """What the bot said through a response_url (ephemeral notes)."""
    found = [r for r in bot.slack_fake.requests if r.path.endswith(f"/{hook}")]
    return [json.loads(r.body)["text"] for r in found]


async def test_a_button_and_a_message_while_redis_is_down_are_answered(
    bot: EdgeBot, private_redis: EmbeddedRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    assert await bot.get("/readyz") == 200
    private_redis.stop()

    assert await bot.get("/readyz") == 503
    async with bot.session.get(bot.url + "/readyz") as response:
        assert (await response.json())["redis"] is False

    # Slack: a Render button on a draft; the ack is 200, then the user is told (ephemerally)
    hook = bot.slack_fake.response_url("render-while-down")
    value = encode(Button(action=ButtonAction.RENDER, project_id="0d0e0f"))
    message = {"ts": "1700000000.000100", "channel": "C0GENERAL", "text": "draft"}
    body = bot.signer.button(value, user="U0ALICE", message=message, response_url=hook)
    assert await bot.post_slack(body) == 200
    await _until(lambda: _told(bot, "render-while-down"))
    assert _told(bot, "render-while-down") == [CANNOT_SAVE]

    # Slack: a slash command (its thread lookup needs Redis too)
    hook = bot.slack_fake.response_url("make-while-down")
    body = bot.signer.command(
        "12s on outages", user="U0BOB", channel="C0GENERAL", response_url=hook
    )
    assert await bot.post_slack(body) == 200
    await _until(lambda: _told(bot, "make-while-down"))
    assert _told(bot, "make-while-down") == [CANNOT_SAVE]

    # Telegram: a message and a button press
    fake = bot.telegram_fake
    update = fake.message_update(private_chat(ADA), ADA, "/make 10s on outages")
    assert await bot.post_telegram(json.dumps(update).encode()) == 200
    said = await fake.wait_text(CANNOT_SAVE)
    assert said.params["chat_id"] == ADA["id"]
    approve = encode(Button(action=ButtonAction.APPROVE, project_id="0d0e0f"))
    press = fake.callback_update(ADA, said.result, approve)
    assert await bot.post_telegram(json.dumps(press).encode()) == 200
    await fake.wait_for("answerCallbackQuery")
    await _until(lambda: [c.params["text"] for c in fake.sent("sendMessage")] == [CANNOT_SAVE] * 2)
    assert logged_tracebacks(caplog) == []


def test_the_console_says_it_cannot_save_while_redis_is_down(
    private_redis: EmbeddedRedis, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    connection = redis.Redis.from_url(private_redis.url, socket_timeout=2)
    out = io.StringIO()
    console = ConsoleAdapter(build_engine(connection).handle, connection, out)
    console.handle_line("/help")
    assert "/make" in out.getvalue()
    private_redis.stop()
    console.handle_line("/make 10s on outages")
    console.handle_line("render")
    assert out.getvalue().count(CANNOT_SAVE) == 2
    assert logged_tracebacks(caplog) == []
    connection.close()


def test_a_redis_that_refuses_writes_gets_the_same_answer(
    private_redis: EmbeddedRedis, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """READONLY (a replica), like MISCONF on a full disk: up, but not taking our writes."""
    connection = redis.Redis.from_url(private_redis.url, socket_timeout=2)
    out = io.StringIO()
    console = ConsoleAdapter(build_engine(connection).handle, connection, out)
    connection.replicaof("127.0.0.1", "1")  # a master that does not exist: read-only from now
    console.handle_line("/make 10s on read-only stores")
    assert CANNOT_SAVE in out.getvalue()
    assert logged_tracebacks(caplog) == []
    connection.replicaof("NO", "ONE")
    connection.close()
