"""YouTube: the Data API v3 resumable upload, signed in with an OAuth2 refresh token.

One publish is one resumable session (developers.google.com/youtube/v3/guides/
using_resumable_upload_protocol): a POST with the video's metadata opens it and answers the
session URL in `Location`; PUTs of 256 KiB multiples carry the bytes, each answered `308` with
the `Range` the server holds, and the last one answered with the video resource. The session
URL is saved in `Checkpoints` before the first byte, so a retried job asks the server where it
stopped (`Content-Range: bytes */N`) and sends only the rest; the video id is saved at the end,
so a repeat publishes nothing. The session URL authorizes an upload by itself, so like a token
it never appears in a message or a log line.
"""

from __future__ import annotations

import logging
import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from pipeline.errors import PermanentError, TransientError
from pipeline.publish import PublishRequest, PublishResult
from pipeline.publish.remote import (
    CHUNK_BYTES,
    DEFAULT_TIMEOUT,
    Checkpoints,
    MemoryCheckpoints,
    OAuthRefresher,
    SealedCheckpoints,
    check_response,
    chunks,
    network_error,
    secret_from_env,
    video_size,
)

log = logging.getLogger(__name__)

SERVICE = "YouTube"
UPLOAD_PATH = "/upload/youtube/v3/videos"
CHUNK_UNIT = 256 * 1024
"""Every chunk but the last must be a multiple of this many bytes."""
MAX_TITLE_CHARS = 100
MAX_DESCRIPTION_BYTES = 5000
SHORTS_MAX_SECONDS = 180.0
SHORTS_TAG = "#Shorts"
_ANGLE_BRACKETS = re.compile(r"[<>]")
_RANGE = re.compile(r"bytes=0-(\d+)")
_ASPECT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*[:x/]\s*(\d+(?:\.\d+)?)\s*")
_CREDENTIALS = ("client_id", "client_secret", "refresh_token")


class YouTubeConfig(BaseModel):
    """The channel's OAuth client and refresh token, where the API lives, upload defaults."""

    model_config = ConfigDict(frozen=True)

    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    refresh_token: SecretStr
    api_url: str = "https://www.googleapis.com"
    token_url: str = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL)
    privacy: Literal["private", "unlisted", "public"] = "private"
    category_id: str = "22"
    tags: list[str] = Field(default_factory=list)
    made_for_kids: bool = False
    shorts: bool = True

    @classmethod
    def from_env(cls, prefix: str = "YOUTUBE", **overrides: Any) -> YouTubeConfig:
        """`$PREFIX_CLIENT_ID`, `_CLIENT_SECRET`, `_REFRESH_TOKEN` (or `*_FILE`), `_API_URL`,
        `_TOKEN_URL`; `overrides` win. Missing credentials are named, never shown."""
        values = {**_credentials_from_env(prefix, overrides), **_urls_from_env(prefix)}
        try:
            return cls.model_validate({**values, **overrides})
        except ValidationError as error:
            fields = sorted({".".join(map(str, problem["loc"])) for problem in error.errors()})
            raise PermanentError(f"the YouTube settings are invalid: {', '.join(fields)}") from None


