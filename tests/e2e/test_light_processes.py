"""The bot and the worker run the embedding model without torch: real processes, seen from outside.

A real `novacast bot` (Telegram against the fake Bot API, long-term memory on) answers a line
only the embedding model understands ("list your commands": the rules alone say they don't
know it, the model reads it as help), so the model has loaded and run; then neither it nor a real
`novacast worker` (Piper voice loaded) has torch's library mapped (/proc/<pid>/maps) — a Python
`import torch` always maps libtorch. Their resident memory is printed (figures: bench/
process_memory.py); it is not asserted, the machine is shared.

The same bot shows, in /proc/<pid>/maps, the rest of what keeps it light:
- glibc made no arena for a thread: every thread allocates from the main one (novacast.malloc);
- the token table of the model is not mapped (its rows are read from the file as needed);
- neither qdrant-client's grpc nor anything else of qdrant-client is loaded: the local memory is
  SQLite and numpy (pipeline.memory.points).
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
HEAP_MAX = 64 * 1024 * 1024
"""glibc reserves each thread arena's heap as 64 MB aligned on 64 MB (HEAP_MAX_SIZE, 64-bit)."""


def mappings(maps: str) -> list[tuple[int, int, str, str]]:
    """(start, end, permissions, path or "") of each line of a /proc/<pid>/maps text."""
    found = []
    for line in maps.splitlines():
        fields = line.split(maxsplit=5)
        start, end = (int(x, 16) for x in fields[0].split("-"))
        found.append((start, end, fields[1], fields[5] if len(fields) > 5 else ""))
    return found


def thread_arenas(maps: str) -> int:
    """Heaps of non-main arenas: anonymous, starting on a 64 MB boundary, read-write then
    reserved (---p, anonymous) up to exactly 64 MB."""
    spans = mappings(maps)
    count = 0
    for n, (start, end, perms, path) in enumerate(spans):
        if path or start % HEAP_MAX or not perms.startswith("rw"):
            continue
        after = spans[n + 1] if n + 1 < len(spans) else None
        reserved = after is not None and after[0] == end and after[2].startswith("---")
        count += (after[1] if reserved and after else end) - start == HEAP_MAX
    return count


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
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TELEGRAM_", "SLACK_", "DISCORD_", "QDRANT_"))}
    env.pop("MALLOC_ARENA_MAX", None)  # the bot's own setting, not an inherited one
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


async def test_the_bot_answers_with_the_model_light(
    redis_url: str, redis_conn: object, data_dir: Path
) -> None:
    async with FakeTelegram() as api, bot_process(redis_url, data_dir, api) as pid:
        api.push_update(api.message_update(private_chat(ADA), ADA, "list your commands"))
        answer = (await api.wait_for("sendMessage", 1, timeout=90))[0]
        log = (data_dir / "bot.log").read_text(encoding="utf-8", errors="replace")
        assert answer.params["text"] == replies.HELP, log[-3000:]
        assert "onnxruntime_pybind11_state" in " ".join(mapped_libraries(pid))
        assert torch_libraries(pid) == set()
        maps = Path(f"/proc/{pid}/maps").read_text(encoding="utf-8")
        paths = {path for *_, path in mappings(maps) if path}
        assert thread_arenas(maps) == 0
        assert not [p for p in paths if p.endswith("word_embeddings.npy")]
        assert not [p for p in paths if "/grpc/" in p or "/qdrant_client/" in p]
        assert (data_dir / "memory" / "projects.sqlite").exists()
        print(f"bot RSS after answering with the model: {rss_mb(pid):.0f} MB")


def test_a_worker_between_jobs_has_no_torch(
    redis_url: str, redis_conn: object, data_dir: Path
) -> None:
    with worker_process(redis_url, data_dir) as child:
        assert torch_libraries(child.pid) == set()
        print(f"worker RSS after start (voice loaded): {rss_mb(child.pid):.0f} MB")


def test_threads_get_arenas_of_their_own_without_the_limit(tmp_path: Path) -> None:
    """The count above can tell: with glibc's default, a thread that allocates gets an arena."""
    script = (
        "import pathlib, sys, threading\n"
        "def allocate():\n"
        "    kept = [bytearray(1000) for _ in range(1000)]\n"
        "    pathlib.Path(sys.argv[1]).write_text(pathlib.Path('/proc/self/maps').read_text())\n"
        "thread = threading.Thread(target=allocate)\n"
        "thread.start()\n"
        "thread.join()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    out = tmp_path / "maps"
    subprocess.run([sys.executable, "-c", script, str(out)], env=env, check=True, timeout=60)
    assert thread_arenas(out.read_text(encoding="utf-8")) == 1
