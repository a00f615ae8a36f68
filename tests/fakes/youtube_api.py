"""A fake YouTube Data API v3: OAuth2 refresh, the resumable upload protocol, video resources.

`FakeYouTube` serves on 127.0.0.1 with an ephemeral port, from its own thread (the publisher
under test is synchronous), what the documented protocol says
(developers.google.com/youtube/v3/guides/using_resumable_upload_protocol):

* `POST /token` — form `grant_type=refresh_token` with the client id, secret and refresh
  token; answers `{access_token, expires_in, scope, token_type}` or Google's OAuth errors.
* `POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status` — checks the
  Bearer token, the query, `X-Upload-Content-Length`/`-Type` and the JSON metadata (400 with
  the API's `invalidTitle`, `invalidCategoryId`, ... errors); answers 200 with the session URL
  in `Location`, on this server.
* `PUT <session>` with `Content-Range: bytes a-b/total` — the chunk must start exactly where
  the stored bytes end and, unless final, be a multiple of 256 KiB; answers 308 with
  `Range: bytes=0-N`, or 200 with the `youtube#video` resource once every byte is there.
  `Content-Range: bytes */total` with no body asks for the status the same way.

Fault injection: `interrupt_after(offset)` cuts the next chunk that crosses `offset`, keeping
only the bytes before it, and drops the connection (or answers `status`); `fail_next(n,
status)` fails the next n API calls; `expire_tokens()` makes every issued token answer 401;
`expire_sessions()` makes every open session answer 404 (or 410). Requests are recorded as
they arrived; each finished video keeps its bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeGuard
from urllib.parse import parse_qs

from aiohttp import web
from multidict import CIMultiDict

from tests.fakes.served import ThreadedServer

UPLOAD_PATH = "/upload/youtube/v3/videos"
CHUNK_UNIT = 256 * 1024
CATEGORIES = frozenset(
    {"1", "2", "10", "15", "17", "19", "20", "22", "23", "24", "25", "26", "27", "28", "29"}
)
PRIVACY = frozenset({"private", "unlisted", "public"})
CHANNEL_ID = "UCfakeNovacastChannel0001"
_CONTENT_RANGE = re.compile(r"bytes (?:\*|(\d+)-(\d+))/(\d+)")
_UNAUTHENTICATED = (
    "Request had invalid authentication credentials. Expected OAuth 2 access "
    "token, login cookie or other valid authentication credential."
)


@dataclass
class Recorded:
    """One request as it arrived, and the status answered (0: the connection was dropped)."""

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDict[str]
    body: bytes = b""
    status: int = 0

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.body.decode()).items()}


@dataclass
class Session:
    """One resumable upload session: the metadata it opened with and the bytes stored."""

    upload_id: str
    metadata: dict[str, Any]
    parts: list[str]
    total: int
    received: bytearray = field(default_factory=bytearray)
    video_id: str | None = None
    gone: int = 0
    """0 while open; the status (404/410) an expired session answers."""


@dataclass
class Video:
    resource: dict[str, Any]
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def google_error(
    status: int, reason: str, message: str, domain: str = "youtube.video"
) -> web.Response:
    """The API's error body: `{"error": {"code", "message", "errors": [{reason, ...}]}}`."""
    detail = {"message": message, "domain": domain, "reason": reason}
    body = {"error": {"code": status, "message": message, "errors": [detail]}}
    return web.json_response(body, status=status)


