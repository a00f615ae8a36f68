"""The platform registry: one line per platform, and each platform renders what it declares.

A throwaway platform package written into tmp_path and named once in `PLATFORMS` is started by
the bot's server, posted to by the workers' outbox and accepted as a chat publish target, with
nothing else edited. Every registered platform's sender, pointed at its fake (real SDKs), is
sent one action of every type: the declared ones are delivered, the others refused loudly.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from pydantic import BaseModel

from adapters.console.outbox import stream_key
from adapters.media_links import MediaLinks
from adapters.outbox import sender_for
from adapters.registry import ACTION_TYPES, PLATFORMS, Platform, platform, platforms
from adapters.web.outbox import stream_key as web_stream_key
from bot.actions import (
    Action,
    AskApproval,
    Button,
    ButtonAction,
    JobsStarted,
    Preview,
    Progress,
    Say,
)
from bot.events import Event, ReplyTarget
from novacast.server import configured_adapters
from pipeline.errors import PermanentError
from pipeline.settings import load_settings
from policy import PublishTarget
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
from workers.channel_publisher import ChatChannelPublisher

ROOT = Path(__file__).resolve().parents[2]
PLATFORM_ENV = ("TELEGRAM_BOT_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "DISCORD_BOT_TOKEN")

THROWAWAY = '''
"""A throwaway chat platform: one package here, one line in the registry."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import redis
from pydantic import Field
from pydantic_settings import BaseSettings

from adapters.registry import Platform
from bot.actions import Action, Say
from bot.events import ReplyTarget


class ThrowawaySettings(BaseSettings):
    token: str | None = Field(default=None, alias="THROWAWAY_TOKEN")


class ThrowawayAdapter:
    name = "throwaway"
    connected = True

    def routes(self) -> list[Any]:
        return []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


def start(settings: ThrowawaySettings, dispatch: Any, connection: Any, links: Any) -> Any:
    return ThrowawayAdapter() if settings.token else None


class ListSender:
    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection

    def send(self, action: Action) -> None:
        if not isinstance(action, Say):
            raise TypeError(type(action).__name__)
        self.connection.rpush("throwaway:sent", action.text)


def sync_sender(target: ReplyTarget, connection: redis.Redis) -> ListSender:
    return ListSender(connection)


