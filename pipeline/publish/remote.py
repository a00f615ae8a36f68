"""What every platform uploader shares: OAuth2 refresh, checkpoints, errors in plain words.

A platform publisher is built from a typed config whose credentials are `SecretStr`, so a
repr, a log line or an error message never shows them. Long uploads save their progress
(a resumable session URL, an upload id, a publish id) through `Checkpoints` after every step,
so a retried job — or a second worker after a crash — continues where the first stopped
instead of posting the video twice.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from pipeline.errors import PermanentError, TransientError
from pipeline.secrets import SecretBox, SecretKeyError, secret_box

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
CHUNK_BYTES = 8 * 1024 * 1024
"""Upload chunk size: a multiple of 256 KiB (YouTube's rule) and within TikTok's 5–64 MB."""


class Checkpoints(Protocol):
    """Small JSON-able progress records, keyed per (project version, target)."""

    def load(self, key: str) -> dict[str, Any] | None: ...

    def save(self, key: str, value: dict[str, Any], *, durable: bool = False) -> None:
        """Keep `value`; upload progress may expire, `durable` values (a rotated credential)
        must not."""
        ...

    def clear(self, key: str) -> None: ...


class MemoryCheckpoints:
    """Checkpoints in a dict: for one process (tests, `novacast make`)."""

    def __init__(self) -> None:
        self._values: dict[str, dict[str, Any]] = {}

    def load(self, key: str) -> dict[str, Any] | None:
        value = self._values.get(key)
        return dict(value) if value is not None else None

    def save(self, key: str, value: dict[str, Any], *, durable: bool = False) -> None:
        del durable  # nothing here expires
        self._values[key] = dict(value)

    def clear(self, key: str) -> None:
        self._values.pop(key, None)


class SealedCheckpoints:
    """Checkpoints whose named fields are sealed at rest (`pipeline.secrets`), the rest as is.

    A record read with one of those fields in clear text (saved by an older version) or sealed
    with a key that is no longer first is saved again at once, sealed with the first key, as
    its writer saved it (`durable`). `reseal=False` leaves that to the reader: for a record
    other processes may replace between this read and that write (X's rotated token, which
    the sign-in that follows every read saves anew), where writing back the value just read
    could put a retired token over a fresh one.
    """

    def __init__(
        self,
        inner: Checkpoints,
        fields: tuple[str, ...],
        *,
        durable: bool = False,
        reseal: bool = True,
        box: SecretBox | None = None,
    ) -> None:
        self._inner, self._fields, self._box = inner, fields, box
        self._durable, self._reseal = durable, reseal

    @property
    def box(self) -> SecretBox:
        """The process's keys; keys that are set but malformed stop the publish, in words."""
        if self._box is None:
            try:
                self._box = secret_box()
            except SecretKeyError as error:
                raise PermanentError(f"stored credentials cannot be sealed: {error}") from None
        return self._box

    def load(self, key: str) -> dict[str, Any] | None:
        """The record with its fields opened; None when there is none, or when no configured
        key opens it (a lost or dropped key: the record is treated as never saved — an upload
        starts over, X signs in with the configured token)."""
        stored = self._inner.load(key)
        if stored is None:
            return None
        value, reseal = dict(stored), False
        for field in self._secret_fields(value):
            try:
                revealed = self.box.reveal(value[field])
            except SecretKeyError:
                log.warning("the saved %s of %s was sealed with a key that is no longer "
                            "configured; it is ignored", field, key)
                return None
            value[field], reseal = revealed.text, reseal or revealed.reseal
        if reseal and self._reseal:
            self.save(key, value, durable=self._durable)
        return value

    def save(self, key: str, value: dict[str, Any], *, durable: bool = False) -> None:
        sealed = dict(value)
        for field in self._secret_fields(sealed):
            sealed[field] = self.box.seal(sealed[field])
        self._inner.save(key, sealed, durable=durable)

    def clear(self, key: str) -> None:
        self._inner.clear(key)

    def _secret_fields(self, value: dict[str, Any]) -> list[str]:
        return [f for f in self._fields if isinstance(value.get(f), str) and value[f]]


Saved = TypeVar("Saved", bound=BaseModel)


def load_progress(checkpoints: Checkpoints, key: str, model: type[Saved]) -> Saved | None:
    """The progress saved under `key`, or None when there is none or it no longer parses."""
    saved = checkpoints.load(key)
    if saved is None:
        return None
    try:
        return model.model_validate(saved)
    except ValidationError:
        return None


def save_progress(checkpoints: Checkpoints, key: str, progress: BaseModel) -> None:
    checkpoints.save(key, progress.model_dump(mode="json"))


def video_size(path: Path) -> int:
    """The rendered video's size in bytes; PermanentError when it is missing or empty."""
    try:
        size = path.stat().st_size
    except OSError:
        size = -1
    if size < 0:
        raise PermanentError("the rendered video is missing; press Render to make it again")
    if size == 0:
        raise PermanentError("the rendered video is empty; press Render to make it again")
    return size


def secret_from_env(name: str) -> SecretStr | None:
    """`$NAME`, else the contents of the file `$NAME_FILE` (Docker/compose secrets)."""
    value = os.environ.get(name, "").strip()
    if not value:
        path = os.environ.get(f"{name}_FILE", "").strip()
        if path:
            try:
                value = Path(path).read_text(encoding="utf-8").strip()
            except OSError as error:
                raise PermanentError(
                    f"cannot read the secret file named by {name}_FILE ({error.strerror})"
                ) from None
    return SecretStr(value) if value else None


def check_response(response: httpx.Response, service: str) -> httpx.Response:
    """`response` if it succeeded; else TransientError (429, 5xx) or PermanentError, in words.

    The message names the service, the status and the platform's own short reason, never a
    header or a token.
    """
    if response.is_success or response.status_code == 308:
        return response
    reason = _platform_reason(response)
    status = response.status_code
    if status == 429 or status >= 500:
        raise TransientError(f"{service} is busy or failing right now (HTTP {status}{reason})")
    if status == 403 and any(word in reason.lower() for word in ("quota", "limit", "exceeded")):
        raise PermanentError(
            f"{service} refused the upload: its limit is reached (HTTP 403{reason})"
        )
    if status in (401, 403):
        raise PermanentError(
            f"{service} refused our credentials (HTTP {status}{reason}); "
            "an admin needs to reconnect the account"
        )
    raise PermanentError(f"{service} rejected the upload (HTTP {status}{reason})")


def _platform_reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    message: Any = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = error.get("message") or error.get("code")
        elif isinstance(error, str):
            message = body.get("error_description") or error
        message = message or body.get("detail") or body.get("title")
    if not isinstance(message, str) or not message.strip():
        return ""
    return f": {message.strip()[:160]}"


def network_error(service: str, error: httpx.HTTPError) -> TransientError:
    """A dropped connection or timeout, as a retryable error without URLs or tokens."""
    kind = "timed out" if isinstance(error, httpx.TimeoutException) else "connection failed"
    return TransientError(f"{service}: {kind} ({type(error).__name__})")


class OAuthRefresher:
    """An OAuth2 access token from a long-lived refresh token, renewed before it expires.

    `fields` are sent with the refresh request as form data besides the grant (client ids
    and secrets are `SecretStr` and only revealed into that request body).
    """

    def __init__(
        self,
        client: httpx.Client,
        token_url: str,
        service: str,
        *,
        refresh_token: SecretStr,
        fields: dict[str, str | SecretStr],
        basic_auth: tuple[str, SecretStr] | None = None,
    ) -> None:
        self._client = client
        self._token_url = token_url
        self._service = service
        self._refresh_token = refresh_token
        self._fields = fields
        self._basic_auth = basic_auth
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def token(self) -> str:
        """A valid access token (refreshed when missing or within 60 s of expiry)."""
        with self._lock:
            if self._token is None or time.monotonic() > self._expires_at - 60:
                self._refresh()
            assert self._token is not None
            return self._token

    def invalidate(self) -> None:
        """Forget the token (after a 401), so the next `token()` refreshes."""
        with self._lock:
            self._token = None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def _refresh(self) -> None:
        data = {
            key: value.get_secret_value() if isinstance(value, SecretStr) else value
            for key, value in self._fields.items()
        }
        data["grant_type"] = "refresh_token"
        data["refresh_token"] = self._refresh_token.get_secret_value()
        try:
            if self._basic_auth is None:
                response = self._client.post(self._token_url, data=data)
            else:
                user, password = self._basic_auth
                auth = (user, password.get_secret_value())
                response = self._client.post(self._token_url, data=data, auth=auth)
        except httpx.HTTPError as error:
            raise network_error(f"{self._service} sign-in", error) from None
        check_response(response, f"{self._service} sign-in")
        try:
            body = response.json()
            token = str(body["access_token"])
            lifetime = float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise TransientError(f"{self._service} sign-in answered without a token") from None
        self._token = token
        self._expires_at = time.monotonic() + lifetime


def chunks(path: Path, start: int, size: int = CHUNK_BYTES) -> Iterator[tuple[int, bytes]]:
    """(offset, bytes) pieces of the file from `start` to its end."""
    with path.open("rb") as handle:
        handle.seek(start)
        offset = start
        while piece := handle.read(size):
            yield offset, piece
            offset += len(piece)


__all__ = [
    "CHUNK_BYTES",
    "DEFAULT_TIMEOUT",
    "Checkpoints",
    "MemoryCheckpoints",
    "OAuthRefresher",
    "SealedCheckpoints",
    "check_response",
    "chunks",
    "load_progress",
    "network_error",
    "save_progress",
    "secret_from_env",
    "video_size",
]
