"""Telegram end to end: real python-telegram-bot against a fake Bot API, real core and Redis.

The render tests add a real `novacast worker` process that posts progress and previews to the
same fake through the adapter's REST side.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis
from aiohttp import web
from pydantic import SecretStr

from adapters import telegram
from adapters.media_links import MediaLinks
from adapters.outbox import Sender, sender_for
from adapters.telegram import TelegramSettings
from adapters.telegram.adapter import StartFailed, TelegramAdapter
from bot.actions import Action, Preview, Progress
from bot.events import Event, ReplyTarget
from bot.project import ProjectState, ProjectStore
from novacast.server import build_app, media_links
from novacast.wiring import build_engine
from pipeline.settings import Settings, load_settings
from tests.fakes.telegram import (
    BOT_USERNAME,
    HOSTILE_BODIES,
    STICKER,
    TOKEN,
    Call,
    FakeTelegram,
    group_chat,
    private_chat,
    user,
)
from tests.workers_support import worker_process

SECRET = "s3cret-token_for-tests"
ADA = user(1001, "Ada", "ada")
BOB = user(1002, "Bob", "bob")
GROUP = group_chat(-1001234567890)


@dataclass
class Harness:
    """The bot as `novacast bot` runs it: the adapter, its routes on the real server app."""

    fake: FakeTelegram
    adapter: TelegramAdapter
    events: list[Event] = field(default_factory=list)
    url: str = ""


def _settings(fake: FakeTelegram, webhook_url: str | None) -> TelegramSettings:
    values: dict[str, Any] = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": fake.url}
    if webhook_url:
        values |= {"TELEGRAM_WEBHOOK_URL": webhook_url, "TELEGRAM_WEBHOOK_SECRET": SECRET}
    return TelegramSettings(**values)


def _links(conn: redis.Redis, data_dir: Path) -> MediaLinks:
    return media_links(Settings(NOVACAST_DATA_DIR=str(data_dir)), conn)


@asynccontextmanager
async def running_bot(
    fake: FakeTelegram, conn: redis.Redis, data_dir: Path, *, webhook: bool = False
) -> AsyncIterator[Harness]:
    engine = build_engine(conn)
    events: list[Event] = []

    async def dispatch(event: Event) -> list[Action]:
        events.append(event)
        return await asyncio.to_thread(engine.handle, event)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = _settings(fake, f"{url}/telegram/webhook" if webhook else None)
    links = _links(conn, data_dir)
    adapter = telegram.from_settings(settings, dispatch, conn, links)
    assert isinstance(adapter, TelegramAdapter)
    runner = web.AppRunner(build_app(conn, [adapter], links))
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        async with adapter:
            yield Harness(fake, adapter, events, url)
    finally:
        await runner.cleanup()


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as api:
        yield api


@pytest.fixture(autouse=True)
def _no_token_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    assert TOKEN not in caplog.text
    assert TOKEN.split(":")[1] not in caplog.text


def _data(call: Call, label: str) -> str:
    """The callback data of the button labelled `label` in a sent message's keyboard."""
    rows = call.params["reply_markup"]["inline_keyboard"]
    found = [b["callback_data"] for row in rows for b in row if b["text"] == label]
    assert found, f"no {label!r} button in {rows}"
    return str(found[0])


async def _draft(h: Harness, chat: dict[str, Any], sender: dict[str, Any], text: str) -> Call:
    """Send `/make ...` and return the draft message the bot posted (the one with Render)."""
    before = len(h.fake.sent("sendMessage"))
    h.fake.push_update(h.fake.message_update(chat, sender, text))
    calls = await h.fake.wait_for("sendMessage", before + 1)
    draft = calls[-1]
    assert "reply_markup" in draft.params, draft.params
    return draft


# --- fast: no worker ----------------------------------------------------------------------------


