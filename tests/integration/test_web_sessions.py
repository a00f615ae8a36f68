"""The studio's sign-in and sessions against real Redis, and its pages over real HTTP (the bot's
own app, `novacast.server.build_app`, with the web adapter): one-time links, hashed storage,
sliding sessions, CSRF, the 401/404 pages and the security headers on every answer."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from aiohttp import ClientSession, CookieJar, web
from aiohttp.test_utils import make_mocked_request
from click.testing import CliRunner

from adapters.media_links import MediaLinks
from adapters.web import WebAdapter
from adapters.web.access import Role, Via
from adapters.web.gate import Gate
from adapters.web.outbox import PictureIds
from adapters.web.pages import SECURITY_HEADERS
from adapters.web.sessions import (
    COOKIE,
    SESSION_IDLE_SECONDS,
    SIGN_IN_SECONDS,
    Sessions,
    sign_in_link,
)
from bot.actions import Action
from bot.events import Event
from novacast.embedded_redis import EmbeddedRedis
from novacast.invite import command as invite_command
from novacast.server import build_app
from policy import load_policy

WORKSPACE = "acme"


@pytest.fixture
def sessions(redis_conn: redis.Redis) -> Sessions:
    return Sessions(redis_conn)


def all_redis_bytes(connection: redis.Redis) -> bytes:
    """Every key and every string/hash value in the test database, concatenated."""
    out = b""
    for key in connection.scan_iter():
        out += key
        kind = connection.type(key)
        if kind == b"string":
            out += connection.get(key) or b""
        elif kind == b"hash":
            fields: dict[bytes, bytes] = connection.hgetall(key)  # type: ignore[assignment]
            out += b"".join(k + v for k, v in fields.items())
    return out


# --- links, users, sessions ---------------------------------------------------------------------


def test_a_link_signs_in_once_and_neither_secret_is_stored_as_it_is(
    sessions: Sessions, redis_conn: redis.Redis
) -> None:
    token = sessions.invite(workspace=WORKSPACE, role="editor", name="Ann")
    assert token.encode() not in all_redis_bytes(redis_conn)
    assert sessions.invited(token)
    opened = sessions.sign_in(token)
    assert opened is not None
    cookie, session = opened
    assert session.user.workspace == WORKSPACE
    assert session.user.role is Role.EDITOR
    assert session.principal.via is Via.SESSION
    assert sessions.sign_in(token) is None
    assert not sessions.invited(token)
    stored = all_redis_bytes(redis_conn)
    assert cookie.encode() not in stored
    assert session.csrf.encode() in stored  # the CSRF token is no credential on its own


def test_a_link_lives_a_day_and_a_session_slides(
    sessions: Sessions, redis_conn: redis.Redis
) -> None:
    token = sessions.invite(workspace=WORKSPACE, role="admin")
    (invite_key,) = redis_conn.keys("novacast:web:signin:*")
    assert SIGN_IN_SECONDS - 5 < redis_conn.ttl(invite_key) <= SIGN_IN_SECONDS
    opened = sessions.sign_in(token)
    assert opened is not None
    (session_key,) = redis_conn.keys("novacast:web:session:*")
    redis_conn.expire(session_key, 60)  # as if it had been idle almost to the end
    assert sessions.session(opened[0]) is not None
    assert redis_conn.ttl(session_key) > SESSION_IDLE_SECONDS - 5


def test_racing_tabs_make_one_session_from_one_link(sessions: Sessions) -> None:
    token = sessions.invite(workspace=WORKSPACE, role="approver")
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: sessions.sign_in(token), range(32)))
    assert sum(result is not None for result in results) == 1


def test_forged_unknown_and_odd_tokens_sign_nobody_in(sessions: Sessions) -> None:
    for token in ("", "x" * 500, "nope", "é" * 10, "\udcff", "../../etc"):
        assert sessions.sign_in(token) is None
        assert sessions.session(token) is None
        assert not sessions.invited(token)
    assert sessions.session(None) is None


def test_the_same_name_is_the_same_person_and_a_removed_user_is_signed_out(
    sessions: Sessions,
) -> None:
    first = sessions.sign_in(sessions.invite(workspace=WORKSPACE, role="editor", name="Ann"))
    again = sessions.sign_in(sessions.invite(workspace=WORKSPACE, role="approver", name=" ann "))
    other = sessions.sign_in(sessions.invite(workspace="elsewhere", role="editor", name="Ann"))
    assert first is not None
    assert again is not None
    assert other is not None
    assert first[1].user.id == again[1].user.id != other[1].user.id
    updated = sessions.session(first[0])  # the role is the user's latest
    assert updated is not None
    assert updated.user.role is Role.APPROVER
    sessions.remove_user(WORKSPACE, first[1].user.id)
    assert sessions.session(first[0]) is None
    assert sessions.session(again[0]) is None


def test_sign_out_ends_only_that_session(sessions: Sessions) -> None:
    one = sessions.sign_in(sessions.invite(workspace=WORKSPACE, role="editor", name="Bo"))
    two = sessions.sign_in(sessions.invite(workspace=WORKSPACE, role="editor", name="Bo"))
    assert one is not None
    assert two is not None
    sessions.sign_out(one[0])
    assert sessions.session(one[0]) is None
    assert sessions.session(two[0]) is not None


def test_sign_in_link_is_under_the_public_url(redis_conn: redis.Redis) -> None:
    link = sign_in_link(redis_conn, "https://studio.example/", workspace="w", role="admin")
    assert link.startswith("https://studio.example/signin/")
    assert Sessions(redis_conn).invited(link.rsplit("/", 1)[1])


def test_novacast_invite_prints_a_working_link(
    redis_url: str, redis_conn: redis.Redis, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("NOVACAST_PUBLIC_URL", "http://studio.test:9000")
    result = CliRunner().invoke(
        invite_command, ["--workspace", "acme", "--role", "approver", "--name", "Cy"]
    )
    assert result.exit_code == 0, result.output
    link = result.output.strip()
    assert link.startswith("http://studio.test:9000/signin/")
    opened = Sessions(redis_conn).sign_in(link.rsplit("/", 1)[1])
    assert opened is not None
    assert opened[1].user.role is Role.APPROVER
    refused = CliRunner().invoke(invite_command, ["--workspace", "acme", "--role", "owner"])
    assert refused.exit_code != 0


# --- the gate -----------------------------------------------------------------------------------


def test_state_changing_requests_need_the_csrf_token(
    sessions: Sessions, redis_conn: redis.Redis
) -> None:
    opened = sessions.sign_in(sessions.invite(workspace=WORKSPACE, role="editor"))
    assert opened is not None
    cookie, session = opened
    gate = Gate(sessions, redis_conn)
    headers = {"Cookie": f"{COOKIE}={cookie}"}
    get = make_mocked_request("GET", "/api/v1/projects", headers=headers)
    assert gate.authenticate(get) == session.principal
    for offered in ({}, {"X-CSRF-Token": "wrong"}):
        post = make_mocked_request("POST", "/api/v1/projects", headers=headers | offered)
        with pytest.raises(web.HTTPForbidden):
            gate.authenticate(post)
    good = make_mocked_request(
        "DELETE", "/api/v1/x", headers=headers | {"X-CSRF-Token": session.csrf}
    )
    assert gate.authenticate(good) == session.principal
    assert gate.authenticate(make_mocked_request("GET", "/")) is None
    keyed = make_mocked_request("GET", "/", headers=headers | {"Authorization": "Bearer forged"})
    assert gate.authenticate(keyed) is None  # a bad key never falls back to the cookie


# --- pages over HTTP ----------------------------------------------------------------------------


async def _no_core(event: Event) -> list[Action]:
    raise AssertionError(f"pages never dispatch: {event.kind}")


@dataclass
class Studio:
    url: str
    connection: redis.Redis

    def link(self, role: str = "editor", workspace: str = WORKSPACE) -> str:
        return sign_in_link(self.connection, self.url, workspace=workspace, role=role, name="Ann")

    def client(self) -> ClientSession:
        return ClientSession(cookie_jar=CookieJar(unsafe=True))

    async def signed_in(self, role: str = "editor", workspace: str = WORKSPACE) -> ClientSession:
        client = self.client()
        response = await client.post(self.link(role, workspace), allow_redirects=False)
        assert response.status == 303
        return client


@pytest.fixture
def free_socket() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


@pytest.fixture
async def studio(
    redis_conn: redis.Redis, data_dir: Path, free_socket: socket.socket
) -> AsyncIterator[Studio]:
    url = f"http://127.0.0.1:{free_socket.getsockname()[1]}"
    links = MediaLinks(b"test-secret", url, data_dir)
    adapter = WebAdapter(_no_core, redis_conn, links, load_policy(), url)
    runner = web.AppRunner(build_app(redis_conn, [adapter], links))
    await runner.setup()
    await web.SockSite(runner, free_socket).start()
    try:
        async with adapter:
            yield Studio(url, redis_conn)
    finally:
        await runner.cleanup()


def assert_secured(headers: object) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert headers[name] == value, name  # type: ignore[index]


async def test_without_a_session_everything_is_401_but_the_public_files(studio: Studio) -> None:
    async with studio.client() as client:
        for path in ("/", "/library", "/session", "/static/chat.js", "/pictures/abc"):
            response = await client.get(studio.url + path, allow_redirects=False)
            assert response.status == 401, path
            assert_secured(response.headers)
            assert "csrf" not in (await response.text()).lower()
        page = await client.get(studio.url + "/")
        assert page.content_type == "text/html"
        css = await client.get(studio.url + "/static/app.css")
        assert css.status == 200
        assert css.content_type == "text/css"
        assert_secured(css.headers)
        for path in ("/static/..%2fsessions.py", "/static/index.html", "/static/x.py"):
            assert (await client.get(studio.url + path)).status == 404, path
        assert (await client.get(studio.url + "/static/nothing.css")).status == 401
        signout = await client.post(studio.url + "/signout")
        assert signout.status == 401


async def test_the_link_page_then_the_button_signs_in_with_a_strict_cookie(
    studio: Studio,
) -> None:
    link = studio.link()
    async with studio.client() as client:
        for _preview_bot in range(2):
            page = await client.get(link)
            assert page.status == 200
            assert '<form method="post"' in await page.text()
            assert_secured({**SECURITY_HEADERS, **page.headers, "Referrer-Policy": "no-referrer"})
            assert page.headers["Referrer-Policy"] == "same-origin"  # the form posts its origin
        response = await client.post(link, allow_redirects=False)
        assert response.status == 303
        assert response.headers["Location"] == "/"
        cookie = response.headers["Set-Cookie"]
        assert f"{COOKIE}=" in cookie
        for flag in ("HttpOnly", "SameSite=Strict", "Path=/"):
            assert flag in cookie
        assert "Secure" not in cookie  # http here; https public URLs get Secure
        info = await (await client.get(studio.url + "/session")).json()
        assert info["workspace"] == WORKSPACE
        assert info["role"] == "editor"
        assert info["rights"] == ["view", "edit"]
        page = await client.get(studio.url + "/")
        assert page.status == 200
        assert_secured(page.headers)
        text = await page.text()
        assert "{{csrf}}" not in text
        if "csrf-token" in text:
            assert info["csrf"] in text
        assert (await client.get(studio.url + "/static/chat.js")).status in (200, 404)
        used = await client.post(link, allow_redirects=False)
        assert used.status == 404
        assert (await client.get(link)).status == 404


async def test_a_sign_in_posted_from_another_site_is_refused(studio: Studio) -> None:
    link = studio.link()
    async with studio.client() as client:
        forged = await client.post(
            link, headers={"Origin": "https://evil.example"}, allow_redirects=False
        )
        assert forged.status == 403
        assert "Set-Cookie" not in forged.headers
        opaque = await client.post(link, headers={"Origin": "null"}, allow_redirects=False)
        assert opaque.status == 403  # a sandboxed frame or a data: page
        ours = await client.post(link, headers={"Origin": studio.url}, allow_redirects=False)
        assert ours.status == 303  # the refused attempt did not use the link up


async def test_sign_out_needs_the_csrf_token_then_ends_the_session(studio: Studio) -> None:
    async with await studio.signed_in() as client:
        csrf = (await (await client.get(studio.url + "/session")).json())["csrf"]
        refused = await client.post(studio.url + "/signout", allow_redirects=False)
        assert refused.status == 403
        assert (await client.get(studio.url + "/session")).status == 200
        done = await client.post(
            studio.url + "/signout", headers={"X-CSRF-Token": csrf}, allow_redirects=False
        )
        assert done.status == 303
        assert done.headers["Location"] == "/signed-out"
        assert (await client.get(studio.url + "/signed-out")).status == 200
        assert (await client.get(studio.url + "/session")).status == 401


async def test_a_storyboard_picture_is_shown_to_its_workspace_only(
    studio: Studio, data_dir: Path
) -> None:
    sheet = data_dir / "storyboards" / WORKSPACE / "p1-v1.jpg"
    sheet.parent.mkdir(parents=True)
    sheet.write_bytes(b"\xff\xd8\xff\xe0" + bytes(64))
    picture = PictureIds(studio.connection).register(WORKSPACE, str(sheet))
    async with await studio.signed_in() as ours, await studio.signed_in(workspace="b") as theirs:
        shown = await ours.get(f"{studio.url}/pictures/{picture}")
        assert shown.status == 200
        assert shown.content_type == "image/jpeg"
        assert (await theirs.get(f"{studio.url}/pictures/{picture}")).status == 404
        assert (await ours.get(f"{studio.url}/pictures/unknown")).status == 404


async def test_without_redis_the_studio_answers_503_in_one_line(
    data_dir: Path, free_socket: socket.socket, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{free_socket.getsockname()[1]}"
    links = MediaLinks(b"test-secret", url, data_dir)
    with EmbeddedRedis() as server:  # up while the app is built, then gone
        dead = redis.Redis.from_url(server.url, socket_connect_timeout=1)
        adapter = WebAdapter(_no_core, dead, links, load_policy(), url)
        runner = web.AppRunner(build_app(dead, [adapter], links))
    await runner.setup()
    await web.SockSite(runner, free_socket).start()
    try:
        async with adapter, ClientSession() as client:
            headers = {"Cookie": f"{COOKIE}=abc", "Origin": url}
            for path in ("/", "/session", "/signin/abc", "/ws"):
                response = await client.get(url + path, headers=headers)
                assert response.status == 503, path
                assert_secured(response.headers)
            posted = await client.post(url + "/signin/abc", headers=headers)
            assert posted.status == 503
    finally:
        await runner.cleanup()
    assert "Traceback" not in caplog.text


async def test_a_picture_outside_the_data_dir_is_never_served(
    studio: Studio, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.jpg"
    outside.write_bytes(b"\xff\xd8\xff\xe0" + bytes(64))
    picture = PictureIds(studio.connection).register(WORKSPACE, str(outside))
    async with await studio.signed_in() as client:
        assert (await client.get(f"{studio.url}/pictures/{picture}")).status == 404


async def test_signing_in_again_ends_the_session_before(studio: Studio) -> None:
    async with await studio.signed_in() as client:
        (before,) = [c.value for c in client.cookie_jar if c.key == COOKIE]
        assert (await client.post(studio.link(), allow_redirects=False)).status == 303
        assert Sessions(studio.connection).session(before) is None
        assert (await client.get(studio.url + "/session")).status == 200
