"""The bot and the worker run the embedding model without torch: real processes, seen from outside.

A real `novacast bot` (Telegram against the fake Bot API, long-term memory on) answers a line
only the embedding model understands ("list your commands": the rules alone say they don't
know it, the model reads it as help), so the model has loaded and run; then neither it nor a real
`novacast worker` (Piper voice loaded) has torch's library mapped (/proc/<pid>/maps) — a Python
`import torch` always maps libtorch. Their resident memory is printed (figures: bench/
process_memory.py); it is not asserted, the machine is shared.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot import replies
from tests.fakes.telegram import TOKEN, FakeTelegram, private_chat, user
from tests.workers_support import worker_process

pytestmark = pytest.mark.slow

ADA = user(4242, "Ada", "ada")


def mapped_libraries(pid: int) -> set[str]:
    lines = Path(f"/proc/{pid}/maps").read_text(encoding="utf-8").splitlines()
    return {Path(line.split()[-1]).name for line in lines if line.split()[-1].startswith("/")}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def torch_libraries(pid: int) -> set[str]:
    return {name for name in mapped_libraries(pid) if "libtorch" in name or "libc10" in name}


@asynccontextmanager
async def bot_process(redis_url: str, data_dir: Path, api: FakeTelegram) -> AsyncIterator[int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SLACK_",
                                                                      "DISCORD_"))}
    env |= {"REDIS_URL": redis_url, "NOVACAST_DATA_DIR": str(data_dir), "NOVACAST_MEMORY": "on",
            "NOVACAST_HTTP_PORT": "0", "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": api.url}
    with (data_dir / "bot.log").open("wb") as log:
        child = subprocess.Popen([sys.executable, "-m", "novacast", "bot"], env=env,
                                 stdout=log, stderr=log)
    try:
        yield child.pid
    finally:
        child.terminate()
        child.wait(timeout=30)


async def test_the_bot_answers_with_the_model_and_has_no_torch(
    redis_url: str, redis_conn: object, data_dir: Path
) -> None:
    async with FakeTelegram() as api, bot_process(redis_url, data_dir, api) as pid:
        api.push_update(api.message_update(private_chat(ADA), ADA, "list your commands"))
        answer = (await api.wait_for("sendMessage", 1, timeout=90))[0]
        log = (data_dir / "bot.log").read_text(encoding="utf-8", errors="replace")
        assert answer.params["text"] == replies.HELP, log[-3000:]
        assert "onnxruntime_pybind11_state" in " ".join(mapped_libraries(pid))
        assert torch_libraries(pid) == set()
        print(f"bot RSS after answering with the model: {rss_mb(pid):.0f} MB")


def test_a_worker_between_jobs_has_no_torch(
    redis_url: str, redis_conn: object, data_dir: Path
) -> None:
    with worker_process(redis_url, data_dir) as child:
        assert torch_libraries(child.pid) == set()
        print(f"worker RSS after start (voice loaded): {rss_mb(child.pid):.0f} MB")
