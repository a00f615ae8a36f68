"""Files users send, and the storyboard picture sent back: Telegram, Slack and Discord.

The real SDKs (python-telegram-bot, Bolt/slack_sdk, discord.py) run the real adapters against
the protocol-faithful fakes, which serve real media made by ffmpeg here: a PNG and a JPEG of
known colours, and a short MP4. An upload arrives at the core as a MessageEvent whose
Attachment is a local file with the same bytes (sha256) and the same facts (PyAV); a file
declared larger than NOVACAST_MAX_UPLOAD_MB is refused in one sentence before any download
request reaches the fake; a Slack file whose url_private points at another host is refused and
that host receives nothing; a Picture action posts the PNG itself, through the registry's sender
for the target's platform (as a worker posts).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from aiohttp import ClientSession, web

from adapters import discord, slack, telegram
from adapters.discord import DiscordSettings
from adapters.incoming import Fetcher, Offered, UploadSettings, local_suffix, same_origin
from adapters.media_links import MediaLinks
from adapters.outbox import sender_for
from adapters.slack import SlackSettings
from adapters.telegram import TelegramSettings
from adapters.telegram.adapter import TelegramAdapter
from bot.actions import Action, Picture
from bot.engine import Engine
from bot.events import Attachment, Event, MessageEvent, ReplyTarget
from novacast.server import build_app, media_links
from pipeline.ffmpeg import run_ffmpeg
from pipeline.media.assets import AssetStore
from pipeline.probe import frame_at, probe
from pipeline.settings import Settings, load_settings
from pipeline.writers.choose import writer_from_env
from policy import load_policy
from tests.fakes.discord import GUILD_ID, FakeDiscord
from tests.fakes.slack import FakeSlack, SlackSigner, file_share
from tests.fakes.telegram import BOT_USERNAME, FakeTelegram, group_chat, private_chat, user
from tests.fakes.telegram import TOKEN as TG_TOKEN
from workers.queues import RQJobQueue

ORANGE = (255, 128, 0)
TEAL = (0, 128, 128)
WIDTH, HEIGHT = 320, 568
GB = 1024**3


# --- media made by ffmpeg ---------------------------------------------------------------------


@dataclass(frozen=True)
class Media:
    png: Path
    """320x568, orange."""
    jpeg: Path
    """320x568, teal (what Telegram makes of a photo)."""
    thumb: Path
    """90x160 teal JPEG: Telegram's smallest photo size."""
    mp4: Path
    """320x568, 1 s, H.264, teal."""


def _colour(rgb: tuple[int, int, int]) -> str:
    return "0x{:02x}{:02x}{:02x}".format(*rgb)