async def test_start_registers_commands_and_polls(
    fake: FakeTelegram, redis_conn: redis.Redis, data_dir: Path
) -> None:
    async with running_bot(fake, redis_conn, data_dir) as h:
        (commands,) = fake.sent("setMyCommands")
        names = [c["command"] for c in commands.params["commands"]]
        assert names == ["make", "status", "schedules", "assets", "help"]
        assert fake.sent("deleteWebhook")
        assert h.adapter.connected
        fake.push_update(fake.message_update(private_chat(ADA), ADA, "/help"))
        call = await fake.wait_text("/make <idea>")
        assert call.params["chat_id"] == ADA["id"]
        assert fake.sent("getUpdates")
    assert not h.adapter.connected


async def test_draft_has_inline_keyboard_and_refinement_in_private_chat(
    fake: FakeTelegram, redis_conn: redis.Redis, data_dir: Path
) -> None:
    async with running_bot(fake, redis_conn, data_dir) as h:
        draft = await _draft(h, private_chat(ADA), ADA, "/make 10s on why cats purr")
        labels = [b["text"] for row in draft.params["reply_markup"]["inline_keyboard"] for b in row]
        assert labels == ["Render", "Revise", "Cancel"]
        assert all(len(_data(draft, label).encode()) <= 64 for label in labels)
        fake.push_update(fake.message_update(private_chat(ADA), ADA, "more formal"))
        await fake.wait_text("v2")
        (event,) = [e for e in h.events if e.kind == "message"]
        assert event.conversation.workspace == str(ADA["id"])
        assert event.conversation.user_name == "Ada"
        assert event.event_id.startswith("tg:")


async def test_groups_only_hear_what_is_addressed_to_the_bot(
    fake: FakeTelegram, redis_conn: redis.Redis, data_dir: Path
) -> None:
    async with running_bot(fake, redis_conn, data_dir) as h:
        for text in ("/make 10s on cats", "/make@other_bot 10s on cats", "nice weather"):
            fake.push_update(fake.message_update(GROUP, ADA, text))
        draft = await _draft(h, GROUP, ADA, f"/make@{BOT_USERNAME} 10s on why cats purr")
        assert [e.kind for e in h.events] == ["command"]
        reply_to = fake.message(draft)
        fake.push_update(fake.message_update(GROUP, ADA, "more formal", reply_to=reply_to))
        fake.push_update(fake.message_update(GROUP, ADA, f"@{BOT_USERNAME} add a joke at the end"))
        await fake.wait_text("v3")
        assert [e.kind for e in h.events] == ["command", "message", "message"]


async def test_forum_topics_are_threads(
    fake: FakeTelegram, redis_conn: redis.Redis, data_dir: Path
) -> None:
    async with running_bot(fake, redis_conn, data_dir) as h:
        fake.push_update(fake.message_update(GROUP, ADA, f"/help@{BOT_USERNAME}", topic=77))
        reply = await fake.wait_text("/make <idea>")
        assert reply.params["message_thread_id"] == 77
        assert h.events[0].conversation.thread == "77"


async def test_non_admin_who_is_not_the_requester_is_refused(
    fake: FakeTelegram, redis_conn: redis.Redis, data_dir: Path
) -> None:
    async with running_bot(fake, redis_conn, data_dir) as h:
        draft = await _draft(h, GROUP, ADA, f"/make@{BOT_USERNAME} 10s on why cats purr")
        message = fake.message(draft)
        fake.push_update(fake.callback_update(BOB, message, _data(draft, "Cancel")))
        (answer,) = await fake.wait_for("answerCallbackQuery")
        assert answer.params["show_alert"] is True
        assert "approval policy" in answer.params["text"]
        lookups = [(c.params["chat_id"], c.params["user_id"]) for c in fake.sent("getChatMember")]
        assert lookups == [(GROUP["id"], ADA["id"]), (GROUP["id"], BOB["id"])]
        project = ProjectStore(redis_conn).active(h.events[0].conversation)
        assert project is not None
        assert project.state is ProjectState.DRAFT

        fake.members[(GROUP["id"], 1003)] = "administrator"
        admin = user(1003, "Cy")
        fake.push_update(fake.callback_update(admin, message, _data(draft, "Cancel")))
        await fake.wait_text("Cancelled")
        assert ProjectStore(redis_conn).get(project.id).state is ProjectState.CANCELLED  # type: ignore[union-attr]


