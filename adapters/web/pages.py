"""The studio's pages and files: `/`, `/library`, `/static/<name>`, sign-in and sign-out,
`/session`, and storyboard pictures (`/pictures/<id>`).

The HTML, CSS and JavaScript are files under `static/` (no build step, no CDN); this module
only serves them, behind the session, with the same security headers on every answer (CSP
without inline script, no framing, no sniffing, no referrer). Without a session a page is a
401 "sign in with your link" page; a used, expired or forged link a 404 page. `app.css` and
`icon.svg` are served without a session (nothing secret, and the sign-in page needs them).
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import redis
from aiohttp import web

from adapters.web.access import Principal
from adapters.web.gate import CSRF_HEADER, Gate, same_origin
from adapters.web.outbox import PictureIds
from adapters.web.sessions import COOKIE, SESSION_IDLE_SECONDS, Session, csrf_matches
from policy import Policy
from policy.model import RoleRight

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
CSP = (
    "default-src 'self'; media-src 'self' blob:; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}
PUBLIC_STATIC = frozenset({"app.css", "icon.svg"})
_SLOT = re.compile(r"\{\{(csrf|name|workspace|role)\}\}")
"""What a page may hold for the server to fill in (HTML-escaped)."""
_STATIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}$")
PICTURE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
RIGHTS: tuple[RoleRight, ...] = ("view", "edit", "approve", "schedule", "admin")
SIGNED_OUT = "/signed-out"
UNAVAILABLE = "The studio cannot reach its store right now; try again in a moment."
T = TypeVar("T")

FALLBACK = {
    "needs-signin.html": "<h1>Please sign in</h1><p>Open the sign-in link you were given "
    "(<code>novacast invite</code> makes one).</p>",
    "link-used.html": "<h1>This link does not work</h1><p>It was used already, has expired, "
    "or was never valid. Ask for a new one.</p>",
    "signed-out.html": "<h1>Signed out</h1><p>Open a sign-in link to come back.</p>",
    "signin.html": '<h1>Sign in to NOVACAST</h1><form method="post"><button>Sign in</button>'
    "</form>",
}


def secured(response: web.StreamResponse) -> web.StreamResponse:
    response.headers.update(SECURITY_HEADERS)
    return response


def refusal(status: type[web.HTTPException], text: str = "") -> web.HTTPException:
    """An error answer with the security headers (raise it)."""
    return status(text=text or None, headers=SECURITY_HEADERS)


async def stored(call: Callable[..., T], *args: Any) -> T:
    """`call(*args)` (Redis) in a thread; Redis unreachable is a 503 with one log line, not a
    traceback per request."""
    try:
        return await asyncio.to_thread(call, *args)
    except redis.RedisError as error:
        log.warning("the studio could not reach Redis (%s)", type(error).__name__)
        raise refusal(web.HTTPServiceUnavailable, UNAVAILABLE) from None


def see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={**SECURITY_HEADERS, "Location": location})


def page_text(name: str) -> str:
    """A page's HTML from static/, or a plain fallback for the few pages the server needs."""
    path = STATIC / name
    if path.is_file():
        return path.read_text(encoding="utf-8")
    body = FALLBACK.get(name, "<h1>NOVACAST</h1>")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>NOVACAST</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="stylesheet" href="/static/app.css"></head><body>{body}</body></html>'
    )


def html_page(name: str, status: int = 200, session: Session | None = None) -> web.Response:
    text = page_text(name)
    if session is not None:
        user = session.user
        values = {"csrf": session.csrf, "name": user.name, "workspace": user.workspace,
                  "role": user.role.value}
        # one pass: a value that looks like a slot (a name "{{csrf}}") stays as it is
        text = _SLOT.sub(lambda slot: html.escape(values[slot[1]], quote=True), text)
    response = web.Response(text=text, status=status, content_type="text/html", charset="utf-8")
    secured(response)
    return response


def rights(policy: Policy, principal: Principal) -> list[str]:
    return [right for right in RIGHTS if principal.may(policy, right)]


