"""Discord end to end: real discord.py against a protocol-faithful fake REST API and gateway.

The bot side is wired as `novacast bot` wires it (the real engine on real Redis, dispatched in a
thread); a real `novacast worker` renders real media for the full flow and posts progress and
the preview through the Discord adapter's REST side to the same fake.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import redis

from adapters.base import ChatAdapter
from adapters.discord import DiscordSettings, from_settings
from adapters.discord.outbound import sync_sender
from adapters.media_links import MediaLinks
from bot.actions import Action, Preview, Progress
from bot.events import Event, ReplyTarget
from bot.project import ProjectState, ProjectStore
from novacast.server import media_links
from novacast.wiring import build_engine
from pipeline.settings import Settings, load_settings
from tests.fakes.discord import EDITOR_ROLE, GUILD_ID, MANAGE_GUILD, FakeDiscord, Recorded
from tests.workers_support import worker_process

TOKEN = "dc-test-token-3f9a7c"


def settings_for(fake: FakeDiscord) -> DiscordSettings:
    return DiscordSettings.model_validate({
        "DISCORD_BOT_TOKEN": TOKEN,
        "DISCORD_API_URL": fake.api_url,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
    })


def links_for(connection: redis.Redis, data_dir: Path) -> MediaLinks:
    return media_links(Settings.model_validate({"NOVACAST_DATA_DIR": data_dir}), connection)


@asynccontextmanager
async def running_bot(
    fake: FakeDiscord, connection: redis.Redis, data_dir: Path
) -> AsyncIterator[ChatAdapter]:
    """The Discord adapter as `novacast bot` runs it: the real core behind `dispatch`."""
    engine = build_engine(connection)

    async def dispatch(event: Event) -> list[Action]:
        return await asyncio.to_thread(engine.handle, event)

    links = links_for(connection, data_dir)
    adapter = from_settings(settings_for(fake), dispatch, connection, links)
    assert adapter is not None
    async with adapter:
        assert adapter.connected
        yield adapter


def run(scenario: Callable[[], Awaitable[None]], timeout: float = 60) -> None:
    asyncio.run(asyncio.wait_for(scenario(), timeout=timeout))


@pytest.fixture
def no_token_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    assert TOKEN not in caplog.text


# --- helpers -----------------------------------------------------------------------------------


def requester(fake: FakeDiscord) -> dict[str, Any]:
    return fake.member("700000000000000001", "ada", roles=[fake.editor_role], permissions=1024)


def stranger(fake: FakeDiscord) -> dict[str, Any]:
    return fake.member("700000000000000002", "bob", permissions=1024)


def admin(fake: FakeDiscord) -> dict[str, Any]:
    return fake.member(
        "700000000000000003", "cy", roles=[fake.admin_role], permissions=MANAGE_GUILD
    )


def custom_ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components", []) for c in row["components"]]


def button_on(message: dict[str, Any], action: str) -> str:
    found = [cid for cid in custom_ids(message) if cid.startswith(f"nc1:{action}:")]
    assert found, f"no {action} button on {message['content'][:60]!r}: {custom_ids(message)}"
    return found[0]


def stored(fake: FakeDiscord, channel: str, message_id: str) -> dict[str, Any]:
    return fake.messages[channel][message_id]


async def make_draft(fake: FakeDiscord, idea: str = "10s on tidal pools") -> dict[str, Any]:
    """/make → deferred, thread on the loading message, draft as the first followup."""
    interaction = fake.command("make", requester(fake), {"idea": idea})
    await fake.deliver(interaction)
    path = f"/interactions/{interaction['id']}/{interaction['token']}/callback"
    (callback,) = await fake.wait_for("POST", path)
    assert callback.json == {"type": 5}
    assert callback.query.get("with_response") in ("1", "true", "True")
    (followup,) = await fake.wait_for("POST", f"/webhooks/{fake.app_id}/{interaction['token']}")
    assert followup.json["allowed_mentions"] == {"parse": []}, "quotes of the idea never ping"
    state = fake.interactions[interaction["id"]]
    return stored(fake, fake.channel_id, state.original_id)


def thread_message(
    fake: FakeDiscord, thread: str, member: dict[str, Any], text: str
) -> dict[str, Any]:
    return fake.message(
        thread, text, member["user"], guild_id=fake.guild_id,
        member={k: v for k, v in member.items() if k not in ("user", "permissions")},
    )


async def press(
    fake: FakeDiscord, message: dict[str, Any], custom_id: str, member: dict[str, Any]
) -> dict[str, Any]:
    interaction = fake.component(message, custom_id, member)
    await fake.deliver(interaction)
    path = f"/interactions/{interaction['id']}/{interaction['token']}/callback"
    (callback,) = await fake.wait_for("POST", path)
    assert callback.json == {"type": 6}
    return interaction


async def followups(fake: FakeDiscord, interaction: dict[str, Any], text: str = "") -> Recorded:
    hits = await fake.wait_for("POST", f"/webhooks/{fake.app_id}/{interaction['token']}", text=text)
    return hits[0]


# --- fast tests --------------------------------------------------------------------------------


def test_from_settings_is_none_without_a_token(redis_conn: redis.Redis, data_dir: Path) -> None:
    async def dispatch(event: Event) -> list[Action]:
        return []

    settings = DiscordSettings()
    assert from_settings(settings, dispatch, redis_conn, links_for(redis_conn, data_dir)) is None


def test_start_syncs_commands_and_identifies_with_the_content_intent(
    redis_conn: redis.Redis, data_dir: Path, no_token_in_logs: None
) -> None:
    async def scenario() -> None:
        async with FakeDiscord(TOKEN) as fake, running_bot(fake, redis_conn, data_dir):
            (put,) = fake.calls("PUT", f"/applications/{fake.app_id}/commands")
            names = {c["name"]: c for c in put.json}
            assert set(names) == {"make", "status", "schedules", "assets", "help"}
            assert [o["name"] for o in names["make"]["options"]] == ["idea"]
            assert names["make"]["options"][0]["required"] is True
            intents = fake.identifies[0]["intents"]
            assert intents & (1 << 15), "MESSAGE_CONTENT intent"
            assert intents & 1, "GUILDS"
            assert intents & (1 << 9), "GUILD_MESSAGES"
            assert fake.calls("GET", "/users/@me")[0].headers["Authorization"] == f"Bot {TOKEN}"

    run(scenario)


def test_make_defers_then_posts_the_draft_with_buttons_in_a_thread(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    async def scenario() -> None:
        async with FakeDiscord(TOKEN) as fake, running_bot(fake, redis_conn, data_dir):
            draft = await make_draft(fake)
            assert "Press Render" in draft["content"]
            actions = {cid.split(":")[1] for cid in custom_ids(draft)}
            assert actions == {"render", "revise", "cancel"}
            assert draft["id"] in fake.threads, "a thread was started on the draft message"
            (thread_call,) = fake.calls("POST", f"/messages/{draft['id']}/threads")
            assert thread_call.json["name"].startswith("Draft: 10s on tidal pools")
            project = ProjectStore(redis_conn).get(button_on(draft, "render").split(":")[2])
            assert project is not None
            assert project.workspace == fake.guild_id
            assert project.conversation.thread == draft["id"]

    run(scenario)


def test_text_in_the_draft_thread_refines_it_and_other_chatter_is_ignored(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    async def scenario() -> None:
        async with FakeDiscord(TOKEN) as fake, running_bot(fake, redis_conn, data_dir):
            draft = await make_draft(fake)
            elsewhere = thread_message(fake, fake.channel_id, requester(fake), "make it shorter")
            await fake.push("MESSAGE_CREATE", elsewhere)
            inside = thread_message(fake, draft["id"], requester(fake), "add a joke at the end")
            await fake.push("MESSAGE_CREATE", inside)
            (reply,) = await fake.wait_for("POST", f"/channels/{draft['id']}/messages", text="v2")
            assert button_on(reply.json, "render")
            assert reply.json["allowed_mentions"] == {"parse": []}, "quotes never ping"
            channel_posts = fake.calls("POST", f"/channels/{fake.channel_id}/messages")
            assert [p.path for p in channel_posts if p.path.endswith("/messages")] == []

    run(scenario)


def test_a_reply_to_the_draft_and_direct_messages_reach_the_core(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    async def scenario() -> None:
        async with FakeDiscord(TOKEN) as fake, running_bot(fake, redis_conn, data_dir):
            draft = await make_draft(fake)
            reply = thread_message(fake, fake.channel_id, requester(fake), "add a joke at the end")
            reply["message_reference"] = {
                "type": 0, "message_id": draft["id"], "channel_id": fake.channel_id,
                "guild_id": fake.guild_id,
            }
            reply["referenced_message"] = draft
            await fake.push("MESSAGE_CREATE", reply)
            await fake.wait_for("POST", f"/channels/{draft['id']}/messages", text="v2")
            in_dm = fake.command("make", None, {"idea": "10s on lichen"})
            await fake.deliver(in_dm)
            draft_in_dm = await followups(fake, in_dm, text="Press Render")
            render = button_on(draft_in_dm.json, "render")
            project = ProjectStore(redis_conn).get(render.split(":")[2])
            assert project is not None
            assert project.workspace == f"dm-{fake.dm_user['id']}", "each DM is its own workspace"
            assert len(fake.calls("POST", "/threads")) == 1, "no thread in a DM"
            dm_channel = fake.next_id()
            dm = fake.message(dm_channel, "help", requester(fake)["user"])
            await fake.push("MESSAGE_CREATE", dm)
            await fake.wait_for("POST", f"/channels/{dm_channel}/messages", text="narrated video")

    run(scenario)


def test_without_thread_permission_the_draft_lives_in_the_channel(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    async def scenario() -> None:
        async with FakeDiscord(TOKEN) as fake, running_bot(fake, redis_conn, data_dir):
            fake.fail_next(1, 403, path_contains="/threads")
            draft = await make_draft(fake)
            assert not fake.threads
            reply = thread_message(fake, fake.channel_id, requester(fake), "add a joke at the end")
            reply["message_reference"] = {"message_id": draft["id"], "channel_id": fake.channel_id}
            reply["referenced_message"] = draft
            await fake.push("MESSAGE_CREATE", reply)
            await fake.wait_for("POST", f"/channels/{fake.channel_id}/messages", text="v2")

    run(scenario)


def test_the_same_interaction_delivered_twice_is_handled_once(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    async def scenario() -> None:
        async with FakeDiscord(TOKEN) as fake, running_bot(fake, redis_conn, data_dir):
            interaction = fake.command("make", requester(fake), {"idea": "10s on moss"})
            await fake.deliver(interaction)
            await fake.deliver(interaction)
            path = f"/interactions/{interaction['id']}/{interaction['token']}/callback"
            await fake.wait_for("POST", path, count=2, answered_ok=False)
            await followups(fake, interaction)
            help_ = fake.command("help", requester(fake))
            await fake.deliver(help_)
            await followups(fake, help_, text="short narrated video")
            assert len(fake.calls("POST", f"/webhooks/{fake.app_id}/{interaction['token']}")) == 1
            assert len(fake.calls("POST", "/threads")) == 1
            assert len(list(redis_conn.scan_iter("novacast:project:*"))) == 1

    run(scenario)


def test_approve_by_someone_not_allowed_is_refused_ephemerally(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    async def scenario() -> None:
        async with FakeDiscord(TOKEN) as fake, running_bot(fake, redis_conn, data_dir):
            draft = await make_draft(fake)
            project_id = button_on(draft, "render").split(":")[2]
            approve = f"nc1:approve:{project_id}"
            asking = fake.posted(draft["id"], "Happy with it?", [approve])
            pressed = await press(fake, asking, approve, stranger(fake))
            refusal = await followups(fake, pressed)
            assert refusal.json["flags"] & 64, "ephemeral"
            assert "approval policy" in refusal.json["content"]
            assert "workspace admins" in refusal.json["content"]
            project = ProjectStore(redis_conn).get(project_id)
            assert project is not None
            assert project.state is ProjectState.DRAFT
            assert not (data_dir / "published").exists()

    run(scenario)


def test_policy_roles_are_the_members_discord_role_ids(
    redis_conn: redis.Redis, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "approvers:\n  requester_may_approve: false\n  admins_may_approve: false\n"
        f"  workspaces:\n    discord:\n      '{GUILD_ID}':\n"
        f"        groups: ['{EDITOR_ROLE}']\n"
    )
    monkeypatch.setenv("NOVACAST_POLICY", str(policy))

    async def scenario() -> None:
        async with FakeDiscord(TOKEN) as fake, running_bot(fake, redis_conn, data_dir):
            draft = await make_draft(fake)
            reject = f"nc1:reject:{button_on(draft, 'render').split(':')[2]}"
            asking = fake.posted(draft["id"], "Happy with it?", [reject])
            refused = await followups(fake, await press(fake, asking, reject, admin(fake)))
            assert refused.json["flags"] & 64
            assert "approver roles" in refused.json["content"]
            allowed = await followups(fake, await press(fake, asking, reject, requester(fake)))
            assert "approver roles" not in allowed.json["content"]

    run(scenario)


def test_malformed_and_unknown_dispatches_are_skipped_and_the_client_stays_connected(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    async def scenario() -> None:
        async with FakeDiscord(TOKEN) as fake, running_bot(fake, redis_conn, data_dir) as bot:
            good = fake.command("help", requester(fake))
            no_token = {k: v for k, v in good.items() if k != "token"}
            await fake.push("INTERACTION_CREATE", no_token)
            await fake.push("INTERACTION_CREATE", {**good, "id": "not-a-number"})
            await fake.push("INTERACTION_CREATE", {"type": 3, "data": {"custom_id": 7}})
            await fake.push("INTERACTION_CREATE", "just a string")
            draft = await make_draft(fake)
            for custom_id in ("nc1:approve:not-hex!", "evil:payload", "nc1:launch:abc123"):
                odd = fake.posted(draft["id"], "odd", [custom_id])
                await fake.deliver(fake.component(odd, custom_id, requester(fake)))
            await fake.deliver(fake.component(draft, "nc1:approve:abc", requester(fake)))
            await fake.push("MESSAGE_CREATE", {"id": "1", "content": 5})
            await fake.push("NOVACAST_UNKNOWN_EVENT", {"what": "ever"})
            await fake.push_raw({"op": 42, "d": None})
            for unusable in (fake.command("make", requester(fake)), fake.command("nuke", None)):
                await fake.deliver(unusable)
                path = f"/interactions/{unusable['id']}/{unusable['token']}/callback"
                (answer,) = await fake.wait_for("POST", path)
                assert answer.json["type"] == 4
                assert answer.json["data"]["flags"] & 64
                assert "couldn't read that command" in answer.json["data"]["content"]
            await fake.deliver(good)
            await followups(fake, good, text="short narrated video")
            assert bot.connected
            assert len(fake.identifies) == 1, "never reconnected"
            assert len(fake.calls("POST", "/callback")) == 4, "only /make, /help and the unusable"

    run(scenario)


def test_a_429_with_via_and_a_500_are_retried_and_delivered(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    async def scenario() -> None:
        async with FakeDiscord(TOKEN) as fake, running_bot(fake, redis_conn, data_dir):
            fake.fail_next(1, 500, path_contains="/webhooks/")  # retried after 1 s
            fake.fail_next(1, 429, path_contains="/webhooks/", retry_after=0.2)
            help_ = fake.command("help", requester(fake))
            await fake.deliver(help_)
            await followups(fake, help_, text="short narrated video")
            posts = fake.calls("POST", f"/webhooks/{fake.app_id}/{help_['token']}")
            assert len(posts) == 3
            assert all(p.json == posts[0].json for p in posts)
            assert [p.status for p in posts] == [500, 429, 200]
            assert posts[2].at - posts[1].at >= 0.2, "waited retry_after"

    run(scenario)


def test_a_followup_discord_keeps_refusing_falls_back_to_a_channel_message(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    async def scenario() -> None:
        async with FakeDiscord(TOKEN) as fake, running_bot(fake, redis_conn, data_dir):
            fake.fail_next(1, 429, path_contains="/webhooks/", via=False)  # a Cloudflare block
            help_ = fake.command("help", requester(fake))
            await fake.deliver(help_)
            await fake.wait_for("POST", f"/channels/{fake.channel_id}/messages", text="narrated")
            assert len(fake.calls("POST", f"/webhooks/{fake.app_id}/{help_['token']}")) == 1

    run(scenario)


def test_buttons_on_old_messages_work_after_a_bot_restart(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    async def scenario() -> None:
        async with FakeDiscord(TOKEN) as fake:
            async with running_bot(fake, redis_conn, data_dir):
                draft = await make_draft(fake)
            async with running_bot(fake, redis_conn, data_dir):
                pressed = await press(fake, draft, button_on(draft, "cancel"), requester(fake))
                reply = await followups(fake, pressed, text="Cancelled")
                assert not reply.json.get("flags")
            assert len(fake.identifies) == 2

    run(scenario)


def test_worker_sender_links_a_preview_too_large_to_upload(
    redis_conn: redis.Redis, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = data_dir / "media" / GUILD_ID / "abc" / "big.mp4"
    video.parent.mkdir(parents=True)
    video.write_bytes(b"\0\0\0\x18ftypmp42" + bytes(4096))

    async def scenario() -> None:
        async with FakeDiscord(TOKEN) as fake:
            for key, value in fake.env().items():
                monkeypatch.setenv(key, value)
            monkeypatch.setenv("DISCORD_UPLOAD_LIMIT_BYTES", "1024")
            load_settings.cache_clear()
            target = channel_target(fake)
            preview = Preview(target=target, path=str(video), caption="Quick preview of v1")
            await asyncio.to_thread(sync_sender(target, redis_conn).send, preview)
            (post,) = await fake.wait_for("POST", f"/channels/{fake.channel_id}/messages")
            assert not post.files
            assert "too large to upload here" in post.json["content"]
            assert "/media/" in post.json["content"]
            monkeypatch.setenv("DISCORD_UPLOAD_LIMIT_BYTES", str(10 * 1024 * 1024))
            fake.fail_next(1, 503, path_contains="/messages")
            await asyncio.to_thread(sync_sender(target, redis_conn).send, preview)
            await fake.wait_for("POST", "/messages", text="Discord refused the upload (HTTP 503)")

    try:
        run(scenario)
    finally:
        load_settings.cache_clear()


def test_worker_sender_edits_one_progress_message(
    redis_conn: redis.Redis, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        async with FakeDiscord(TOKEN) as fake:
            for key, value in fake.env().items():
                monkeypatch.setenv(key, value)
            load_settings.cache_clear()
            target = channel_target(fake)
            sender = sync_sender(target, redis_conn)
            for percent in (0, 20, 100):
                step = Progress(target=target, key="p1:v1", stage="voice", percent=percent,
                                done=percent == 100)
                await asyncio.to_thread(sender.send, step)
            (post,) = fake.calls("POST", f"/channels/{fake.channel_id}/messages")
            patches = fake.calls("PATCH", f"/channels/{fake.channel_id}/messages/")
            assert len(patches) == 2
            message_id = fake.messages[fake.channel_id].popitem()[0]
            assert all(p.path.endswith(message_id) for p in patches)
            assert "100%" in patches[-1].json["content"]
            assert post.headers["Authorization"] == f"Bot {TOKEN}"

    try:
        run(scenario)
    finally:
        load_settings.cache_clear()


def channel_target(fake: FakeDiscord) -> ReplyTarget:
    return ReplyTarget(adapter="discord", workspace=fake.guild_id, channel=fake.channel_id)


# --- the whole flow, with a real worker rendering real media -------------------------------------


def latest(fake: FakeDiscord, channel: str, text: str) -> dict[str, Any]:
    found = [m for m in fake.messages.get(channel, {}).values() if text in m["content"]]
    assert found, f"no message containing {text!r} in channel {channel}"
    return found[-1]


async def refine_and_render(fake: FakeDiscord, draft: dict[str, Any]) -> None:
    thread = draft["id"]
    words = thread_message(fake, thread, requester(fake), "add a joke at the end")
    await fake.push("MESSAGE_CREATE", words)
    await fake.wait_for("POST", f"/channels/{thread}/messages", text="v2")
    version_2 = latest(fake, thread, "v2")
    await press(fake, version_2, button_on(version_2, "render"), requester(fake))
    await fake.wait_for("POST", f"/channels/{thread}/messages", text="Happy with it?", timeout=100)


def assert_one_progress_message(fake: FakeDiscord, thread: str) -> None:
    posts = [p for p in fake.calls("POST", f"/channels/{thread}/messages") if "Rendering —" in
             str((p.json or {}).get("content"))]
    deleted = {p.path.rsplit("/", 1)[1] for p in fake.calls("DELETE", f"/channels/{thread}/")}
    kept = [m for m in fake.messages[thread].values() if "Rendering —" in m["content"]]
    assert len(posts) - len(deleted) == 1, "one progress message"
    assert len(kept) == 1, "one progress message"
    patches = fake.calls("PATCH", f"/channels/{thread}/messages/{kept[0]['id']}")
    assert len(patches) >= 3, "progress was edited in place"
    assert "100%" in patches[-1].json["content"]


def assert_uploaded_mp4(fake: FakeDiscord, thread: str) -> None:
    uploads = [p for p in fake.calls("POST", f"/channels/{thread}/messages") if p.files]
    assert len(uploads) == 2, "the quick preview, then full quality"
    for upload in uploads:
        (data,) = upload.files.values()
        assert len(data) > 10_000
        assert data[4:8] == b"ftyp"
    assert "full quality" in uploads[-1].json["content"]


async def approve_twice_at_once(fake: FakeDiscord, asking: dict[str, Any]) -> list[Recorded]:
    approve = button_on(asking, "approve")
    clicks = [fake.component(asking, approve, m) for m in (requester(fake), admin(fake))]
    await asyncio.gather(*(fake.deliver(click) for click in clicks))
    return [await followups(fake, click) for click in clicks]


@pytest.mark.slow
def test_full_flow_with_a_real_worker_and_a_bot_restart_before_approval(
    redis_url: str, redis_conn: redis.Redis, data_dir: Path, no_token_in_logs: None
) -> None:
    async def scenario() -> None:
        async with FakeDiscord(TOKEN) as fake:
            worker = worker_process(redis_url, data_dir, fake.env())
            await asyncio.to_thread(worker.__enter__)
            try:
                async with running_bot(fake, redis_conn, data_dir):
                    draft = await make_draft(fake)
                    await refine_and_render(fake, draft)
                thread = draft["id"]
                assert_one_progress_message(fake, thread)
                assert_uploaded_mp4(fake, thread)
                async with running_bot(fake, redis_conn, data_dir):  # restarted bot, old buttons
                    answers = await approve_twice_at_once(fake, latest(fake, thread, "Happy"))
                    await fake.wait_for("POST", f"/channels/{thread}/messages", text="Published",
                                        timeout=60)
            finally:
                await asyncio.to_thread(worker.__exit__, None, None, None)
            texts = sorted(a.json["content"] for a in answers)
            assert sum("Publishing v2" in t for t in texts) == 1, texts
            published = list((data_dir / "published" / fake.guild_id).glob("*.mp4"))
            assert len(published) == 1
            said = [p for p in fake.calls("POST", f"/channels/{thread}/messages")
                    if "Published" in str((p.json or {}).get("content"))]
            assert len(said) == 1

    run(scenario, timeout=240)
