"""The studio's outbox hub against real Redis: one reader for every open conversation, fed by
the platform's sender (what a worker calls) from another thread."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis

from adapters.outbox import sender_for
from adapters.web.chat import async_redis
from adapters.web.hub import OutboxHub, Subscription
from adapters.web.outbox import Entry, WebOutbox, stream_key
from bot.actions import Progress, Say
from bot.events import ReplyTarget

GUARD = 60.0
"""Only a guard against hanging: with `block_ms=0` a read ends only when something arrives."""


def target(channel: str) -> ReplyTarget:
    return ReplyTarget(adapter="web", workspace="acme", channel=channel)


async def say(connection: redis.Redis, channel: str, text: str) -> None:
    where = target(channel)
    await asyncio.to_thread(sender_for(where, connection).send, Say(target=where, text=text))


async def next_entry(subscription: Subscription) -> Entry:
    entries = subscription.entries()
    return await asyncio.wait_for(anext(entries), GUARD)


@pytest.fixture
async def hub(redis_conn: redis.Redis) -> AsyncIterator[OutboxHub]:
    reader, writer = async_redis(redis_conn, blocking=True), async_redis(redis_conn)
    running = OutboxHub(reader, writer, block_ms=0)  # reads that never time out on their own
    yield running
    await running.close()
    await reader.aclose()
    await writer.aclose()


async def test_a_stream_opened_while_the_hub_waits_is_read_at_once(
    hub: OutboxHub, redis_conn: redis.Redis
) -> None:
    first = await hub.subscribe(stream_key("acme", "studio:a"))
    first.start("0-0")
    await say(redis_conn, "studio:a", "one")
    assert (await next_entry(first)).action.text == "one"  # type: ignore[union-attr]
    second = await hub.subscribe(stream_key("acme", "studio:b"))  # the hub is blocked now
    second.start("0-0")
    await say(redis_conn, "studio:b", "two")
    assert (await next_entry(second)).action.text == "two"  # type: ignore[union-attr]


async def test_every_socket_of_a_conversation_gets_each_entry_once_after_its_history(
    hub: OutboxHub, redis_conn: redis.Redis
) -> None:
    key = stream_key("acme", "studio:a")
    await say(redis_conn, "studio:a", "before anyone looked")
    tab = await hub.subscribe(key)
    _history, last = await asyncio.to_thread(WebOutbox(redis_conn, "acme", "studio:a").recent, 10)
    tab.start(last)
    other = await hub.subscribe(key)
    other.start(last)
    await say(redis_conn, "studio:a", "new")
    for subscription in (tab, other):
        entry = await next_entry(subscription)
        assert entry.action.text == "new"  # type: ignore[union-attr]
        assert subscription.queue.empty()
    hub.unsubscribe(tab)
    await say(redis_conn, "studio:a", "later")
    assert (await next_entry(other)).action.text == "later"  # type: ignore[union-attr]
    assert tab.queue.empty()


async def test_a_subscription_sees_nothing_its_history_already_holds(
    hub: OutboxHub, redis_conn: redis.Redis
) -> None:
    key = stream_key("acme", "studio:a")
    subscription = await hub.subscribe(key)  # first, then the history: see hub.py
    await say(redis_conn, "studio:a", "raced the history")
    _history, last = await asyncio.to_thread(WebOutbox(redis_conn, "acme", "studio:a").recent, 10)
    subscription.start(last)
    await say(redis_conn, "studio:a", "after")
    assert (await next_entry(subscription)).action.text == "after"  # type: ignore[union-attr]


async def test_a_render_s_progress_keeps_one_entry_so_the_draft_stays_in_the_history(
    hub: OutboxHub, redis_conn: redis.Redis
) -> None:
    where = target("studio:r")
    outbox = WebOutbox.of(redis_conn, where)
    live = await hub.subscribe(outbox.key)
    live.start("0-0")
    outbox.send(Say(target=where, text="the draft"))
    assert (await next_entry(live)).action.text == "the draft"  # type: ignore[union-attr]
    for percent in range(100):  # far more updates than the stream keeps, times six renders
        for render in range(6):
            outbox.send(Progress(target=where, key=f"p{render}", stage="full", percent=percent))
    outbox.send(Progress(target=where, key="p0", stage="full", percent=100, done=True))
    kept, _ = outbox.recent(400)
    assert [e.action.text for e in kept if isinstance(e.action, Say)] == ["the draft"]
    progress = [e.action for e in kept if isinstance(e.action, Progress)]
    assert sorted(p.key for p in progress) == [f"p{r}" for r in range(6)]  # one entry per render
    assert next(p for p in progress if p.key == "p0").done
    seen = await next_entry(live)  # a socket reading along still gets the updates, newest last
    assert isinstance(seen.action, Progress)
