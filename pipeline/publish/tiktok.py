"""TikTok: a direct post through the Content Posting API, uploaded in chunks from the file.

The steps are TikTok's: refresh the access token, ask which privacy levels this creator may
use, initialize the post (`FILE_UPLOAD`, which answers a `publish_id` and an upload URL), PUT
the video in chunks with `Content-Range`, then poll the post's status until TikTok says it is
published. Progress is saved through `Checkpoints` after the init and after every chunk, so a
retried job continues the upload where it stopped (upload URLs last an hour; an expired one
starts over with a new init) and a published version is never posted twice.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from pipeline.errors import PermanentError, TransientError
from pipeline.publish import PublishRequest, PublishResult
from pipeline.publish.remote import (
    CHUNK_BYTES,
    DEFAULT_TIMEOUT,
    Checkpoints,
    OAuthRefresher,
    SealedCheckpoints,
    check_response,
    load_progress,
    network_error,
    save_progress,
    secret_from_env,
    video_size,
)

SERVICE = "TikTok"
MB = 1024 * 1024
MIN_CHUNK_BYTES = 5 * MB
MAX_CHUNK_BYTES = 64 * MB
MAX_CHUNKS = 1000
UPLOAD_URL_SECONDS = 3600
"""How long TikTok keeps an upload URL; a saved one older than this (less a minute) is dropped."""

CREATOR_INFO = "/v2/post/publish/creator_info/query/"
VIDEO_INIT = "/v2/post/publish/video/init/"
STATUS_FETCH = "/v2/post/publish/status/fetch/"
_JSON = "application/json; charset=UTF-8"
_WAITING = {"PROCESSING_UPLOAD", "PROCESSING_DOWNLOAD", "SEND_TO_USER_INBOX"}
_TRANSIENT_CODES = {"rate_limit_exceeded", "internal_error"}
_PLAIN_WORDS = {
    "access_token_invalid": "TikTok refused our sign-in; an admin needs to reconnect the account",
    "scope_not_authorized": "the TikTok account did not allow posting videos (video.publish); "
    "an admin needs to reconnect it",
    "spam_risk_too_many_posts": "TikTok says this account has posted too many videos for now; "
    "try again tomorrow",
    "spam_risk_user_banned_from_posting": "TikTok has blocked this account from posting",
    "privacy_level_option_mismatch": "TikTok does not allow the configured privacy level "
    "for this account",
    "unaudited_client_can_only_post_to_private_accounts": "this TikTok app is not audited yet, "
    "so it can only post to private accounts",
    "reached_active_user_cap": "this TikTok app has reached its daily limit of posting users",
}


class TikTokConfig(BaseModel):
    """Which TikTok app and account to post with, and how the post looks."""

    model_config = ConfigDict(frozen=True)

    client_key: str = Field(min_length=1)
    client_secret: SecretStr
    refresh_token: SecretStr
    api_url: str = "https://open.tiktokapis.com"
    privacy_level: str = "SELF_ONLY"
    disable_comment: bool = False
    disable_duet: bool = False
    disable_stitch: bool = False
    poll_seconds: float = Field(default=3.0, gt=0)
    poll_timeout: float = Field(default=300, gt=0)

    @field_validator("api_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @classmethod
    def from_env(cls, prefix: str = "TIKTOK", **options: Any) -> TikTokConfig:
        """From `$<prefix>_CLIENT_KEY`, `_CLIENT_SECRET`, `_REFRESH_TOKEN` and `_API_URL`.

        `options` (the policy target's, e.g. `privacy_level`) set the other fields.
        """
        key = os.environ.get(f"{prefix}_CLIENT_KEY", "").strip()
        secret = secret_from_env(f"{prefix}_CLIENT_SECRET")
        refresh = secret_from_env(f"{prefix}_REFRESH_TOKEN")
        names = ("CLIENT_KEY", "CLIENT_SECRET", "REFRESH_TOKEN")
        missing = [f"{prefix}_{n}" for n, v in zip(names, (key, secret, refresh), strict=True)
                   if not v]
        if missing or secret is None or refresh is None:
            raise PermanentError(f"TikTok publishing is not set up: set {', '.join(missing)}")
        values: dict[str, Any] = {"client_key": key, "client_secret": secret,
                                  "refresh_token": refresh}
        api_url = os.environ.get(f"{prefix}_API_URL", "").strip()
        if api_url:
            values["api_url"] = api_url
        return cls(**{**options, **values})


@dataclass(frozen=True)
class ChunkPlan:
    """TikTok's chunking of one file: `count` chunks of `chunk_size`, the last takes the rest."""

    size: int
    chunk_size: int
    count: int

    def span(self, index: int) -> tuple[int, int]:
        """The [start, end) bytes of chunk `index`."""
        start = index * self.chunk_size
        return start, self.size if index == self.count - 1 else start + self.chunk_size


def plan_chunks(size: int, chunk_bytes: int) -> ChunkPlan:
    """Chunks by TikTok's rules: a file smaller than a chunk goes whole; the count rounds down."""
    if size <= 0:
        raise PermanentError("the rendered video is empty; press Render to make it again")
    if size < chunk_bytes:
        return ChunkPlan(size, size, 1)
    count = size // chunk_bytes
    if count > MAX_CHUNKS:
        raise PermanentError("the video is too large for TikTok's upload (over 1000 chunks)")
    return ChunkPlan(size, chunk_bytes, count)


class Progress(BaseModel):
    """What is saved under the checkpoint key between steps."""

    state: Literal["uploading", "uploaded", "done"]
    publish_id: str = ""
    upload_url: str = ""
    bytes_done: int = 0
    video_size: int = 0
    chunk_size: int = 0
    started_at: float = 0.0
    location: str = ""
    published_at: datetime | None = None


class UploadLinkExpired(TransientError):
    """TikTok no longer accepts the saved upload URL (it lasts an hour)."""


class TikTokApi:
    """The Content Posting API calls over one `httpx.Client`, with the token refreshed as needed."""

    def __init__(self, client: httpx.Client, config: TikTokConfig) -> None:
        self._client = client
        self._url = config.api_url
        fields: dict[str, str | SecretStr] = {
            "client_key": config.client_key,
            "client_secret": config.client_secret,
        }
        self._auth = OAuthRefresher(client, f"{config.api_url}/v2/oauth/token/", SERVICE,
                                    refresh_token=config.refresh_token, fields=fields)

    def privacy_options(self) -> list[str]:
        options = _data(self.call(CREATOR_INFO, None)).get("privacy_level_options") or []
        return [str(option) for option in options]

    def init(self, body: dict[str, Any]) -> tuple[str, str]:
        """The new post's publish id and upload URL."""
        data = _data(self.call(VIDEO_INIT, body))
        try:
            return str(data["publish_id"]), str(data["upload_url"])
        except KeyError:
            raise TransientError("TikTok started the upload without an upload link") from None

    def status(self, publish_id: str) -> dict[str, Any]:
        return _data(self.call(STATUS_FETCH, {"publish_id": publish_id}))

    def put(self, url: str, data: bytes, start: int, total: int) -> None:
        """One chunk; UploadLinkExpired when TikTok no longer knows the upload URL."""
        headers = {
            "Content-Type": "video/mp4",
            "Content-Length": str(len(data)),
            "Content-Range": f"bytes {start}-{start + len(data) - 1}/{total}",
        }
        try:
            response = self._client.put(url, content=data, headers=headers)
        except httpx.HTTPError as error:
            raise network_error("TikTok upload", error) from None
        if response.status_code in (404, 410):
            raise UploadLinkExpired("TikTok's upload link expired before the upload finished")
        check_response(response, "TikTok upload")

    def call(self, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        """POST to the API; an invalid access token is refreshed once and the call repeated."""
        for attempt in range(2):
            headers = {**self._auth.headers(), "Content-Type": _JSON}
            try:
                response = self._client.post(f"{self._url}{path}", json=body, headers=headers)
            except httpx.HTTPError as error:
                raise network_error(SERVICE, error) from None
            if attempt == 0 and _error_code(response) == "access_token_invalid":
                self._auth.invalidate()
                continue
            return envelope(response)
        raise AssertionError("unreachable")  # pragma: no cover


class TikTokPublisher:
    """Posts approved videos to one TikTok account; resumable through `checkpoints`.

    `chunk_bytes` is the chunk size asked of TikTok (5–64 MB in production; tests use less
    against a fake with scaled rules). `client` shares an `httpx.Client`; without one each
    publish opens and closes its own.
    """

    name = "tiktok"

    def __init__(
        self,
        config: TikTokConfig,
        checkpoints: Checkpoints,
        *,
        chunk_bytes: int = CHUNK_BYTES,
        client: httpx.Client | None = None,
    ) -> None:
        if not 0 < chunk_bytes <= MAX_CHUNK_BYTES:
            raise ValueError("chunk_bytes must be between 1 byte and 64 MB")
        self.config = config
        # the upload link takes the video without any other credential: sealed at rest
        self._checkpoints = SealedCheckpoints(checkpoints, ("upload_url",))
        self._chunk_bytes = chunk_bytes
        self._client = client

    def publish(self, request: PublishRequest) -> PublishResult:
        """Post the video once; a repeat of a posted version returns its location, no HTTP."""
        key = f"tiktok:{request.project_id}:v{request.version}"
        saved = load_progress(self._checkpoints, key, Progress)
        if saved is not None and saved.state == "done":
            return self._result(saved, reused=True)
        plan = plan_chunks(video_size(request.video), self._chunk_bytes)
        with self._api() as api:
            progress = saved if saved is not None and _usable(saved, plan) else None
            if progress is None:
                progress = self._start(api, request, plan, key)
            if progress.state == "uploading":
                progress = self._upload_or_restart(api, request, plan, progress, key)
            return self._result(self._finish(api, progress, key), reused=False)

    @contextmanager
    def _api(self) -> Iterator[TikTokApi]:
        if self._client is not None:
            yield TikTokApi(self._client, self.config)
            return
        with httpx.Client(timeout=DEFAULT_TIMEOUT) as client:
            yield TikTokApi(client, self.config)

    # --- steps ----------------------------------------------------------------------------

    def _start(self, api: TikTokApi, request: PublishRequest, plan: ChunkPlan,
               key: str) -> Progress:
        """Check the privacy level, initialize the post and save its publish id and upload URL."""
        config = self.config
        options = api.privacy_options()
        if config.privacy_level not in options:
            raise PermanentError(
                f"TikTok does not offer the privacy level {config.privacy_level} for this "
                f"account; it offers {', '.join(options) or 'none'}. "
                "Set one of those in the TikTok target's options"
            )
        publish_id, upload_url = api.init({
            "post_info": {
                "title": request.title,
                "privacy_level": config.privacy_level,
                "disable_comment": config.disable_comment,
                "disable_duet": config.disable_duet,
                "disable_stitch": config.disable_stitch,
            },
            "source_info": {
                "source": "FILE_UPLOAD",
                "video_size": plan.size,
                "chunk_size": plan.chunk_size,
                "total_chunk_count": plan.count,
            },
        })
        progress = Progress(state="uploading", publish_id=publish_id, upload_url=upload_url,
                            video_size=plan.size, chunk_size=plan.chunk_size,
                            started_at=time.time())
        save_progress(self._checkpoints, key, progress)
        return progress

    def _upload_or_restart(
        self, api: TikTokApi, request: PublishRequest, plan: ChunkPlan, progress: Progress,
        key: str,
    ) -> Progress:
        """Upload from the saved chunk on; an expired upload link starts over once."""
        try:
            return self._upload(api, request.video, plan, progress, key)
        except UploadLinkExpired:
            fresh = self._start(api, request, plan, key)
            return self._upload(api, request.video, plan, fresh, key)

    def _upload(self, api: TikTokApi, video: Path, plan: ChunkPlan, progress: Progress,
                key: str) -> Progress:
        for index in range(progress.bytes_done // plan.chunk_size, plan.count):
            start, end = plan.span(index)
            api.put(progress.upload_url, _read(video, start, end), start, plan.size)
            progress = progress.model_copy(update={"bytes_done": end})
            save_progress(self._checkpoints, key, progress)
        progress = progress.model_copy(update={"state": "uploaded"})
        save_progress(self._checkpoints, key, progress)
        return progress

    def _finish(self, api: TikTokApi, progress: Progress, key: str) -> Progress:
        """Poll the post until TikTok publishes it; save and return the done record."""
        location = self._poll(api, progress.publish_id, key)
        done = progress.model_copy(update={"state": "done", "location": location,
                                           "published_at": datetime.now(UTC)})
        save_progress(self._checkpoints, key, done)
        return done

    def _poll(self, api: TikTokApi, publish_id: str, key: str) -> str:
        deadline = time.monotonic() + self.config.poll_timeout
        while True:
            data = api.status(publish_id)
            status = data.get("status")
            if status == "PUBLISH_COMPLETE":
                return _location(publish_id, data)
            if status == "FAILED":
                self._checkpoints.clear(key)
                reason = str(data.get("fail_reason") or "no reason given")
                raise PermanentError(f"TikTok could not publish the video: {reason}")
            if status not in _WAITING:
                raise TransientError(f"TikTok answered an unknown post status {status!r}")
            if time.monotonic() >= deadline:
                raise TransientError("TikTok is still processing the video; try again later")
            time.sleep(self.config.poll_seconds)

    # --- records --------------------------------------------------------------------------


    def _result(self, progress: Progress, *, reused: bool) -> PublishResult:
        return PublishResult(target=self.name, location=progress.location,
                             published_at=progress.published_at or datetime.now(UTC),
                             reused=reused)


def envelope(response: httpx.Response) -> dict[str, Any]:
    """TikTok's `{data, error}` body if `error.code` is "ok"; else the error in plain words."""
    try:
        body = response.json()
    except ValueError:
        check_response(response, SERVICE)
        raise TransientError(f"{SERVICE} answered something unreadable") from None
    error = body.get("error") if isinstance(body, dict) else None
    code = str(error.get("code", "ok")) if isinstance(error, dict) else "ok"
    if response.is_success and code == "ok":
        return dict(body)
    message = str(error.get("message") or "").strip()[:160] if isinstance(error, dict) else ""
    status = response.status_code
    if code in _TRANSIENT_CODES or status == 429 or status >= 500:
        raise TransientError(f"{SERVICE} is busy or failing right now ({code or status})")
    if code in _PLAIN_WORDS:
        raise PermanentError(_PLAIN_WORDS[code])
    detail = f": {message}" if message else ""
    raise PermanentError(f"{SERVICE} rejected the request ({code or f'HTTP {status}'}){detail}")


def _error_code(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    return str(error.get("code", "")) if isinstance(error, dict) else ""


def _data(body: dict[str, Any]) -> dict[str, Any]:
    data = body.get("data")
    return data if isinstance(data, dict) else {}


def _location(publish_id: str, data: dict[str, Any]) -> str:
    post_ids = data.get("publicaly_available_post_id") or []
    if isinstance(post_ids, list) and post_ids:
        return f"https://www.tiktok.com/@/video/{post_ids[0]}"
    return f"tiktok publish_id {publish_id} (processing for the inbox)"


def _usable(saved: Progress, plan: ChunkPlan) -> bool:
    """A saved upload can continue: same file and chunking, and its URL is still fresh."""
    if saved.state == "uploaded":
        return True
    fresh = time.time() - saved.started_at < UPLOAD_URL_SECONDS - 60
    same = (saved.video_size, saved.chunk_size) == (plan.size, plan.chunk_size)
    return fresh and same and bool(saved.publish_id and saved.upload_url)



def _read(video: Path, start: int, end: int) -> bytes:
    try:
        with video.open("rb") as handle:
            handle.seek(start)
            return handle.read(end - start)
    except OSError as error:
        raise TransientError(f"could not read the rendered video ({error.strerror})") from None


__all__ = ["ChunkPlan", "TikTokApi", "TikTokConfig", "TikTokPublisher", "UploadLinkExpired",
           "envelope", "plan_chunks"]
