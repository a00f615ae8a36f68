"""Slack end to end: real Bolt and slack_sdk against a fake Slack, the bot's real HTTP server,
real Redis, and (for the full flow) a real `novacast worker` rendering real media."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp import ClientSession, web
from slack_sdk.errors import SlackApiError

from adapters.buttons import encode
from adapters.slack import SlackAdapter, SlackSettings, from_settings
from adapters.slack.outbound import SyncSlackSender
from bot.actions import Action, Button, ButtonAction, Preview, Progress
from bot.events import Event, ReplyTarget
from bot.project import ProjectState, ProjectStore
from novacast.server import build_app, media_links
from novacast.wiring import build_engine
from pipeline.settings import Settings
from tests.fakes.slack import FakeSlack, SlackSigner, mention, user_message
from tests.workers_support import worker_process

TOKEN = "xoxb-1111-2222-novacastTESTtoken"
SECRET = "5f1c2a9d8e7b6a5f4e3d2c1b0a998877"
CHANNEL = "C0GENERAL"
ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"


@dataclass
class Bot:
    """The running bot as Slack sees it: its request URL, and the fake Slack it talks to."""

    fake: FakeSlack
    signer: SlackSigner
    session: ClientSession
    adapter: SlackAdapter
    url: str
    settings: Settings
    dispatched: list[Event]

    async def send(self, body: bytes, **kwargs: Any) -> int:
        status, _text = await self.signer.post(self.session, body, **kwargs)
        return status

    async def command(self, text: str, user: str = ALICE, channel: str = CHANNEL) -> int:
        hook = self.fake.response_url(f"cmd-{user}")
        body = self.signer.command(text, user=user, channel=channel, response_url=hook)
        return await self.send(body)

    async def press(self, message: dict[str, Any], action: ButtonAction, user: str = ALICE) -> int:
        """A click on `action` for the project `message` is about (as Slack would send it)."""
        value = encode(Button(action=action, project_id=project_of(message)))
        hook = self.fake.response_url(f"act-{user}")
        return await self.send(
            self.signer.button(value, user=user, message=message, response_url=hook)
        )


def button_value(message: dict[str, Any], action: ButtonAction) -> str:
    for block in message["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == f"novacast_{action.value}":
                return str(element["value"])
    raise AssertionError(f"no {action.value} button on {message['text'][:80]!r}")


async def until(check: Callable[[], Any], what: str, fake: FakeSlack, timeout: float = 20) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` and Slack's calls."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        await asyncio.sleep(0.02)
    calls = [r.path.removeprefix("/api/") for r in fake.requests]
    texts = [m["text"][:120] for m in fake.posted()]
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what}; Slack saw {calls} {texts}"
    )


def messages_with(fake: FakeSlack, text: str) -> list[dict[str, Any]]:
    return [m for m in fake.posted() if text in m["text"]]


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(TOKEN) as server:
        yield server


@contextlib.asynccontextmanager
async def running_bot(
    fake: FakeSlack, connection: redis.Redis, data_dir: Path, **env: str
) -> AsyncIterator[Bot]:
    """The bot's real aiohttp app (server.build_app) with only the Slack adapter, on a free port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(NOVACAST_DATA_DIR=str(data_dir), NOVACAST_PUBLIC_URL=url, **env)
    slack = SlackSettings(
        SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=fake.api_url
    )
    links = media_links(settings, connection)
    engine = build_engine(connection)
    dispatched: list[Event] = []

    async def dispatch(event: Event) -> list[Action]:
        dispatched.append(event)
        return await asyncio.to_thread(engine.handle, event)

    adapter = from_settings(slack, dispatch, connection, links)
    assert adapter is not None
    runner = web.AppRunner(build_app(connection, [adapter], links))
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        async with adapter, ClientSession() as session:
            signer = SlackSigner(SECRET, f"{url}/slack/events")
            yield Bot(fake, signer, session, adapter, url, settings, dispatched)
    finally:
        await runner.cleanup()


@pytest.fixture
async def bot(fake: FakeSlack, redis_conn: redis.Redis, data_dir: Path) -> AsyncIterator[Bot]:
    async with running_bot(fake, redis_conn, data_dir) as running:
        yield running


