"""Where `VectorMemory` keeps its points: the `Points` port, and `LocalPoints`, the local store.

A point is one project: an id, a unit vector, and a payload (workspace, user, project_id, idea,
topic, title, script, created_at, created_ts). `LocalPoints` keeps them in one SQLite file
(`projects.sqlite` in the memory folder, vectors as float32 blobs) and, for searching, the
vectors and the few fields that filter and order them in memory; a search is one matrix product
over the workspace's points, as Qdrant's own local mode does. The payloads stay on disk until a
hit is returned.

It replaced qdrant-client's local mode in the bot (`pipeline.memory.store` explains why): the
folder is locked while a process has it open (`flock`), so a second process is refused with
"already accessed by another instance", as before. `pipeline.memory.qdrant_points` is the same
port on a Qdrant server.
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

import numpy as np

FILE = "projects.sqlite"
LOCK = ".lock"
PROBLEMS = (sqlite3.Error, OSError)
"""What a broken local store raises (the memory's callers log it and go on without it)."""


class Points(Protocol):
    """The points of one collection, filtered by workspace on every read."""

    def upsert(self, point_id: str, vector: Sequence[float], payload: dict[str, Any]) -> None:
        """Store or replace a point."""

    def update(
        self, point_id: str, payload: dict[str, Any], vector: Sequence[float] | None = None
    ) -> bool:
        """Merge `payload` into a point's (and replace its vector); False when it is missing."""

    def retrieve(self, point_id: str) -> dict[str, Any] | None:
        """A point's payload, or None."""

    def search(
        self, workspace: str, vector: Sequence[float], limit: int, exclude: Sequence[str] = ()
    ) -> list[tuple[float, dict[str, Any]]]:
        """(cosine, payload) of the workspace's points nearest `vector`, best first, leaving out
        the projects in `exclude`."""

    def latest(self, workspace: str, user: str) -> dict[str, Any] | None:
        """The payload of the point with the highest `created_ts` of `user` in `workspace`."""

    def count(self, workspace: str) -> int: ...

    def delete_workspace(self, workspace: str) -> None: ...

    def workspaces(self) -> set[str] | None:
        """The workspaces that have points, when this process is the only writer; else None."""

    def close(self) -> None: ...


@dataclass
class _Entry:
    """What search, ordering and filtering need of a point; the payload stays in SQLite."""

    workspace: str
    user: str
    project_id: str
    created_ts: float
    vector: np.ndarray


def _unit(vector: Sequence[float]) -> np.ndarray:
    """As Qdrant stores vectors of a cosine collection: float32, unit length."""
    array = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(array))
    return array / norm if norm > 0 else array


class LocalPoints:
    """Points in `folder/projects.sqlite` (or only in memory for ":memory:"), one process at a
    time per folder."""

    def __init__(self, folder: str | Path) -> None:
        self._lock = threading.Lock()
        self._lock_file: TextIO | None = None
        if str(folder) == ":memory:":
            target = ":memory:"
        else:
            Path(folder).mkdir(parents=True, exist_ok=True)
            self._lock_file = _locked(Path(folder) / LOCK)
            target = str(Path(folder) / FILE)
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS points "
            "(id TEXT PRIMARY KEY, vector BLOB NOT NULL, payload TEXT NOT NULL)"
        )
        self._entries: dict[str, _Entry] = {}
        for point_id, blob, payload in self._db.execute("SELECT id, vector, payload FROM points"):
            self._entries[point_id] = _entry(np.frombuffer(blob, dtype=np.float32),
                                             json.loads(payload))

    def upsert(self, point_id: str, vector: Sequence[float], payload: dict[str, Any]) -> None:
        unit = _unit(vector)
        with self._lock:
            self._write(point_id, unit, payload)

    def _write(self, point_id: str, unit: np.ndarray, payload: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO points VALUES (?, ?, ?)",
            (point_id, unit.tobytes(), json.dumps(payload, ensure_ascii=False)),
        )
        self._entries[point_id] = _entry(unit, payload)

    def update(
        self, point_id: str, payload: dict[str, Any], vector: Sequence[float] | None = None
    ) -> bool:
        with self._lock:
            current = self._payload(point_id)
            if current is None:
                return False
            unit = self._entries[point_id].vector if vector is None else _unit(vector)
            self._write(point_id, unit, {**current, **payload})
            return True

    def retrieve(self, point_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._payload(point_id)

    def _payload(self, point_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT payload FROM points WHERE id = ?", (point_id,)).fetchone()
        return dict(json.loads(row[0])) if row else None

    def search(
        self, workspace: str, vector: Sequence[float], limit: int, exclude: Sequence[str] = ()
    ) -> list[tuple[float, dict[str, Any]]]:
        query = _unit(vector)
        with self._lock:
            ids = [i for i, e in self._entries.items()
                   if e.workspace == workspace and e.project_id not in exclude]
            if not ids or limit <= 0:
                return []
            scores = np.stack([self._entries[i].vector for i in ids]) @ query
            best = np.argsort(-scores, kind="stable")[:limit]
            found = [(float(scores[n]), self._payload(ids[n])) for n in best]
        return [(score, payload) for score, payload in found if payload is not None]

    def latest(self, workspace: str, user: str) -> dict[str, Any] | None:
        with self._lock:
            mine = [(e.created_ts, i) for i, e in self._entries.items()
                    if e.workspace == workspace and e.user == user]
            return self._payload(max(mine)[1]) if mine else None

    def count(self, workspace: str) -> int:
        with self._lock:
            return sum(1 for e in self._entries.values() if e.workspace == workspace)

    def delete_workspace(self, workspace: str) -> None:
        with self._lock:
            gone = [i for i, e in self._entries.items() if e.workspace == workspace]
            self._db.executemany("DELETE FROM points WHERE id = ?", [(i,) for i in gone])
            for point_id in gone:
                del self._entries[point_id]

    def workspaces(self) -> set[str] | None:
        with self._lock:
            return {e.workspace for e in self._entries.values()}

    def close(self) -> None:
        with self._lock:
            self._db.close()
            if self._lock_file is not None:
                self._lock_file.close()  # closing the file releases its flock
                self._lock_file = None


def _entry(unit: np.ndarray, payload: dict[str, Any]) -> _Entry:
    return _Entry(
        workspace=str(payload.get("workspace", "")),
        user=str(payload.get("user", "")),
        project_id=str(payload.get("project_id", "")),
        created_ts=float(payload.get("created_ts", 0.0)),
        vector=unit,
    )


def _locked(path: Path) -> TextIO:
    """`path` opened and exclusively locked, or RuntimeError when another process holds it."""
    handle = open(path, "a")  # noqa: SIM115 (held open while the store is: the lock lives on it)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise RuntimeError(
            f"Storage folder {path.parent} is already accessed by another instance of the "
            "local memory (one process per folder: run Qdrant as a server, QDRANT_URL, to share "
            "memory between processes)"
        ) from None
    return handle
