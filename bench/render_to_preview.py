"""Time from pressing Render to the preview in the chat, for a 30-second video.

Runs the real product on one machine: an embedded Redis, one warm `novacast worker` process,
the core, and the console outbox a chat would read. Prints, per run, seconds from the Render
press to (a) the quick low-resolution preview and (b) the full-quality video with approval
buttons, and the ratio of each to the narration's length.

    python bench/render_to_preview.py [--runs 2] [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
from rq import Worker

from adapters.console.outbox import ConsoleOutbox
from bot.actions import AskApproval, ButtonAction, Preview
from bot.events import ButtonEvent, CommandEvent, Conversation
from novacast.embedded_redis import EmbeddedRedis
from novacast.wiring import build_engine


def _start_worker(url: str, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "REDIS_URL": url, "NOVACAST_DATA_DIR": str(data_dir)}
    child = subprocess.Popen(
        [sys.executable, "-m", "novacast", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    connection = redis.Redis.from_url(url)
    while not Worker.all(connection=connection):
        time.sleep(0.05)
    return child


def _one_run(connection: redis.Redis, run: int, seconds: int) -> tuple[float, float, float]:
    conversation = Conversation(adapter="console", workspace=f"bench{run}", channel="c", user="u")
    engine = build_engine(connection)
    outbox = ConsoleOutbox(connection, conversation.workspace)
    outbox.start_reading()
    topics = ["why octopuses have three hearts", "how bees dance", "why the sky is blue"]
    engine.handle(
        CommandEvent(
            conversation=conversation,
            name="make",
            args=f"{seconds}s on {topics[run % len(topics)]}",
        )
    )
    project = engine.store.active(conversation)
    assert project is not None
    pressed = time.perf_counter()
    engine.handle(
        ButtonEvent(conversation=conversation, action=ButtonAction.RENDER, project_id=project.id)
    )
    quick = full = 0.0
    while not full:
        for action in outbox.read(block_ms=100):
            elapsed = time.perf_counter() - pressed
            if isinstance(action, Preview):
                quick = quick or elapsed
            elif isinstance(action, AskApproval):
                full = elapsed
    final = engine.store.get(project.id)
    narration = float(final.versions[-1].estimated_seconds) if final else float(seconds)
    return quick, full, narration


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis() as server:
        os.environ["NOVACAST_DATA_DIR"] = tmp
        worker = _start_worker(server.url, Path(tmp))
        connection = redis.Redis.from_url(server.url)
        try:
            print(
                f"{'run':>3}  {'quick preview s':>15}  {'full video s':>12}  {'script est. s':>13}"
            )
            for run in range(args.runs):
                quick, full, narration = _one_run(connection, run, args.seconds)
                print(f"{run:>3}  {quick:>15.2f}  {full:>12.2f}  {narration:>13.1f}")
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=20)


if __name__ == "__main__":
    main()