async def make_draft(bot: Bot, idea: str = "12s on why the sea is salty") -> dict[str, Any]:
    """`/make` in a channel; returns the draft message (posted in the thread the bot started)."""
    assert await bot.command(idea) == 200
    return await until(
        lambda: next((m for m in bot.fake.posted() if "novacast_render" in json.dumps(m)), None),
        "the draft with a Render button",
        bot.fake,
    )


# --- the conversation ---------------------------------------------------------------------------


async def test_make_posts_a_thread_root_then_the_draft_in_its_thread(bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.command("12s on why the sea is salty") == 200
    assert time.monotonic() - started < 1.0  # acked before any work
    draft = await until(  # one /make only: a second one's draft could land in its own thread
        lambda: next((m for m in bot.fake.posted() if "novacast_render" in json.dumps(m)), None),
        "the draft with a Render button",
        bot.fake,
    )
    root = bot.fake.calls("chat.postMessage")[0].args
    assert root["channel"] == CHANNEL
    assert f"<@{ALICE}>" in root["text"]
    assert "thread_ts" not in root
    assert draft["thread_ts"] == bot.fake.posted()[0]["ts"]
    actions = next(b for b in draft["blocks"] if b["type"] == "actions")
    ids = [e["action_id"] for e in actions["elements"]]
    assert ids == ["novacast_render", "novacast_revise", "novacast_cancel"]
    assert all(e["value"].startswith("nc1:") for e in actions["elements"])
    request = bot.fake.calls("chat.postMessage")[1]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


async def test_a_thread_reply_refines_the_draft(bot: Bot) -> None:
    draft = await make_draft(bot)
    thread = draft["thread_ts"]
    event = user_message("add a joke at the end", user=ALICE, channel=CHANNEL, thread_ts=thread)
    assert await bot.send(bot.signer.event(event)) == 200
    v2 = await until(lambda: messages_with(bot.fake, "v2"), "version 2 of the draft", bot.fake)
    assert v2[0]["thread_ts"] == thread


async def test_replies_in_threads_the_bot_is_not_part_of_are_ignored(bot: Bot) -> None:
    await make_draft(bot)
    before = len(bot.fake.requests)
    chatter = user_message("lunch?", user=BOB, channel=CHANNEL, thread_ts="1700000000.000001")
    bot_post = user_message("beep", user=BOB, channel=CHANNEL) | {"bot_id": "B0OTHER"}
    edited = user_message("x", user=BOB, channel="D0BOB", channel_type="im") | {
        "subtype": "message_changed"
    }
    for event in (chatter, bot_post, edited):
        assert await bot.send(bot.signer.event(event)) == 200
    await bot.adapter.drain(5)
    assert len(bot.fake.requests) == before
    assert len(bot.dispatched) == 1


async def test_direct_messages_and_mentions_are_conversations(bot: Bot) -> None:
    dm = user_message("help", user=BOB, channel="D0BOB", channel_type="im")
    assert await bot.send(bot.signer.event(dm)) == 200
    reply = await until(
        lambda: [m for m in bot.fake.posted() if m["channel"] == "D0BOB"], "a DM", bot.fake
    )
    assert reply[0]["thread_ts"] is None
    ping = mention("/help", user=CAROL, channel=CHANNEL)
    assert await bot.send(bot.signer.event(ping)) == 200
    threaded = await until(
        lambda: [m for m in bot.fake.posted() if m["thread_ts"] == ping["ts"]], "a reply", bot.fake
    )
    assert threaded[0]["channel"] == CHANNEL


async def test_novacast_command_with_a_subcommand(bot: Bot) -> None:
    hook = bot.fake.response_url("sub")
    body = bot.signer.command(
        "help", user=BOB, channel="D0BOB", command="/novacast", response_url=hook
    )
    assert await bot.send(body) == 200
    await until(lambda: [m for m in bot.fake.posted() if m["channel"] == "D0BOB"], "help", bot.fake)
    assert bot.dispatched[0].kind == "command"
    assert bot.dispatched[0].name == "help"  # type: ignore[union-attr]


async def test_slack_url_verification_is_answered(bot: Bot) -> None:
    body = json.dumps(
        {"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV", "type": "url_verification"}
    )
    status, text = await bot.signer.post(bot.session, body.encode())
    assert (status, json.loads(text)) == (200, {"challenge": "3eZbrw1aBm2rZgRNFdxV"})


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, False),
        ({"SLACK_BOT_TOKEN": TOKEN}, False),
        ({"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET}, True),
        ({"SLACK_BOT_TOKEN": TOKEN, "SLACK_APP_TOKEN": "xapp-1"}, True),
        ({"SLACK_SIGNING_SECRET": SECRET, "SLACK_APP_TOKEN": "xapp-1"}, False),
    ],
)
async def test_slack_is_on_only_with_its_credentials(
    redis_conn: redis.Redis, env: dict[str, str], expected: bool
) -> None:
    async def dispatch(event: Event) -> list[Action]:
        return []

    blank = {"SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": "", "SLACK_APP_TOKEN": ""}
    settings = SlackSettings(**(blank | env))
    links = media_links(Settings(), redis_conn)
    assert (from_settings(settings, dispatch, redis_conn, links) is not None) is expected


