"""Signed, expiring links to rendered videos, for platforms whose upload limit a video exceeds.

The worker signs (it knows the file), the bot's HTTP server verifies and serves. Both share
one secret: `NOVACAST_LINK_SECRET` when set, else one made once and kept in Redis.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

import redis

from pipeline.settings import Settings, load_settings

DEFAULT_TTL = 7 * 24 * 3600
_SECRET_REDIS_KEY = "novacast:link-secret"  # noqa: S105 (a key name)


def link_secret(connection: redis.Redis) -> bytes:
    """The shared signing secret (never logged, never shown)."""
    configured = os.environ.get("NOVACAST_LINK_SECRET")
    if configured:
        return configured.encode()
    connection.set(_SECRET_REDIS_KEY, secrets.token_hex(32), nx=True)
    stored = connection.get(_SECRET_REDIS_KEY)
    assert isinstance(stored, bytes)
    return stored


def links_for(connection: redis.Redis, settings: Settings | None = None) -> MediaLinks:
    """Links under the bot's public URL to files under the data folder (settings from the
    environment unless given)."""
    settings = settings or load_settings()
    return MediaLinks(link_secret(connection), settings.base_url, settings.data_dir)


class MediaLinks:
    """`url_for(path)` on one side, `resolve(token)` on the other."""

    def __init__(self, secret: bytes, public_url: str, media_root: Path) -> None:
        self._secret = secret
        self._public_url = public_url.rstrip("/")
        self._root = media_root.resolve()

    def url_for(self, path: Path, ttl: int = DEFAULT_TTL) -> str:
        relative = path.resolve().relative_to(self._root).as_posix()
        payload = f"{int(time.time()) + ttl}:{relative}".encode()
        token = _b64(payload) + "." + _b64(self._sign(payload))
        return f"{self._public_url}/media/{token}/{path.name}"

    def resolve(self, token: str) -> Path | None:
        """The file a token names, or None if forged, expired, or outside the media root."""
        try:
            encoded, signature = token.split(".", 1)
            payload = _unb64(encoded)
            if not hmac.compare_digest(_unb64(signature), self._sign(payload)):
                return None
            expires, relative = payload.decode().split(":", 1)
        except (ValueError, UnicodeDecodeError):
            return None
        if int(expires) < time.time():
            return None
        path = (self._root / relative).resolve()
        return path if path.is_relative_to(self._root) and path.is_file() else None

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
