"""The embedded Redis is private: a password generated once (0600), the owner's files only
(0600 in a 0700 folder), append-only with fsync every second, and the URL every NOVACAST
process joins by carries the password."""

from __future__ import annotations

import os
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from novacast.embedded_redis import (
    EmbeddedRedis,
    password_file,
    running_server,
    stored_password,
    url_file,
)
from novacast.wiring import redis_connection
from pipeline.settings import Settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def raw_reply(port: int, command: bytes) -> bytes:
    """What the server answers a client that never authenticated (no redis-py in between)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(command)
        return sock.recv(200)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(tmp_path) as running:
        yield running


def test_a_client_without_the_password_is_refused(server: EmbeddedRedis) -> None:
    assert raw_reply(server.port, b"PING\r\n").startswith(b"-NOAUTH")
    assert raw_reply(server.port, b"GET nc:anything\r\n").startswith(b"-NOAUTH")
    for password in (None, "guess"):
        client = redis.Redis(port=server.port, password=password, retry=Retry(NoBackoff(), 0))
        with pytest.raises(redis.AuthenticationError):
            client.ping()
    assert redis.Redis.from_url(server.url).ping()


def test_every_file_is_the_owners_alone(server: EmbeddedRedis, tmp_path: Path) -> None:
    client = redis.Redis.from_url(server.url)
    client.set("nc:probe", "x")
    client.bgsave()
    client.bgrewriteaof()
    folder = tmp_path / "redis"
    busy = ("rdb_bgsave_in_progress", "aof_rewrite_in_progress", "aof_rewrite_scheduled")
    deadline = time.monotonic() + 30  # a wait for the background save and rewrite, not a limit
    while any(client.info("persistence")[flag] for flag in busy) and time.monotonic() < deadline:
        time.sleep(0.02)
    names = {p.name for p in folder.iterdir()}
    assert {"appendonly.aof", "dump.rdb", "redis.log", "redis.conf", "password", "url"} <= names
    assert mode(folder) == 0o700
    assert {p.name: mode(p) for p in folder.iterdir()} == dict.fromkeys(names, 0o600)
    client.close()


def test_append_only_with_fsync_every_second(server: EmbeddedRedis) -> None:
    client = redis.Redis.from_url(server.url)
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
    client.close()


def test_the_password_is_kept_and_not_on_the_command_line(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path) as first:
        password = password_file(tmp_path).read_text().strip()
        assert len(password) >= 32
        assert f":{password}@" in first.url
        assert url_file(tmp_path).read_text() == first.url
        assert running_server(tmp_path) == first.url
        redis.Redis.from_url(first.url).set("nc:kept", "1")
        process = first._process
        assert process is not None
        assert password.encode() not in Path(f"/proc/{process.pid}/cmdline").read_bytes()
    assert running_server(tmp_path) is None
    with EmbeddedRedis(tmp_path) as second:
        assert password_file(tmp_path).read_text().strip() == password
        assert redis.Redis.from_url(second.url).get("nc:kept") == b"1"


def test_files_left_readable_by_an_older_version_are_closed(tmp_path: Path) -> None:
    folder = tmp_path / "redis"
    folder.mkdir(mode=0o755)
    (folder / "appendonly.aof").write_bytes(b"")
    (folder / "appendonly.aof").chmod(0o644)
    with EmbeddedRedis(tmp_path):
        assert mode(folder) == 0o700
        assert mode(folder / "appendonly.aof") == 0o600


def test_a_throwaway_server_has_a_password_too() -> None:
    with EmbeddedRedis() as server:
        assert raw_reply(server.port, b"PING\r\n").startswith(b"-NOAUTH")
        assert redis.Redis.from_url(server.url).ping()


def test_the_url_handed_to_child_processes_carries_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    settings = Settings(NOVACAST_DATA_DIR=str(tmp_path))
    with redis_connection(settings) as handle:
        exported = os.environ["REDIS_URL"]
        password = password_file(tmp_path).read_text().strip()
        assert f":{password}@" in exported
        assert redis.Redis.from_url(exported).ping()
        assert handle.connection.ping()
    assert "REDIS_URL" not in os.environ


def test_processes_starting_together_agree_on_one_password(tmp_path: Path) -> None:
    (tmp_path / "redis").mkdir()
    start = threading.Barrier(8)
    passwords: list[str] = []

    def read() -> None:
        start.wait()
        passwords.append(stored_password(tmp_path))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(passwords)) == 1
    assert [p.name for p in (tmp_path / "redis").iterdir()] == ["password"]
    assert mode(password_file(tmp_path)) == 0o600