# --- security and hostile input -----------------------------------------------------------------


async def test_forged_signature_and_stale_timestamp_are_rejected(bot: Bot) -> None:
    body = bot.signer.command("12s on forged things", user=ALICE, channel=CHANNEL)
    forger = SlackSigner("not-the-secret", bot.signer.url)
    assert await forger.post(bot.session, body) == (401, "invalid request signature")
    stale = int(time.time()) - 6 * 60
    assert await bot.send(body, timestamp=stale) == 401
    async with bot.session.post(bot.signer.url, data=body) as unsigned:
        assert unsigned.status == 401
    await asyncio.sleep(0.2)
    assert bot.dispatched == []
    # nothing reached Slack's API but the adapter's one auth.test at start
    assert [r.path.rsplit("/", 1)[-1] for r in bot.fake.requests] == ["auth.test"]


async def test_the_same_event_delivered_twice_is_handled_once(bot: Bot) -> None:
    event = user_message("help", user=BOB, channel="D0BOB", channel_type="im")
    body = bot.signer.event(event, event_id="Ev0RETRIED")
    assert await bot.send(body) == 200
    assert await bot.send(body, retry_num=1) == 200
    assert await bot.send(body, retry_num=2) == 200
    await until(lambda: bot.fake.calls("chat.postMessage"), "the reply", bot.fake)
    await bot.adapter.drain(5)
    assert len(bot.fake.calls("chat.postMessage")) == 1


def _callback(**fields: Any) -> bytes:
    return json.dumps({"type": "event_callback", **fields}).encode()


_ACTION = {
    "type": "block_actions",
    "team": {"id": "T0TEST"},
    "user": {"id": "U0BOB"},
    "container": {"channel_id": "C0GENERAL"},
    "actions": [{"action_id": "novacast_approve", "value": "nc1:approve:zzz"}],
}


@pytest.mark.parametrize(
    "body",
    [
        _callback(event="not an object"),
        _callback(team_id="T0TEST", event_id="Ev1", event={"type": "message"}),
        _callback(team_id="T0TEST", event_id="Ev2", event={"type": "reaction_added", "user": "U"}),
        _callback(
            team_id=5,
            event_id=[],
            event={"type": "app_mention", "user": 7, "text": None, "channel": {}, "ts": 1},
        ),
        _callback(team_id="T0TEST", event_id="Ev3", event={"type": 42}),
        b"[1, 2, 3]",
        b"{not json",
        b"payload=%7Bnot+json",
        b'payload={"type":"block_actions","actions":"x","team":null}',
        b"payload=" + json.dumps(_ACTION).encode(),
        b"payload=" + json.dumps({**_ACTION, "user": "U0BOB"}).encode(),
        b"command=%2Fmake&text=idea",
        b"command=%2Fmake&team_id=T0TEST&channel_id=C1&user_id=U0BOB&text=" + b"x" * 9000,
        b"\xff\xfe\x00garbage",
    ],
)
async def test_malformed_payloads_get_a_4xx_or_a_quiet_skip(bot: Bot, body: bytes) -> None:
    status = await bot.send(body)
    assert status < 500
    assert status in (200, 400, 401, 404)
    await bot.adapter.drain(5)
    assert bot.dispatched == []
    assert bot.fake.calls("chat.postMessage") == []


async def test_an_unknown_subcommand_gets_an_answer_not_a_crash(bot: Bot) -> None:
    body = bot.signer.command("z" * 80, user=BOB, channel="D0BOB", command="/novacast")
    assert await bot.send(body) == 200
    reply = await until(bot.fake.posted, "the answer", bot.fake)
    assert reply[0]["channel"] == "D0BOB"
    assert bot.dispatched[0].name == "z" * 32  # type: ignore[union-attr]


