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


class _Workspace:
    """One workspace's points for searching: their vectors as rows of one float32 matrix (no
    copy per search, ~1.5 KB a point) beside the few fields that filter and order them; the
    payloads stay in SQLite."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.users: list[str] = []
        self.projects: list[str] = []
        self.created: list[float] = []
        self.rows: dict[str, int] = {}
        self._matrix = np.zeros((0, 0), dtype=np.float32)

    @property
    def vectors(self) -> np.ndarray:
        return self._matrix[: len(self.ids)]

    def put(self, point_id: str, unit: np.ndarray, payload: dict[str, Any]) -> None:
        row = self.rows.get(point_id)
        if row is None:
            row = len(self.ids)
            self.rows[point_id] = row
            self.ids.append(point_id)
            self.users.append("")
            self.projects.append("")
            self.created.append(0.0)
            self._room(row + 1, unit.size)
        self._matrix[row] = unit
        self.users[row] = str(payload.get("user", ""))
        self.projects[row] = str(payload.get("project_id", ""))
        self.created[row] = float(payload.get("created_ts", 0.0))

    def vector(self, point_id: str) -> np.ndarray:
        return np.array(self._matrix[self.rows[point_id]])

    def remove(self, point_id: str) -> None:
        """Take a point out (the last row moves into its place)."""
        row, last = self.rows.pop(point_id), len(self.ids) - 1
        if row != last:
            moved = self.ids[last]
            self.rows[moved] = row
            self._matrix[row] = self._matrix[last]
            self.ids[row], self.users[row] = moved, self.users[last]
            self.projects[row], self.created[row] = self.projects[last], self.created[last]
        for column in (self.ids, self.users, self.projects):
            column.pop()
        self.created.pop()

    def _room(self, rows: int, width: int) -> None:
        if rows > 1 and self._matrix.shape[1] != width:
            raise ValueError(f"a vector of {width} dimensions among vectors of "
                             f"{self._matrix.shape[1]}")
        if self._matrix.shape[0] < rows or self._matrix.shape[1] != width:
            grown = np.zeros((max(rows, 2 * self._matrix.shape[0], 16), width), np.float32)
            if rows > 1:
                grown[: rows - 1] = self._matrix[: rows - 1]
            self._matrix = grown


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
        self._spaces: dict[str, _Workspace] = {}
        self._space_of: dict[str, str] = {}  # point id -> its workspace
        for point_id, blob, payload in self._db.execute("SELECT id, vector, payload FROM points"):
            self._index(point_id, np.frombuffer(blob, dtype=np.float32), json.loads(payload))

    def upsert(self, point_id: str, vector: Sequence[float], payload: dict[str, Any]) -> None:
        unit = _unit(vector)
        with self._lock:
            self._write(point_id, unit, payload)

    def _write(self, point_id: str, unit: np.ndarray, payload: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO points VALUES (?, ?, ?)",
            (point_id, unit.tobytes(), json.dumps(payload, ensure_ascii=False)),
        )
        self._index(point_id, unit, payload)

    def _index(self, point_id: str, unit: np.ndarray, payload: dict[str, Any]) -> None:
        workspace = str(payload.get("workspace", ""))
        before = self._space_of.get(point_id)
        if before is not None and before != workspace:
            self._spaces[before].remove(point_id)
        self._space_of[point_id] = workspace
        self._spaces.setdefault(workspace, _Workspace()).put(point_id, unit, payload)

    def update(
        self, point_id: str, payload: dict[str, Any], vector: Sequence[float] | None = None
    ) -> bool:
        with self._lock:
            current = self._payload(point_id)
            if current is None:
                return False
            space = self._spaces[self._space_of[point_id]]
            unit = space.vector(point_id) if vector is None else _unit(vector)
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
            space = self._spaces.get(workspace)
            if space is None or not space.ids or limit <= 0:
                return []
            scores = space.vectors @ query
            if exclude:
                left_out = set(exclude)
                scores[[n for n, p in enumerate(space.projects) if p in left_out]] = -np.inf
            best = [n for n in np.argsort(-scores, kind="stable")[:limit]
                    if scores[n] != -np.inf]
            found = [(float(scores[n]), self._payload(space.ids[n])) for n in best]
        return [(score, payload) for score, payload in found if payload is not None]

    def latest(self, workspace: str, user: str) -> dict[str, Any] | None:
        with self._lock:
            space = self._spaces.get(workspace)
            mine = [] if space is None else [
                (created, point_id) for point_id, who, created
                in zip(space.ids, space.users, space.created, strict=True) if who == user]
            return self._payload(max(mine)[1]) if mine else None

    def count(self, workspace: str) -> int:
        with self._lock:
            space = self._spaces.get(workspace)
            return 0 if space is None else len(space.ids)

    def delete_workspace(self, workspace: str) -> None:
        with self._lock:
            space = self._spaces.pop(workspace, None)
            gone = [] if space is None else space.ids
            self._db.executemany("DELETE FROM points WHERE id = ?", [(i,) for i in gone])
            for point_id in gone:
                del self._space_of[point_id]

    def workspaces(self) -> set[str] | None:
        with self._lock:
            return {name for name, space in self._spaces.items() if space.ids}

    def close(self) -> None:
        with self._lock:
            self._db.close()
            if self._lock_file is not None:
                self._lock_file.close()  # closing the file releases its flock
                self._lock_file = None


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