class FakeYouTube(ThreadedServer):
    """`with FakeYouTube(client_id, secret, refresh) as fake:`; `fake.base_url`, `.token_url`."""

    client_max_size = 256 * 1024 * 1024

    def __init__(self, client_id: str, client_secret: str, refresh_token: str) -> None:
        super().__init__()
        self._client = (client_id, client_secret)
        self.refresh_token = refresh_token
        self.requests: list[Recorded] = []
        self.tokens: list[str] = []
        self.sessions: dict[str, Session] = {}
        self.videos: dict[str, Video] = {}
        self.failures: list[int] = []
        self.cuts: list[tuple[int, int | None]] = []
        self._valid_tokens: set[str] = set()
        self.holds: list[int] = []
        self.holding = threading.Event()
        """Set once a chunk is held (`hold_at`): its uploader waits for an answer."""
        self._released = threading.Event()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/token", self._recorded(self._token))
        app.router.add_post(UPLOAD_PATH, self._recorded(self._open))
        app.router.add_put(UPLOAD_PATH, self._recorded(self._put))

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    def publisher_env(self) -> dict[str, str]:
        """The environment that points NOVACAST's YouTube publisher at this fake."""
        return {
            "YOUTUBE_CLIENT_ID": self._client[0],
            "YOUTUBE_CLIENT_SECRET": self._client[1],
            "YOUTUBE_REFRESH_TOKEN": self.refresh_token,
            "YOUTUBE_API_URL": self.base_url,
            "YOUTUBE_TOKEN_URL": self.token_url,
        }

    @property
    def videos_created(self) -> int:
        return len(self.videos)

    def uploads(self) -> list[Recorded]:
        """The PUTs to upload sessions (chunks and status queries), in order."""
        return [r for r in self.requests if r.method == "PUT" and r.path == UPLOAD_PATH]

    # --- fault injection ------------------------------------------------------------------

    def fail_next(self, count: int, status: int = 503) -> None:
        """The next `count` API calls (not the token endpoint) answer `status`."""
        self.failures.extend([status] * count)

    def interrupt_after(self, offset: int, times: int = 1, status: int | None = None) -> None:
        """Cut the next `times` chunks that reach byte `offset` there: the bytes before it are
        kept, then the connection drops (or, with `status`, the rest is read and refused).
        A cut at a chunk's end (or the file's) keeps it all and loses only the answer."""
        self.cuts.extend([(offset, status)] * times)

    def hold_at(self, offset: int) -> None:
        """The next chunk reaching byte `offset` keeps the bytes before it and then gets no
        answer until `release()`: an uploader stuck mid-upload (to be killed there)."""
        self.holds.append(offset)

    def release(self) -> None:
        """Held chunks are answered (503) at last; call before the fake stops."""
        self._released.set()

    def expire_tokens(self) -> None:
        """Every access token issued so far answers 401 from now on."""
        self._valid_tokens.clear()

    def expire_sessions(self, status: int = 404) -> None:
        for session in self.sessions.values():
            session.gone = status

    def heal(self) -> None:
        """No more injected failures or cuts."""
        self.failures.clear()
        self.cuts.clear()

    # --- HTTP -----------------------------------------------------------------------------

    def _recorded(self, handler: Any) -> Any:
        async def handle(request: web.Request) -> web.StreamResponse:
            entry = Recorded(
                request.method, request.path, dict(request.query), CIMultiDict(request.headers)
            )
            self.requests.append(entry)
            response: web.StreamResponse = await handler(request, entry)
            if request.transport is not None and not request.transport.is_closing():
                entry.status = response.status
            return response

        return handle

    async def _token(self, request: web.Request, entry: Recorded) -> web.Response:
        entry.body = await request.read()
        form = entry.form()
        if form.get("grant_type") != "refresh_token":
            return _oauth_error(400, "unsupported_grant_type", "Invalid grant_type")
        if (form.get("client_id"), form.get("client_secret")) != self._client:
            return _oauth_error(401, "invalid_client", "Unauthorized")
        if form.get("refresh_token") != self.refresh_token:
            return _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        token = f"ya29.{secrets.token_urlsafe(32)}"
        self.tokens.append(token)
        self._valid_tokens.add(token)
        scope = "https://www.googleapis.com/auth/youtube.upload"
        body = {"access_token": token, "expires_in": 3599, "token_type": "Bearer", "scope": scope}
        return web.json_response(body)

    def _refusal(self, request: web.Request) -> web.Response | None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self._valid_tokens:
            return google_error(401, "authError", _UNAUTHENTICATED, domain="global")
        if self.failures:
            return google_error(self.failures.pop(0), "backendError", "Backend Error", "global")
        return None

    async def _open(self, request: web.Request, entry: Recorded) -> web.Response:
        entry.body = await request.read()
        refusal = self._refusal(request) or _init_problem(request, entry.body)
        if refusal is not None:
            return refusal
        upload_id = secrets.token_urlsafe(24)
        parts = request.query["part"].split(",")
        total = int(request.headers["X-Upload-Content-Length"])
        self.sessions[upload_id] = Session(upload_id, entry.json(), parts, total)
        location = (
            f"{self.base_url}{UPLOAD_PATH}?uploadType=resumable"
            f"&part={request.query['part']}&upload_id={upload_id}"
        )
        return web.Response(status=200, headers={"Location": location})

    async def _put(self, request: web.Request, entry: Recorded) -> web.StreamResponse:
        session = self.sessions.get(request.query.get("upload_id", ""))
        match = _CONTENT_RANGE.fullmatch(request.headers.get("Content-Range", ""))
        refusal = self._refusal(request) or _put_problem(session, match)
        if refusal is not None or session is None or match is None:
            entry.body = await request.read()
            return refusal or google_error(500, "backendError", "Backend Error", "global")
        if match[1] is not None:
            return await self._chunk(request, entry, session, int(match[1]), int(match[2]))
        entry.body = await request.read()
        if entry.body:
            return google_error(400, "badRequest", "A status query must have an empty body.")
        return self._status(session)

    async def _chunk(
        self, request: web.Request, entry: Recorded, session: Session, start: int, end: int
    ) -> web.StreamResponse:
        problem = _chunk_problem(request, session, start, end)
        if problem is not None:
            entry.body = await request.read()
            return problem
        if self.holds and start <= self.holds[0] <= end + 1:
            return await self._held(request, entry, session, self.holds.pop(0))
        cut = self._cut_in(start, end)
        if cut is not None:
            return await self._interrupted(request, entry, session, cut)
        entry.body = await request.read()
        if len(entry.body) != end - start + 1:
            return google_error(400, "badRequest", "The body does not match Content-Range.")
        session.received += entry.body
        if len(session.received) == session.total:
            self._finish(session)
        return self._status(session)

    def _cut_in(self, start: int, end: int) -> tuple[int, int | None] | None:
        if self.cuts and start <= self.cuts[0][0] <= end + 1:
            return self.cuts.pop(0)
        return None

    async def _interrupted(
        self, request: web.Request, entry: Recorded, session: Session, cut: tuple[int, int | None]
    ) -> web.StreamResponse:
        """Keep the chunk's bytes before the cut, then drop the line or answer the status."""
        offset, status = cut
        keep = offset - len(session.received)
        entry.body = await request.content.readexactly(keep) if keep > 0 else b""
        session.received += entry.body
        if len(session.received) == session.total:
            self._finish(session)
        if status is not None:
            await request.read()
            return google_error(status, "backendError", "Backend Error", "global")
        assert request.transport is not None
        request.transport.close()
        return web.Response(status=503)

    async def _held(
        self, request: web.Request, entry: Recorded, session: Session, offset: int
    ) -> web.StreamResponse:
        keep = offset - len(session.received)
        entry.body = await request.content.readexactly(keep) if keep > 0 else b""
        session.received += entry.body
        self.holding.set()
        while not self._released.is_set():
            await asyncio.sleep(0.05)
        return google_error(503, "backendError", "Backend Error", "global")

    def _status(self, session: Session) -> web.Response:
        if session.video_id is not None:
            return web.json_response(self.videos[session.video_id].resource, status=200)
        held = len(session.received)
        headers = {"Range": f"bytes=0-{held - 1}"} if held else {}
        return web.Response(status=308, reason="Resume Incomplete", headers=headers)

    def _finish(self, session: Session) -> None:
        video_id = secrets.token_urlsafe(8)[:11]
        session.video_id = video_id
        self.videos[video_id] = Video(_resource(video_id, session), bytes(session.received))


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)


