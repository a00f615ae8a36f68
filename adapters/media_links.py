"""Signed, expiring links to rendered videos, for platforms whose upload limit a video exceeds.

The worker signs (it knows the file), the bot's HTTP server verifies and serves. Both share
one secret: `NOVACAST_LINK_SECRET` when set, else one made once and kept in a file under the
data dir (`link-secret`, mode 0600), never in Redis. A secret an older version kept in Redis
is moved into that file the first time (and deleted from Redis), so links already sent keep
working.

A link names a path relative to the data dir, but only rendered media is ever served: a video
file (`VIDEO_SUFFIXES`) under the render output folders (`media/`, `published/`), its path
resolved first (no `..`, no symlink leading elsewhere). A token that is forged, expired,
malformed in any way, or names anything else (the AOF, logs, uploads, the secret) is refused.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Iterable
from pathlib import Path

import redis

from pipeline.settings import Settings, load_settings

log = logging.getLogger(__name__)

DEFAULT_TTL = 7 * 24 * 3600
SECRET_FILE = "link-secret"  # noqa: S105 (a file name)
"""The link secret's file under the data dir, when NOVACAST_LINK_SECRET is not set."""
MEDIA_FOLDERS = ("media", "published")
"""The data dir's folders that hold rendered videos: the only ones a link may name."""
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv"})
_LEGACY_REDIS_KEY = "novacast:link-secret"
MAX_TOKEN_CHARS = 2048


def link_secret(connection: redis.Redis | None, data_dir: Path) -> bytes:
    """The shared signing secret (never logged, never shown)."""
    configured = os.environ.get("NOVACAST_LINK_SECRET")
    if configured:
        return configured.encode()
    path = data_dir / SECRET_FILE
    if not path.exists():
        _create_secret(path, _legacy_secret(connection) or secrets.token_hex(32).encode())
        _forget_legacy_secret(connection)
    return path.read_bytes().strip()


def _create_secret(path: Path, secret: bytes) -> None:
    """Write `secret` to `path` (0600) unless another process did first (atomic: link(2))."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(secret)
        with contextlib.suppress(FileExistsError):
            os.link(staged, path)
    finally:
        staged.unlink(missing_ok=True)


def _legacy_secret(connection: redis.Redis | None) -> bytes | None:
    if connection is None:
        return None
    try:
        stored = connection.get(_LEGACY_REDIS_KEY)
    except redis.RedisError:
        return None
    return stored if isinstance(stored, bytes) and stored else None


def _forget_legacy_secret(connection: redis.Redis | None) -> None:
    if connection is not None:
        with contextlib.suppress(redis.RedisError):
            connection.delete(_LEGACY_REDIS_KEY)


def links_for(connection: redis.Redis | None, settings: Settings | None = None) -> MediaLinks:
    """Links under the bot's public URL to rendered videos under the data folder (settings from
    the environment unless given). `connection` is only read once, to move an old secret out."""
    settings = settings or load_settings()
    secret = link_secret(connection, settings.data_dir)
    return MediaLinks(secret, settings.base_url, settings.data_dir)


class SignedTokens:
    """`<b64 payload>.<b64 HMAC-SHA256>` tokens whose payload is `<expiry>:<body>`: what a
    signed link carries (rendered videos here, the API's asset downloads)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def seal(self, body: str, expires: int) -> str:
        payload = f"{expires}:{body}".encode()
        return _b64(payload) + "." + _b64(self._sign(payload))

    def open(self, token: str) -> tuple[int, str]:
        """(expiry, body) of a token sealed with this key (expired or not); ValueError,
        UnicodeError or binascii.Error for anything else."""
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
            raise ValueError("not a token")
        encoded, signature = token.split(".", 1)
        payload = _unb64(encoded)
        if not hmac.compare_digest(_unb64(signature), self._sign(payload)):
            raise ValueError("bad signature")
        expires, body = payload.decode().split(":", 1)
        if not expires.isdigit():
            raise ValueError("malformed payload")
        return int(expires), body

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()


class MediaLinks:
    """`url_for(path)` on one side, `resolve(token)` on the other."""

    def __init__(
        self,
        secret: bytes,
        public_url: str,
        data_dir: Path,
        folders: Iterable[str] = MEDIA_FOLDERS,
    ) -> None:
        self._tokens = SignedTokens(secret)
        self._public_url = public_url.rstrip("/")
        self._root = data_dir.resolve()
        self._served = tuple((self._root / folder).resolve() for folder in folders)

    def servable(self, path: Path) -> bool:
        """True for an existing video file under one of the render output folders (resolved)."""
        return (
            path.suffix.lower() in VIDEO_SUFFIXES
            and any(path.is_relative_to(folder) for folder in self._served)
            and path.is_file()
        )

    def url_for(self, path: Path, ttl: int = DEFAULT_TTL) -> str:
        """A signed link to `path`; ValueError for anything but rendered media."""
        resolved = path.resolve()
        if not any(resolved.is_relative_to(folder) for folder in self._served):
            raise ValueError(f"{path.name!r} is not in the subpath of the rendered media")
        if resolved.suffix.lower() not in VIDEO_SUFFIXES:
            raise ValueError(f"{path.name!r} is not a video")
        relative = resolved.relative_to(self._root).as_posix()
        token = self._tokens.seal(relative, int(time.time()) + ttl)
        return f"{self._public_url}/media/{token}/{path.name}"

    def resolve(self, token: str) -> Path | None:
        """The file a token names, or None if forged, expired, malformed, or not rendered media.
        Never raises: every way a token can be wrong is a None."""
        try:
            expires, relative = self._verified(token)
            if expires < time.time():
                return None
            path = (self._root / relative).resolve()
            return path if self.servable(path) else None
        except (ValueError, UnicodeError, OSError, OverflowError, binascii.Error):
            return None

    def _verified(self, token: str) -> tuple[int, str]:
        """(expiry, relative path) of a token whose signature is ours; ValueError otherwise."""
        expires, relative = self._tokens.open(token)
        if "\x00" in relative:
            raise ValueError("malformed payload")
        return expires, relative


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    """URL-safe base64 without padding, strictly (anything else: ValueError)."""
    if not text.isascii():
        raise ValueError("not base64")
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
