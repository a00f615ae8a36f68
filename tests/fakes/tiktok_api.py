"""A fake TikTok: OAuth refresh and the Content Posting API's direct post with FILE_UPLOAD.

`FakeTikTok` serves, on 127.0.0.1 with an ephemeral port from its own thread:
`POST /v2/oauth/token/` (form: client_key, client_secret, grant_type=refresh_token,
refresh_token), `POST /v2/post/publish/creator_info/query/`, `POST /v2/post/publish/video/init/`,
`PUT /video/?upload_id=…&upload_token=…` (the upload URL init hands out) and
`POST /v2/post/publish/status/fetch/`, with TikTok's `{data, error: {code, message, log_id}}`
envelope. Chunking is checked by the documented rules with "MB" scaled by `mb` (default a real
MiB): chunks of 5–64 MB except the last (≤ 128 MB), a video under 5 MB in one chunk,
`total_chunk_count == video_size // chunk_size`, at most 1000 chunks, uploaded in order. The
bytes received per publish id are kept (`uploads`), so tests can compare checksums.

Faults: `fail_next(n, status_or_code, on=path)`, `drop_after(bytes, status=None)` (an upload
PUT that would go past that many bytes is cut off, or answered `status`), `expire_upload_urls()`,
`fail_processing(reason)`, `revoke_access_tokens()`. Counters: `inits`, `posts_created`.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.served import Recorded, ThreadedServer

ERROR_STATUS = {
    "access_token_invalid": 401,
    "scope_not_authorized": 401,
    "rate_limit_exceeded": 429,
    "spam_risk_too_many_posts": 403,
    "privacy_level_option_mismatch": 403,
    "invalid_params": 400,
    "internal_error": 500,
}
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")



@dataclass
class Upload:
    """One initialized post: its declared sizes, the bytes so far and its status."""

    publish_id: str
    token: str
    post_info: dict[str, Any]
    video_size: int
    chunk_size: int
    chunk_count: int
    data: bytearray = field(default_factory=bytearray)
    polls: int = 0
    expired: bool = False
    status: str = "PROCESSING_UPLOAD"
    post_id: int | None = None


class FakeTikTok(ThreadedServer):
    """`with FakeTikTok(key, secret, refresh) as fake:` serves until the block ends."""

    client_max_size = 256 * 1024 * 1024

    def __init__(
        self,
        client_key: str,
        client_secret: str,
        refresh_token: str,
        *,
        mb: int = 1024 * 1024,
        privacy_options: tuple[str, ...] = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS",
                                            "SELF_ONLY"),
        processing_polls: int = 2,
    ) -> None:
        super().__init__()
        self.client_key, self.client_secret, self.refresh_token = (
            client_key, client_secret, refresh_token)
        self.mb = mb
        self.privacy_options = privacy_options
        self.processing_polls = processing_polls
        self.requests: list[Recorded] = []
        self.uploads: dict[str, Upload] = {}
        self.access_tokens: set[str] = set()
        self.failures: list[tuple[str | int, str | None]] = []
        self.drop: tuple[int, int | None] | None = None
        self.fail_reason: str | None = None
        self.inits = 0
        self.posts_created = 0
        self._ids = itertools.count(7_300_000_000_000_000_001)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v2/oauth/token/", self._token)
        app.router.add_post("/v2/post/publish/creator_info/query/", self._creator_info)
        app.router.add_post("/v2/post/publish/video/init/", self._init)
        app.router.add_put("/video/", self._put)
        app.router.add_post("/v2/post/publish/status/fetch/", self._status)

    # --- fault injection ------------------------------------------------------------------

    def fail_next(self, count: int, error: int | str = 500, on: str | None = None) -> None:
        """The next `count` API calls (whose path contains `on`) answer an HTTP status or code."""
        self.failures.extend([(error, on)] * count)

    def drop_after(self, total_bytes: int, status: int | None = None) -> None:
        """Cut off (or answer `status` to) the first upload PUT that goes past `total_bytes`."""
        self.drop = (total_bytes, status)

    def expire_upload_urls(self) -> None:
        for upload in self.uploads.values():
            upload.expired = True

    def fail_processing(self, reason: str) -> None:
        self.fail_reason = reason

    def revoke_access_tokens(self) -> None:
        self.access_tokens.clear()

    def api_paths(self) -> list[str]:
        return [r.path for r in self.requests if r.method != "PUT"]

    def puts(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "PUT"]

    # --- OAuth ----------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self._record(request, form)
        expected = {"client_key": self.client_key, "client_secret": self.client_secret,
                    "grant_type": "refresh_token", "refresh_token": self.refresh_token}
        if any(form.get(name) != value for name, value in expected.items()):
            return web.json_response({"error": "invalid_grant", "error_description":
                                      "Refresh token is invalid or expired.",
                                      "log_id": _log_id()}, status=400)
        token = f"act.{secrets.token_hex(16)}"
        self.access_tokens.add(token)
        return web.json_response({
            "access_token": token, "expires_in": 86400, "open_id": "_000fake-open-id",
            "refresh_token": self.refresh_token, "refresh_expires_in": 31536000,
            "scope": "user.info.basic,video.publish", "token_type": "Bearer"})

    # --- API ------------------------------------------------------------------------------

    async def _creator_info(self, request: web.Request) -> web.Response:
        refusal = await self._refusal(request)
        if refusal is not None:
            return refusal
        return _ok({"creator_avatar_url": "https://p16.tiktokcdn.com/fake.jpeg",
                    "creator_username": "novacast.test", "creator_nickname": "Novacast",
                    "privacy_level_options": list(self.privacy_options),
                    "comment_disabled": False, "duet_disabled": False,
                    "stitch_disabled": True, "max_video_post_duration_sec": 600})

    async def _init(self, request: web.Request) -> web.Response:
        refusal = await self._refusal(request)
        if refusal is not None:
            return refusal
        body = self.requests[-1].body
        post_info, source = body.get("post_info") or {}, body.get("source_info") or {}
        if post_info.get("privacy_level") not in self.privacy_options:
            return _error("privacy_level_option_mismatch", "privacy_level is not an option")
        problem = self._chunk_problem(source)
        if problem is not None:
            return _error("invalid_params", problem)
        publish_id = f"v_pub_file~v2-1.{next(self._ids)}"
        upload = Upload(publish_id, secrets.token_urlsafe(12), post_info,
                        source["video_size"], source["chunk_size"], source["total_chunk_count"])
        self.uploads[publish_id] = upload
        self.inits += 1
        upload_url = f"{self.base_url}/video/?upload_id={publish_id}&upload_token={upload.token}"
        return _ok({"publish_id": publish_id, "upload_url": upload_url})

    def _chunk_problem(self, source: dict[str, Any]) -> str | None:
        """The documented chunk rules, with "MB" scaled to `self.mb` bytes."""
        if source.get("source") != "FILE_UPLOAD":
            return "source must be FILE_UPLOAD here"
        size, chunk, count = (source.get(k) for k in ("video_size", "chunk_size",
                                                      "total_chunk_count"))
        if not all(isinstance(v, int) and v > 0 for v in (size, chunk, count)):
            return "video_size, chunk_size and total_chunk_count are required"
        assert isinstance(size, int)
        assert isinstance(chunk, int)
        mb = self.mb
        if size < 5 * mb and (chunk, count) != (size, 1):
            return "a video under 5 MB must be uploaded whole"
        if size >= 5 * mb and not 5 * mb <= chunk <= 64 * mb:
            return "chunk_size must be between 5 MB and 64 MB"
        if count != size // chunk or not 1 <= count <= 1000:
            return "total_chunk_count must be video_size / chunk_size rounded down"
        if size - (count - 1) * chunk > 128 * mb:
            return "the final chunk may not exceed 128 MB"
        return None

    async def _put(self, request: web.Request) -> web.StreamResponse:
        upload = self.uploads.get(request.query.get("upload_id", ""))
        if upload is None or upload.token != request.query.get("upload_token") or upload.expired:
            self._record(request, None)
            return _error("invalid_params", "upload url not found or expired", 404)
        drop = self._drop_for(upload, int(request.headers.get("Content-Length", "0")))
        if drop is not None:
            await request.content.read(1024)
            self._record(request, None)
            if drop == 0:
                request.transport.abort()  # type: ignore[union-attr]
            return web.Response(status=drop or 503)
        data = await request.read()
        self._record(request, len(data))
        return self._accept(upload, request, data)

    def _drop_for(self, upload: Upload, length: int) -> int | None:
        """0 to cut the connection, a status to answer, None to accept this PUT."""
        if self.drop is None or len(upload.data) + length <= self.drop[0]:
            return None
        status = self.drop[1]
        self.drop = None
        return status or 0

    def _accept(self, upload: Upload, request: web.Request, data: bytes) -> web.Response:
        match = _RANGE.match(request.headers.get("Content-Range", ""))
        if request.headers.get("Content-Type") not in ("video/mp4", "video/quicktime",
                                                        "video/webm"):
            return _error("invalid_params", "unsupported Content-Type", 400)
        if match is None or int(match[3]) != upload.video_size:
            return _error("invalid_params", "bad Content-Range", 400)
        first, last = int(match[1]), int(match[2])
        expected = self._chunk_span(upload, first)
        if expected is None or first > len(upload.data) or expected != (first, last + 1):
            return _error("invalid_params", "chunks must be uploaded in order", 416)
        if len(data) != last + 1 - first:
            return _error("invalid_params", "Content-Length does not match the range", 400)
        del upload.data[first:]
        upload.data.extend(data)
        return web.Response(status=201 if len(upload.data) == upload.video_size else 206)

    @staticmethod
    def _chunk_span(upload: Upload, first: int) -> tuple[int, int] | None:
        if first % upload.chunk_size:
            return None
        index = first // upload.chunk_size
        if index >= upload.chunk_count:
            return None
        last_chunk = index == upload.chunk_count - 1
        return first, upload.video_size if last_chunk else first + upload.chunk_size

    async def _status(self, request: web.Request) -> web.Response:
        refusal = await self._refusal(request)
        if refusal is not None:
            return refusal
        upload = self.uploads.get(str(self.requests[-1].body.get("publish_id")))
        if upload is None:
            return _error("invalid_publish_id", "publish_id not found", 400)
        if len(upload.data) == upload.video_size and upload.status == "PROCESSING_UPLOAD":
            upload.polls += 1
            if upload.polls > self.processing_polls:
                self._complete(upload)
        data: dict[str, Any] = {"status": upload.status, "uploaded_bytes": len(upload.data)}
        if upload.status == "FAILED":
            data["fail_reason"] = self.fail_reason
        if upload.post_id is not None:
            data["publicaly_available_post_id"] = [upload.post_id]
        return _ok(data)

    def _complete(self, upload: Upload) -> None:
        if self.fail_reason is not None:
            upload.status = "FAILED"
            return
        upload.status = "PUBLISH_COMPLETE"
        self.posts_created += 1
        if upload.post_info.get("privacy_level") == "PUBLIC_TO_EVERYONE":
            upload.post_id = next(self._ids)

    async def _refusal(self, request: web.Request) -> web.Response | None:
        """Record the JSON call; answer an injected failure or a bad token, else None."""
        raw = await request.read()
        self._record(request, json.loads(raw) if raw else None)
        failure = self._next_failure(request.path)
        if failure is not None:
            if isinstance(failure, int):
                return _error("internal_error" if failure >= 500 else "invalid_params",
                              f"injected HTTP {failure}", failure)
            return _error(failure, f"injected {failure}")
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.access_tokens:
            return _error("access_token_invalid", "The access token is invalid or not found.")
        if not request.headers.get("Content-Type", "").startswith("application/json"):
            return _error("invalid_params", "Content-Type must be application/json", 400)
        return None

    def _next_failure(self, path: str) -> int | str | None:
        for index, (error, on) in enumerate(self.failures):
            if on is None or on in path:
                del self.failures[index]
                return error
        return None

    def _record(self, request: web.Request, body: Any) -> None:
        self.requests.append(Recorded.of(request, body))


def _log_id() -> str:
    return f"2026{secrets.token_hex(12).upper()}"


def _ok(data: dict[str, Any]) -> web.Response:
    return web.json_response({"data": data,
                              "error": {"code": "ok", "message": "", "log_id": _log_id()}})


def _error(code: str, message: str, status: int | None = None) -> web.Response:
    body = {"data": {}, "error": {"code": code, "message": message, "log_id": _log_id()}}
    return web.json_response(body, status=status or ERROR_STATUS.get(code, 400))