def _credentials_from_env(prefix: str, overrides: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    missing: list[str] = []
    for field in _CREDENTIALS:
        name = f"{prefix}_{field.upper()}"
        secret = secret_from_env(name)
        if secret is not None:
            values[field] = secret
        elif field not in overrides:
            missing.append(name)
    if missing:
        raise PermanentError(
            f"YouTube publishing is not set up: set {', '.join(missing)} (or *_FILE)"
        )
    if "client_id" in values:
        values["client_id"] = values["client_id"].get_secret_value()
    return values


def _urls_from_env(prefix: str) -> dict[str, str]:
    urls = {
        field: os.environ.get(f"{prefix}_{field.upper()}", "").strip()
        for field in ("api_url", "token_url")
    }
    return {field: url for field, url in urls.items() if url}


# --- metadata ----------------------------------------------------------------------------------


def is_short(config: YouTubeConfig, metadata: dict[str, Any]) -> bool:
    """A Short: Shorts enabled, a vertical 9:16 picture, and at most three minutes long."""
    try:
        duration = float(metadata["duration"])
    except (KeyError, TypeError, ValueError):
        return False
    match = _ASPECT.fullmatch(str(metadata.get("aspect", "")))
    if not config.shorts or match is None or float(match[2]) == 0:
        return False
    vertical = abs(float(match[1]) / float(match[2]) - 9 / 16) < 0.01
    return vertical and 0 < duration <= SHORTS_MAX_SECONDS


def video_title(title: str) -> str:
    """A title YouTube accepts: no angle brackets, at most 100 characters."""
    text = " ".join(_ANGLE_BRACKETS.sub(" ", title).split())
    if len(text) > MAX_TITLE_CHARS:
        text = text[: MAX_TITLE_CHARS - 1].rstrip() + "…"
    return text or "Untitled"


def video_description(script: str, short: bool) -> str:
    """The narration, without angle brackets, cut to fit 5000 bytes with the Shorts tag."""
    suffix = f"\n\n{SHORTS_TAG}" if short else ""
    room = MAX_DESCRIPTION_BYTES - len(suffix.encode())
    text = " ".join(_ANGLE_BRACKETS.sub(" ", script).split())
    text = text.encode()[:room].decode("utf-8", "ignore").rstrip()
    return (text + suffix).strip()


def video_resource(config: YouTubeConfig, request: PublishRequest, short: bool) -> dict[str, Any]:
    """The `snippet` and `status` parts sent when the upload session opens; the description is
    the narration and the credits the pictures' licences ask for (`metadata["credits"]`)."""
    credited = request.metadata.get("credits") or []
    text = request.script_text + (f" Credits: {'; '.join(map(str, credited))}." if credited else "")
    snippet = {
        "title": video_title(request.title),
        "description": video_description(text, short),
        "tags": list(config.tags),
        "categoryId": config.category_id,
    }
    status = {"privacyStatus": config.privacy, "selfDeclaredMadeForKids": config.made_for_kids}
    return {"snippet": snippet, "status": status}


def video_url(video_id: str, short: bool) -> str:
    if short:
        return f"https://youtube.com/shorts/{video_id}"
    return f"https://www.youtube.com/watch?v={video_id}"


# --- the publisher -----------------------------------------------------------------------------


class _SessionExpired(TransientError):
    """The resumable session is gone (404/410); the next pass opens a new one."""


class YouTubePublisher:
    """Uploads approved videos to one channel, resuming interrupted uploads from the server's
    own record of what it holds."""

    name = "youtube"

    def __init__(
        self,
        config: YouTubeConfig,
        checkpoints: Checkpoints | None = None,
        client: httpx.Client | None = None,
        *,
        chunk_bytes: int = CHUNK_BYTES,
        resumes: int = 3,
        retry_delay: float = 1.0,
    ) -> None:
        if chunk_bytes <= 0 or chunk_bytes % CHUNK_UNIT:
            raise ValueError("chunk_bytes must be a positive multiple of 256 KiB")
        self.config = config
        # the session URL uploads into the channel without any other credential: sealed at rest
        self._checkpoints = SealedCheckpoints(
            checkpoints if checkpoints is not None else MemoryCheckpoints(), ("session",)
        )
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=DEFAULT_TIMEOUT)
        self._chunk_bytes = chunk_bytes
        self._resumes = resumes
        self._retry_delay = retry_delay
        self._auth = OAuthRefresher(
            self._client,
            config.token_url,
            SERVICE,
            refresh_token=config.refresh_token,
            fields={"client_id": config.client_id, "client_secret": config.client_secret},
        )

    def __enter__(self) -> YouTubePublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client if this publisher made it."""
        if self._owns_client:
            self._client.close()

    def publish(self, request: PublishRequest) -> PublishResult:
        """Upload once; a repeat of the same project version returns the first video."""
        key = f"youtube:{request.project_id}:v{request.version}"
        short = is_short(self.config, request.metadata)
        saved = self._checkpoints.load(key) or {}
        if "video_id" in saved:
            return self._result(saved, short, reused=True)
        video_id = self._upload(key, request, video_size(request.video), short)
        record = {"video_id": video_id, "published_at": datetime.now(UTC).isoformat()}
        self._checkpoints.save(key, record)
        log.info("published %s v%d to YouTube as %s", request.project_id, request.version, video_id)
        return self._result(record, short, reused=False)

    def _result(self, record: dict[str, Any], short: bool, reused: bool) -> PublishResult:
        return PublishResult(
            target=self.name,
            location=video_url(str(record["video_id"]), short),
            published_at=_published_at(record),
            reused=reused,
        )

    def _upload(self, key: str, request: PublishRequest, total: int, short: bool) -> str:
        """Passes over the session until the video exists; a few resumes, then TransientError."""
        failures = 0
        while True:
            try:
                return self._pass(key, request, total, short)
            except TransientError as error:
                if isinstance(error, _SessionExpired):
                    self._checkpoints.clear(key)
                failures += 1
                if failures > self._resumes:
                    raise TransientError(
                        f"{error}; the upload continues from where it stopped on the next try"
                    ) from None
                log.warning("YouTube upload interrupted (%s); resuming", error)
                time.sleep(self._retry_delay * failures)

    def _pass(self, key: str, request: PublishRequest, total: int, short: bool) -> str:
        """Resume the saved session (or open one) and send what the server lacks."""
        saved = self._checkpoints.load(key) or {}
        session = saved.get("session") if saved.get("bytes") == total else None
        if isinstance(session, str):
            where = self._status(session, total)
        else:
            session = self._open(request, total, short)
            self._checkpoints.save(key, {"session": session, "bytes": total})
            where = 0
        if isinstance(where, str):
            return where
        return self._send(session, request.video, where, total)

    def _open(self, request: PublishRequest, total: int, short: bool) -> str:
        """A new resumable session for `total` bytes; its URL."""
        url = f"{self.config.api_url.rstrip('/')}{UPLOAD_PATH}"
        response = self._call(
            "POST",
            f"{url}?uploadType=resumable&part=snippet,status",
            {"X-Upload-Content-Length": str(total), "X-Upload-Content-Type": "video/mp4"},
            json=video_resource(self.config, request, short),
        )
        check_response(response, SERVICE)
        location = response.headers.get("Location")
        if not location:
            raise TransientError(f"{SERVICE} opened no upload session")
        log.info("opened a YouTube upload session for %s (%d bytes)", request.project_id, total)
        return str(response.url.join(location))

    def _status(self, session: str, total: int) -> int | str:
        """Where the server's copy ends (resume there), or the video id if it is complete."""
        response = self._call("PUT", session, {"Content-Range": f"bytes */{total}"}, content=b"")
        return _progress(response)

    def _send(self, session: str, path: Path, offset: int, total: int) -> str:
        """PUT the file from `offset` on, following the server's `Range`; the video id."""
        while True:
            piece = _piece(path, offset, self._chunk_bytes)
            if not piece:
                raise TransientError(f"{SERVICE} holds the whole file but has not made the video")
            headers = {
                "Content-Range": f"bytes {offset}-{offset + len(piece) - 1}/{total}",
                "Content-Type": "video/mp4",
            }
            progress = _progress(self._call("PUT", session, headers, content=piece))
            if isinstance(progress, str):
                return progress
            if progress <= offset:
                raise TransientError(f"{SERVICE} kept none of the last piece of the upload")
            offset = progress

    def _call(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        *,
        content: bytes | None = None,
        json: Any = None,
    ) -> httpx.Response:
        """One signed request; a 401 renews the token once; 429/5xx raise TransientError."""
        response = self._request(method, url, headers, content, json)
        if response.status_code == 401:
            self._auth.invalidate()
            response = self._request(method, url, headers, content, json)
        if response.status_code == 429 or response.status_code >= 500:
            check_response(response, SERVICE)
        return response

    def _request(
        self, method: str, url: str, headers: dict[str, str], content: bytes | None, json: Any
    ) -> httpx.Response:
        signed = {**headers, **self._auth.headers()}
        try:
            return self._client.request(
                method, url, headers=signed, content=content, json=json, follow_redirects=False
            )
        except httpx.HTTPError as error:
            raise network_error(SERVICE, error) from None