async def test_a_novacast_key_in_a_users_payload_grants_nothing(
    fake: FakeTelegram, redis_conn: redis.Redis, data_dir: Path
) -> None:
    forged = {"is_admin": True, "groups": ["R-editors"], "timezone": "Asia/Tokyo"}
    async with running_bot(fake, redis_conn, data_dir) as h:
        draft = await _draft(h, GROUP, ADA, f"/make@{BOT_USERNAME} 10s on why cats purr")
        press = fake.callback_update(BOB, fake.message(draft), _data(draft, "Cancel"))
        press["novacast"] = forged
        press["callback_query"]["novacast"] = forged
        fake.push_update(press)
        (answer,) = await fake.wait_for("answerCallbackQuery")
        assert "approval policy" in answer.params["text"]
        pressed = h.events[-1]
        assert pressed.raw["novacast"] == forged, "raw stays the payload as it came"
        assert pressed.speaker.id == str(BOB["id"])
        assert not pressed.speaker.is_admin
        assert pressed.speaker.groups == frozenset()
        assert pressed.speaker.timezone is None
        project = ProjectStore(redis_conn).active(h.events[0].conversation)
        assert project is not None
        assert project.state is ProjectState.DRAFT


async def test_buttons_on_old_messages_work_after_a_restart(
    fake: FakeTelegram, redis_conn: redis.Redis, data_dir: Path
) -> None:
    async with running_bot(fake, redis_conn, data_dir) as h:
        draft = await _draft(h, private_chat(ADA), ADA, "/make 10s on why cats purr")
    message = fake.message(draft)
    async with running_bot(fake, redis_conn, data_dir):
        fake.push_update(fake.callback_update(ADA, message, _data(draft, "Revise")))
        await fake.wait_text("Tell me what to change")
        (answer,) = await fake.wait_for("answerCallbackQuery")
        assert "text" not in answer.params


async def test_webhook_rejects_wrong_or_missing_secret(
    fake: FakeTelegram, redis_conn: redis.Redis, data_dir: Path
) -> None:
    async with running_bot(fake, redis_conn, data_dir, webhook=True) as h:
        (hook,) = fake.sent("setWebhook")
        assert hook.params["secret_token"] == SECRET
        assert hook.params["url"] == f"{h.url}/telegram/webhook"
        assert not fake.sent("getUpdates")
        update = fake.message_update(private_chat(ADA), ADA, "/help")
        assert await fake.deliver(update, secret="wrong") == 403
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{h.url}/telegram/webhook", json=update) as response,
        ):
            assert response.status == 403
        await asyncio.sleep(0.2)
        assert h.events == []
        assert not fake.sent("sendMessage")
        assert await fake.deliver(update) == 200
        await fake.wait_text("/make <idea>")


async def test_the_same_update_delivered_twice_is_handled_once(
    fake: FakeTelegram, redis_conn: redis.Redis, data_dir: Path
) -> None:
    async with running_bot(fake, redis_conn, data_dir, webhook=True) as h:
        update = fake.message_update(private_chat(ADA), ADA, "/make 10s on why cats purr")
        statuses = await asyncio.gather(fake.deliver(update), fake.deliver(update))
        assert list(statuses) == [200, 200]
        await fake.wait_for("sendMessage")
        await _quiet(h, events=2)
        assert len(fake.sent("sendMessage")) == 1
        assert len(redis_conn.keys("novacast:project:*")) == 1


