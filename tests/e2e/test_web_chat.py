"""The studio's chat end to end: the bot's real HTTP app (`novacast.server.build_app`) with the
web adapter, the real core (`build_engine` + `make_dispatch`), real Redis and RQ, and a real
aiohttp client WebSocket signed in with a one-time link; for the whole flow a real
`novacast worker` renders real media."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp import ClientSession, ClientWebSocketResponse, CookieJar, WSMsgType, web
from aiohttp.client_exceptions import WSServerHandshakeError
from prometheus_client import REGISTRY
from rq import Queue

from adapters.outbox import sender_for
from adapters.web import WebAdapter
from adapters.web.chat import MAX_FRAME_BYTES, MAX_SOCKETS_PER_USER
from adapters.web.sessions import sign_in_link
from bot.actions import Picture, Progress
from bot.events import ReplyTarget
from novacast.server import build_app, make_dispatch, media_links
from novacast.wiring import build_engine
from pipeline.settings import Settings
from policy import load_policy
from tests.workers_support import worker_process
from workers.catalog import QUEUES

WORKSPACE = "acme"
Frame = dict[str, Any]


@dataclass
class Studio:
    url: str
    connection: redis.Redis

    async def client(self, role: str = "editor", name: str = "Ann") -> ClientSession:
        """A browser signed in with a fresh link (role, name)."""
        session = ClientSession(cookie_jar=CookieJar(unsafe=True))
        link = sign_in_link(
            self.connection, self.url, workspace=WORKSPACE, role=role, name=name
        )
        response = await session.post(link, allow_redirects=False)
        assert response.status == 303
        return session

    def socket(self, client: ClientSession, origin: str | None = None) -> Any:
        headers = {"Origin": self.url if origin is None else origin}
        return client.ws_connect(f"{self.url}/ws", headers=headers)


class Chat:
    """One open socket and every frame it has received."""

    def __init__(self, ws: ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[Frame] = []

    async def send(self, **frame: Any) -> None:
        await self.ws.send_str(json.dumps(frame))

    async def until(self, check: Callable[[Frame], bool], what: str, timeout: float = 30) -> Frame:
        """The first frame (already received or next) for which `check` holds."""
        found = next((f for f in self.frames if check(f)), None)
        deadline = time.monotonic() + timeout
        while found is None:
            left = deadline - time.monotonic()
            if left <= 0:
                kinds = [(f["type"], str(f.get("text", ""))[:60]) for f in self.frames]
                raise AssertionError(f"no {what} within {timeout}s; frames: {kinds}")
            message = await self.ws.receive(timeout=left)
            if message.type != WSMsgType.TEXT:
                raise AssertionError(f"socket ended ({message.type}) waiting for {what}")
            frame = json.loads(message.data)
            self.frames.append(frame)
            found = frame if check(frame) else None
        return found


def kind(name: str) -> Callable[[Frame], bool]:
    return lambda frame: frame["type"] == name


def with_button(action: str) -> Callable[[Frame], bool]:
    return lambda f: any(b["action"] == action for b in f.get("buttons", []))


def free_port_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
async def studio(redis_conn: redis.Redis, data_dir: Path) -> AsyncIterator[Studio]:
    sock = free_port_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(NOVACAST_DATA_DIR=str(data_dir), NOVACAST_PUBLIC_URL=url)
    links = media_links(settings, redis_conn)
    dispatch = make_dispatch(build_engine(redis_conn))
    adapter = WebAdapter(dispatch, redis_conn, links, load_policy(), url)
    runner = web.AppRunner(build_app(redis_conn, [adapter], links))
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        async with adapter:
            yield Studio(url, redis_conn)
    finally:
        await runner.cleanup()


async def open_chat(studio: Studio, client: ClientSession) -> tuple[Chat, Frame]:
    ws = await studio.socket(client).__aenter__()
    chat = Chat(ws)
    hello = await chat.until(kind("hello"), "hello")
    return chat, hello


def web_acks() -> float:
    """How many web events novacast_ack_seconds has counted in this process."""
    return REGISTRY.get_sample_value("novacast_ack_seconds_count", {"adapter": "web"}) or 0.0


def queued_jobs(connection: redis.Redis) -> int:
    return sum(Queue(name, connection=connection).count for name in QUEUES)


async def test_make_gives_a_draft_render_enqueues_and_a_workers_progress_arrives(
    studio: Studio, data_dir: Path
) -> None:
    async with await studio.client() as client:
        chat, hello = await open_chat(studio, client)
        assert hello["role"] == "editor"
        assert hello["rights"] == ["view", "edit"]
        assert hello["history"] == []
        acks = web_acks()
        await chat.send(type="text", text="/make 12s on why the sea is salty")
        echo = await chat.until(kind("echo"), "the echo")
        assert echo["text"] == "/make 12s on why the sea is salty"
        draft = await chat.until(with_button("render"), "the draft with a Render button")
        assert draft["type"] == "say"
        assert [b["action"] for b in draft["buttons"]] == ["render", "revise", "cancel"]
        assert draft["buttons"][0]["label"] == "Render"
        project = draft["buttons"][0]["project_id"]
        assert web_acks() == acks + 1  # the line reached the conversation: acknowledged

        await chat.send(type="button", action="render", project_id=project)
        queued = await chat.until(kind("progress"), "the render's progress message")
        assert queued_jobs(studio.connection) > 0

        # what a worker does: the platform's sender, from another thread, by reply target
        target = ReplyTarget(
            adapter="web", workspace=WORKSPACE, channel=f"studio:{hello['user']}"
        )
        sent = Progress(target=target, key=queued["key"], stage="voice", percent=40)
        await asyncio.to_thread(sender_for(target, studio.connection).send, sent)
        voice = await chat.until(
            lambda f: f["type"] == "progress" and f["percent"] == 40, "the worker's progress"
        )
        assert voice["key"] == queued["key"]
        assert voice["stage"] == "voice"

        sheet = data_dir / "storyboards" / WORKSPACE / f"{project}-v1.jpg"
        sheet.parent.mkdir(parents=True)
        sheet.write_bytes(b"\xff\xd8\xff\xe0" + bytes(256))
        still = Picture(target=target, path=str(sheet), caption="Storyboard v1")
        await asyncio.to_thread(sender_for(target, studio.connection).send, still)
        picture = await chat.until(kind("picture"), "the storyboard")
        assert picture["caption"] == "Storyboard v1"
        shown = await client.get(studio.url + picture["url"])
        assert shown.status == 200
        assert shown.content_type == "image/jpeg"
        await chat.ws.close()

        again, hello = await open_chat(studio, client)  # a reload shows the conversation
        kinds = [f["type"] for f in hello["history"]]
        assert kinds[:2] == ["echo", "say"]
        progress = [f for f in hello["history"] if f["type"] == "progress"]
        assert [p["percent"] for p in progress] == [40]  # only the latest report per key
        await again.ws.close()


async def test_without_a_session_nothing_answers_and_another_origin_is_refused(
    studio: Studio,
) -> None:
    async with ClientSession() as stranger:
        with pytest.raises(WSServerHandshakeError) as refused:
            await studio.socket(stranger).__aenter__()
        assert refused.value.status == 401
        for path in ("/", "/library", "/session"):
            assert (await stranger.get(studio.url + path)).status == 401
    async with await studio.client() as client:
        for origin in ("https://evil.example", "null", ""):
            with pytest.raises(WSServerHandshakeError) as forged:
                await studio.socket(client, origin=origin).__aenter__()
            assert forged.value.status == 403, origin


async def test_an_editor_may_not_approve_or_schedule_and_is_told_why(studio: Studio) -> None:
    async with await studio.client(role="editor") as client:
        chat, _hello = await open_chat(studio, client)
        await chat.send(type="text", text="/make 10s on tides")
        draft = await chat.until(with_button("render"), "the draft")
        project = draft["buttons"][0]["project_id"]
        for action in ("approve", "reject", "schedule"):
            await chat.send(type="button", action=action, project_id=project)
            refused = await chat.until(
                lambda f, a=action: f["type"] == "error" and f"may not {a}" in f["text"],
                f"the refusal of {action}",
            )
            assert "approver" in refused["text"]
        await chat.send(type="text", text="/publish")
        await chat.until(
            lambda f: f["type"] == "error" and "/publish" in f["text"], "the refusal of /publish"
        )
        echoes = [f for f in chat.frames if f["type"] == "echo"]
        assert len(echoes) == 1  # refused frames never reached the core or the history
        await chat.ws.close()


async def test_a_new_role_applies_to_an_open_socket(studio: Studio) -> None:
    async with await studio.client(role="editor", name="Eve") as client:
        chat, _hello = await open_chat(studio, client)
        await chat.send(type="button", action="schedule", project_id="ab12")
        await chat.until(kind("error"), "the editor's refusal")
        async with await studio.client(role="approver", name="Eve"):
            pass  # the same person invited again, as an approver
        chat.frames.clear()
        await chat.send(type="button", action="schedule", project_id="ab12")
        answer = await chat.until(lambda f: f["type"] in ("say", "error"), "the answer")
        assert answer["type"] == "say"  # the core's (no such project), not the adapter's refusal
        await chat.ws.close()


async def test_an_approver_may_press_approve(studio: Studio) -> None:
    async with await studio.client(role="approver", name="Ava") as client:
        chat, hello = await open_chat(studio, client)
        assert "approve" in hello["rights"]
        await chat.send(type="text", text="/make 10s on tides")
        draft = await chat.until(with_button("render"), "the draft")
        project = draft["buttons"][0]["project_id"]
        await chat.send(type="button", action="approve", project_id=project)
        answer = await chat.until(lambda f: f["type"] == "say" and f is not draft, "an answer")
        assert "may not" not in answer["text"]  # the core's own answer (nothing to approve yet)
        await chat.ws.close()


async def test_bad_frames_get_an_error_frame_and_a_huge_one_closes_the_socket(
    studio: Studio,
) -> None:
    async with await studio.client() as client:
        chat, _hello = await open_chat(studio, client)
        for bad in ("not json", "[]", '{"type": "text"}', '{"type": "shout", "text": "x"}',
                    '{"type": "button", "action": "explode", "project_id": "ab12"}',
                    '{"type": "button", "action": "render", "project_id": "../x"}',
                    '{"type": "text", "text": "hi", "extra": 1}', "\"" * 100):
            chat.frames.clear()
            await chat.ws.send_str(bad)
            error = await chat.until(kind("error"), f"an error frame for {bad[:20]!r}")
            assert "Traceback" not in error["text"]
        await chat.ws.send_bytes(b"\x00\x01")
        await chat.until(lambda f: f["type"] == "error" and "binary" in f["text"], "binary")
        await chat.send(type="text", text="/help")  # still usable after all that
        await chat.until(kind("say"), "the answer to /help")
        await chat.ws.send_str(json.dumps({"type": "text", "text": "x" * (MAX_FRAME_BYTES + 10)}))
        closing = await chat.ws.receive(timeout=10)
        assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
        assert chat.ws.close_code == 1009


async def test_signing_out_ends_what_an_open_socket_can_do(studio: Studio) -> None:
    async with await studio.client() as client:
        chat, _hello = await open_chat(studio, client)
        csrf = (await (await client.get(f"{studio.url}/session")).json())["csrf"]
        missing = await client.post(f"{studio.url}/signout", allow_redirects=False)
        assert missing.status == 403  # no CSRF token
        out = await client.post(
            f"{studio.url}/signout", headers={"X-CSRF-Token": csrf}, allow_redirects=False
        )
        assert out.status == 303
        await chat.send(type="text", text="/make 10s on tides")
        await chat.until(lambda f: f["type"] == "error" and "signed out" in f["text"], "sign-out")
        assert not any(f["type"] == "echo" for f in chat.frames)


async def test_the_api_takes_the_studio_session_and_wants_its_csrf_token_to_change_things(
    studio: Studio,
) -> None:
    async with await studio.client() as client:
        csrf = (await (await client.get(f"{studio.url}/session")).json())["csrf"]
        listed = await client.get(f"{studio.url}/api/v1/projects")
        assert listed.status == 200
        idea = {"idea": "10s on tides"}
        forged = await client.post(f"{studio.url}/api/v1/projects", json=idea)
        assert forged.status == 403  # what another site's form or script could send
        made = await client.post(
            f"{studio.url}/api/v1/projects", json=idea, headers={"X-CSRF-Token": csrf}
        )
        assert made.status == 201
    async with ClientSession() as stranger:
        assert (await stranger.get(f"{studio.url}/api/v1/projects")).status == 401
        bad_key = {"Authorization": "Bearer nck_forged_key"}
        assert (await stranger.get(f"{studio.url}/api/v1/projects", headers=bad_key)).status == 401


async def test_one_person_may_hold_only_so_many_sockets(studio: Studio) -> None:
    async with await studio.client() as client:
        held = [await studio.socket(client).__aenter__() for _ in range(MAX_SOCKETS_PER_USER)]
        with pytest.raises(WSServerHandshakeError) as refused:
            await studio.socket(client).__aenter__()
        assert refused.value.status == 429
        await held.pop().close()
        again, _hello = await open_chat(studio, client)  # a closed one frees its place
        for ws in [*held, again.ws]:
            await ws.close()


# --- the whole flow, with a real worker ---------------------------------------------------------


@pytest.fixture
def web_worker(redis_url: str, data_dir: Path, studio: Studio) -> Iterator[None]:
    with worker_process(redis_url, data_dir, {"NOVACAST_PUBLIC_URL": studio.url}):
        yield


@pytest.mark.slow
async def test_render_preview_and_approve_with_a_real_worker(
    studio: Studio, web_worker: None, data_dir: Path
) -> None:
    async with await studio.client(role="approver", name="Ava") as client:
        chat, _hello = await open_chat(studio, client)
        await chat.send(type="text", text="/make 10s on why cats purr")
        draft = await chat.until(with_button("render"), "the draft")
        project = draft["buttons"][0]["project_id"]
        await chat.send(type="button", action="render", project_id=project)
        ask = await chat.until(kind("ask_approval"), "the approval question", timeout=180)
        preview = next(f for f in chat.frames if f["type"] == "preview")
        assert preview["url"].startswith("/media/")
        video = await client.get(studio.url + preview["url"])
        assert video.status == 200
        assert (await video.read())[4:8] == b"ftyp"
        done = [f for f in chat.frames if f["type"] == "progress" and f["done"]]
        assert done
        assert {f["key"] for f in chat.frames if f["type"] == "progress"} == {done[0]["key"]}
        await chat.send(type="button", action="approve", project_id=ask["project_id"])
        await chat.until(
            lambda f: f["type"] == "say" and "Published" in f["text"], "Published", timeout=60
        )
        assert sorted((data_dir / "published" / WORKSPACE).glob("*.mp4"))
        await chat.ws.close()
