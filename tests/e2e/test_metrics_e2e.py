"""Operations seen from outside: a real `novacast bot` and a real `novacast worker` render one
video for a Telegram user (the fake Bot API); then

- both processes' logs are JSON, one object per line, and one trace id is found in the bot's
  line for the Render press and in the worker's lines for every step of that render;
- the bot's `/metrics` and the worker's metrics port are scraped and parsed with Prometheus'
  own text parser: the event, its acknowledgement, the queue depths, the jobs by step and
  outcome and the render seconds are there, with the values this render gave them.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.telegram import TOKEN, FakeTelegram, private_chat, user
from tests.workers_support import worker_process

pytestmark = pytest.mark.slow

ADA = user(4343, "Ada", "ada")
STEPS = ("voice", "captions", "preview", "full", "checks")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def base_env(redis_url: str, data_dir: Path, api: FakeTelegram) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TELEGRAM_", "SLACK_", "DISCORD_", "QDRANT_", "NOVACAST_LOG"))}
    return env | {"REDIS_URL": redis_url, "NOVACAST_DATA_DIR": str(data_dir),
                  "NOVACAST_MEMORY": "off", "TELEGRAM_BOT_TOKEN": TOKEN,
                  "TELEGRAM_API_URL": api.url, "NOVACAST_LOG_LEVEL": "info"}


@contextmanager
def bot_process(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("wb") as log:
        child = subprocess.Popen([sys.executable, "-m", "novacast", "bot"], env=env,
                                 stdout=log, stderr=log)
    try:
        yield child
    finally:
        child.terminate()
        child.wait(timeout=30)


def json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a log, each parsed as one JSON object (a line that is not one fails)."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            pytest.fail(f"not a JSON log line in {path.name}: {line[:300]!r}")
        assert isinstance(record, dict)
        parsed.append(record)
    return parsed


Scraped = dict[str, dict[tuple[tuple[str, str], ...], float]]


def scrape(port: int) -> Scraped:
    """`/metrics` parsed: sample name -> labels -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    found: Scraped = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


async def checks_counted(port: int, timeout: float = 30) -> Scraped:
    """The worker's metrics once the last step (checks) is counted: it posts its message to the
    chat before it returns, so the chat can see it before the worker has counted it."""
    done = (("outcome", "ok"), ("step", "checks"))
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = scrape(port)
        if done in found.get("novacast_jobs_total", {}) or (
            asyncio.get_running_loop().time() > deadline
        ):
            return found
        await asyncio.sleep(0.1)


def button(call: Any, label: str) -> str:
    rows = call.params["reply_markup"]["inline_keyboard"]
    return str(next(b["callback_data"] for row in rows for b in row if b["text"] == label))


async def test_one_render_one_trace_id_in_both_logs_and_metrics_from_both(
    redis_url: str, redis_conn: object, data_dir: Path
) -> None:
    bot_port, worker_port = free_port(), free_port()
    async with FakeTelegram() as api:
        env = base_env(redis_url, data_dir, api)
        worker_env = {**env, "NOVACAST_METRICS_PORT": f"{worker_port}"}
        with (
            worker_process(redis_url, data_dir, worker_env),
            bot_process({**env, "NOVACAST_HTTP_PORT": str(bot_port)}, data_dir / "bot.log"),
        ):
            chat = private_chat(ADA)
            api.push_update(api.message_update(chat, ADA, "/make 10s on why cats purr"))
            draft = (await api.wait_for("sendMessage", 1, timeout=120))[-1]
            api.push_update(api.callback_update(ADA, api.message(draft), button(draft, "Render")))
            await api.wait_for("sendVideo", 2, timeout=240)
            await api.wait_text("Happy with it?", timeout=60)
            worker_metrics = await checks_counted(worker_port)  # the job ends after its message
            bot_metrics = scrape(bot_port)

    bot_log = json_lines(data_dir / "bot.log")
    worker_log = json_lines(data_dir / "logs" / "worker.log")
    assert {r["role"] for r in bot_log} == {"bot"}
    assert {r["role"] for r in worker_log} == {"worker"}
    (press,) = [r for r in bot_log if r["message"] == "telegram event read as button:render"]
    trace = press["trace_id"]
    steps = [r for r in worker_log if r.get("trace_id") == trace and "ok in" in r["message"]]
    assert [r["message"].split("(", 1)[1].split(")")[0] for r in steps] == list(STEPS)
    make = next(r for r in bot_log if r["message"] == "telegram event read as make")
    assert make["trace_id"] != trace  # one trace id per inbound event
    assert not any("cats purr" in json.dumps(r) for r in bot_log + worker_log)

    events = bot_metrics["novacast_events_total"]
    assert events[(("adapter", "telegram"), ("intent", "make"))] == 1
    assert events[(("adapter", "telegram"), ("intent", "button:render"))] == 1
    assert bot_metrics["novacast_ack_seconds_count"][(("adapter", "telegram"),)] >= 1
    depths = bot_metrics["novacast_queue_depth"]
    assert (("queue", "novacast-publish"),) in depths
    jobs = worker_metrics["novacast_jobs_total"]
    for step in STEPS:
        assert jobs[(("outcome", "ok"), ("step", step))] >= 1, jobs
    renders = worker_metrics["novacast_render_seconds_count"]
    assert renders[(("profile", "preview"),)] == 1
    assert renders[(("profile", "full"),)] == 1
    assert "process_resident_memory_bytes" in worker_metrics