async def _quiet(h: Harness, events: int, timeout: float = 10) -> None:
    """Wait until the core has seen `events` events and a short while has passed with no call."""
    deadline = time.monotonic() + timeout
    while len(h.events) < events or time.monotonic() - h.fake.calls[-1].at < 0.3:
        assert time.monotonic() < deadline, f"saw {len(h.events)} events, wanted {events}"
        await asyncio.sleep(0.05)


async def test_malformed_webhook_bodies_are_4xx_or_skipped_never_500(
    fake: FakeTelegram, redis_conn: redis.Redis, data_dir: Path
) -> None:
    async with running_bot(fake, redis_conn, data_dir, webhook=True) as h:
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        hook = f"{h.url}/telegram/webhook"
        statuses = []
        async with aiohttp.ClientSession(headers=headers) as session:
            for body in [*HOSTILE_BODIES, b'{"update_id": 17, "x": "' + b"a" * 1024 * 1024 + b'"}']:
                async with session.post(hook, data=io.BytesIO(body)) as response:
                    statuses.append(response.status)
        assert all(s < 500 for s in statuses), statuses
        assert statuses[-1] == 413
        assert statuses[:4] == [400, 400, 400, 400]
        update = fake.message_update(private_chat(ADA), ADA, "/help")
        assert await fake.deliver(update) == 200
        await fake.wait_text("/make <idea>")
        answers = fake.sent("answerCallbackQuery")
        assert [str(a.params["callback_query_id"]) for a in answers] == ["2"]
        assert len(fake.sent("sendMessage")) == 1


async def test_malformed_polled_updates_are_skipped(
    fake: FakeTelegram, redis_conn: redis.Redis, data_dir: Path
) -> None:
    async with running_bot(fake, redis_conn, data_dir) as h:
        fake.push_update({"brand_new_kind": {"x": 1}})
        fake.push_update({"edited_message": fake.message_update(GROUP, ADA, "/help")["message"]})
        sticker = fake.message_update(private_chat(ADA), ADA, "x")
        del sticker["message"]["text"]
        fake.push_update({"message": sticker["message"] | {"sticker": STICKER}})
        fake.push_update({"message": {"message_id": 1, "chat": {"id": 5}}})  # no date, no type
        fake.push_update(fake.message_update(private_chat(ADA), ADA, "/help"))
        await fake.wait_text("/make <idea>")
        assert [e.kind for e in h.events] == ["command"]
        assert len(fake.sent("getUpdates")) < 10  # the bad batch was read twice, not forever


async def test_429_is_retried_after_retry_after(
    fake: FakeTelegram, redis_conn: redis.Redis, data_dir: Path
) -> None:
    async with running_bot(fake, redis_conn, data_dir):
        fake.fail_next("sendMessage", 429, retry_after=1)
        fake.push_update(fake.message_update(private_chat(ADA), ADA, "/help"))
        first, second = await fake.wait_for("sendMessage", 2)
        assert second.at - first.at >= 1.0
        assert second.params["text"] == first.params["text"]