PLATFORM = Platform(
    name=NAME, settings=ThrowawaySettings, start=start, sender=sync_sender, renders=frozenset({Say})
)
'''


@pytest.fixture
def throwaway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], str]]:
    """Writes a platform package into tmp_path; returns its module name."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no .env of the checkout turns real platforms on
    for name in PLATFORM_ENV:
        monkeypatch.delenv(name, raising=False)
    written: list[str] = []

    def write(declared_name: str) -> str:
        module = f"throwaway_chat_{len(written)}"
        package = tmp_path / module
        package.mkdir()
        source = THROWAWAY.replace("name=NAME", f"name={declared_name!r}")
        (package / "__init__.py").write_text(textwrap.dedent(source))
        written.append(module)
        return module

    yield write
    for module in written:
        sys.modules.pop(module, None)


async def _nobody(_event: Event) -> list[Action]:
    return []


def test_a_new_platform_is_one_package_and_one_registry_line(
    throwaway: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
    redis_conn: redis.Redis,
    data_dir: Path,
) -> None:
    monkeypatch.setitem(PLATFORMS, "throwaway", throwaway("throwaway"))
    links = MediaLinks(b"secret", "http://bot.example", data_dir)
    always_on = ["web"]  # the studio needs no credentials
    assert [a.name for a in configured_adapters(_nobody, redis_conn, links)] == always_on
    monkeypatch.setenv("THROWAWAY_TOKEN", "t0k3n")
    started = [a.name for a in configured_adapters(_nobody, redis_conn, links)]
    assert started == [*always_on, "throwaway"]

    target = ReplyTarget(adapter="throwaway", workspace="w1", channel="c1")
    sender_for(target, redis_conn).send(Say(target=target, text="hello from a worker"))
    assert redis_conn.lrange("throwaway:sent", 0, -1) == [b"hello from a worker"]
    with pytest.raises(TypeError, match="throwaway does not render Progress"):
        sender_for(target, redis_conn).send(Progress(target=target, key="k", stage="s", percent=1))

    spec = PublishTarget(kind="chat", adapter="throwaway", channel="c1")
    assert ChatChannelPublisher("team-chat", spec, redis_conn).name == "team-chat"
    unknown = PublishTarget(kind="chat", adapter="nowhere", channel="c1")
    with pytest.raises(PermanentError, match="names no platform"):
        ChatChannelPublisher("elsewhere", unknown, redis_conn)


def test_a_package_whose_platform_has_another_name_fails_loudly(
    throwaway: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(PLATFORMS, "throwaway", throwaway("someone-else"))
    with pytest.raises(TypeError, match="is not the Platform named 'throwaway'"):
        platform("throwaway")
    with pytest.raises(ValueError, match="no chat platform named 'nowhere'"):
        platform("nowhere")


def test_a_platform_must_declare_real_action_types() -> None:
    def no_sender(target: ReplyTarget, connection: redis.Redis) -> Any:
        raise AssertionError("never built")

    with pytest.raises(ValueError, match="declares it renders int"):
        Platform(name="odd", settings=dict, sender=no_sender, renders=frozenset({Say, int}))
    with pytest.raises(ValueError, match="declares it renders nothing"):
        Platform(name="mute", settings=dict, sender=no_sender, renders=frozenset())


def test_the_registry_lists_every_adapter_package_and_nobody_else_lists_them() -> None:
    packages = sorted(p.name for p in (ROOT / "adapters").iterdir() if (p / "__init__.py").exists())
    assert sorted(PLATFORMS) == packages
    assert [p.name for p in platforms()] == list(PLATFORMS)
    registry = ROOT / "adapters" / "registry.py"
    for folder in ("novacast", "workers", "adapters", "bot", "pipeline"):
        for source in (ROOT / folder).rglob("*.py"):
            text = source.read_text(encoding="utf-8")
            for module in PLATFORMS.values():
                listed = f'"{module}' in text or f"'{module}" in text
                assert source == registry or not listed, f"{source} lists {module}"


# --- what each platform renders, against its fake -------------------------------------------


class UnknownAction(BaseModel):
    """An action type no platform declares."""

    kind: str = "unknown"
    target: ReplyTarget
    text: str


def samples(target: ReplyTarget, video: Path) -> list[Any]:
    buttons = [Button(action=ButtonAction.APPROVE, project_id="p1")]
    return [
        Say(target=target, text="hello", buttons=buttons),
        AskApproval(target=target, project_id="p1", text="Happy with it?", buttons=buttons),
        Progress(target=target, key="p1:v1", stage="voice", percent=40),
        Preview(target=target, path=str(video), caption="Preview of v1", buttons=buttons),
        JobsStarted(target=target, job_ids=["j1"]),
    ]


Wire = tuple[ReplyTarget, Callable[[], int]]
"""Where a platform's sender posts, and how many requests its fake has seen so far."""


@contextlib.asynccontextmanager
async def wire(
    name: str, monkeypatch: pytest.MonkeyPatch, conn: redis.Redis
) -> AsyncIterator[Wire]:
    """The platform's fake, with the environment a worker would have pointing at it."""
    if name == "console":
        key = stream_key("local")
        yield (
            ReplyTarget(adapter=name, workspace="local", channel="terminal"),
            lambda: conn.xlen(key),
        )
    elif name == "telegram":
        async with FakeTelegram() as telegram:
            monkeypatch.setenv("TELEGRAM_BOT_TOKEN", telegram.token)
            monkeypatch.setenv("TELEGRAM_API_URL", telegram.url)
            yield (
                ReplyTarget(adapter=name, workspace="1001", channel="1001"),
                lambda: len(telegram.calls),
            )
    elif name == "slack":
        async with FakeSlack("xoxb-registry-test") as slack:
            monkeypatch.setenv("SLACK_BOT_TOKEN", slack.token)
            monkeypatch.setenv("SLACK_API_URL", slack.api_url)
            yield (
                ReplyTarget(adapter=name, workspace=slack.team, channel="C0GENERAL"),
                lambda: len(slack.requests),
            )
    elif name == "discord":
        async with FakeDiscord("dc-registry-test") as discord:
            for key, value in discord.env().items():
                monkeypatch.setenv(key, value)
            target = ReplyTarget(
                adapter=name, workspace=discord.guild_id, channel=discord.channel_id
            )
            yield target, lambda: len(discord.requests)
    elif name == "web":
        key = web_stream_key("w1", "studio:u1")
        yield (
            ReplyTarget(adapter=name, workspace="w1", channel="studio:u1"),
            lambda: conn.xlen(key),
        )
    else:
        raise AssertionError(f"a registered platform without a fake here: {name}")


@pytest.mark.parametrize("name", list(PLATFORMS))
async def test_each_platform_renders_exactly_the_action_types_it_declares(
    name: str, monkeypatch: pytest.MonkeyPatch, redis_conn: redis.Redis, data_dir: Path
) -> None:
    video = data_dir / "media" / "w" / "p1" / "preview.mp4"
    video.parent.mkdir(parents=True)
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(256))
    load_settings.cache_clear()
    declared = platform(name).renders
    async with wire(name, monkeypatch, redis_conn) as (target, seen):
        for action in samples(target, video):
            before = seen()
            if type(action) not in declared:
                with pytest.raises(TypeError, match=f"{name} does not render"):
                    sender_for(target, redis_conn).send(action)
                continue
            await asyncio.to_thread(sender_for(target, redis_conn).send, action)
            shows = name == "console" or not isinstance(action, JobsStarted)
            assert (seen() > before) is shows, f"{name} delivered {action.kind}?"
        unknown = UnknownAction(target=target, text="?")
        with pytest.raises(TypeError, match=f"{name} does not render UnknownAction"):
            sender_for(target, redis_conn).send(unknown)
        raw_sender = platform(name).sender(target, redis_conn)
        with pytest.raises(TypeError, match="UnknownAction"):
            await asyncio.to_thread(raw_sender.send, unknown)
    load_settings.cache_clear()
    assert declared <= ACTION_TYPES
