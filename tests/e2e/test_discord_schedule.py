"""Scheduling through Discord: discord.py against the fake gateway and REST API.

"schedule it for tomorrow 9am" in the draft's thread schedules the preview; the confirmation's
Cancel schedule button (a dynamic item carrying the schedule id) cancels it again.
"""

from __future__ import annotations

from pathlib import Path

import redis

from bot.project import ProjectState, ProjectStore
from bot.schedule_store import ScheduleState, ScheduleStore
from tests.e2e.test_discord import (
    TOKEN,
    button_on,
    make_draft,
    press,
    requester,
    run,
    running_bot,
    thread_message,
)
from tests.fakes.discord import FakeDiscord


def test_schedule_in_the_thread_then_cancel_with_the_button(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    async def scenario() -> None:
        async with FakeDiscord(TOKEN) as fake, running_bot(fake, redis_conn, data_dir):
            draft = await make_draft(fake)
            project_id = button_on(draft, "render").split(":")[2]
            store = ProjectStore(redis_conn)
            store.transition(project_id, {ProjectState.DRAFT}, ProjectState.RENDERING)
            video = data_dir / "fake.mp4"
            video.write_bytes(b"\x00" * 64)
            store.transition(project_id, {ProjectState.RENDERING}, ProjectState.PREVIEW,
                             rendered_version=1, video_path=str(video))
            words = "schedule it for tomorrow 9am"
            line = thread_message(fake, draft["id"], requester(fake), words)
            await fake.push("MESSAGE_CREATE", line)
            path = f"/channels/{draft['id']}/messages"
            (confirmation,) = await fake.wait_for("POST", path, text="Scheduled “")
            assert "(UTC)" in confirmation.json["content"]
            cancel = button_on(confirmation.json, "unschedule")
            (schedule,) = ScheduleStore(redis_conn).for_project(project_id)
            assert cancel == f"nc1:unschedule:{schedule.id}"
            (message,) = [m for m in fake.messages[draft["id"]].values()
                          if m["content"].startswith("Scheduled “")]
            pressed = await press(fake, message, cancel, requester(fake))
            await fake.wait_for("POST", f"/webhooks/{fake.app_id}/{pressed['token']}",
                                text="won't go out")
            after = ScheduleStore(redis_conn).get(schedule.id)
            assert after is not None
            assert after.state is ScheduleState.CANCELLED
            assert store.get(project_id).state is ProjectState.PREVIEW  # type: ignore[union-attr]

    run(scenario)
