"""The whole product in a terminal: real core, real RQ worker process, real Piper and ffmpeg."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
import redis
from rq import Queue, Worker
from rq.job import Job

from adapters.console import ConsoleAdapter
from bot.project import ProjectState, ProjectStore
from novacast.wiring import build_engine
from pipeline.probe import probe
from tests.workers_support import worker_process
from workers.catalog import RENDER_LANES, SERIALIZER

pytestmark = pytest.mark.slow


@pytest.fixture
def worker(redis_url: str, redis_conn: redis.Redis, data_dir: Path) -> Iterator[None]:
    with worker_process(redis_url, data_dir):
        yield


def _console(redis_conn: redis.Redis) -> tuple[ConsoleAdapter, io.StringIO]:
    out = io.StringIO()
    adapter = ConsoleAdapter(build_engine(redis_conn).handle, redis_conn, out, patient=True)
    return adapter, out


def test_make_revise_render_approve_publish(
    redis_conn: redis.Redis, data_dir: Path, worker: None
) -> None:
    adapter, out = _console(redis_conn)
    adapter.run(["/make 40s on why octopuses have three hearts", "make it shorter"])
    assert "[1] Render" in out.getvalue()
    assert "v2" in out.getvalue()

    adapter.run(["Render"])
    shown = out.getvalue()
    assert "Quick preview" in shown
    assert "[1] Approve & publish" in shown
    store = ProjectStore(redis_conn)
    project = store.active(adapter.conversation)
    assert project is not None
    assert project.state is ProjectState.PREVIEW
    assert project.rendered_version == 2

    facts = probe(Path(project.video_path))
    assert (facts.video_codec, facts.audio_codec) == ("h264", "aac")
    assert (facts.width, facts.height) == (1080, 1920)
    preview = probe(Path(project.preview_path))
    assert (preview.width, preview.height) == (540, 960)
    assert abs(preview.duration - facts.duration) < 0.2

    adapter.run(["Approve & publish"])
    published = sorted((data_dir / "published" / "local").glob("*.mp4"))
    assert len(published) == 1
    sidecar = json.loads(published[0].with_suffix(".json").read_text())
    assert sidecar["version"] == 2
    assert sidecar["approved_by"]
    assert str(published[0].name) in out.getvalue()
    assert store.get(project.id).state is ProjectState.PUBLISHED  # type: ignore[union-attr]


def test_render_of_unchanged_version_renders_nothing_new(
    redis_conn: redis.Redis, data_dir: Path, worker: None
) -> None:
    adapter, out = _console(redis_conn)
    adapter.run(["/make 12s on tidal pools", "Render"])
    project = ProjectStore(redis_conn).active(adapter.conversation)
    assert project is not None
    assert project.state is ProjectState.PREVIEW
    video = Path(project.video_path)
    mtime = video.stat().st_mtime_ns
    before = out.getvalue()
    adapter.run(["Render"])
    again = out.getvalue()[len(before) :]
    assert "already" in again.lower()
    assert video.stat().st_mtime_ns == mtime
    assert len(list(video.parent.parent.iterdir())) == 1  # one work folder for the one version


def test_piped_novacast_chat_on_the_embedded_default(tmp_path: Path) -> None:
    """The issue's acceptance line, as a user would run it: no REDIS_URL, no worker running."""
    script = "/make why octopuses have three hearts\nmake it shorter\nRender\nApprove & publish\n"
    done = _chat(script, tmp_path / "var")
    assert done.returncode == 0, done.stderr
    published = list((tmp_path / "var" / "published" / "local").glob("*.mp4"))
    assert len(published) == 1, done.stdout
    assert str(published[0]) in done.stdout
    facts = probe(published[0])
    assert facts.duration > 5
    assert "Traceback" not in done.stdout + done.stderr