async def test_500s_are_retried_then_the_user_is_told(
    fake: FakeTelegram, redis_conn: redis.Redis, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(fake, redis_conn, data_dir):
        fake.fail_next("sendMessage", 500, times=2)
        fake.push_update(fake.message_update(private_chat(ADA), ADA, "/help"))
        calls = await fake.wait_for("sendMessage", 3)
        assert "/make <idea>" in calls[-1].params["text"]

        fake.fail_next("sendMessage", 500, times=4)
        fake.push_update(fake.message_update(private_chat(ADA), ADA, "/help"))
        told = await fake.wait_text("did not accept my reply")
        assert told.params["chat_id"] == ADA["id"]
        assert len(fake.sent("sendMessage")) == 3 + 4 + 1
    assert "could not deliver a say on Telegram" in caplog.text


@pytest.fixture
def worker_sender(
    fake: FakeTelegram, redis_conn: redis.Redis, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Sender]:
    """The worker's side, as `sender_for` builds it: credentials from the environment only."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_API_URL", fake.url)
    monkeypatch.setenv("NOVACAST_PUBLIC_URL", "https://novacast.example")
    assert os.environ["NOVACAST_DATA_DIR"] == str(data_dir)
    load_settings.cache_clear()
    yield sender_for(TARGET, redis_conn)
    load_settings.cache_clear()


TARGET = ReplyTarget(adapter="telegram", workspace="1001", channel="1001")


async def test_worker_side_progress_is_one_message_edited_in_place(
    fake: FakeTelegram, worker_sender: Sender
) -> None:
    for stage, percent in (("voice", 5), ("voice", 20), ("video", 50), ("video", 50)):
        action = Progress(target=TARGET, key="ab12:v1", stage=stage, percent=percent)
        await asyncio.to_thread(worker_sender.send, action)  # "not modified" is not an error
    assert len(fake.sent("sendMessage")) == 1
    edits = fake.sent("editMessageText")
    assert len(edits) == 3
    assert {e.params["message_id"] for e in edits} == {1}
    assert fake.messages[(1001, 1)]["text"].startswith("⏳ Rendering: video — 50%")


async def test_worker_side_previews_fall_back_to_a_signed_link(
    fake: FakeTelegram, worker_sender: Sender, data_dir: Path
) -> None:
    folder = data_dir / "media" / "1001" / "ab12"
    folder.mkdir(parents=True)
    big, small = folder / "big.mp4", folder / "small.mp4"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024 + 1)
    small.write_bytes(b"\0\0\0\x18ftypmp42" + b"\0" * 20_000)
    await asyncio.to_thread(worker_sender.send, Preview(target=TARGET, path=str(big), caption="v1"))
    assert not fake.sent("sendVideo")
    link = fake.sent("sendMessage")[-1].params["text"]
    assert "50 MB upload limit" in link
    assert "https://novacast.example/media/" in link

    fake.fail_next("sendVideo", 500, times=4)
    await asyncio.to_thread(
        worker_sender.send, Preview(target=TARGET, path=str(small), caption="v2")
    )
    assert len(fake.sent("sendVideo")) == 4
    told = fake.sent("sendMessage")[-1].params["text"]
    assert "would not take the upload" in told
    assert "/media/" in told


# --- slow: a real worker renders real media -----------------------------------------------------


@pytest.fixture
async def render_worker(
    fake: FakeTelegram, redis_url: str, redis_conn: redis.Redis, data_dir: Path
) -> AsyncIterator[None]:
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": fake.url}
    with worker_process(redis_url, data_dir, env):
        yield


def _is_mp4(data: bytes) -> bool:
    return len(data) > 10_000 and data[4:8] == b"ftyp"


@pytest.mark.slow
async def test_full_flow_make_refine_render_preview_approve_publish(
    fake: FakeTelegram, redis_conn: redis.Redis, data_dir: Path, render_worker: None
) -> None:
    chat = private_chat(ADA)
    async with running_bot(fake, redis_conn, data_dir) as h:
        await _draft(h, chat, ADA, "/make 10s on why cats purr")
        fake.push_update(fake.message_update(chat, ADA, "more formal"))
        v2 = await fake.wait_text("v2")
        fake.push_update(fake.callback_update(ADA, fake.message(v2), _data(v2, "Render")))
        videos = await fake.wait_for("sendVideo", 2, timeout=150)
        assert all(_is_mp4(v.files["video"]) for v in videos)
        assert all(v.params["supports_streaming"] is True for v in videos)
        ask = await fake.wait_text("Happy with it?")
        progress = [c for c in fake.sent("sendMessage") if "Rendering" in c.params["text"]]
        assert len(progress) == 1
        edits = fake.sent("editMessageText")
        assert len(edits) >= 3
        assert {e.params["message_id"] for e in edits} == {fake.message(progress[0])["message_id"]}
        assert any("✅" in e.params["text"] for e in edits)
        approve = fake.callback_update(ADA, fake.message(ask), _data(ask, "Approve & publish"))
        fake.push_update(approve)
        await fake.wait_text("Published", timeout=60)
    published = list((data_dir / "published" / str(ADA["id"])).glob("*.mp4"))
    assert len(published) == 1
    assert len(fake.sent("answerCallbackQuery")) == 2
    assert json.loads(published[0].with_suffix(".json").read_text())["version"] == 2
    worker_logs = "".join(p.read_text(errors="replace") for p in (data_dir / "logs").iterdir())
    assert TOKEN.split(":")[1] not in worker_logs


@pytest.mark.slow
async def test_group_approve_refused_for_others_and_once_across_replicas_after_restart(
    fake: FakeTelegram, redis_conn: redis.Redis, data_dir: Path, render_worker: None
) -> None:
    async with running_bot(fake, redis_conn, data_dir, webhook=True):
        make = fake.message_update(GROUP, ADA, f"/make@{BOT_USERNAME} 10s on why cats purr")
        assert await fake.deliver(make) == 200
        (draft,) = await fake.wait_for("sendMessage")
        render = fake.callback_update(ADA, fake.message(draft), _data(draft, "Render"))
        assert await fake.deliver(render) == 200
        ask = await fake.wait_text("Happy with it?", timeout=150)
        approve = _data(ask, "Approve & publish")
        assert await fake.deliver(fake.callback_update(BOB, fake.message(ask), approve)) == 200
        refused = (await fake.wait_for("answerCallbackQuery", 2))[1]
        assert refused.params["show_alert"] is True
        assert "approval policy" in refused.params["text"]
    assert not (data_dir / "published").exists()

    async with (
        running_bot(fake, redis_conn, data_dir, webhook=True) as one,
        running_bot(fake, redis_conn, data_dir, webhook=True) as two,
    ):
        presses = [fake.callback_update(ADA, fake.message(ask), approve) for _ in range(2)]
        statuses = await asyncio.gather(
            fake.deliver(presses[0], url=f"{one.url}/telegram/webhook"),
            fake.deliver(presses[1], url=f"{two.url}/telegram/webhook"),
        )
        assert list(statuses) == [200, 200]
        await fake.wait_text("Published", timeout=60)
        await fake.wait_for("answerCallbackQuery", 4)
    approvals = [c for c in fake.sent("sendMessage") if "Approved by" in c.params["text"]]
    assert len(approvals) == 1
    published = list((data_dir / "published" / str(GROUP["id"])).glob("*.mp4"))
    assert len(published) == 1


async def _ignore(_event: Event) -> list[Action]:
    return []


def test_from_settings_needs_a_token_and_a_secret_for_webhooks(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    links = _links(redis_conn, data_dir)
    assert telegram.from_settings(TelegramSettings(), _ignore, redis_conn, links) is None
    hook = TelegramSettings(TELEGRAM_BOT_TOKEN=SecretStr(TOKEN), TELEGRAM_WEBHOOK_URL="https://x/h")
    with pytest.raises(ValueError, match="TELEGRAM_WEBHOOK_SECRET") as refused:
        telegram.from_settings(hook, _ignore, redis_conn, links)
    assert TOKEN not in str(refused.value)


async def test_a_rejected_token_fails_start_plainly(
    fake: FakeTelegram, redis_conn: redis.Redis, data_dir: Path
) -> None:
    settings = _settings(fake, None).model_copy(
        update={"bot_token": SecretStr("999:not-the-token")}
    )

    adapter = telegram.from_settings(settings, _ignore, redis_conn, _links(redis_conn, data_dir))
    assert adapter is not None
    with pytest.raises(StartFailed, match="rejected TELEGRAM_BOT_TOKEN") as refused:
        async with adapter:
            pass
    assert "not-the-token" not in repr(refused.value)
    assert refused.value.__context__ is None or refused.value.__suppress_context__
    assert not adapter.connected
