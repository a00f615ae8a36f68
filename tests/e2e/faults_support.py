"""What the fault tests share: a chat driven through the console adapter, its recorded output
read back from Redis with the time each action was sent, and real processes to kill."""

from __future__ import annotations

import io
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis
from pydantic import TypeAdapter

from adapters.console import ConsoleAdapter
from adapters.console.outbox import stream_key
from bot.actions import Action, Preview, Progress
from bot.project import Project, ProjectState, ProjectStore
from novacast.wiring import build_engine

_ACTIONS: TypeAdapter[Action] = TypeAdapter(Action)


@dataclass(frozen=True)
class Sent:
    """One action a worker or the core sent to the console, and when (s since the epoch)."""

    at: float
    action: Action


class Chat:
    """A console conversation whose every sent action is kept, in order, with its time."""

    def __init__(self, connection: redis.Redis, workspace: str = "local") -> None:
        self.redis = connection
        self.workspace = workspace
        self.out = io.StringIO()
        self.adapter = ConsoleAdapter(
            build_engine(connection, long_term_memory=False).handle,
            connection,
            self.out,
            workspace=workspace,
            patient=False,
        )

    def type(self, line: str) -> None:
        """Type `line`, after showing what workers sent (their buttons become typeable)."""
        self.adapter.pump()
        self.adapter.handle_line(line)

    def transcript(self) -> str:
        """Everything shown so far, workers' messages included."""
        self.adapter.pump()
        return self.out.getvalue()

    def sent(self) -> list[Sent]:
        entries: list[tuple[bytes, dict[bytes, bytes]]] = self.redis.xrange(  # type: ignore[assignment]
            stream_key(self.workspace)
        )
        return [
            Sent(int(entry_id.decode().split("-")[0]) / 1000, _ACTIONS.validate_json(f[b"action"]))
            for entry_id, f in entries
        ]

    def progress(self) -> list[Sent]:
        return [s for s in self.sent() if isinstance(s.action, Progress)]

    def previews(self) -> list[Preview]:
        return [s.action for s in self.sent() if isinstance(s.action, Preview)]

    def project(self) -> Project:
        project = ProjectStore(self.redis).active(self.adapter.conversation)
        assert project is not None
        return project

    def settled(self) -> bool:
        """The render ended one way or the other: a preview to approve, or back to the draft."""
        return self.project().state in {ProjectState.PREVIEW, ProjectState.DRAFT}


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> float:
    """Poll until `condition`; the seconds it took. Fails after `seconds`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - started


def children(pid: int, named: str = "") -> list[int]:
    """Live processes whose parent is `pid` (from /proc); with `named`, only those whose
    command line contains it."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z" and named in command:
            found.append(int(entry.name))
    return found


def forks(pid: int) -> list[int]:
    """Children of `pid` running its own command line (what a forked helper process is)."""
    own = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return children(pid, named=own)


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def kill_hard(child: subprocess.Popen[bytes]) -> None:
    """SIGKILL, as the OOM killer or a pulled plug would: no handler runs."""
    child.kill()
    child.wait(timeout=10)


def env_for(redis_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "REDIS_URL": redis_url, "NOVACAST_DATA_DIR": str(data_dir), **extra}
