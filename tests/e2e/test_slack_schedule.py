"""Scheduling through Slack: the real Bolt app and SDK against the fake Slack Web API.

The user's Slack profile time zone (users.info `tz`) is how "tomorrow 9am" is read; the
schedule shows up in /schedules with a Cancel schedule button that works from Slack.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis

from adapters.buttons import encode
from bot.actions import Button, ButtonAction
from bot.project import ProjectState, ProjectStore
from bot.schedule_store import ScheduleState, ScheduleStore
from tests.e2e.test_slack import (
    ALICE,
    CHANNEL,
    TOKEN,
    Bot,
    button_value,
    make_draft,
    project_of,
    put_in_preview,
    running_bot,
    until,
)
from tests.fakes.slack import FakeSlack, user_message


@pytest.fixture
async def bot(redis_conn: redis.Redis, data_dir: Path) -> AsyncIterator[Bot]:
    async with FakeSlack(TOKEN) as fake, running_bot(fake, redis_conn, data_dir) as running:
        yield running


def _with(bot: Bot, words: str) -> list[dict[str, Any]]:
    return [m for m in bot.fake.posted() if words in m.get("text", "")]


async def test_schedule_from_a_thread_in_the_profile_zone_then_cancel_it(
    bot: Bot, redis_conn: redis.Redis, data_dir: Path
) -> None:
    bot.fake.timezones[ALICE] = "Asia/Tokyo"
    draft = await make_draft(bot)
    project_id = project_of(draft)
    video = data_dir / "fake.mp4"
    video.write_bytes(b"\x00" * 64)
    put_in_preview(redis_conn, project_id, video)

    before = datetime.now(UTC)
    line = user_message("schedule it for tomorrow 9am", user=ALICE, channel=CHANNEL,
                        thread_ts=draft["thread_ts"])
    assert await bot.send(bot.signer.event(line)) == 200
    (confirmation,) = await until(lambda: _with(bot, "Scheduled “"), "the confirmation", bot.fake)
    assert "(Asia/Tokyo)" in confirmation["text"]
    assert confirmation["thread_ts"] == draft["thread_ts"]
    (schedule,) = ScheduleStore(redis_conn).for_project(project_id)
    tokyo = before.astimezone(ZoneInfo("Asia/Tokyo")).date() + timedelta(days=1)
    expected = datetime(tokyo.year, tokyo.month, tokyo.day, 9, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert schedule.next_at in {expected.astimezone(UTC), expected.astimezone(UTC) + timedelta(1)}
    cancel = button_value(confirmation, ButtonAction.UNSCHEDULE)
    assert cancel == encode(Button(action=ButtonAction.UNSCHEDULE, project_id=schedule.id))

    listing = bot.signer.command("", user=ALICE, channel=CHANNEL, command="/schedules",
                                 response_url=bot.fake.response_url("cmd-list"))
    assert await bot.send(listing) == 200
    listed = await until(lambda: _with(bot, "set by"), "the /schedules listing", bot.fake)
    assert "novacast_unschedule" in json.dumps(listed[-1])

    press = bot.signer.button(cancel, user=ALICE, message=confirmation,
                              response_url=bot.fake.response_url("act-cancel"))
    assert await bot.send(press) == 200
    await until(lambda: _with(bot, "won't go out"), "the cancellation", bot.fake)
    after = ScheduleStore(redis_conn).get(schedule.id)
    assert after is not None
    assert after.state is ScheduleState.CANCELLED
    assert ProjectStore(redis_conn).get(project_id).state is ProjectState.PREVIEW  # type: ignore[union-attr]