def _still(out: Path, rgb: tuple[int, int, int], size: str) -> Path:
    run_ffmpeg(
        ["-f", "lavfi", "-i", f"color=c={_colour(rgb)}:s={size}:d=1", "-frames:v", "1",
         "-y", str(out)],
        duration=0.04,
    )
    return out


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    folder = tmp_path_factory.mktemp("upload-media")
    mp4 = folder / "clip.mp4"
    run_ffmpeg(
        ["-f", "lavfi", "-i", f"color=c={_colour(TEAL)}:s={WIDTH}x{HEIGHT}:d=1:r=25",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-y", str(mp4)],
        duration=1.0,
    )
    return Media(
        png=_still(folder / "orange.png", ORANGE, f"{WIDTH}x{HEIGHT}"),
        jpeg=_still(folder / "teal.jpg", TEAL, f"{WIDTH}x{HEIGHT}"),
        thumb=_still(folder / "thumb.jpg", TEAL, "90x160"),
        mp4=mp4,
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_same_file(attachment: Attachment, original: Path, codec: str) -> None:
    """The attachment is a local file under the incoming folder with the original's bytes and
    facts (codec, size, the colour in the middle)."""
    assert attachment.path, attachment.refused
    local = Path(attachment.path)
    assert local.is_relative_to(load_settings().data_dir / "incoming")
    assert sha256(local.read_bytes()) == sha256(original.read_bytes())
    assert attachment.size_bytes == original.stat().st_size
    facts, expected = probe(local), probe(original)
    assert facts.video_codec == codec
    assert (facts.width, facts.height) == (expected.width, expected.height)
    middle = frame_at(local, 0.0)[HEIGHT // 2, WIDTH // 2].astype(int)
    assert np.abs(middle - frame_at(original, 0.0)[HEIGHT // 2, WIDTH // 2]).max() <= 4


def assert_is_picture(data: bytes, folder: Path, rgb: tuple[int, int, int]) -> None:
    """`data` is a real PNG/JPEG of WIDTHxHEIGHT whose middle is `rgb`."""
    path = folder / f"received-{sha256(data)[:8]}"
    path.write_bytes(data)
    facts = probe(path)
    assert facts.video_codec in ("png", "mjpeg")
    assert (facts.width, facts.height) == (WIDTH, HEIGHT)
    middle = frame_at(path, 0.0)[HEIGHT // 2, WIDTH // 2].astype(int)
    assert np.abs(middle - np.array(rgb)).max() <= 4


@pytest.fixture
def incoming(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The data dir's settings for the fetchers (load_settings reads the environment anew)."""
    monkeypatch.setenv("NOVACAST_MAX_UPLOAD_MB", "5")
    load_settings.cache_clear()
    yield data_dir / "incoming"
    load_settings.cache_clear()


@pytest.fixture(autouse=True)
def _no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Telegram file URLs carry the token and Slack downloads the bearer: neither is logged."""
    caplog.set_level(logging.DEBUG)
    yield
    for secret in (TG_TOKEN, TG_TOKEN.split(":")[1], SLACK_TOKEN, DISCORD_TOKEN):
        assert secret not in caplog.text


def links(conn: redis.Redis, data_dir: Path) -> MediaLinks:
    return media_links(Settings(NOVACAST_DATA_DIR=str(data_dir)), conn)


def post_as_a_worker(action: Action, conn: redis.Redis) -> None:
    """What a worker does: the registry's sender for the target's platform (which refuses an
    action type the platform does not declare)."""
    load_settings.cache_clear()
    sender_for(action.target, conn).send(action)


class Core:
    """Stands where the core is: records every event, answers nothing."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.arrived = asyncio.Event()

    async def __call__(self, event: Event) -> list[Action]:
        self.events.append(event)
        self.arrived.set()
        return []

    async def next_message(self, timeout: float = 20) -> MessageEvent:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events if isinstance(e, MessageEvent)]
            if found:
                self.events.remove(found[0])
                return found[0]
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), deadline - time.monotonic())
            except TimeoutError:
                break
        raise AssertionError(f"no message event reached the core; saw {self.events}")


# --- Telegram ---------------------------------------------------------------------------------

ADA = user(1001, "Ada", "ada")


@asynccontextmanager
async def telegram_bot(
    fake: FakeTelegram, conn: redis.Redis, data_dir: Path
) -> AsyncIterator[tuple[TelegramAdapter, Core]]:
    core = Core()
    settings = TelegramSettings(TELEGRAM_BOT_TOKEN=fake.token, TELEGRAM_API_URL=fake.url)
    adapter = telegram.from_settings(settings, core, conn, links(conn, data_dir))
    assert isinstance(adapter, TelegramAdapter)
    async with adapter:
        yield adapter, core


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as api:
        yield api


async def test_telegram_photo_arrives_as_the_largest_size_with_its_caption(
    tg: FakeTelegram, redis_conn: redis.Redis, data_dir: Path, incoming: Path, media: Media
) -> None:
    thumb, full = tg.add_file(media.thumb.read_bytes()), tg.add_file(media.jpeg.read_bytes())
    async with telegram_bot(tg, redis_conn, data_dir) as (_adapter, core):
        sizes = [(thumb, 90, 160), (full, WIDTH, HEIGHT)]
        tg.push_update(tg.photo_update(private_chat(ADA), ADA, sizes, caption="use this"))
        event = await core.next_message()
    assert event.text == "use this"
    (attachment,) = event.attachments
    assert_same_file(attachment, media.jpeg, "mjpeg")
    assert attachment.mime == "image/jpeg"
    assert Path(attachment.path).parent == incoming / "telegram"
    assert tg.downloads == [full.file_path], "only the largest size is fetched"
    (get_file,) = tg.sent("getFile")
    assert get_file.params["file_id"] == full.file_id


async def test_telegram_video_animation_and_document_arrive_as_files(
    tg: FakeTelegram, redis_conn: redis.Redis, data_dir: Path, incoming: Path, media: Media
) -> None:
    clip = tg.add_file(media.mp4.read_bytes(), "videos", "mp4")
    gif = tg.add_file(media.mp4.read_bytes(), "animations", "mp4")
    png = tg.add_file(media.png.read_bytes(), "documents", "png")
    chat = private_chat(ADA)
    async with telegram_bot(tg, redis_conn, data_dir) as (_adapter, core):
        tg.push_update(tg.media_update(chat, ADA, "video", clip, mime="video/mp4"))
        video = await core.next_message()
        tg.push_update(tg.media_update(chat, ADA, "animation", gif, mime="video/mp4",
                                       name="dance.gif.mp4"))
        animation = await core.next_message()
        tg.push_update(tg.media_update(chat, ADA, "document", png, mime="image/png",
                                       name="../../etc/orange.png", caption="my logo"))
        document = await core.next_message()
    assert_same_file(video.attachments[0], media.mp4, "h264")
    assert_same_file(animation.attachments[0], media.mp4, "h264")
    assert len(animation.attachments) == 1, "an animation's document twin is not fetched twice"
    (logo,) = document.attachments
    assert_same_file(logo, media.png, "png")
    assert document.text == "my logo"
    assert logo.name == "../../etc/orange.png", "the user's name is kept as a label only"
    assert Path(logo.path).parent == incoming / "telegram"
    assert Path(logo.path).suffix == ".png"


async def test_telegram_upload_declared_over_the_cap_is_refused_before_any_request(
    tg: FakeTelegram, redis_conn: redis.Redis, data_dir: Path, incoming: Path, media: Media
) -> None:
    huge = tg.add_file(media.mp4.read_bytes(), "videos", "mp4")
    async with telegram_bot(tg, redis_conn, data_dir) as (_adapter, core):
        started = time.monotonic()
        tg.push_update(tg.media_update(private_chat(ADA), ADA, "video", huge, mime="video/mp4",
                                       name="holiday.mp4", declared=2 * GB))
        event = await core.next_message()
        took = time.monotonic() - started
    (attachment,) = event.attachments
    assert attachment.path == ""
    assert attachment.refused == (
        "“holiday.mp4” is 2.0 GB, more than the 5.0 MB I accept; please send a shorter clip "
        "or a smaller file."
    )
    assert not tg.sent("getFile")
    assert tg.downloads == []
    assert took < 3
    assert not incoming.exists() or not any(incoming.rglob("*"))


async def test_telegram_file_over_the_bot_api_limit_is_refused_in_a_sentence(
    tg: FakeTelegram, redis_conn: redis.Redis, data_dir: Path, incoming: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NOVACAST_MAX_UPLOAD_MB", "200")
    big = tg.add_file(b"\0" * (21 * 1024 * 1024), "videos", "mp4")
    async with telegram_bot(tg, redis_conn, data_dir) as (_adapter, core):
        tg.push_update(tg.media_update(private_chat(ADA), ADA, "video", big, mime="video/mp4"))
        event = await core.next_message()
    assert "Telegram does not let bots download files over 20 MB" in event.attachments[0].refused
    assert tg.downloads == []


async def test_telegram_picture_is_sent_as_a_photo_upload_with_its_caption(
    tg: FakeTelegram, redis_conn: redis.Redis, data_dir: Path, media: Media, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", tg.token)
    monkeypatch.setenv("TELEGRAM_API_URL", tg.url)
    target = ReplyTarget(adapter="telegram", workspace="1001", channel="1001")
    picture = Picture(target=target, path=str(media.png), caption="Storyboard: 3 shots")
    await asyncio.to_thread(post_as_a_worker, picture, redis_conn)
    (call,) = tg.sent("sendPhoto")
    assert call.params["caption"] == "Storyboard: 3 shots"
    assert call.params["chat_id"] == 1001
    assert_is_picture(call.files["photo"], tmp_path, ORANGE)



async def test_telegram_photo_in_a_group_is_fetched_only_when_addressed_to_the_bot(
    tg: FakeTelegram, redis_conn: redis.Redis, data_dir: Path, incoming: Path, media: Media
) -> None:
    group = group_chat(-1001234567890)
    chatter, ours = tg.add_file(media.jpeg.read_bytes()), tg.add_file(media.jpeg.read_bytes())
    async with telegram_bot(tg, redis_conn, data_dir) as (_adapter, core):
        tg.push_update(tg.photo_update(group, ADA, [(chatter, WIDTH, HEIGHT)], caption="lunch"))
        tg.push_update(tg.photo_update(group, ADA, [(ours, WIDTH, HEIGHT)],
                                       caption=f"@{BOT_USERNAME} use this for the intro"))
        event = await core.next_message()
    assert event.text == "use this for the intro"
    assert_same_file(event.attachments[0], media.jpeg, "mjpeg")
    assert tg.downloads == [ours.file_path], "a photo not for the bot is never fetched"
    assert len(core.events) == 0


async def test_telegram_get_file_naming_a_local_path_is_refused_and_nothing_is_copied(
    tg: FakeTelegram, redis_conn: redis.Redis, data_dir: Path, incoming: Path, media: Media,
    tmp_path: Path,
) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(media.png.read_bytes())
    hostile = tg.add_file(media.png.read_bytes(), "documents", "png")
    hostile.file_path = str(secret)  # a Bot API answer naming a file on the bot's own disk
    async with telegram_bot(tg, redis_conn, data_dir) as (_adapter, core):
        tg.push_update(tg.media_update(private_chat(ADA), ADA, "document", hostile,
                                       mime="image/png", name="logo.png"))
        event = await core.next_message()
    assert event.attachments[0].refused == (
        "I couldn't download “logo.png” just now; please send it again."
    )
    assert tg.sent("getFile")
    assert tg.downloads == []
    assert not incoming.exists() or not any(incoming.rglob("*"))


async def test_telegram_photo_through_the_real_core_is_kept_and_acknowledged(
    tg: FakeTelegram, redis_conn: redis.Redis, data_dir: Path, incoming: Path, media: Media
) -> None:
    """The whole way: the real Engine with the asset store keeps the fetched photo."""
    settings = load_settings()
    assets = AssetStore(redis_conn, settings.assets_dir)
    engine = Engine(redis_conn, writer_from_env(redis_conn), RQJobQueue(redis_conn),
                    load_policy(), assets=assets)

    async def dispatch(event: Event) -> list[Action]:
        return await asyncio.to_thread(engine.handle, event)

    photo = tg.add_file(media.jpeg.read_bytes())
    huge = tg.add_file(media.mp4.read_bytes(), "videos", "mp4")
    config = TelegramSettings(TELEGRAM_BOT_TOKEN=tg.token, TELEGRAM_API_URL=tg.url)
    adapter = telegram.from_settings(config, dispatch, redis_conn, links(redis_conn, data_dir))
    assert adapter is not None
    async with adapter:
        tg.push_update(tg.photo_update(private_chat(ADA), ADA, [(photo, WIDTH, HEIGHT)]))
        kept = await tg.wait_text("Got your photo")
        tg.push_update(tg.media_update(private_chat(ADA), ADA, "video", huge, mime="video/mp4",
                                       name="holiday.mp4", declared=2 * GB))
        refused = await tg.wait_text("holiday.mp4")
    assert kept.params["chat_id"] == ADA["id"]
    assert "is 2.0 GB, more than the 5.0 MB I accept" in refused.params["text"]
    (asset,) = assets.list(f"telegram:{ADA['id']}")
    assert asset.sha256 == sha256(media.jpeg.read_bytes())
    assert (asset.width, asset.height) == (WIDTH, HEIGHT)

# --- Slack ------------------------------------------------------------------------------------

SLACK_TOKEN = "xoxb-1111-2222-novacastTESTtoken"
SLACK_SECRET = "5f1c2a9d8e7b6a5f4e3d2c1b0a998877"
ALICE, DM = "U0ALICE", "D0ALICE"


@dataclass
class SlackBot:
    fake: FakeSlack
    signer: SlackSigner
    session: ClientSession
    core: Core

    async def share(self, text: str, shared: list[dict[str, Any]]) -> None:
        body = self.signer.event(file_share(text, shared, user=ALICE, channel=DM))
        status, _ = await self.signer.post(self.session, body)
        assert status == 200


@asynccontextmanager
async def slack_bot(
    fake: FakeSlack, conn: redis.Redis, data_dir: Path
) -> AsyncIterator[SlackBot]:
    """The bot's real HTTP app with the Slack adapter (HTTP events mode) on a free port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = SlackSettings(
        SLACK_BOT_TOKEN=SLACK_TOKEN,
        SLACK_SIGNING_SECRET=SLACK_SECRET,
        SLACK_API_URL=fake.api_url,
        SLACK_FILES_URL=fake.root,
    )
    core = Core()
    link_maker = links(conn, data_dir)
    adapter = slack.from_settings(settings, core, conn, link_maker)
    assert adapter is not None
    runner = web.AppRunner(build_app(conn, [adapter], link_maker))
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        async with adapter, ClientSession() as session:
            yield SlackBot(fake, SlackSigner(SLACK_SECRET, f"{url}/slack/events"), session, core)
    finally:
        await runner.cleanup()


@pytest.fixture
async def sl() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(SLACK_TOKEN) as api:
        yield api


class Elsewhere:
    """Another host on the network: records any request that reaches it."""

    def __init__(self) -> None:
        self.requests: list[web.Request] = []
        self.url = ""

    async def _any(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        return web.Response(body=b"\x89PNG not really", content_type="image/png")

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[Elsewhere]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._any)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        try:
            yield self
        finally:
            await runner.cleanup()


async def test_slack_shared_photo_and_clip_arrive_with_the_bot_token_checked(
    sl: FakeSlack, redis_conn: redis.Redis, data_dir: Path, incoming: Path, media: Media
) -> None:
    photo = sl.share(media.png.read_bytes(), "beach.png", "image/png")
    clip = sl.share(media.mp4.read_bytes(), "waves.mp4", "video/mp4")
    async with slack_bot(sl, redis_conn, data_dir) as bot:
        await bot.share("use these for the intro", [photo, clip])
        event = await bot.core.next_message()
    assert event.text == "use these for the intro"
    first, second = event.attachments
    assert_same_file(first, media.png, "png")
    assert_same_file(second, media.mp4, "h264")
    assert (first.name, first.mime) == ("beach.png", "image/png")
    assert Path(first.path).parent == incoming / "slack"
    assert [r.args["file"] for r in sl.calls("files.info")] == [photo["id"], clip["id"]]
    assert [d.headers["Authorization"] for d in sl.downloads] == [f"Bearer {SLACK_TOKEN}"] * 2
    assert all("/download/" in d.path for d in sl.downloads)


async def test_slack_file_declared_over_the_cap_is_refused_before_any_request(
    sl: FakeSlack, redis_conn: redis.Redis, data_dir: Path, incoming: Path, media: Media
) -> None:
    huge = sl.share(media.mp4.read_bytes(), "raw footage.mov", "video/quicktime", declared=2 * GB)
    async with slack_bot(sl, redis_conn, data_dir) as bot:
        started = time.monotonic()
        await bot.share("", [huge])
        event = await bot.core.next_message()
        took = time.monotonic() - started
    (attachment,) = event.attachments
    assert attachment.refused.startswith("“raw footage.mov” is 2.0 GB, more than the 5.0 MB")
    assert not sl.calls("files.info")
    assert sl.downloads == []
    assert took < 3


async def test_slack_file_whose_url_private_is_another_host_is_refused_and_that_host_hears_nothing(
    sl: FakeSlack, redis_conn: redis.Redis, data_dir: Path, incoming: Path, media: Media
) -> None:
    async with Elsewhere().serving() as elsewhere, slack_bot(sl, redis_conn, data_dir) as bot:
        forged = sl.share(
            media.png.read_bytes(), "cat.png", "image/png",
            url_private=f"{elsewhere.url}/steal?token=",
        )
        await bot.share("here", [forged])
        event = await bot.core.next_message()
        assert elsewhere.requests == []
    (attachment,) = event.attachments
    assert attachment.refused == (
        "“cat.png” isn't stored on Slack, so I didn't fetch it; please upload the file itself."
    )
    assert sl.downloads == []
    assert not incoming.exists() or not any(incoming.rglob("*"))


async def test_slack_file_that_is_not_media_is_left_alone(
    sl: FakeSlack, redis_conn: redis.Redis, data_dir: Path, incoming: Path
) -> None:
    notes = sl.share(b"%PDF-1.4 minutes", "minutes.pdf", "application/pdf")
    async with slack_bot(sl, redis_conn, data_dir) as bot:
        await bot.share("", [notes])
        event = await bot.core.next_message()
    assert event.attachments[0].refused == (
        "“minutes.pdf” isn't a picture or a video, so I left it alone."
    )
    assert sl.downloads == []


async def test_slack_without_the_files_read_scope_says_what_an_admin_can_do(
    sl: FakeSlack, redis_conn: redis.Redis, data_dir: Path, incoming: Path, media: Media
) -> None:
    sl.unscoped["files.info"] = "files:read"
    photo = sl.share(media.png.read_bytes(), "beach.png", "image/png")
    async with slack_bot(sl, redis_conn, data_dir) as bot:
        await bot.share("", [photo])
        event = await bot.core.next_message()
    assert event.attachments[0].refused == (
        "I'm not allowed to read files in this workspace yet, so I couldn't fetch “beach.png”; "
        "an admin can add the files:read permission to the NOVACAST app."
    )
    assert sl.downloads == []


async def test_slack_picture_is_uploaded_into_the_thread_with_its_caption(
    sl: FakeSlack, redis_conn: redis.Redis, data_dir: Path, media: Media, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", SLACK_TOKEN)
    monkeypatch.setenv("SLACK_API_URL", sl.api_url)
    target = ReplyTarget(adapter="slack", workspace="T0TEST", channel="C0GENERAL", thread="171.1")
    picture = Picture(target=target, path=str(media.png), caption="Storyboard: 3 shots")
    await asyncio.to_thread(post_as_a_worker, picture, redis_conn)
    (upload,) = sl.uploads.values()
    assert upload.filename == "orange.png"
    assert upload.completed["channel_id"] == "C0GENERAL"
    assert upload.completed["thread_ts"] == "171.1"
    assert upload.completed["initial_comment"] == "Storyboard: 3 shots"
    assert_is_picture(upload.data, tmp_path, ORANGE)


# --- Discord ----------------------------------------------------------------------------------

DISCORD_TOKEN = "dc-test-token-3f9a7c"


@asynccontextmanager
async def discord_bot(
    fake: FakeDiscord, conn: redis.Redis, data_dir: Path
) -> AsyncIterator[Core]:
    core = Core()
    settings = DiscordSettings.model_validate({
        "DISCORD_BOT_TOKEN": DISCORD_TOKEN,
        "DISCORD_API_URL": fake.api_url,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
        "DISCORD_CDN_URL": fake.root,
    })
    adapter = discord.from_settings(settings, core, conn, links(conn, data_dir))
    assert adapter is not None
    async with adapter:
        yield core


def in_a_dm(fake: FakeDiscord, text: str, attachments: list[dict[str, Any]]) -> dict[str, Any]:
    """A direct message from a user to the bot, with files attached."""
    return fake.message(fake.next_id(), text, fake.dm_user, attachments=attachments)


def run(scenario: Callable[[], Awaitable[None]], timeout: float = 60) -> None:
    asyncio.run(asyncio.wait_for(scenario(), timeout=timeout))


def test_discord_attachments_arrive_from_the_cdn(
    redis_conn: redis.Redis, data_dir: Path, incoming: Path, media: Media
) -> None:
    async def scenario() -> None:
        async with FakeDiscord(DISCORD_TOKEN) as fake:
            photo = fake.attachment(media.png.read_bytes(), "beach.png", "image/png",
                                    width=WIDTH, height=HEIGHT)
            clip = fake.attachment(media.mp4.read_bytes(), "waves.mp4", "video/mp4")
            async with discord_bot(fake, redis_conn, data_dir) as core:
                await fake.push("MESSAGE_CREATE", in_a_dm(fake, "", [photo, clip]))
                event = await core.next_message()
            first, second = event.attachments
            assert_same_file(first, media.png, "png")
            assert_same_file(second, media.mp4, "h264")
            assert (first.name, first.mime) == ("beach.png", "image/png")
            assert Path(first.path).parent == incoming / "discord"
            assert len(fake.cdn_downloads) == 2
            assert event.text == ""

    run(scenario)


def test_discord_attachment_declared_over_the_cap_or_off_the_cdn_is_refused_unfetched(
    redis_conn: redis.Redis, data_dir: Path, incoming: Path, media: Media
) -> None:
    async def scenario() -> None:
        async with FakeDiscord(DISCORD_TOKEN) as fake, Elsewhere().serving() as elsewhere:
            huge = fake.attachment(media.mp4.read_bytes(), "film.mp4", "video/mp4",
                                   declared=2 * GB)
            forged = fake.attachment(media.png.read_bytes(), "cat.png", "image/png",
                                     url=f"{elsewhere.url}/cat.png")
            async with discord_bot(fake, redis_conn, data_dir) as core:
                started = time.monotonic()
                await fake.push("MESSAGE_CREATE", in_a_dm(fake, "look", [huge, forged]))
                event = await core.next_message()
                took = time.monotonic() - started
            too_big, elsewhere_file = event.attachments
            assert too_big.refused.startswith("“film.mp4” is 2.0 GB, more than the 5.0 MB")
            assert elsewhere_file.refused.startswith("“cat.png” isn't stored on Discord")
            assert fake.cdn_downloads == []
            assert elsewhere.requests == []
            assert took < 3

    run(scenario)


def test_discord_picture_is_a_message_with_the_file(
    redis_conn: redis.Redis, data_dir: Path, media: Media, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def scenario() -> None:
        async with FakeDiscord(DISCORD_TOKEN) as fake:
            for name, value in fake.env().items():
                monkeypatch.setenv(name, value)
            target = ReplyTarget(adapter="discord", workspace=GUILD_ID, channel=fake.channel_id)
            picture = Picture(target=target, path=str(media.png), caption="Storyboard: 3 shots")
            await asyncio.to_thread(post_as_a_worker, picture, redis_conn)
            (call,) = fake.calls("POST", f"/channels/{fake.channel_id}/messages")
            assert call.json["content"] == "Storyboard: 3 shots"
            assert list(call.files) == ["orange.png"]
            assert_is_picture(call.files["orange.png"], tmp_path, ORANGE)
            (message,) = fake.messages[fake.channel_id].values()
            assert message["attachments"][0]["content_type"] == "image/png"

    run(scenario)


# --- the shared rules, at the wire ------------------------------------------------------------


class Streamer:
    """A file host that streams `size` bytes in chunks, with or without a Content-Length."""

    def __init__(self, size: int, *, length_header: bool) -> None:
        self.size = size
        self.length_header = length_header
        self.sent = 0
        self.url = ""

    async def _file(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        if self.length_header:
            response.content_length = self.size
        await response.prepare(request)
        chunk = b"\0" * 65536
        try:
            while self.sent < self.size:
                await response.write(chunk[: self.size - self.sent])
                self.sent += min(len(chunk), self.size - self.sent)
        except (ConnectionResetError, OSError):
            pass
        return response

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[Streamer]:
        app = web.Application()
        app.router.add_get("/{name}", self._file)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        try:
            yield self
        finally:
            await runner.cleanup()


@pytest.mark.parametrize("length_header", [True, False])
async def test_a_download_that_grows_past_the_cap_is_cut_off_and_removed(
    tmp_path: Path, length_header: bool
) -> None:
    """A file whose size was not declared: the cap holds while streaming, whatever the host
    says (or does not say) about the length."""
    settings = UploadSettings(NOVACAST_MAX_UPLOAD_MB=1)
    async with (
        Streamer(64 * 1024**2, length_header=length_header).serving() as host,
        Fetcher("test", origins=[host.url], folder=tmp_path, settings=settings) as fetcher,
    ):
        offered = Offered(name="endless.mp4", mime="video/mp4", size=None, url=f"{host.url}/x")
        attachment = await fetcher.fetch(offered)
    assert attachment.refused.startswith("“endless.mp4” is ")
    assert attachment.refused.endswith(
        "more than the 1.0 MB I accept; please send a shorter clip or a smaller file."
    )
    assert host.sent < 8 * 1024**2, "the download stopped soon after passing the cap"
    assert list(tmp_path.iterdir()) == []


async def test_a_download_longer_than_its_declared_size_is_not_kept(tmp_path: Path) -> None:
    async with (
        Streamer(300_000, length_header=False).serving() as host,
        Fetcher("test", origins=[host.url], folder=tmp_path) as fetcher,
    ):
        offered = Offered(name="clip.mp4", mime="video/mp4", size=100_000, url=f"{host.url}/x")
        attachment = await fetcher.fetch(offered)
    assert attachment.refused == "I couldn't download “clip.mp4” just now; please send it again."
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://files.slack.com/files-pri/T1-F1/a.png", True),
        ("https://FILES.slack.com:443/files-pri/T1-F1/a.png", True),
        ("http://files.slack.com/files-pri/T1-F1/a.png", False),
        ("https://files.slack.com:8443/a.png", False),
        ("https://files.slack.com@evil.example/a.png", False),
        ("https://files.slack.com.evil.example/a.png", False),
        ("file:///etc/passwd", False),
        ("/etc/passwd", False),
        ("", False),
    ],
)
def test_only_the_platforms_own_origin_is_fetched(url: str, allowed: bool) -> None:
    assert same_origin(url, ["https://files.slack.com"]) is allowed


@pytest.mark.parametrize(
    ("name", "mime", "suffix"),
    [
        ("beach.PNG", "", ".png"),
        ("../../etc/passwd", "", ".bin"),
        ("clip.mp4;rm -rf", "video/mp4", ".mp4"),
        ("x.sh", "image/jpeg", ".jpg"),
        ("noext", "application/octet-stream", ".bin"),
    ],
)
def test_local_names_are_ours(name: str, mime: str, suffix: str) -> None:
    assert local_suffix(Offered(name=name, mime=mime, size=1)) == suffix