def _chat(lines: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["NOVACAST_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "novacast", "chat"],
        input=lines,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_a_restarted_chat_picks_up_where_it_left_off(tmp_path: Path) -> None:
    """The embedded Redis keeps its data in the data dir: a new session approves the old render."""
    first = _chat("/make 12s on why onions make you cry\nRender\n", tmp_path / "var")
    assert first.returncode == 0, first.stderr
    assert "Approve & publish" in first.stdout
    second = _chat("Approve & publish\n", tmp_path / "var")
    assert second.returncode == 0, second.stderr
    published = list((tmp_path / "var" / "published" / "local").glob("*.mp4"))
    assert len(published) == 1, second.stdout
    assert not (tmp_path / "var" / "redis" / "url").exists()  # the server left with its owner


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _read_until(stream: IO[str], marker: str, limit: int = 50) -> list[str]:
    lines = []
    for _ in range(limit):
        lines.append(stream.readline())
        if lines[-1].startswith(marker):
            return lines
    raise AssertionError(f"no line starting {marker!r} in {lines}")


def test_up_runs_redis_worker_and_bot_and_chat_joins_them(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    port = _free_port()
    env.update(NOVACAST_DATA_DIR=str(tmp_path / "var"), NOVACAST_HTTP_PORT=str(port))
    up = subprocess.Popen(
        [sys.executable, "-m", "novacast", "up"], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert up.stdout is not None
        lines = _read_until(up.stdout, "[up] bot pid")
        assert [line for line in lines if line.startswith("[up] redis ")]
        url = (tmp_path / "var" / "redis" / "url").read_text()  # 0600, with the password
        lines = _read_until(up.stdout, "[up] studio: open ")
        link = lines[-1].split("open ", 1)[1].split()[0]
        _read_until(up.stdout, "[bot] ")  # the bot says where it listens
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as health:
            assert health.status == 200
        _signs_in_to_the_studio(link.replace("localhost", "127.0.0.1"))
        done = _chat("/make 10s on why cats purr\nRender\n", tmp_path / "var")
        assert done.returncode == 0, done.stderr
        assert "full quality" in done.stdout
        connection = redis.Redis.from_url(url)
        (up_worker,) = Worker.all(connection=connection)  # the chat added none of its own
        lanes = [Queue(name, connection=connection, serializer=SERIALIZER) for name in RENDER_LANES]
        finished = [i for lane in lanes for i in lane.finished_job_registry.get_job_ids()]
        jobs = Job.fetch_many(finished, connection=connection, serializer=SERIALIZER)
        assert len(jobs) == 5
        assert {job.worker_name for job in jobs if job is not None} == {up_worker.name}
        connection.close()
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=30)
        assert up.stdout is not None
        up.stdout.close()
    assert up.returncode == 0


def _signs_in_to_the_studio(link: str) -> None:
    """The printed link opens the sign-in page; its button signs in; the studio then opens."""
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with browser.open(link, timeout=10) as page:
        assert page.status == 200
        assert "<form" in page.read().decode()
    with browser.open(urllib.request.Request(link, data=b"", method="POST"), timeout=10) as page:
        assert page.status == 200  # 303 to the studio, followed with the new session cookie
        assert page.url.endswith("/")
    with pytest.raises(urllib.error.HTTPError) as used:
        urllib.request.urlopen(urllib.request.Request(link, data=b"", method="POST"), timeout=10)
    used.value.close()
    assert used.value.code == 404  # one use


def test_closing_the_terminal_stops_the_embedded_redis_and_worker(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["NOVACAST_DATA_DIR"] = str(tmp_path / "var")
    env["NOVACAST_MEMORY"] = "off"
    chat = subprocess.Popen(
        [sys.executable, "-m", "novacast", "chat"], env=env, stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url_file = tmp_path / "var" / "redis" / "url"
    try:
        deadline = time.monotonic() + 60  # a loaded CI machine starts Python slowly
        while not url_file.exists() and time.monotonic() < deadline and chat.poll() is None:
            time.sleep(0.05)
        url = url_file.read_text()
        chat.send_signal(signal.SIGHUP)
        assert chat.wait(timeout=30) != 0
    finally:
        chat.kill()  # whatever failed above, no chat outlives the test
        chat.wait()
        assert chat.stdin is not None
        chat.stdin.close()
    assert not url_file.exists()
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
