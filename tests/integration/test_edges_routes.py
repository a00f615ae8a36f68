"""Every route refuses malformed input with a 4xx and one short log line, never a traceback;
one poison Telegram update is skipped and long polling goes on (issue 11, item 6)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
import redis

from tests.edges_support import EdgeBot, edge_bot, logged_tracebacks
from tests.fakes.telegram import private_chat, user

ADA = user(2001, "Ada", "ada")
SECRET_TEXT = "my very private words 4f2e"


@pytest.fixture
async def bot(redis_conn: redis.Redis, data_dir: Path) -> AsyncIterator[EdgeBot]:
    async with edge_bot(redis_conn, data_dir) as running:
        yield running


@pytest.fixture(autouse=True)
def _capture(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)


async def _still_answers(bot: EdgeBot) -> None:
    """The bot answers a plain /help on Telegram after whatever came before."""
    update = bot.telegram_fake.message_update(private_chat(ADA), ADA, "/help")
    assert await bot.post_telegram(json.dumps(update).encode()) == 200
    await bot.telegram_fake.wait_text("/make <idea>")


# --- Slack ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Slack-Request-Timestamp": "not-a-number", "X-Slack-Signature": "v0=abc"},
        {"X-Slack-Request-Timestamp": "1e9", "X-Slack-Signature": "v0=abc"},
        {"X-Slack-Request-Timestamp": "9" * 5000, "X-Slack-Signature": "v0=abc"},
        {"X-Slack-Request-Timestamp": "NOW", "X-Slack-Signature": "v0=é"},
        {"X-Slack-Signature": "v0=ÿÿÿ"},
    ],
)
async def test_slack_requests_whose_signature_cannot_be_checked_get_401(
    bot: EdgeBot, caplog: pytest.LogCaptureFixture, headers: dict[str, str]
) -> None:
    body = bot.signer.command("12s on forged things", user="U0MAL", channel="C0GENERAL")
    if headers.get("X-Slack-Request-Timestamp") == "NOW":
        headers = bot.signer.headers(body) | {"X-Slack-Signature": "v0=é" + "a" * 63}
    latin = {k: v.encode().decode("latin-1") for k, v in headers.items()}  # as bytes on the wire
    status = await bot.post_slack(body, headers=latin, signed=False)
    assert status == 401
    assert logged_tracebacks(caplog) == []
    assert bot.events == []


async def test_slack_still_refuses_a_stale_timestamp(bot: EdgeBot) -> None:
    body = bot.signer.command("12s on old things", user="U0OLD", channel="C0GENERAL")
    stale = bot.signer.headers(body, timestamp=int(time.time()) - 301)
    assert await bot.post_slack(body, headers=stale, signed=False) == 401


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "body",
    [
        b'{"payload": 1}',
        b'{"payload": {"type": "block_actions"}}',
        b'{"payload": null, "type": "event_callback"}',
        ('{"type": "event_callback", "event": ' + _deep(100_000) + "}").encode(),
        ('{"a": ' + _deep(900) + "}").encode(),
        b"payload=" + quote(_deep(100_000)).encode(),
        b"payload=not%20json%20at%20all",
        b"payload=" + quote('{"type": "block_actions", "actions": [' + _deep(2000) + "]}").encode(),
        urlencode({"command": "/make", "text": "x\x00y", "team_id": "\x00"}).encode(),
        b'{"type": "url_verification", "challenge": ' + _deep(50_000).encode() + b"}",
        b'{"type": "event_callback", "event": {"type": "message", "text": 1e999}}',
    ],
)
async def test_signed_but_malformed_slack_bodies_get_a_4xx_or_a_quiet_200(
    bot: EdgeBot, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    status = await bot.post_slack(body)
    assert status in (200, 400, 404), status
    await bot.slack.drain(5)
    assert logged_tracebacks(caplog) == []
    assert bot.events == []


# --- Telegram webhook ---------------------------------------------------------------------------


def _with_date(bot: EdgeBot, date: object, text: str = SECRET_TEXT) -> dict[str, object]:
    update = bot.telegram_fake.message_update(private_chat(ADA), ADA, text)
    update["message"]["date"] = date
    return update


@pytest.mark.parametrize("date", [1e300, 2**63, -(2**63), 10**20, "yesterday", None, [1], 1e-300])
async def test_telegram_webhook_updates_with_impossible_dates_are_refused_quietly(
    bot: EdgeBot, caplog: pytest.LogCaptureFixture, date: object
) -> None:
    status = await bot.post_telegram(json.dumps(_with_date(bot, date)).encode())
    assert status in (200, 400)
    await _still_answers(bot)
    assert logged_tracebacks(caplog) == []
    assert SECRET_TEXT not in caplog.text


@pytest.mark.parametrize(
    "patch",
    [
        {"chat": {"id": "five", "type": "private"}},
        {"chat": {"id": 2**70, "type": "private"}},
        {"from": {"id": 1.5, "is_bot": False, "first_name": "A"}},
        {"from": "someone"},
        {"entities": [{"type": "bot_command", "offset": "x", "length": None}]},
        {"entities": "all of them"},
        {"message_thread_id": 1e300, "is_topic_message": True},
        {"reply_to_message": {"message_id": 1, "date": 1e300, "chat": {"id": 1, "type": "x"}}},
    ],
)
async def test_telegram_webhook_updates_with_wrong_types_are_refused_quietly(
    bot: EdgeBot, caplog: pytest.LogCaptureFixture, patch: dict[str, object]
) -> None:
    update = bot.telegram_fake.message_update(private_chat(ADA), ADA, "/help " + SECRET_TEXT)
    update["message"] |= patch
    status = await bot.post_telegram(json.dumps(update).encode())
    assert status in (200, 400)
    await _still_answers(bot)
    assert logged_tracebacks(caplog) == []
    assert SECRET_TEXT not in caplog.text


async def test_telegram_webhook_checks_its_secret(bot: EdgeBot) -> None:
    body = json.dumps(bot.telegram_fake.message_update(private_chat(ADA), ADA, "/help")).encode()
    assert await bot.post_telegram(body, secret=None) == 403
    assert await bot.post_telegram(body, secret="not-the-secret") == 403
    assert await bot.post_telegram(body, secret="é") == 403
    await asyncio.sleep(0.1)
    assert bot.events == []


# --- Telegram long polling: one poison update -----------------------------------------------------


async def test_a_poison_update_is_skipped_once_and_polling_goes_on(
    redis_conn: redis.Redis, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with edge_bot(redis_conn, data_dir, webhook=False) as bot:
        fake = bot.telegram_fake
        poison = fake.push_update({"message": _with_date(bot, 1e300)["message"]})
        fake.push_update({"message": _with_date(bot, 2**63)["message"]})
        fake.push_update(fake.message_update(private_chat(ADA), ADA, "/help"))
        await fake.wait_text("/make <idea>")
        polls = len(fake.sent("getUpdates"))
        await asyncio.sleep(0.5)
        assert len(fake.sent("getUpdates")) - polls < 5  # long polling again, not a busy loop
        assert bot.telegram.connected
    assert polls < 10
    assert logged_tracebacks(caplog) == []
    assert SECRET_TEXT not in caplog.text
    skipped = [r for r in caplog.records if f"update {poison['update_id']}" in r.getMessage()]
    assert len(skipped) == 1, [r.getMessage() for r in skipped]
    assert [e.kind for e in bot.events] == ["command"]


# --- media links --------------------------------------------------------------------------------


def _video(data_dir: Path) -> Path:
    video = data_dir / "media" / "T1" / "p1" / "video.mp4"
    video.parent.mkdir(parents=True, exist_ok=True)
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    return video


@pytest.mark.parametrize(
    "payload",
    [
        b"soon:media/T1/p1/video.mp4",
        b"1e20:media/T1/p1/video.mp4",
        b"-5:media/T1/p1/video.mp4",
        b"\xd9\xa3\xd9\xa3:media/T1/p1/video.mp4",
        b"9" * 5000 + b":media/T1/p1/video.mp4",
        b"99999999999:media/T1/p1/vid\x00eo.mp4",
        b"99999999999:media/T1/p1/" + b"a" * 5000 + b".mp4",
        b"99999999999:\xff\xfe",
        b"99999999999",
        b"99999999999:",
        b"99999999999:redis/appendonly.aof",
        b"99999999999:link-secret",
        b"99999999999:../../etc/passwd",
        b"99999999999:media/../redis/appendonly.aof",
        b"99999999999:/etc/passwd",
        b"99999999999:media/T1/p1/notes.txt",
    ],
)
async def test_signed_media_tokens_naming_nothing_servable_are_404(
    bot: EdgeBot, caplog: pytest.LogCaptureFixture, data_dir: Path, payload: bytes
) -> None:
    _video(data_dir)
    (data_dir / "redis").mkdir(exist_ok=True)
    (data_dir / "redis" / "appendonly.aof").write_text("SET secret 1")
    (data_dir / "media" / "T1" / "p1" / "notes.txt").write_text("not a video")
    assert await bot.get(f"/media/{bot.media_token(payload)}/video.mp4") == 404
    assert logged_tracebacks(caplog) == []


@pytest.mark.parametrize(
    "token",
    ["%00", "a.b.c", "....", "!!!!.????", "YQ.%FF%FE", "x" * 5000 + ".y", "é.é", "YQ", ".", "=.="],
)
async def test_unsigned_garbage_media_tokens_are_404(
    bot: EdgeBot, caplog: pytest.LogCaptureFixture, token: str
) -> None:
    assert await bot.get(f"/media/{token}/video.mp4") == 404
    assert logged_tracebacks(caplog) == []


async def test_a_symlink_out_of_the_media_folder_is_not_followed(
    bot: EdgeBot, data_dir: Path
) -> None:
    video = _video(data_dir)
    outside = data_dir / "redis" / "appendonly.mp4"
    outside.parent.mkdir(exist_ok=True)
    outside.write_text("SET secret 1")
    escape = video.with_name("escape.mp4")
    os.symlink(outside, escape)
    token = bot.media_token(b"99999999999:media/T1/p1/escape.mp4")
    assert await bot.get(f"/media/{token}/escape.mp4") == 404
    good = bot.links.url_for(video).removeprefix(bot.url)
    assert await bot.get(good) == 200
    with pytest.raises(ValueError, match="rendered media"):
        bot.links.url_for(outside)