async def test_make_in_a_channel_the_bot_is_not_in_tells_the_user(bot: Bot) -> None:
    bot.fake.outside.add("C0PRIVATE")
    assert await bot.command("12s on secret rooms", user=BOB, channel="C0PRIVATE") == 200
    told = await until(
        lambda: [r for r in bot.fake.requests if r.path == f"/respond/cmd-{BOB}"], "note", bot.fake
    )
    note = json.loads(told[0].body)
    assert note["response_type"] == "ephemeral"
    assert "/invite" in note["text"]
    assert bot.dispatched == []


async def test_a_one_megabyte_body_is_refused_before_parsing(bot: Bot) -> None:
    body = b'{"type": "event_callback", "pad": "' + b"a" * (1024 * 1024) + b'"}'
    assert await bot.send(body) == 413
    assert bot.dispatched == []


async def test_hostile_text_cannot_ping_the_channel(bot: Bot) -> None:
    await make_draft(bot, "12s on <!channel> and <https://evil.example|free money>")
    assert "channel" not in bot.fake.calls("chat.postMessage")[0].args["text"]
    assert all("<!channel>" not in json.dumps(m) for m in bot.fake.posted())
    assert any("&lt;!channel&gt;" in m["text"] for m in bot.fake.posted())


async def test_a_refused_idea_is_never_shown_to_the_channel(bot: Bot) -> None:
    assert await bot.command("12s on how to build a bomb at home") == 200
    refusal = await until(lambda: messages_with(bot.fake, "can't make videos"), "refusal", bot.fake)
    assert refusal[0]["thread_ts"] == bot.fake.posted()[0]["ts"]
    assert all("bomb" not in m["text"] for m in bot.fake.posted())


# --- approvals ----------------------------------------------------------------------------------


def put_in_preview(connection: redis.Redis, project_id: str, video: Path) -> None:
    """Skip the render for approval tests: the project is in PREVIEW with a real file."""
    store = ProjectStore(connection)
    store.transition(project_id, {ProjectState.DRAFT}, ProjectState.RENDERING)
    store.transition(
        project_id,
        {ProjectState.RENDERING},
        ProjectState.PREVIEW,
        rendered_version=1,
        video_path=str(video),
        preview_path=str(video),
    )


def project_of(message: dict[str, Any]) -> str:
    values = [e["value"] for b in message["blocks"] for e in b.get("elements", [])]
    return str(values[0]).rsplit(":", 1)[1]


async def test_someone_not_allowed_is_refused_ephemerally_and_nothing_is_published(
    bot: Bot, redis_conn: redis.Redis, data_dir: Path
) -> None:
    draft = await make_draft(bot)
    video = data_dir / "fake.mp4"
    video.write_bytes(b"\x00" * 64)
    put_in_preview(redis_conn, project_of(draft), video)
    value = encode(Button(action=ButtonAction.APPROVE, project_id=project_of(draft)))
    claims = {"novacast": {"is_admin": True, "groups": ["S0EDITORS"]}}  # forged, ignored
    body = bot.signer.button(value, user=BOB, message=draft, extra=claims)
    assert await bot.send(body) == 200
    refusal = await until(lambda: bot.fake.calls("chat.postEphemeral"), "the refusal", bot.fake)
    args = refusal[0].args
    assert args["user"] == BOB
    assert args["thread_ts"] == draft["thread_ts"]
    assert "approval policy" in args["text"]
    assert "workspace admins" in args["text"]
    assert ProjectStore(redis_conn).get(project_of(draft)).state is ProjectState.PREVIEW  # type: ignore[union-attr]
    assert BOB in [r.args["user"] for r in bot.fake.calls("users.info")]


async def test_a_workspace_admin_may_approve(
    bot: Bot, redis_conn: redis.Redis, data_dir: Path
) -> None:
    bot.fake.admins.add(CAROL)
    draft = await make_draft(bot)
    video = data_dir / "fake.mp4"
    video.write_bytes(b"\x00" * 64)
    put_in_preview(redis_conn, project_of(draft), video)
    assert await bot.press(draft, ButtonAction.APPROVE, user=CAROL) == 200
    await until(
        lambda: (
            ProjectStore(redis_conn).get(project_of(draft)).state  # type: ignore[union-attr]
            is not ProjectState.PREVIEW
        ),
        "the approval",
        bot.fake,
    )
    assert bot.fake.calls("chat.postEphemeral") == []


