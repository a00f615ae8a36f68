"""What the process benches share: a fresh `novacast bot` against the fakes, and /proc readings.

`bot_process(platforms, ...)` starts `python -m novacast bot` with only the chosen platforms
configured, each pointed at its fake (tests/fakes): Telegram in webhook mode with a secret,
Slack over HTTP with a signing secret, Discord through the fake gateway. `wait_ready` polls
/readyz until it answers 200. `memory(pid)` reads RSS (anonymous and file-backed) from /proc;
`torch_mapped(pid)` says whether torch's libraries are mapped (an `import torch` maps them).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from novacast.embedded_redis import EmbeddedRedis  # noqa: E402
from tests.fakes.telegram import TOKEN as TELEGRAM_TOKEN  # noqa: E402

TELEGRAM_SECRET = "bench-secret"
SLACK_TOKEN = "xoxb-bench-0000-novacast"
SLACK_SECRET = "bench-signing-secret-0123456789ab"
DISCORD_TOKEN = "bench-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Memory:
    rss: float
    anon: float
    file: float

    def __str__(self) -> str:
        return f"RSS {self.rss:6.1f} MB (anonymous {self.anon:.1f}, files {self.file:.1f})"


def memory(pid: int) -> Memory:
    """The process's resident memory in MB, from /proc/<pid>/status."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
            fields[name] = int(value.split()[0]) / 1024
    return Memory(fields["VmRSS"], fields["RssAnon"], fields["RssFile"] + fields["RssShmem"])


def torch_mapped(pid: int) -> bool:
    maps = Path(f"/proc/{pid}/maps").read_text()
    return "libtorch" in maps or "libc10" in maps


@contextlib.contextmanager
def redis_url() -> Iterator[str]:
    """REDIS_URL if set (its database is flushed by nobody here: use a spare one), else an
    embedded server for this run."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    with EmbeddedRedis() as server:
        yield server.url


def bot_env(redis: str, data_dir: Path, port: int, fakes: dict[str, str]) -> dict[str, str]:
    """`fakes`: platform name -> its fake's API root (Discord: the fake's own env)."""
    others = ("TELEGRAM_", "DISCORD_", "SLACK_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(others)}
    env |= {
        "REDIS_URL": redis,
        "NOVACAST_DATA_DIR": str(data_dir),
        "NOVACAST_HTTP_PORT": str(port),
        "NOVACAST_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    if "telegram" in fakes:
        env |= {
            "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_API_URL": fakes["telegram"],
            "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/webhook",
            "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        }
    if "slack" in fakes:
        env |= {"SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_SIGNING_SECRET": SLACK_SECRET,
                "SLACK_API_URL": fakes["slack"]}
    if "discord" in fakes:
        api, gateway = fakes["discord"].split(" ")
        env |= {"DISCORD_BOT_TOKEN": DISCORD_TOKEN, "DISCORD_API_URL": api,
                "DISCORD_GATEWAY_URL": gateway}
    return env


@contextlib.contextmanager
def bot_process(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        child = subprocess.Popen([sys.executable, "-m", "novacast", "bot"], env=env,
                                 stdout=out, stderr=out, cwd=ROOT)
    try:
        yield child
    finally:
        child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


async def wait_ready(port: int, child: subprocess.Popen[bytes], timeout: float = 120) -> float:
    """Seconds until /readyz answered 200."""
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        while time.monotonic() - started < timeout:
            if child.poll() is not None:
                raise RuntimeError(f"novacast bot exited with {child.returncode}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                    if response.status == 200:
                        return time.monotonic() - started
            await asyncio.sleep(0.05)
    raise TimeoutError("novacast bot did not become ready")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def line(label: str, seconds: list[float], target_ms: float | None = None) -> str:
    """`label  n  p50  p99  max` in ms, with a verdict against `target_ms` (p99)."""
    if not seconds:
        return f"  {label:28s} n=   0"
    ms = [s * 1000 for s in seconds]
    p50, p99 = percentile(ms, 0.5), percentile(ms, 0.99)
    verdict = "" if target_ms is None else ("  ok" if p99 < target_ms else "  OVER TARGET")
    return (f"  {label:28s} n={len(ms):4d}  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  "
            f"max {max(ms):7.1f} ms{verdict}")
