"""PTB's Bot over our aiohttp transport (`adapters.telegram.transport.AiohttpRequest`) against the
fake Bot API: the requests it sends are the ones the Bot API reads (form fields, multipart
uploads, downloads), PTB still maps the answers to its errors, and transport failures say
nothing of the URL (which carries the token)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from adapters.telegram.transport import AiohttpRequest
from tests.fakes.telegram import TOKEN, FakeTelegram, private_chat, user

ADA = user(1001, "Ada", "ada")


def _bot(root: str, request: AiohttpRequest | None = None) -> Bot:
    return Bot(
        TOKEN,
        base_url=f"{root}/bot",
        base_file_url=f"{root}/file/bot",
        request=request or AiohttpRequest(4),
        get_updates_request=AiohttpRequest(1),
    )


@contextlib.asynccontextmanager
async def started(root: str, request: AiohttpRequest | None = None) -> AsyncIterator[Bot]:
    bot = _bot(root, request)
    async with bot:
        yield bot


async def test_a_message_with_a_keyboard_is_sent_as_the_bot_api_reads_it() -> None:
    async with FakeTelegram() as fake, started(fake.url) as bot:
        fake.message_update(private_chat(ADA), ADA, "hi")  # the fake knows the chat
        keys = InlineKeyboardMarkup([[InlineKeyboardButton("Render", callback_data="nc1:r:1")]])
        sent = await bot.send_message(1001, "Draft v1 · “Cats” & more", reply_markup=keys)
        (call,) = fake.sent("sendMessage")
    assert call.params["chat_id"] == 1001
    assert call.params["text"] == "Draft v1 · “Cats” & more"
    assert call.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "Render", "callback_data": "nc1:r:1"}]]
    }
    assert sent.text == "Draft v1 · “Cats” & more"


async def test_uploads_go_as_multipart_and_downloads_come_back_whole() -> None:
    photo = b"\xff\xd8\xff" + bytes(range(256)) * 40
    async with FakeTelegram() as fake, started(fake.url) as bot:
        fake.message_update(private_chat(ADA), ADA, "hi")
        await bot.send_photo(1001, photo, caption="a still", filename="still.jpg")
        (call,) = fake.sent("sendPhoto")
        stored = fake.add_file(photo)
        file = await bot.get_file(stored.file_id)
        downloaded = await file.download_as_bytearray()
    assert call.files["photo"] == photo
    assert call.params["caption"] == "a still"
    assert bytes(downloaded) == photo


async def test_bot_api_errors_are_still_ptbs() -> None:
    async with FakeTelegram() as fake, started(fake.url) as bot:
        fake.message_update(private_chat(ADA), ADA, "hi")
        fake.fail_next("sendMessage", 429, retry_after=3)
        with pytest.raises(RetryAfter):
            await bot.send_message(1001, "x")
        with pytest.raises(BadRequest):
            await bot.send_message(1001, "")  # the Bot API refuses an empty text


async def test_an_unreachable_api_is_a_network_error_that_names_no_url() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    bot = _bot(f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(NetworkError) as raised:
            await bot.initialize()  # getMe
    finally:
        await bot.shutdown()
    assert TOKEN not in str(raised.value)
    assert "127.0.0.1" not in str(raised.value)


async def test_an_api_that_never_answers_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    bot = _bot(f"http://127.0.0.1:{port}", AiohttpRequest(2, read_timeout=0.3))
    try:
        with pytest.raises(TimedOut):
            await bot.initialize()  # getMe
    finally:
        await bot.shutdown()
        server.close()
        await server.wait_closed()
