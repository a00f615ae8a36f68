"""Failures as a user meets them: a transient one retried, a permanent one reported.

The ffmpeg on the worker's PATH is replaced by a small script (the wire, not our code): it either
dies once and then hands over to the real ffmpeg, or always answers like ffmpeg given junk.
"""

from __future__ import annotations

import io
import stat
from pathlib import Path

import imageio_ffmpeg
import pytest
import redis

from adapters.console import ConsoleAdapter
from bot.project import ProjectState, ProjectStore
from novacast.wiring import build_engine
from tests.workers_support import worker_process

pytestmark = pytest.mark.slow

ANSWERS_QUERIES = """case "$2" in -version|-filters|-encoders|-h) exec "{real}" "$@";; esac
"""
"""Questions about what the binary has (pipeline.ffmpeg_check) go to the real one, uncounted."""

DIES_ONCE = """#!/bin/sh
""" + ANSWERS_QUERIES + """count_file="{state}"
count=$(cat "$count_file" 2>/dev/null || echo 0)
echo $((count + 1)) > "$count_file"
if [ "$count" = 0 ]; then kill -9 $$; fi
exec "{real}" "$@"
"""

ALWAYS_BROKEN = """#!/bin/sh
""" + ANSWERS_QUERIES + """echo $(( $(cat "{state}" 2>/dev/null || echo 0) + 1 )) > "{state}"
echo "input.wav: Invalid data found when processing input" >&2
exit 1
"""


def _fake_ffmpeg(folder: Path, template: str) -> tuple[Path, Path]:
    folder.mkdir()
    state = folder / "calls"
    script = folder / "ffmpeg"
    script.write_text(template.format(state=state, real=imageio_ffmpeg.get_ffmpeg_exe()))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return folder, state


def _path_with(folder: Path) -> str:
    import os

    return f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"


def _run(redis_conn: redis.Redis, lines: list[str]) -> tuple[ConsoleAdapter, str]:
    out = io.StringIO()
    adapter = ConsoleAdapter(build_engine(redis_conn).handle, redis_conn, out, patient=True)
    adapter.run(lines)
    return adapter, out.getvalue()


def test_transient_failure_is_retried(
    redis_url: str, redis_conn: redis.Redis, data_dir: Path, tmp_path: Path
) -> None:
    fake, calls = _fake_ffmpeg(tmp_path / "bin", DIES_ONCE)
    with worker_process(redis_url, data_dir, {"PATH": _path_with(fake)}):
        adapter, shown = _run(redis_conn, ["/make 10s on why leaves change colour", "Render"])
    project = ProjectStore(redis_conn).active(adapter.conversation)
    assert project is not None
    assert project.state is ProjectState.PREVIEW, shown
    assert "failed" not in shown.lower()
    assert int(calls.read_text()) >= 3  # the killed run, its retry, the full-quality run


def test_permanent_failure_is_reported_and_the_draft_kept(
    redis_url: str, redis_conn: redis.Redis, data_dir: Path, tmp_path: Path
) -> None:
    fake, calls = _fake_ffmpeg(tmp_path / "bin", ALWAYS_BROKEN)
    with worker_process(redis_url, data_dir, {"PATH": _path_with(fake)}):
        adapter, shown = _run(redis_conn, ["/make 10s on why leaves change colour", "Render"])
    assert "Rendering failed at the preview step" in shown
    assert "Traceback" not in shown
    assert int(calls.read_text()) == 1  # permanent: not retried
    project = ProjectStore(redis_conn).active(adapter.conversation)
    assert project is not None
    assert project.state is ProjectState.DRAFT
    assert project.last_error
    assert not list(data_dir.rglob("*.mp4"))  # nothing half-written stays behind
