"""No secret at rest after a full flow: Slack and Telegram tokens, X's client secret and its
rotating refresh tokens, API keys, the sealing key, the media-link secret and the embedded
Redis's password are looked for everywhere the product writes — every key and value of Redis
(every type, compressed RQ payloads opened), the embedded Redis's append-only file, the logs of
the bot (INFO) and of a real worker (`-v`), every file under the data dir, and the chat the
fakes recorded — and none may appear.

The flow: /make on Slack, Render by a real worker, Approve, published to the folder and to X
(the fake rotates the refresh token at every sign-in), then a second video published the same
way, so the worker reads back the token it sealed and rotates it again."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from adapters.media_links import SECRET_FILE as LINK_SECRET_FILE
from bot.actions import ButtonAction
from novacast.embedded_redis import EmbeddedRedis, password_file
from novacast.processes import stop
from pipeline.secrets import KEY_FILE_NAME, KEYS_ENV, KEYS_FILE_ENV
from tests.e2e.test_slack import (
    ALICE,
    CHANNEL,
    SECRET,
    TOKEN,
    Bot,
    messages_with,
    running_bot,
    until,
)
from tests.fakes.slack import FakeSlack, user_message
from tests.fakes.x_api import FakeX
from tests.workers_support import _wait_registered

pytestmark = pytest.mark.slow

X_CLIENT_ID = "c2VjcmV0cy1hdC1yZXN0LWFwcA"
X_SECRET = "x-client-secret-Zq8Lk2Vn7Rt4Wb1Yd6"
X_REFRESH = "x-refresh-token-configured-Hf3Jm9Pq2Ks5"
CONFIGURED = {
    "TELEGRAM_BOT_TOKEN": "7012345678:AAH-telegram-secret-token-Qm4Vx8Zt2",
    "TELEGRAM_WEBHOOK_SECRET": "tg-webhook-secret-Lp5Nw3Rk8",
    "TIKTOK_CLIENT_SECRET": "tiktok-client-secret-Bv6Cx1Dz9",
    "YOUTUBE_CLIENT_SECRET": "youtube-client-secret-Gt7Hy2Ju4",
    "YOUTUBE_REFRESH_TOKEN": "1//youtube-refresh-token-Ki8Lo3Mp5",
}
"""Configured but not used by this flow: they must not leak just by being in the environment."""


def redis_contents(connection: redis.Redis) -> bytes:
    """Every key and every value of the database, whatever its type; zlib-compressed values
    (RQ's job data and errors) opened."""
    seen: list[bytes] = []
    for key in connection.scan_iter("*", count=1000):
        seen.append(key)
        kind = connection.type(key).decode()
        if kind == "string":
            seen.append(connection.get(key) or b"")
        elif kind == "hash":
            for field, value in connection.hgetall(key).items():
                seen += [field, value]
        elif kind == "list":
            seen += connection.lrange(key, 0, -1)
        elif kind == "set":
            seen += connection.smembers(key)
        elif kind == "zset":
            seen += [member for member, _ in connection.zrange(key, 0, -1, withscores=True)]
        elif kind == "stream":
            for _id, fields in connection.xrange(key):
                seen += [*fields.keys(), *fields.values()]
        elif kind != "none":  # expired meanwhile
            raise AssertionError(f"{key!r} is a {kind}: this test does not read those yet")
    return b"\n".join(seen + [opened for value in seen if (opened := _inflated(value))])


def _inflated(value: bytes) -> bytes:
    if value[:1] != b"\x78":
        return b""
    try:
        return zlib.decompress(value)
    except zlib.error:
        return b""


def files_under(folder: Path, *, skip: tuple[Path, ...] = ()) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in folder.rglob("*") if p.is_file() and p not in skip}


@contextlib.contextmanager
def verbose_worker(redis_url: str, data_dir: Path, env: dict[str, str]) -> Iterator[Path]:
    """`novacast -v worker` (INFO logs) for this flow; yields its log file."""
    log = data_dir / "logs" / "worker-verbose.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        child = subprocess.Popen([sys.executable, "-m", "novacast", "-v", "worker"],
                                 stdout=out, stderr=out, env=env)
    try:
        _wait_registered(redis_url, child)
        yield log
    finally:
        stop(child)