def _put_problem(session: Session | None, match: re.Match[str] | None) -> web.Response | None:
    """404/410 for an unknown or expired session; 400 for a bad `Content-Range`."""
    if session is None or session.gone:
        return google_error(session.gone if session else 404, "notFound", "Not Found", "global")
    if match is None:
        return google_error(400, "badRequest", "Failed to parse Content-Range header.")
    if int(match[3]) != session.total:
        return google_error(400, "badRequest", "The upload's total size changed.")
    return None


def _init_problem(request: web.Request, raw: bytes) -> web.Response | None:
    """400 for a malformed session request, as the API words it; None if it is fine."""
    parts = set(request.query.get("part", "").split(","))
    length = request.headers.get("X-Upload-Content-Length", "")
    kind = request.headers.get("X-Upload-Content-Type", "")
    if request.query.get("uploadType") != "resumable":
        return google_error(400, "badRequest", "This fake serves uploadType=resumable only.")
    if not length.isdigit() or int(length) == 0:
        return google_error(400, "badRequest", "X-Upload-Content-Length must be a byte count.")
    if not kind.startswith("video/") and kind != "application/octet-stream":
        return google_error(400, "badRequest", "X-Upload-Content-Type must be a video type.")
    if not request.headers.get("Content-Type", "").startswith("application/json"):
        return google_error(400, "badRequest", "The metadata must be JSON.")
    try:
        body = json.loads(raw)
    except ValueError:
        return google_error(400, "parseError", "Parse Error", "global")
    if not isinstance(body, dict) or not set(body) <= parts or not parts <= {"snippet", "status"}:
        return google_error(400, "unexpectedPart", "The part parameter and body do not match.")
    return _metadata_problem(body.get("snippet", {}), body.get("status", {}))


