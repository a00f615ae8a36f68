"""Secrets at the edges: the media-link secret lives in a 0600 file (not Redis), the access log
never keeps a media token, and `novacast up` never prints Redis's password (issue 11, item 6)."""

from __future__ import annotations

import logging
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from adapters.media_links import SECRET_FILE, MediaLinks, links_for
from novacast.embedded_redis import EmbeddedRedis
from novacast.wiring import redacted_url
from pipeline.settings import Settings
from tests.edges_support import edge_bot

LEGACY_KEY = "novacast:link-secret"


def _video(data_dir: Path) -> Path:
    video = data_dir / "media" / "T1" / "p1" / "video.mp4"
    video.parent.mkdir(parents=True, exist_ok=True)
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    return video


def test_the_link_secret_is_a_0600_file_shared_by_bot_and_worker_never_in_redis(
    redis_conn: redis.Redis, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOVACAST_LINK_SECRET", raising=False)
    settings = Settings(NOVACAST_DATA_DIR=str(data_dir), NOVACAST_PUBLIC_URL="http://bot.example")
    worker, bot = links_for(redis_conn, settings), links_for(redis_conn, settings)
    secret_file = data_dir / SECRET_FILE
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert redis_conn.get(LEGACY_KEY) is None
    secret = secret_file.read_bytes()
    assert len(secret) >= 32
    assert all(secret not in (redis_conn.dump(key) or b"") for key in redis_conn.keys("*"))
    video = _video(data_dir)
    token = worker.url_for(video).split("/")[4]
    assert bot.resolve(token) == video.resolve()


def test_a_secret_an_older_version_kept_in_redis_moves_to_the_file_and_old_links_still_work(
    redis_conn: redis.Redis, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOVACAST_LINK_SECRET", raising=False)
    redis_conn.set(LEGACY_KEY, b"0123456789abcdef" * 4)
    video = _video(data_dir)
    sent_last_week = MediaLinks(b"0123456789abcdef" * 4, "http://bot.example", data_dir)
    token = sent_last_week.url_for(video).split("/")[4]
    upgraded = links_for(redis_conn, Settings(NOVACAST_DATA_DIR=str(data_dir)))
    assert upgraded.resolve(token) == video.resolve()
    assert redis_conn.get(LEGACY_KEY) is None
    assert (data_dir / SECRET_FILE).read_bytes() == b"0123456789abcdef" * 4


async def test_the_access_log_never_keeps_a_media_token(
    redis_conn: redis.Redis, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    async with edge_bot(redis_conn, data_dir) as bot:
        url = bot.links.url_for(_video(data_dir))
        token = url.split("/")[4]
        assert await bot.get(url.removeprefix(bot.url) + "?sig=also-secret") == 200
        assert await bot.get("/media/" + token[:-3] + "AAA/video.mp4") == 404
    access = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert any("/media/<token>/video.mp4" in line and " 200 " in line for line in access), access
    assert token not in caplog.text
    assert token[:20] not in caplog.text
    assert "also-secret" not in caplog.text


def test_urls_are_printed_without_credentials() -> None:
    assert redacted_url("redis://:s3cret@127.0.0.1:6379/0") == "redis://***@127.0.0.1:6379/0"
    assert redacted_url("redis://bob:pw@redis:6379/2?password=x") == "redis://***@redis:6379/2"
    assert redacted_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


@pytest.mark.slow
def test_novacast_up_prints_redis_without_its_password(tmp_path: Path) -> None:
    """The real `novacast up` with a password-protected Redis (a private server)."""
    password = "up-test-password-8c1d"
    with EmbeddedRedis() as server:
        admin = redis.Redis.from_url(server.url)
        admin.config_set("requirepass", password)
        admin.close()
        port = server.url.rsplit(":", 1)[1].split("/")[0]
        env = os.environ | {
            "REDIS_URL": f"redis://:{password}@127.0.0.1:{port}/0",
            "NOVACAST_DATA_DIR": str(tmp_path / "var"),
            "NOVACAST_HTTP_PORT": "0",
        }
        for name in ("TELEGRAM_BOT_TOKEN", "SLACK_BOT_TOKEN", "DISCORD_BOT_TOKEN"):
            env.pop(name, None)
        up = subprocess.Popen(
            [sys.executable, "-m", "novacast", "up"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            start_new_session=True,
        )
        lines: list[str] = []
        try:
            deadline = time.monotonic() + 120
            assert up.stdout is not None
            while time.monotonic() < deadline:
                line = up.stdout.readline().decode(errors="replace")
                if not line:
                    break
                lines.append(line)
                if line.startswith("[up] bot pid"):
                    break
        finally:
            os.killpg(up.pid, signal.SIGTERM)
            try:
                up.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(up.pid, signal.SIGKILL)
                up.wait()
            up.stdout.close()
        printed = "".join(lines)
        assert f"[up] redis redis://***@127.0.0.1:{port}/0" in printed, printed
        assert password not in printed