@dataclass(frozen=True)
class Pages:
    """The page routes, over one `Gate` (sessions) and the policy (rights shown in /session)."""

    gate: Gate
    policy: Policy
    public_url: str
    pictures: PictureIds
    data_dir: Path
    """Pictures are served only from under it (resolved), whatever a stored path says."""

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self.chat_page),
            web.get("/library", self.library_page),
            web.get("/static/{name}", self.static_file),
            web.get("/signin/{token}", self.sign_in_page),
            web.post("/signin/{token}", self.sign_in),
            web.post("/signout", self.sign_out),
            web.get(SIGNED_OUT, self.signed_out),
            web.get("/session", self.session_info),
            web.get("/pictures/{picture}", self.picture),
        ]

    async def _session(self, request: web.Request) -> Session | None:
        return await stored(self.gate.session, request)

    async def chat_page(self, request: web.Request) -> web.Response:
        return await self._page(request, "index.html")

    async def library_page(self, request: web.Request) -> web.Response:
        return await self._page(request, "library.html")

    async def _page(self, request: web.Request, name: str) -> web.Response:
        session = await self._session(request)
        if session is None:
            return html_page("needs-signin.html", status=401)
        return html_page(name, session=session)

    async def static_file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = STATIC / name
        kind = CONTENT_TYPES.get(path.suffix.lower())
        if not _STATIC_NAME.match(name) or kind is None or kind.startswith("text/html"):
            raise refusal(web.HTTPNotFound)
        if name not in PUBLIC_STATIC and await self._session(request) is None:
            raise refusal(web.HTTPUnauthorized, "Sign in first.")
        if not path.is_file():
            raise refusal(web.HTTPNotFound)
        response = web.FileResponse(path, headers={"Content-Type": kind})
        secured(response)
        return response

    async def sign_in_page(self, request: web.Request) -> web.Response:
        """The one-button page: a GET never uses the link up (link-preview bots GET links)."""
        token = request.match_info["token"]
        if not await stored(self.gate.sessions.invited, token):
            return html_page("link-used.html", status=404)
        page = html_page("signin.html")
        # its form posts with `Origin: null` under no-referrer (Fetch), which the POST refuses
        page.headers["Referrer-Policy"] = "same-origin"
        return page

    async def sign_in(self, request: web.Request) -> web.Response:
        if not same_origin(request, self.public_url, required=False):
            log.info("refused a sign-in posted from another site")
            return html_page("link-used.html", status=403)
        opened = await stored(self.gate.sessions.sign_in, request.match_info["token"])
        if opened is None:
            return html_page("link-used.html", status=404)
        cookie, _session = opened
        await stored(self.gate.sessions.sign_out, request.cookies.get(COOKIE))  # the one before
        response = see_other("/")
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=SESSION_IDLE_SECONDS,
            path="/",
            httponly=True,
            samesite="Strict",
            secure=self.public_url.startswith("https://"),
        )
        return response

    async def sign_out(self, request: web.Request) -> web.Response:
        """Ends the session; the CSRF token comes as the header or a form field `csrf`."""
        session = await self._session(request)
        if session is None:
            raise refusal(web.HTTPUnauthorized, "Not signed in.")
        offered = request.headers.get(CSRF_HEADER)
        if offered is None and request.content_type == "application/x-www-form-urlencoded":
            offered = str((await request.post()).get("csrf", ""))
        if not csrf_matches(session, offered):
            raise refusal(web.HTTPForbidden, "Missing or wrong CSRF token.")
        await stored(self.gate.sessions.sign_out, request.cookies.get(COOKIE))
        response = see_other(SIGNED_OUT)
        response.del_cookie(COOKIE, path="/")
        return response

    async def signed_out(self, _request: web.Request) -> web.Response:
        return html_page("signed-out.html")

    async def session_info(self, request: web.Request) -> web.Response:
        session = await self._session(request)
        if session is None:
            raise web.HTTPUnauthorized(
                text='{"error": "not signed in"}',
                content_type="application/json",
                headers=SECURITY_HEADERS,
            )
        user, principal = session.user, session.principal
        body = {
            "workspace": user.workspace,
            "user": user.id,
            "name": user.name,
            "role": user.role.value,
            "rights": rights(self.policy, principal),
            "csrf": session.csrf,
        }
        response = web.json_response(body)
        secured(response)
        return response

    def _servable_picture(self, path: Path) -> bool:
        return (
            path.suffix.lower() in PICTURE_TYPES
            and path.is_relative_to(self.data_dir.resolve())
            and path.is_file()
        )

    async def picture(self, request: web.Request) -> web.StreamResponse:
        """A storyboard still, to a session of the workspace it belongs to."""
        session = await self._session(request)
        if session is None:
            raise refusal(web.HTTPUnauthorized, "Sign in first.")
        found = await stored(
            self.pictures.path, session.user.workspace, request.match_info["picture"]
        )
        path = Path(found).resolve() if found else None
        if path is None or not self._servable_picture(path):
            raise refusal(web.HTTPNotFound)
        kind = PICTURE_TYPES[path.suffix.lower()]
        response = web.FileResponse(path, headers={"Content-Type": kind})
        secured(response)
        return response