async def test_a_listed_user_group_may_approve_and_the_requester_may_not(
    fake: FakeSlack,
    redis_conn: redis.Redis,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = tmp_path / "policy.yaml"
    rules = {"slack": {"T0TEST": {"groups": ["S0EDITORS"], "requester_may_approve": False}}}
    policy.write_text(json.dumps({"approvers": {"workspaces": rules}}))
    monkeypatch.setenv("NOVACAST_POLICY", str(policy))
    fake.usergroups = {"S0EDITORS": [BOB], "S0OTHERS": [ALICE]}
    async with running_bot(fake, redis_conn, data_dir) as bot:
        draft = await make_draft(bot)
        video = data_dir / "fake.mp4"
        video.write_bytes(b"\x00" * 64)
        put_in_preview(redis_conn, project_of(draft), video)
        assert await bot.press(draft, ButtonAction.APPROVE, user=ALICE) == 200
        refusal = await until(lambda: fake.calls("chat.postEphemeral"), "the refusal", fake)
        assert "members of the approver roles or groups" in refusal[0].args["text"]
        assert await bot.press(draft, ButtonAction.APPROVE, user=BOB) == 200
        store = ProjectStore(redis_conn)
        await until(
            lambda: store.get(project_of(draft)).state is ProjectState.APPROVED,  # type: ignore[union-attr]
            "Bob's approval",
            fake,
        )
        assert fake.calls("usergroups.list")[0].args["include_users"] in ("1", "true", "True")


async def test_identity_lookup_failure_means_not_admin(
    bot: Bot, redis_conn: redis.Redis, data_dir: Path
) -> None:
    draft = await make_draft(bot)
    video = data_dir / "fake.mp4"
    video.write_bytes(b"\x00" * 64)
    put_in_preview(redis_conn, project_of(draft), video)
    bot.fake.admins.add(CAROL)
    bot.fake.fail_next(5, status=500, method="users.info")
    assert await bot.press(draft, ButtonAction.APPROVE, user=CAROL) == 200
    await until(lambda: bot.fake.calls("chat.postEphemeral"), "the refusal", bot.fake)
    assert ProjectStore(redis_conn).get(project_of(draft)).state is ProjectState.PREVIEW  # type: ignore[union-attr]


# --- the platform misbehaving --------------------------------------------------------------------


async def test_a_429_is_retried_after_retry_after(bot: Bot) -> None:
    bot.fake.fail_next(1, status=429, retry_after=1, method="chat.postMessage")
    dm = user_message("help", user=BOB, channel="D0BOB", channel_type="im")
    started = time.monotonic()
    assert await bot.send(bot.signer.event(dm)) == 200
    await until(bot.fake.posted, "the reply after the 429", bot.fake, timeout=10)
    assert time.monotonic() - started >= 1.0
    assert len(bot.fake.calls("chat.postMessage")) == 2  # the 429, then the delivery


async def test_a_slack_that_keeps_failing_is_reported_to_the_user(bot: Bot) -> None:
    bot.fake.fail_next(20, status=500, method="chat.postMessage")
    body = bot.signer.command(
        "help", user=BOB, channel="D0BOB", response_url=bot.fake.response_url("x")
    )
    assert await bot.send(body) == 200
    told = await until(
        lambda: [r for r in bot.fake.requests if r.path == "/respond/x"], "the apology", bot.fake
    )
    note = json.loads(told[0].body)
    assert note["response_type"] == "ephemeral"
    assert "Slack is not accepting" in note["text"]
    assert TOKEN not in told[0].body.decode()


async def test_the_worker_sender_needs_only_credentials_and_retries_within_limits(
    fake: FakeSlack, redis_conn: redis.Redis, data_dir: Path
) -> None:
    settings = SlackSettings(SLACK_BOT_TOKEN=TOKEN, SLACK_API_URL=fake.api_url)
    sender = SyncSlackSender(redis_conn, settings, media_links(Settings(), redis_conn))
    target = ReplyTarget(adapter="slack", workspace="T0TEST", channel=CHANNEL, thread="9.9")
    step = [Progress(target=target, key="p:v1", stage="voice", percent=p) for p in (5, 50, 90)]
    await asyncio.to_thread(sender.send, step[0])
    fake.fail_next(1, status=429, retry_after=1, method="chat.update")
    fake.fail_next(1, status=500, method="chat.update")
    await asyncio.to_thread(sender.send, step[1])
    updates = fake.calls("chat.update")
    assert len(updates) == 3  # 429, 500, delivered
    assert {u.args["ts"] for u in updates} == {fake.posted()[0]["ts"]}
    assert fake.posted()[0]["text"].endswith("50% — voice")
    fake.fail_next(10, status=500, method="chat.update")
    with pytest.raises(SlackApiError) as failed:
        await asyncio.to_thread(sender.send, step[2])
    assert TOKEN not in str(failed.value)
    assert len(fake.posted()) == 1


# --- outbound details ---------------------------------------------------------------------------


async def test_a_video_above_the_upload_limit_is_posted_as_a_signed_link(
    fake: FakeSlack, redis_conn: redis.Redis, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_UPLOAD_LIMIT_BYTES", "1000")
    async with running_bot(fake, redis_conn, data_dir) as bot:
        video = data_dir / "media" / "T0TEST" / "p1" / "big.mp4"
        video.parent.mkdir(parents=True)
        video.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x01" * 5000)
        target = ReplyTarget(adapter="slack", workspace="T0TEST", channel=CHANNEL, thread="1.2")
        await bot.adapter.sender.send(Preview(target=target, path=str(video), caption="Big one"))
        message = fake.posted()[0]
        assert message["thread_ts"] == "1.2"
        assert "more than Slack lets a bot upload" in message["text"]
        assert fake.calls("files.getUploadURLExternal") == []
        link = message["text"].rsplit("\n", 1)[1]
        assert link.startswith(bot.url + "/media/")
        async with bot.session.get(link) as response:
            assert response.status == 200
            assert await response.read() == video.read_bytes()


async def test_approve_clicked_twice_at_once_approves_once(
    bot: Bot, redis_conn: redis.Redis, data_dir: Path
) -> None:
    draft = await make_draft(bot)
    video = data_dir / "fake.mp4"
    video.write_bytes(b"\x00" * 64)
    put_in_preview(redis_conn, project_of(draft), video)
    statuses = await asyncio.gather(
        bot.press(draft, ButtonAction.APPROVE), bot.press(draft, ButtonAction.APPROVE)
    )
    assert statuses == [200, 200]
    await until(lambda: len(bot.dispatched) == 3, "both clicks", bot.fake)
    await bot.adapter.drain(5)
    assert len(messages_with(bot.fake, "Approved by")) == 1
    assert len({e.event_id for e in bot.dispatched}) == 3


async def test_buttons_on_old_messages_work_after_a_restart(
    fake: FakeSlack, redis_conn: redis.Redis, data_dir: Path
) -> None:
    async with running_bot(fake, redis_conn, data_dir) as first:
        draft = await make_draft(first)
    async with running_bot(fake, redis_conn, data_dir) as second:
        assert second.url != first.url
        assert await second.press(draft, ButtonAction.RENDER) == 200
        progress = await until(lambda: messages_with(fake, "% — queued"), "the progress", fake)
        assert progress[0]["thread_ts"] == draft["thread_ts"]
    project = ProjectStore(redis_conn).get(project_of(draft))
    assert project is not None
    assert project.state is ProjectState.RENDERING


# --- Socket Mode ---------------------------------------------------------------------------------

APP_TOKEN = "xapp-1-A0NOVACAST-1234-socketmodetoken"


async def test_socket_mode_acks_envelopes_and_runs_the_conversation(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    async with FakeSlack(TOKEN, app_token=APP_TOKEN) as fake:
        settings = SlackSettings(
            SLACK_BOT_TOKEN=TOKEN, SLACK_APP_TOKEN=APP_TOKEN, SLACK_API_URL=fake.api_url
        )
        links = media_links(Settings(NOVACAST_DATA_DIR=str(data_dir)), redis_conn)
        engine = build_engine(redis_conn)

        async def dispatch(event: Event) -> list[Action]:
            return await asyncio.to_thread(engine.handle, event)

        adapter = from_settings(settings, dispatch, redis_conn, links)
        assert adapter is not None
        assert adapter.routes() == []
        assert not adapter.connected
        signer = SlackSigner("unused", "unused")
        async with adapter:
            await until(lambda: adapter.connected and fake.sockets, "the socket", fake)
            opened = fake.calls("apps.connections.open")
            assert opened[0].headers["Authorization"] == f"Bearer {APP_TOKEN}"
            command = signer.command_fields("12s on tide pools", user=ALICE, channel=CHANNEL)
            envelope = await fake.push("slash_commands", command)
            await until(
                lambda: any(a.get("envelope_id") == envelope for a in fake.socket_acks),
                "the ack",
                fake,
            )
            await fake.push("slash_commands", command)  # redelivered: handled once
            draft = await until(
                lambda: next((m for m in fake.posted() if m["thread_ts"]), None), "draft", fake
            )
            reply = user_message(
                "add a joke at the end", user=ALICE, channel=CHANNEL, thread_ts=draft["thread_ts"]
            )
            await fake.push("events_api", signer.callback(reply))
            await until(lambda: messages_with(fake, "v2:"), "draft v2", fake)
            await adapter.drain(5)
            assert len([m for m in fake.posted() if not m["thread_ts"]]) == 1  # one thread root
            assert len(messages_with(fake, "Draft v1")) == 1
        assert not adapter.connected


# --- the whole flow, with a real worker ---------------------------------------------------------


@pytest.fixture
def worker_env(fake: FakeSlack) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": fake.api_url}


@contextlib.contextmanager
def slack_worker(redis_url: str, data_dir: Path, env: dict[str, str]) -> Iterator[None]:
    with worker_process(redis_url, data_dir, env):
        yield


def progress_messages(fake: FakeSlack) -> list[dict[str, Any]]:
    return [m for m in fake.posted() if "% — " in m["text"]]


@pytest.mark.slow
async def test_the_whole_flow_with_a_real_worker(
    bot: Bot, redis_url: str, redis_conn: redis.Redis, data_dir: Path, worker_env: dict[str, str]
) -> None:
    fake = bot.fake
    with contextlib.ExitStack() as stack:
        env = worker_env | {"NOVACAST_PUBLIC_URL": bot.url}
        await asyncio.to_thread(stack.enter_context, slack_worker(redis_url, data_dir, env))
        draft = await make_draft(bot, "10s on why cats purr")
        thread = draft["thread_ts"]
        reply = user_message("add a joke at the end", user=ALICE, channel=CHANNEL, thread_ts=thread)
        assert await bot.send(bot.signer.event(reply)) == 200
        v2 = (await until(lambda: messages_with(fake, "v2:"), "draft v2", fake))[0]
        assert await bot.press(v2, ButtonAction.RENDER) == 200

        ask = await until(lambda: messages_with(fake, "Happy with it?"), "the approval", fake, 180)
        assert ask[0]["thread_ts"] == thread
        progress = progress_messages(fake)
        assert len(progress) == 1, [m["text"] for m in progress]
        assert progress[0]["text"].startswith("✅")
        updates = fake.calls("chat.update")
        assert len(updates) >= 3
        assert {u.args["ts"] for u in updates} == {progress[0]["ts"]}

        uploads = [u for u in fake.uploads.values() if u.completed]
        assert len(uploads) == 2  # the quick preview, then full quality
        for upload in uploads:
            assert len(upload.data) > 10_000
            assert upload.data[4:8] == b"ftyp"
            assert upload.completed["channel_id"] == CHANNEL
            assert upload.completed["thread_ts"] == thread
        assert fake.calls("files.getUploadURLExternal")[0].args["filename"].endswith(".mp4")

        clicks = [bot.press(ask[0], ButtonAction.APPROVE), bot.press(ask[0], ButtonAction.APPROVE)]
        assert await asyncio.gather(*clicks) == [200, 200]
        done = await until(lambda: messages_with(fake, "Published"), "Published", fake, 60)
        assert done[0]["thread_ts"] == thread
        published = sorted((data_dir / "published" / "T0TEST").glob("*.mp4"))
        assert len(published) == 1
        await asyncio.sleep(0.5)
        assert len(messages_with(fake, "Published")) == 1
        await asyncio.to_thread(stack.close)
    logs = [p.read_text(errors="replace") for p in (data_dir / "logs").rglob("*") if p.is_file()]
    assert logs
    assert all(TOKEN not in log for log in logs)
