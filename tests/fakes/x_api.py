"""A fake X: OAuth 2.0 refresh with rotating refresh tokens, v2 media upload, posts, timelines.

`FakeX` serves, on 127.0.0.1 with an ephemeral port from its own thread:
`POST /2/oauth2/token` (form grant_type=refresh_token, refresh_token, client_id; HTTP Basic with
the client id and secret for a confidential client; every refresh answers a new refresh token
and retires the used one), `POST /2/media/upload/initialize`, `POST /2/media/upload/{id}/append`
(multipart: segment_index, media ≤ `max_segment` bytes), `POST /2/media/upload/{id}/finalize`,
`GET /2/media/upload?command=STATUS&media_id=…` (pending → in_progress → succeeded/failed),
`POST /2/tweets`, `GET /2/users/me` and `GET /2/users/{id}/tweets` (max_results 5–100,
`tweet.fields=attachments`), in X's documented shapes, with problem-details errors. Stored post
text ends with the media's t.co link, as X does; a repeated text is refused as duplicate.

Faults: `fail_next(n, status, on=path)` (429 carries `x-rate-limit-reset`), `drop_after(bytes,
status=None)` for appends, `expire_media()`, `fail_processing(message)`, `crash_after_post()`
(the post is created, then the connection is cut), `expire_access_tokens()`.
Counters: `inits`, `posts_created`; `media` keeps each upload's bytes.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.served import Recorded, ThreadedServer

USER = {"id": "1580000000000000001", "name": "Novacast", "username": "novacast_test"}
_PROBLEMS = {
    400: ("Invalid Request", "https://api.twitter.com/2/problems/invalid-request"),
    401: ("Unauthorized", "about:blank"),
    403: ("Forbidden", "about:blank"),
    404: ("Not Found Error", "https://api.twitter.com/2/problems/resource-not-found"),
    429: ("Too Many Requests", "about:blank"),
    503: ("Service Unavailable", "about:blank"),
}



@dataclass
class Media:
    """One upload: declared size, segments by index, assembled bytes and processing state."""

    id: str
    key: str
    total: int
    segments: dict[int, bytes] = field(default_factory=dict)
    data: bytes = b""
    finalized: bool = False
    expired: bool = False
    polls: int = 0
    state: str = "pending"


class FakeX(ThreadedServer):
    """`with FakeX(client_id, refresh_token, client_secret=None) as fake:`; `fake.base_url`."""

    client_max_size = 64 * 1024 * 1024

    def __init__(
        self,
        client_id: str,
        refresh_token: str,
        *,
        client_secret: str | None = None,
        max_segment: int = 5 * 1024 * 1024,
        processing_polls: int = 2,
        check_after_secs: int = 1,
    ) -> None:
        super().__init__()
        self.client_id, self.client_secret = client_id, client_secret
        self.refresh_tokens = {refresh_token}
        self.issued_refresh_tokens: list[str] = []
        self.access_tokens: set[str] = set()
        self.max_segment = max_segment
        self.processing_polls = processing_polls
        self.check_after_secs = check_after_secs
        self.requests: list[Recorded] = []
        self.media: dict[str, Media] = {}
        self.tweets: list[dict[str, Any]] = []
        self.failures: list[tuple[int, str | None]] = []
        self.drop: tuple[int, int | None] | None = None
        self.processing_error: str | None = None
        self.crash_post = False
        self.inits = 0
        self.posts_created = 0
        self._ids = itertools.count(1_880_028_106_020_515_840)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/2/oauth2/token", self._token)
        app.router.add_post("/2/media/upload/initialize", self._initialize)
        app.router.add_post("/2/media/upload/{id}/append", self._append)
        app.router.add_post("/2/media/upload/{id}/finalize", self._finalize)
        app.router.add_get("/2/media/upload", self._status)
        app.router.add_post("/2/tweets", self._tweet)
        app.router.add_get("/2/users/me", self._me)
        app.router.add_get("/2/users/{id}/tweets", self._timeline)

    # --- fault injection and views --------------------------------------------------------

    def fail_next(self, count: int, status: int = 503, on: str | None = None) -> None:
        """The next `count` API calls (whose path contains `on`) answer `status`."""
        self.failures.extend([(status, on)] * count)

    def drop_after(self, total_bytes: int, status: int | None = None) -> None:
        """Cut off (or answer `status` to) the first append that goes past `total_bytes`.

        The media bytes kept so far plus the append's whole multipart body are counted.
        """
        self.drop = (total_bytes, status)

    def expire_media(self) -> None:
        for media in self.media.values():
            media.expired = True

    def fail_processing(self, message: str) -> None:
        self.processing_error = message

    def crash_after_post(self) -> None:
        """The next post is created, then the connection is cut before the answer."""
        self.crash_post = True

    def expire_access_tokens(self) -> None:
        self.access_tokens.clear()

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    # --- OAuth ----------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self._record(request, form)
        valid = (form.get("grant_type") == "refresh_token"
                 and form.get("client_id") == self.client_id
                 and form.get("refresh_token") in self.refresh_tokens)
        if self.client_secret is not None:
            valid = valid and request.headers.get("Authorization") == _basic(
                self.client_id, self.client_secret)
        if not valid:
            return web.json_response({"error": "invalid_request", "error_description":
                                      "Value passed for the token was invalid."}, status=400)
        self.refresh_tokens.discard(form["refresh_token"])
        fresh, access = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self.refresh_tokens.add(fresh)
        self.issued_refresh_tokens.append(fresh)
        self.access_tokens.add(access)
        return web.json_response({
            "token_type": "bearer", "expires_in": 7200, "access_token": access,
            "scope": "tweet.read tweet.write users.read media.write offline.access",
            "refresh_token": fresh})

    # --- media ----------------------------------------------------------------------------

    async def _initialize(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        total = body.get("total_bytes")
        if (body.get("media_type") != "video/mp4" or body.get("media_category") != "tweet_video"
                or not isinstance(total, int) or not 0 < total <= 512 * 1024 * 1024):
            return _problem(400, "media_type, media_category or total_bytes is invalid")
        media_id = str(next(self._ids))
        self.media[media_id] = Media(media_id, f"7_{media_id}", total)
        self.inits += 1
        return web.json_response({"data": {"id": media_id, "media_key": f"7_{media_id}",
                                           "expires_after_secs": 86400}})

    async def _append(self, request: web.Request) -> web.Response:
        length = int(request.headers.get("Content-Length", "0"))
        if self.drop is not None and self._received() + length > self.drop[0]:
            status, self.drop = self.drop[1], None
            await request.content.read(1024)
            self._record(request, None)
            if status is None:
                request.transport.abort()  # type: ignore[union-attr]
            return _problem(status or 503, "dropped")
        form = await request.post()
        media_part = form.get("media")
        piece = media_part.file.read() if isinstance(media_part, web.FileField) else b""
        index = str(form.get("segment_index", ""))
        self._record(request, {"segment_index": index, "media": len(piece)})
        refusal = self._refusal(request) or self._unknown_media(request)
        if refusal is not None:
            return refusal
        media = self.media[request.match_info["id"]]
        if not index.isdigit() or not 0 <= int(index) <= 999 or media.finalized:
            return _problem(400, "segment_index must be 0–999, before finalize")
        if not 0 < len(piece) <= self.max_segment:
            return _problem(400, "media must be a file of at most 5 MB")
        media.segments[int(index)] = piece
        return web.json_response({"data": {"expires_at": int(time.time()) + 86400}})

    def _received(self) -> int:
        return sum(len(p) for m in self.media.values() for p in m.segments.values())

    async def _finalize(self, request: web.Request) -> web.Response:
        await self._json(request)
        refusal = self._refusal(request) or self._unknown_media(request)
        if refusal is not None:
            return refusal
        media = self.media[request.match_info["id"]]
        indexes = sorted(media.segments)
        if indexes != list(range(len(indexes))) or sum(map(len, media.segments.values())) != (
                media.total):
            return _problem(400, "the segments do not add up to total_bytes")
        media.data = b"".join(media.segments[i] for i in indexes)
        media.finalized = True
        return web.json_response({"data": {
            "id": media.id, "media_key": media.key, "size": media.total,
            "expires_after_secs": 86400, "processing_info": self._processing(media)}})

    async def _status(self, request: web.Request) -> web.Response:
        self._record(request, None)
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        media = self.media.get(request.query.get("media_id", ""))
        if request.query.get("command") != "STATUS" or media is None or media.expired:
            return _problem(404, "Could not find media")
        if media.state in ("pending", "in_progress"):
            media.polls += 1
            if media.polls > self.processing_polls:
                media.state = "failed" if self.processing_error else "succeeded"
            else:
                media.state = "in_progress"
        return web.json_response({"data": {"id": media.id, "media_key": media.key,
                                           "processing_info": self._processing(media)}})

    def _processing(self, media: Media) -> dict[str, Any]:
        info: dict[str, Any] = {"state": media.state}
        if media.state in ("pending", "in_progress"):
            info["check_after_secs"] = self.check_after_secs
            info["progress_percent"] = 0 if media.state == "pending" else 50
        if media.state == "failed":
            info["error"] = {"code": 1, "name": "InvalidMedia", "message": self.processing_error}
        return info

    # --- posts ----------------------------------------------------------------------------

    async def _tweet(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        text, ids = body.get("text"), (body.get("media") or {}).get("media_ids") or []
        media = [self.media.get(str(i)) for i in ids]
        if not isinstance(text, str) or not 0 < len(text) <= 280 or not media or any(
                m is None or m.state != "succeeded" for m in media):
            return _problem(400, "One or more parameters to your request was invalid.")
        if any(t["text"].startswith(text + " https://t.co/") for t in self.tweets):
            return _problem(403, "You are not allowed to create a Tweet with duplicate content.")
        tweet_id = str(next(self._ids))
        stored = f"{text} https://t.co/{secrets.token_urlsafe(7)}"
        self.tweets.insert(0, {"id": tweet_id, "text": stored, "edit_history_tweet_ids":
                               [tweet_id], "attachments": {"media_keys": [m.key for m in media
                                                                          if m is not None]}})
        self.posts_created += 1
        if self.crash_post:
            self.crash_post = False
            request.transport.abort()  # type: ignore[union-attr]
        return web.json_response({"data": {"id": tweet_id, "text": stored,
                                           "edit_history_tweet_ids": [tweet_id]}}, status=201)

    async def _me(self, request: web.Request) -> web.Response:
        self._record(request, None)
        return self._refusal(request) or web.json_response({"data": USER})

    async def _timeline(self, request: web.Request) -> web.Response:
        self._record(request, None)
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        if request.match_info["id"] != USER["id"]:
            return _problem(404, "Could not find user")
        count = request.query.get("max_results", "10")
        if not count.isdigit() or not 5 <= int(count) <= 100:
            return _problem(400, "max_results must be between 5 and 100")
        fields = request.query.get("tweet.fields", "").split(",")
        shown = [{k: v for k, v in t.items() if k != "attachments" or "attachments" in fields}
                 for t in self.tweets[: int(count)]]
        if not shown:
            return web.json_response({"meta": {"result_count": 0}})
        return web.json_response({"data": shown, "meta": {
            "result_count": len(shown), "newest_id": shown[0]["id"], "oldest_id": shown[-1]["id"]}})

    # --- shared ---------------------------------------------------------------------------

    async def _json(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        body = json.loads(raw) if raw else {}
        self._record(request, body or None)
        return body if isinstance(body, dict) else {}

    def _refusal(self, request: web.Request) -> web.Response | None:
        for index, (status, on) in enumerate(self.failures):
            if on is None or on in request.path:
                del self.failures[index]
                return _problem(status, f"injected {status}")
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.access_tokens:
            return _problem(401, "Unauthorized")
        return None

    def _unknown_media(self, request: web.Request) -> web.Response | None:
        media = self.media.get(request.match_info["id"])
        return _problem(404, "Could not find media") if media is None or media.expired else None

    def _record(self, request: web.Request, body: Any) -> None:
        self.requests.append(Recorded.of(request, body))


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _problem(status: int, detail: str) -> web.Response:
    title, kind = _PROBLEMS.get(status, ("Error", "about:blank"))
    headers = {}
    if status == 429:
        headers = {"x-rate-limit-limit": "300", "x-rate-limit-remaining": "0",
                   "x-rate-limit-reset": str(int(time.time()) + 600)}
    body = {"title": title, "type": kind, "status": status, "detail": detail}
    return web.json_response(body, status=status, headers=headers)