async def publish_one(bot: Bot, fake: FakeSlack, idea: str, published: int) -> None:
    """One video from /make to Published, the draft revised once on the way."""
    before = len(fake.posted())
    assert await bot.command(idea) == 200
    draft = await until(lambda: next((m for m in fake.posted()[before:]
                                      if "novacast_render" in json.dumps(m)), None),
                        "the draft", fake)
    thread = draft["thread_ts"]
    reply = user_message("add a joke at the end", user=ALICE, channel=CHANNEL, thread_ts=thread)
    assert await bot.send(bot.signer.event(reply)) == 200
    v2 = (await until(lambda: [m for m in messages_with(fake, "v2:")
                               if m["thread_ts"] == thread], "draft v2", fake))[0]
    assert await bot.press(v2, ButtonAction.RENDER) == 200
    ask = await until(lambda: [m for m in messages_with(fake, "Happy with it?")
                               if m["thread_ts"] == thread], "the approval", fake, 240)
    assert await bot.press(ask[0], ButtonAction.APPROVE) == 200
    await until(lambda: len(messages_with(fake, "Published")) >= published, "Published", fake, 120)


async def test_no_secret_is_found_at_rest_after_a_full_flow(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    policy = tmp_path / "policy.yaml"
    policy.write_text("publish:\n  default: [folder, x]\n")
    for name in (KEYS_ENV, KEYS_FILE_ENV, "X_CLIENT_ID", "X_CLIENT_SECRET", "X_REFRESH_TOKEN",
                 "X_API_URL"):
        monkeypatch.delenv(name, raising=False)
    env = {"NOVACAST_POLICY": str(policy), "NOVACAST_MEMORY": "off", **CONFIGURED}
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    with (
        EmbeddedRedis(tmp_path / "redis-home") as server,
        FakeX(X_CLIENT_ID, X_REFRESH, client_secret=X_SECRET) as x,
    ):
        connection = redis.Redis.from_url(server.url)
        async with FakeSlack(TOKEN) as slack, running_bot(slack, connection, data_dir) as bot:
            worker_env = {
                **os.environ, "REDIS_URL": server.url, "NOVACAST_DATA_DIR": str(data_dir),
                "NOVACAST_PUBLIC_URL": bot.url, "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": slack.api_url,
                "X_CLIENT_ID": X_CLIENT_ID, "X_CLIENT_SECRET": X_SECRET,
                "X_REFRESH_TOKEN": X_REFRESH, "X_API_URL": x.base_url,
            }
            with contextlib.ExitStack() as stack:
                worker_log = await asyncio.to_thread(
                    stack.enter_context, verbose_worker(server.url, data_dir, worker_env))
                await publish_one(bot, slack, "10s on why cats purr", published=1)
                await publish_one(bot, slack, "10s on why the sea is salty", published=2)
                await asyncio.to_thread(stack.close)
            chat = [r.body + repr(r.args).encode() for r in slack.requests]
        assert x.posts_created == 2
        assert len(x.issued_refresh_tokens) == 2, "signed in twice: the second with the first's"
        refreshes = [r.body["refresh_token"] for r in x.requests if r.path == "/2/oauth2/token"]
        assert refreshes == [X_REFRESH, x.issued_refresh_tokens[0]]
        stored = redis_contents(connection)
        history = (tmp_path / "redis-home" / "redis" / "appendonly.aof").read_bytes()
        connection.close()
        redis_password = password_file(tmp_path / "redis-home").read_text().strip()
        secrets = [TOKEN, SECRET, X_SECRET, X_REFRESH, *x.issued_refresh_tokens,
                   *x.access_tokens, *CONFIGURED.values(), redis_password]
        posts = [repr(t).encode() for t in x.tweets]
    key_file, link_file = data_dir / KEY_FILE_NAME, data_dir / LINK_SECRET_FILE
    secrets += [*key_file.read_text().split(), link_file.read_text().strip()]
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"

    places: dict[str, bytes] = {
        "redis": stored,
        "the append-only file (every write since the start)": history,
        "the bot's log": caplog.text.encode(),
        "the worker's log": worker_log.read_bytes(),
        "the chat": b"\n".join(chat),
        "the posts on X": b"\n".join(posts),
        **{f"data dir: {name}": data for name, data in
           files_under(data_dir, skip=(key_file, link_file)).items()},
    }
    # the places are really read: each holds what the flow put there (so an absence means one)
    for where in ("redis", "the append-only file (every write since the start)", "the chat"):
        assert b"Why the Sea Is Salty" in places[where], where
    assert b"novacast-publish" in stored, "RQ's queues and jobs are in what was scanned"
    assert b"publish" in places["the worker's log"], "-v: the worker logged at INFO"
    assert b"/slack/events" in places["the bot's log"]
    assert b"nc-sealed:v1:" in stored, "the rotated token is there, sealed"
    found = [(secret[:12] + "…", where) for secret in secrets for where, data in places.items()
             if secret.encode() in data]
    assert found == []
