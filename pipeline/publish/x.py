"""X (Twitter): the video through API v2's chunked media upload, then a post that carries it.

Steps: refresh the OAuth 2.0 token (X rotates refresh tokens: every refresh answers a new one
and retires the old, so the newest is kept in the checkpoints), initialize the media, append
it in segments, finalize, poll its processing until it succeeded, then `POST /2/tweets`.
Progress is saved after every step. Before the post a "posting" marker is saved; a re-run that
finds it looks at the account's latest posts first, so a crash between the post and the save
never posts the video twice.
"""

from __future__ import annotations

import hashlib
import html
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from pipeline.errors import PermanentError, TransientError
from pipeline.publish import PublishRequest, PublishResult
from pipeline.publish.remote import (
    DEFAULT_TIMEOUT,
    Checkpoints,
    SealedCheckpoints,
    check_response,
    chunks,
    load_progress,
    network_error,
    save_progress,
    secret_from_env,
    video_size,
)

SERVICE = "X"
SEGMENT_BYTES = 4 * 1024 * 1024
"""Append segment size: X takes at most 5 MB per segment, and at most 1000 segments."""
MAX_SEGMENTS = 1000
MAX_WEIGHT = 280
ELLIPSIS = "…"


class XConfig(BaseModel):
    """Which X app and account to post with, and how the post's text is made."""

    model_config = ConfigDict(frozen=True)

    client_id: str = Field(min_length=1)
    client_secret: SecretStr | None = None
    refresh_token: SecretStr
    api_url: str = "https://api.x.com"
    text_template: str = "{title}"
    poll_seconds: float = Field(default=3.0, gt=0)
    """Wait between processing checks when X does not suggest one."""
    max_poll_seconds: float = Field(default=60.0, gt=0)
    """Longest wait between processing checks, whatever X's `check_after_secs` says."""
    poll_timeout: float = Field(default=300, gt=0)

    @field_validator("api_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("text_template")
    @classmethod
    def _only_title(cls, value: str) -> str:
        try:
            value.format(title="title")
        except (KeyError, IndexError, ValueError):
            raise ValueError("text_template may only use {title}") from None
        return value

    @classmethod
    def from_env(cls, prefix: str = "X", **options: Any) -> XConfig:
        """From `$<prefix>_CLIENT_ID`, `_CLIENT_SECRET` (optional), `_REFRESH_TOKEN`, `_API_URL`.

        `options` (the policy target's, e.g. `text_template`) set the other fields.
        """
        client_id = os.environ.get(f"{prefix}_CLIENT_ID", "").strip()
        refresh = secret_from_env(f"{prefix}_REFRESH_TOKEN")
        missing = [name for name, value in ((f"{prefix}_CLIENT_ID", client_id),
                                            (f"{prefix}_REFRESH_TOKEN", refresh)) if not value]
        if missing or refresh is None:
            raise PermanentError(f"X publishing is not set up: set {', '.join(missing)}")
        values: dict[str, Any] = {"client_id": client_id, "refresh_token": refresh,
                                  "client_secret": secret_from_env(f"{prefix}_CLIENT_SECRET")}
        api_url = os.environ.get(f"{prefix}_API_URL", "").strip()
        if api_url:
            values["api_url"] = api_url
        return cls(**{**options, **values})


class Progress(BaseModel):
    """What is saved under the checkpoint key between steps."""

    state: Literal["uploading", "uploaded", "posting", "done"]
    media_id: str = ""
    media_key: str = ""
    expires_at: float = 0.0
    total: int = 0
    segment_bytes: int = 0
    segments_done: int = 0
    tweet_id: str = ""
    location: str = ""
    published_at: datetime | None = None


class XPublisher:
    """Posts approved videos to one X account; resumable and never double-posting.

    `segment_bytes` is the append size (≤ 5 MB; tests use less). `client` shares an
    `httpx.Client`; without one each publish opens and closes its own.
    """

    name = "x"

    def __init__(
        self,
        config: XConfig,
        checkpoints: Checkpoints,
        *,
        segment_bytes: int = SEGMENT_BYTES,
        client: httpx.Client | None = None,
    ) -> None:
        if not 0 < segment_bytes <= 5 * 1024 * 1024:
            raise ValueError("segment_bytes must be between 1 byte and 5 MB")
        self.config = config
        self._checkpoints = checkpoints
        self._segment_bytes = segment_bytes
        self._client = client

    def publish(self, request: PublishRequest) -> PublishResult:
        """Post the video once; a repeat of a posted version returns its location, no HTTP."""
        key = f"x:{request.project_id}:v{request.version}"
        saved = load_progress(self._checkpoints, key, Progress)
        if saved is not None and saved.state == "done":
            return _result(saved, reused=True)
        text = post_text(self.config.text_template, request.title)
        size = video_size(request.video)
        if -(-size // self._segment_bytes) > MAX_SEGMENTS:
            raise PermanentError("the video is too large for X's upload (over 1000 segments)")
        with self._api() as api:
            if saved is not None and saved.state == "posting":
                found = api.find_post(saved.media_key, text)
                if found is not None:
                    return _result(self._done(saved, found, key), reused=False)
            progress = saved if saved is not None and self._usable(saved, size) else None
            progress = self._prepare_or_restart(api, request.video, size, progress, key)
            return _result(self._post(api, progress, text, key), reused=False)

    @contextmanager
    def _api(self) -> Iterator[XApi]:
        if self._client is not None:
            yield XApi(self._client, self.config, self._checkpoints)
            return
        with httpx.Client(timeout=DEFAULT_TIMEOUT) as client:
            yield XApi(client, self.config, self._checkpoints)

    # --- steps ----------------------------------------------------------------------------

    def _prepare_or_restart(
        self, api: XApi, video: Path, size: int, progress: Progress | None, key: str
    ) -> Progress:
        """Media ready to attach: continue the saved upload; expired media start over once."""
        if progress is None:
            progress = self._start(api, size, key)
        try:
            return self._prepare(api, video, progress, key)
        except MediaExpired:
            return self._prepare(api, video, self._start(api, size, key), key)

    def _start(self, api: XApi, size: int, key: str) -> Progress:
        media_id, media_key, lifetime = api.initialize(size)
        progress = Progress(state="uploading", media_id=media_id, media_key=media_key,
                            expires_at=time.time() + lifetime, total=size,
                            segment_bytes=self._segment_bytes)
        save_progress(self._checkpoints, key, progress)
        return progress

    def _prepare(self, api: XApi, video: Path, progress: Progress, key: str) -> Progress:
        info: dict[str, Any] | None = None
        if progress.state == "uploading":
            progress = self._append(api, video, progress, key)
            info = api.finalize(progress.media_id)
            progress = progress.model_copy(update={"state": "uploaded"})
            save_progress(self._checkpoints, key, progress)
        if progress.state == "uploaded":
            self._wait(api, progress.media_id, info, key)
        return progress

    def _append(self, api: XApi, video: Path, progress: Progress, key: str) -> Progress:
        """Append the segments from the saved index on, saving after each one."""
        step = progress.segment_bytes
        try:
            for offset, piece in chunks(video, progress.segments_done * step, step):
                api.append(progress.media_id, offset // step, piece)
                progress = progress.model_copy(update={"segments_done": offset // step + 1})
                save_progress(self._checkpoints, key, progress)
        except OSError as error:
            raise TransientError(f"could not read the rendered video ({error.strerror})") from None
        return progress

    def _wait(self, api: XApi, media_id: str, info: dict[str, Any] | None, key: str) -> None:
        """Poll the media's processing until it succeeded (or failed, or time runs out)."""
        deadline = time.monotonic() + self.config.poll_timeout
        if info is None:
            info = api.status(media_id)
        while (state := info.get("state")) not in (None, "succeeded"):
            if state == "failed":
                self._checkpoints.clear(key)
                error = info.get("error") or {}
                reason = error.get("message") if isinstance(error, dict) else None
                raise PermanentError(f"X could not process the video: {reason or 'no reason'}")
            if time.monotonic() >= deadline:
                raise TransientError("X is still processing the video; try again later")
            wait = info.get("check_after_secs") or self.config.poll_seconds
            time.sleep(min(float(wait), self.config.max_poll_seconds))
            info = api.status(media_id)

    def _post(self, api: XApi, progress: Progress, text: str, key: str) -> Progress:
        """Save the "posting" marker, then post; a crash between the two is found on re-run."""
        progress = progress.model_copy(update={"state": "posting"})
        save_progress(self._checkpoints, key, progress)
        return self._done(progress, api.post(text, progress.media_id), key)

    def _done(self, progress: Progress, tweet_id: str, key: str) -> Progress:
        done = progress.model_copy(update={
            "state": "done", "tweet_id": tweet_id, "published_at": datetime.now(UTC),
            "location": f"https://x.com/i/status/{tweet_id}"})
        save_progress(self._checkpoints, key, done)
        return done

    # --- records --------------------------------------------------------------------------

    def _usable(self, saved: Progress, size: int) -> bool:
        """The saved media can continue: same file and segments, and X still keeps it."""
        fresh = saved.expires_at - 60 > time.time()
        same = (saved.total, saved.segment_bytes) == (size, self._segment_bytes)
        return fresh and same and bool(saved.media_id)



class MediaExpired(TransientError):
    """X no longer knows the saved media id (it lasts `expires_after_secs`)."""


class RotatingRefresher:
    """OAuth 2.0 access tokens for X, keeping the newest refresh token in the checkpoints.

    X answers every refresh with a new refresh token and retires the one used, so the newest
    is saved under `x:refresh-token:<client_id>` at once and preferred over the configured
    one, unless the configured one changed since (an admin reconnected the account). Same
    face as `remote.OAuthRefresher`; separate because that one never sees the new token.
    The saved token is sealed at rest (`pipeline.secrets`). One saved in clear text by an
    older version (or sealed with a key no longer first) is not written back when read: the
    sign-in that follows every read saves the new token sealed, and writing back the old one
    could race another worker's rotation.
    """

    def __init__(self, client: httpx.Client, config: XConfig, checkpoints: Checkpoints) -> None:
        self._client, self._config = client, config
        self._checkpoints = SealedCheckpoints(
            checkpoints, ("refresh_token",), durable=True, reseal=False
        )
        self.key = f"x:refresh-token:{config.client_id}"
        self._token: str | None = None
        self._expires_at = 0.0

    def token(self) -> str:
        if self._token is None or time.monotonic() > self._expires_at - 60:
            self._refresh()
        assert self._token is not None
        return self._token

    def invalidate(self) -> None:
        self._token = None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def _current(self) -> str:
        seed = _seed(self._config.refresh_token)
        saved = self._checkpoints.load(self.key) or {}
        if saved.get("seed") == seed and isinstance(saved.get("refresh_token"), str):
            return str(saved["refresh_token"])
        return self._config.refresh_token.get_secret_value()

    def _refresh(self) -> None:
        used = self._current()
        response = self._exchange(used)
        if response.status_code in (400, 401) and self._current() != used:
            response = self._exchange(self._current())  # another worker rotated it meanwhile
        if response.status_code in (400, 401):
            raise PermanentError("X refused our saved sign-in (the refresh token was revoked or "
                                 "already used); an admin needs to reconnect the account")
        config = self._config
        body = _json(check_response(response, "X sign-in"))
        if not body.get("access_token") or not body.get("refresh_token"):
            raise TransientError("X sign-in answered without a token")
        rotated = {"refresh_token": str(body["refresh_token"]),
                   "seed": _seed(config.refresh_token), "saved_at": datetime.now(UTC).isoformat()}
        # the old token stops working: the new one must outlive any upload progress
        self._checkpoints.save(self.key, rotated, durable=True)
        self._token = str(body["access_token"])
        self._expires_at = time.monotonic() + float(body.get("expires_in", 7200))

    def _exchange(self, refresh_token: str) -> httpx.Response:
        config = self._config
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token,
                "client_id": config.client_id}
        secret = config.client_secret
        auth = (httpx.BasicAuth(config.client_id, secret.get_secret_value())
                if secret is not None else httpx.USE_CLIENT_DEFAULT)
        try:
            return self._client.post(f"{config.api_url}/2/oauth2/token", data=data, auth=auth)
        except httpx.HTTPError as error:
            raise network_error("X sign-in", error) from None


class XApi:
    """The v2 calls over one client: a 401 refreshes once; rate limits and duplicates in words."""

    def __init__(self, client: httpx.Client, config: XConfig, checkpoints: Checkpoints) -> None:
        self._client, self._url = client, config.api_url
        self._auth = RotatingRefresher(client, config, checkpoints)

    def initialize(self, total: int) -> tuple[str, str, float]:
        """The new media's id, media key and lifetime in seconds."""
        body = {"media_type": "video/mp4", "total_bytes": total, "media_category": "tweet_video"}
        data = _data(self.request("POST", "/2/media/upload/initialize", json=body))
        if not data.get("id"):
            raise TransientError("X started the media upload without a media id")
        return str(data["id"]), str(data.get("media_key", "")), float(
            data.get("expires_after_secs", 86400))

    def append(self, media_id: str, index: int, piece: bytes) -> None:
        self.request("POST", f"/2/media/upload/{media_id}/append",
                     data={"segment_index": str(index)},
                     files={"media": ("segment", piece, "application/octet-stream")},
                     media=True)

    def finalize(self, media_id: str) -> dict[str, Any]:
        response = self.request("POST", f"/2/media/upload/{media_id}/finalize", media=True)
        return _processing(_data(response))

    def status(self, media_id: str) -> dict[str, Any]:
        params = {"media_id": media_id, "command": "STATUS"}
        return _processing(_data(self.request("GET", "/2/media/upload", params=params,
                                              media=True)))

    def post(self, text: str, media_id: str) -> str:
        body = {"text": text, "media": {"media_ids": [media_id]}}
        data = _data(self.request("POST", "/2/tweets", json=body))
        if not data.get("id"):
            raise TransientError("X answered the post without its id")
        return str(data["id"])

    def find_post(self, media_key: str, text: str) -> str | None:
        """The id of one of the account's latest posts with this media or text, if any."""
        user = _data(self.request("GET", "/2/users/me")).get("id")
        if not user:
            raise TransientError("X did not say which account we are signed in as")
        params = {"max_results": "5", "tweet.fields": "attachments"}
        tweets = _json(self.request("GET", f"/2/users/{user}/tweets", params=params))
        for tweet in tweets.get("data") or []:
            keys = (tweet.get("attachments") or {}).get("media_keys") or []
            if (media_key and media_key in keys) or _same_text(str(tweet.get("text")), text):
                return str(tweet["id"])
        return None

    def request(self, method: str, path: str, *, media: bool = False,
                **options: Any) -> httpx.Response:
        """One call; `media` calls answer MediaExpired when X no longer knows the media id."""
        for attempt in range(2):
            try:
                response = self._client.request(method, f"{self._url}{path}",
                                                headers=self._auth.headers(), **options)
            except httpx.HTTPError as error:
                raise network_error(SERVICE, error) from None
            if response.status_code == 401 and attempt == 0:
                self._auth.invalidate()
                continue
            if media and response.status_code in (404, 410):
                raise MediaExpired("X forgot the uploaded video before it was posted")
            return _checked(response)
        raise AssertionError("unreachable")  # pragma: no cover


def _checked(response: httpx.Response) -> httpx.Response:
    if response.status_code == 429:
        reset = response.headers.get("x-rate-limit-reset", "")
        when = "later"
        if reset.isdigit():
            moment = datetime.fromtimestamp(int(reset), UTC)
            wait = max(0, round(moment.timestamp() - time.time()))
            when = f"at {moment:%H:%M:%S} UTC (in {wait} s)"
        raise TransientError(f"X's rate limit is used up; it resets {when}")
    if response.status_code == 403 and "duplicate" in response.text.lower():
        raise PermanentError("X refused the post because this account already posted the same "
                             "text; change the title or the X text template and publish again")
    return check_response(response, SERVICE)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise TransientError("X answered something unreadable") from None
    return body if isinstance(body, dict) else {}


def _data(response: httpx.Response) -> dict[str, Any]:
    data = _json(response).get("data")
    return data if isinstance(data, dict) else {}


def _processing(data: dict[str, Any]) -> dict[str, Any]:
    info = data.get("processing_info")
    return info if isinstance(info, dict) else {}


def _same_text(posted: str, text: str) -> bool:
    """X appends the media's t.co link to the text it stores."""
    posted = html.unescape(posted)
    return posted == text or (posted.startswith(text) and " https://t.co/" in posted[len(text):])


def weight(text: str) -> int:
    """X's length of `text`: most Latin-script characters count 1, others (CJK, emoji) 2."""
    light = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
    return sum(1 if any(a <= ord(c) <= b for a, b in light) else 2 for c in text)


def post_text(template: str, title: str) -> str:
    """The post's text from the template; over 280 it is cut at a word and ends with "…"."""
    text = template.format(title=title).strip()
    if weight(text) <= MAX_WEIGHT:
        return text
    budget, cut = MAX_WEIGHT - weight(ELLIPSIS), ""
    for char in text:
        if weight(cut + char) > budget:
            break
        cut += char
    word_end = max(cut.rfind(" "), cut.rfind("\n"))
    if word_end > max(0, len(cut) - 40) and not text[len(cut)].isspace():
        cut = cut[:word_end]
    return cut.rstrip(" ,.;:-–—") + ELLIPSIS


def _result(progress: Progress, *, reused: bool) -> PublishResult:
    return PublishResult(target=XPublisher.name, location=progress.location,
                         published_at=progress.published_at or datetime.now(UTC), reused=reused)



def _seed(token: SecretStr) -> str:
    """A short digest of the configured refresh token, to notice when an admin replaces it."""
    return hashlib.sha256(token.get_secret_value().encode()).hexdigest()[:16]


__all__ = ["MediaExpired", "RotatingRefresher", "XApi", "XConfig", "XPublisher", "post_text",
           "weight"]