METADATA_ERRORS = {
    "invalidTitle": "The request metadata specifies an invalid video title.",
    "invalidDescription": "The request metadata specifies an invalid video description.",
    "invalidTags": "The request metadata specifies invalid video keywords.",
    "invalidCategoryId": "The request metadata specifies an invalid video category.",
    "invalidVideoMetadata": "The request metadata is invalid.",
}
"""videos.insert's 400 reasons for bad metadata, worded as the API documents them."""


def _metadata_problem(snippet: Any, status: Any) -> web.Response | None:
    reason = _metadata_fault(snippet, status)
    return None if reason is None else google_error(400, reason, METADATA_ERRORS[reason])


def _metadata_fault(snippet: Any, status: Any) -> str | None:
    if not isinstance(snippet, dict) or not isinstance(status, dict):
        return "invalidVideoMetadata"
    title, description = snippet.get("title"), snippet.get("description", "")
    tags = snippet.get("tags", [])
    faults = {
        "invalidTitle": not _plain(title) or not 0 < len(title) <= 100,
        "invalidDescription": not _plain(description) or len(description.encode()) > 5000,
        "invalidTags": not isinstance(tags, list)
        or not all(_plain(tag) for tag in tags)
        or sum(len(tag) for tag in tags) > 500,
        "invalidCategoryId": snippet.get("categoryId", "22") not in CATEGORIES,
        "invalidVideoMetadata": status.get("privacyStatus", "public") not in PRIVACY
        or not isinstance(status.get("selfDeclaredMadeForKids", False), bool),
    }
    return next((reason for reason, fault in faults.items() if fault), None)


def _plain(text: Any) -> TypeGuard[str]:
    """A string without angle brackets, which YouTube refuses in titles, descriptions, tags."""
    return isinstance(text, str) and not re.search("[<>]", text)


def _chunk_problem(
    request: web.Request, session: Session, start: int, end: int
) -> web.Response | None:
    """400 unless the chunk starts where the stored bytes end and has a legal size."""
    size = end - start + 1
    held = len(session.received)
    if session.video_id is not None:
        return google_error(400, "badRequest", "The upload is already complete.")
    if start != held:
        return google_error(
            400, "badRequest", f"Content-Range starts at {start} but the upload holds {held} bytes."
        )
    if size <= 0 or end >= session.total:
        return google_error(400, "badRequest", "Content-Range is out of bounds.")
    if end + 1 < session.total and size % CHUNK_UNIT:
        return google_error(
            400,
            "badRequest",
            "Invalid chunk size: all but the last chunk must be a multiple of 262144 bytes.",
        )
    if request.headers.get("Content-Length") != str(size):
        return google_error(400, "badRequest", "Content-Length does not match Content-Range.")
    return None


def _resource(video_id: str, session: Session) -> dict[str, Any]:
    """The `youtube#video` resource with the parts the session asked for."""
    snippet = dict(session.metadata.get("snippet", {}))
    status = dict(session.metadata.get("status", {}))
    published = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    parts = {
        "snippet": {
            **snippet,
            "publishedAt": published,
            "channelId": CHANNEL_ID,
            "channelTitle": "NOVACAST Test Channel",
            "liveBroadcastContent": "none",
            "localized": {
                "title": snippet.get("title"),
                "description": snippet.get("description", ""),
            },
        },
        "status": {
            "uploadStatus": "uploaded",
            "privacyStatus": "public",
            "license": "youtube",
            "embeddable": True,
            "publicStatsViewable": True,
            **status,
        },
    }
    resource = {"kind": "youtube#video", "etag": secrets.token_urlsafe(20), "id": video_id}
    return resource | {part: parts[part] for part in session.parts if part in parts}
