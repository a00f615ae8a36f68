"""Each platform's acknowledgement lands in `novacast_ack_seconds{adapter}`, and each event the
core reads is counted and logged under a trace id of its own: the real adapters (PTB, Bolt,
discord.py) against their fakes, wired as the other end-to-end tests wire them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from prometheus_client import REGISTRY

from bot.actions import ButtonAction
from pipeline import telemetry
from tests.e2e import test_discord as discord_e2e
from tests.e2e import test_slack as slack_e2e
from tests.e2e import test_telegram as telegram_e2e
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram, private_chat, user


class Traced(logging.Handler):
    """The core's event lines, with the trace id each was logged under."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen: list[tuple[str, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.getMessage(), telemetry.trace_id()))


@pytest.fixture
def traced() -> Iterator[Traced]:
    handler = Traced()
    logger = logging.getLogger("pipeline.telemetry")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def acks(adapter: str) -> float:
    return REGISTRY.get_sample_value("novacast_ack_seconds_count", {"adapter": adapter}) or 0.0


def events(adapter: str, intent: str) -> float:
    labels = {"adapter": adapter, "intent": intent}
    return REGISTRY.get_sample_value("novacast_events_total", labels) or 0.0


async def counted(adapter: str, expected: float, timeout: float = 15) -> float:
    """The adapter's ack count once it reaches `expected` (an ack is counted right after the
    platform's answer, which the fake may see a moment earlier), or at the timeout."""
    deadline = asyncio.get_running_loop().time() + timeout
    while acks(adapter) < expected and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    return acks(adapter)


def trace_ids(handler: Traced, message: str) -> list[str | None]:
    return [trace for text, trace in handler.seen if text == message]


async def test_slack_acks_are_timed_and_events_traced(
    redis_conn: redis.Redis, data_dir: Path, traced: Traced
) -> None:
    before, made = acks("slack"), events("slack", "make")
    async with FakeSlack(slack_e2e.TOKEN) as fake, slack_e2e.running_bot(
        fake, redis_conn, data_dir
    ) as bot:
        draft = await slack_e2e.make_draft(bot)
        assert await bot.press(draft, ButtonAction.CANCEL) == 200
        await slack_e2e.until(lambda: len(traced.seen) >= 2, "the press read", fake)
        assert await counted("slack", before + 2) == before + 2
    assert events("slack", "make") == made + 1
    (make,) = trace_ids(traced, "slack event read as make")
    (cancel,) = trace_ids(traced, "slack event read as button:cancel")
    assert make is not None
    assert cancel not in (None, make)


async def test_discord_deferrals_are_timed_and_events_traced(
    redis_conn: redis.Redis, data_dir: Path, traced: Traced
) -> None:
    before = acks("discord")
    async with FakeDiscord(discord_e2e.TOKEN) as fake, discord_e2e.running_bot(
        fake, redis_conn, data_dir
    ):
        draft = await discord_e2e.make_draft(fake)
        await discord_e2e.press(fake, draft, discord_e2e.button_on(draft, "cancel"),
                                discord_e2e.requester(fake))
        assert await counted("discord", before + 2) == before + 2
    (make,) = trace_ids(traced, "discord event read as make")
    assert make is not None


async def test_telegram_webhook_and_button_answers_are_timed(
    redis_conn: redis.Redis, data_dir: Path, traced: Traced
) -> None:
    ada = user(5151, "Ada", "ada")
    before = acks("telegram")
    async with FakeTelegram() as fake, telegram_e2e.running_bot(
        fake, redis_conn, data_dir, webhook=True
    ):
        assert await fake.deliver(fake.message_update(private_chat(ada), ada, "/make 10s on owls"))
        draft = (await fake.wait_for("sendMessage", 1))[-1]
        cancel = telegram_e2e._data(draft, "Cancel")
        assert await fake.deliver(fake.callback_update(ada, fake.message(draft), cancel)) == 200
        await fake.wait_for("answerCallbackQuery", 1)
        # two webhook 200s and one callback answer
        assert await counted("telegram", before + 3) == before + 3
    (make,) = trace_ids(traced, "telegram event read as make")
    assert make is not None
