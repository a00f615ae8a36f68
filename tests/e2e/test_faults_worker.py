"""A worker SIGKILLed in the middle of a render: another worker resumes the step, the user is
told, and gets the video. Real `novacast worker` processes against the test Redis; the chat is
the console adapter's stream, read back with the time of every message."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from pathlib import Path

import pytest
import redis

from bot import replies
from bot.actions import ButtonAction, Progress, Say
from bot.project import ProjectState
from pipeline.probe import probe
from tests.e2e.faults_support import Chat, alive, children, forks, kill_hard, wait_for
from tests.workers_support import worker_process
from workers.runtime import progress_key

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _full_render_running(chat: Chat) -> bool:
    return any(
        isinstance(s.action, Progress)
        and s.action.stage == "full quality"
        and s.action.percent > 41
        for s in chat.progress()
    )


def test_a_worker_killed_mid_render_is_resumed_by_a_new_worker(
    redis_url: str, redis_conn: redis.Redis, data_dir: Path
) -> None:
    chat = Chat(redis_conn)
    with worker_process(redis_url, data_dir) as first:
        assert forks(first.pid) == []  # RQ's scheduler is a thread: no child to orphan
        chat.type("/make 12s on why octopuses have three hearts")
        chat.type("Render")
        wait_for(lambda: _full_render_running(chat), 120, "the full-quality render")
        renderers = children(first.pid, named="ffmpeg")
        assert renderers  # the full-quality ffmpeg, which must not outlive its worker
        kill_hard(first)
        killed_at = time.time()
    wait_for(lambda: not any(alive(pid) for pid in renderers), 10, "the orphaned ffmpeg to end")
    project = chat.project()
    assert project.state is ProjectState.RENDERING  # nothing moved: the step is abandoned
    with worker_process(redis_url, data_dir):
        wait_for(chat.settled, 150, "the resumed render")

    project = chat.project()
    assert project.state is ProjectState.PREVIEW, chat.transcript()
    key = progress_key(project.id, project.current)
    edits = [s for s in chat.progress() if isinstance(s.action, Progress) and s.action.key == key]
    resumed = [s for s in edits if s.at >= killed_at]
    assert resumed[0].action.stage == replies.resuming("full quality")  # type: ignore[union-attr]
    assert resumed[0].action.percent >= 41  # type: ignore[union-attr]
    last = edits[-1].action
    assert isinstance(last, Progress)
    assert (last.done, last.percent) == (True, 100)  # the message ends at ready, not frozen

    assert project.video_path is not None
    video = Path(project.video_path)
    assert [p.path for p in chat.previews()][-1] == str(video)
    facts = probe(video)
    assert facts.video_codec == "h264"
    assert facts.audio_codec == "aac"
    assert (facts.width, facts.height) == (1080, 1920)
    assert 8 < facts.duration < 20
    assert not list(video.parent.glob(".video.*"))  # the killed run's partial file is gone


def test_ffmpeg_killed_again_and_again_ends_in_one_clear_failure(
    redis_url: str, redis_conn: redis.Redis, data_dir: Path
) -> None:
    """The worker lives; each ffmpeg it starts is SIGKILLed. RQ retries the step (2 s, 6 s),
    then the user is told once, with Render to try again, and the message stops at the failure."""
    chat = Chat(redis_conn)
    killed: set[int] = set()

    def kill_its_ffmpeg(worker: int) -> bool:
        for pid in children(worker, named="ffmpeg"):
            if pid not in killed:
                killed.add(pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        return chat.settled()

    with worker_process(redis_url, data_dir) as worker:
        chat.type("/make 10s on why leaves change colour")
        chat.type("Render")
        wait_for(lambda: kill_its_ffmpeg(worker.pid), 120, "the render to give up")
        assert worker.poll() is None  # the worker itself lives on

    project = chat.project()
    assert project.state is ProjectState.DRAFT
    assert len(killed) == 3  # the first run and RQ's two retries
    failures = [
        s.action for s in chat.sent()
        if isinstance(s.action, Say) and s.action.text.startswith("Rendering failed")
    ]
    assert len(failures) == 1
    expected = replies.render_failed(
        "preview", "the video maker was stopped before it finished; try again"
    )
    # the sentence, then the job's trace id to quote to an operator
    assert re.fullmatch(re.escape(expected) + r" \(ref [0-9a-f]{12}\)", failures[0].text)
    assert failures[0].buttons[0].action is ButtonAction.RENDER
    last = chat.progress()[-1].action
    assert isinstance(last, Progress)
    assert (last.stage, last.done) == (replies.failed_at("preview"), True)