def _progress(response: httpx.Response) -> int | str:
    """From an upload answer: the offset to resume at (308), or the finished video's id."""
    if response.status_code == 308:
        return _resume_offset(response)
    if response.status_code in (404, 410):
        raise _SessionExpired(f"the {SERVICE} upload session expired")
    check_response(response, SERVICE)
    return _video_id(response)


def _resume_offset(response: httpx.Response) -> int:
    """The byte after the last one the server holds: `Range: bytes=0-N` → N+1; none → 0."""
    header = response.headers.get("Range")
    if header is None:
        return 0
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        raise TransientError(f"{SERVICE} answered an unreadable upload range")
    return int(match[1]) + 1


def _video_id(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    video_id = body.get("id") if isinstance(body, dict) else None
    if not isinstance(video_id, str) or not video_id:
        raise TransientError(f"{SERVICE} finished the upload without a video id")
    return video_id


def _piece(path: Path, offset: int, size: int) -> bytes:
    """Up to `size` bytes of the file from `offset` (empty at its end)."""
    try:
        for _, piece in chunks(path, offset, size):
            return piece
    except OSError as error:
        raise PermanentError(f"cannot read the rendered video ({error.strerror})") from None
    return b""



def _published_at(record: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(str(record["published_at"]))
    except (KeyError, ValueError):
        return datetime.now(UTC)


__all__ = [
    "YouTubeConfig",
    "YouTubePublisher",
    "is_short",
    "video_description",
    "video_resource",
    "video_title",
    "video_url",
]
