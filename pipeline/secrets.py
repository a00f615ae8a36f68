"""Secrets at rest: what the product stores that works as a credential is sealed with Fernet.

A rotated refresh token (X), an upload URL that authorizes an upload by itself (YouTube's
resumable session, TikTok's upload link) — anything a store keeps that someone reading Redis,
its append-only file or a backup could use — goes through `SecretBox.seal` before it is saved
and `SecretBox.open` after it is read. Sealed text is `nc-sealed:v1:` and a Fernet token
(AES-128-CBC with an HMAC-SHA256, a timestamp, URL-safe base64).

The keys, first match wins:
1. `NOVACAST_SECRET_KEYS`: Fernet keys separated by commas (`Fernet.generate_key()`, 44 chars).
2. `NOVACAST_SECRET_KEYS_FILE`: a file holding such keys, one per line or comma separated
   (a Docker or compose secret).
3. Neither: one key generated at first use into `<data dir>/secret-keys` (mode 0600), said once
   in the log. Keep that file with the data dir's backups: without it the sealed values cannot
   be read (a rotated X token then needs the account reconnected).

Rotation: put a new key first and keep the old ones after it. The first key seals, every key
opens (`MultiFernet`), and stores re-seal a value opened with an older key when they read it.
Values saved in clear text by an older version are read once and saved again sealed (see
`SecretBox.reveal`). Nothing here ever logs or raises with a key or a value in the message.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from pipeline.settings import load_settings

KEYS_ENV = "NOVACAST_SECRET_KEYS"
KEYS_FILE_ENV = "NOVACAST_SECRET_KEYS_FILE"
KEY_FILE_NAME = "secret-keys"
SEALED_PREFIX = "nc-sealed:v1:"

log = logging.getLogger(__name__)


class SecretKeyError(RuntimeError):
    """The keys are missing, malformed, or none of them opens a sealed value."""


@dataclass(frozen=True)
class Revealed:
    """An opened value, and whether its store should save it again sealed with the first key
    (it was clear text from an older version, or sealed with a key that is no longer first)."""

    text: str
    reseal: bool


class SecretBox:
    """Seals and opens short secrets with a list of Fernet keys: the first seals, all open."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise SecretKeyError("no key to seal secrets with")
        try:
            fernets = [Fernet(key) for key in keys]
        except (ValueError, TypeError):
            raise SecretKeyError(
                f"a key in {KEYS_ENV} (or its file) is not a Fernet key: 32 bytes in URL-safe "
                "base64, as `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'` prints"
            ) from None
        self._first = fernets[0]
        self._all = MultiFernet(fernets)

    def seal(self, text: str) -> str:
        return SEALED_PREFIX + self._first.encrypt(text.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        """The clear text of a sealed value; SecretKeyError when no key opens it."""
        if not is_sealed(sealed):
            raise SecretKeyError("the value is not sealed")
        return self.reveal(sealed).text

    def reveal(self, stored: str) -> Revealed:
        """What a store read: sealed values opened; clear text (saved by an older version)
        passed through with `reseal` set, so the store saves it again sealed."""
        if not is_sealed(stored):
            return Revealed(stored, reseal=True)
        token = stored.removeprefix(SEALED_PREFIX).encode("ascii", "replace")
        try:
            return Revealed(self._first.decrypt(token).decode(), reseal=False)
        except InvalidToken:
            pass
        try:
            return Revealed(self._all.decrypt(token).decode(), reseal=True)
        except InvalidToken:
            raise SecretKeyError(
                "a stored secret was sealed with a key that is no longer configured "
                f"({KEYS_ENV}, {KEYS_FILE_ENV} or the data dir's {KEY_FILE_NAME})"
            ) from None


def is_sealed(value: str) -> bool:
    return value.startswith(SEALED_PREFIX)


def secret_box() -> SecretBox:
    """The process's box, from the environment or the data dir (generated there once)."""
    return _box(
        os.environ.get(KEYS_ENV, "").strip(),
        os.environ.get(KEYS_FILE_ENV, "").strip(),
        load_settings().data_dir,
    )


@lru_cache(maxsize=8)
def _box(keys: str, keys_file: str, data_dir: Path) -> SecretBox:
    if keys:
        return SecretBox(parse_keys(keys))
    if keys_file:
        try:
            text = Path(keys_file).read_text(encoding="utf-8")
        except OSError as error:
            raise SecretKeyError(
                f"cannot read the key file named by {KEYS_FILE_ENV} ({error.strerror})"
            ) from None
        return SecretBox(parse_keys(text))
    return SecretBox(parse_keys(generated_keys(data_dir).read_text(encoding="utf-8")))


def parse_keys(text: str) -> list[bytes]:
    """Keys separated by commas, spaces or new lines, in order (the first seals)."""
    return [part.encode("ascii", "replace") for part in text.replace(",", " ").split()]


def generated_keys(data_dir: Path) -> Path:
    """`<data_dir>/secret-keys`, made with one new key (mode 0600) when it does not exist.

    Two processes starting at once agree: the file appears whole (a hard link of a finished
    temporary file) and the loser reads the winner's key.
    """
    path = data_dir / KEY_FILE_NAME
    if path.exists():
        _owner_only(path)
        return path
    data_dir.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=data_dir, prefix=".secret-keys-")  # 0600
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(Fernet.generate_key() + b"\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return path
        log.warning(
            "generated the key that seals stored secrets in %s (mode 0600); keep it with the "
            "data dir's backups, or set %s to manage keys yourself", path, KEYS_ENV,
        )
        return path
    finally:
        os.unlink(temporary)


def _owner_only(path: Path) -> None:
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


__all__ = [
    "KEYS_ENV",
    "KEYS_FILE_ENV",
    "KEY_FILE_NAME",
    "SEALED_PREFIX",
    "Revealed",
    "SecretBox",
    "SecretKeyError",
    "generated_keys",
    "is_sealed",
    "parse_keys",
    "secret_box",
]
