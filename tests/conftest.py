"""Shared fixtures: a real Redis (REDIS_URL's server on a test database, or an embedded one)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from novacast.embedded_redis import EmbeddedRedis
from pipeline.settings import load_settings

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
TEST_DB = int(os.environ.get("NOVACAST_TEST_DB", "13"))
"""Which database of REDIS_URL's server tests flush; parallel runs each take their own."""


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
        yield f"{base}/{TEST_DB}"
        return
    with EmbeddedRedis() as server:
        yield server.url


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh data dir; the process's settings are read again on both sides of the test, so
    no test sees another's data dir or Redis URL through the settings cache."""
    path = tmp_path / "var"
    path.mkdir()
    monkeypatch.setenv("NOVACAST_DATA_DIR", str(path))
    load_settings.cache_clear()
    yield path
    load_settings.cache_clear()
