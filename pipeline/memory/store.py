"""Long-term memory of projects: one vector per project, searchable per workspace.

Local files under `$NOVACAST_DATA_DIR/memory` are the default (`pipeline.memory.points.
LocalPoints`: SQLite, and the vectors in memory for search); a Qdrant server is used when
`QDRANT_URL` is set, with `QDRANT_API_KEY` as its api key when it has one (`pipeline.memory.
qdrant_points`). Every read filters on the workspace, so one workspace never sees another's
projects. The local folder is locked: hold ONE `VectorMemory` per path per process
(`shared_memory()` hands out that one) and `close()` it before opening the path again.

Why not qdrant-client's local mode, as before: importing qdrant-client cost the bot ~38 MB of its
250 MB budget (grpc and its protobuf stubs, ~500 pydantic models) for a store that, locally, is a
brute-force search over a few thousand vectors kept in SQLite. qdrant-client is imported only
with a server, or once, in a child process, to move an old local folder (`$NOVACAST_DATA_DIR/
qdrant`) into the new one (`migrate_legacy`).
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.file_lock import file_lock
from pipeline.memory.embeddings import Embedder, embed
from pipeline.memory.points import FILE, LocalPoints, Points
from pipeline.memory.records import Hit, ProjectRecord

log = logging.getLogger(__name__)

COLLECTION = "novacast_projects"
_ID_NAMESPACE = uuid.UUID("5b0c8f7e-3f4a-4d55-9a57-2f6f1d1c0a11")


def default_path() -> Path:
    return Path(os.environ.get("NOVACAST_DATA_DIR", "./var")) / "memory"


def legacy_path() -> Path:
    """Where qdrant-client's local mode kept the memory before."""
    return Path(os.environ.get("NOVACAST_DATA_DIR", "./var")) / "qdrant"


class VectorMemory:
    """Projects by workspace: remember them, find similar ones, find a user's last one."""

    def __init__(
        self,
        path: str | Path | None = None,
        url: str | None = None,
        embedder: Embedder = embed,
        collection: str = COLLECTION,
    ) -> None:
        url = url if url is not None or path is not None else os.environ.get("QDRANT_URL") or None
        self.local = url is None
        self.collection = collection
        self._embed = embedder
        self._lock = threading.Lock()
        self._points = _points(path, url, collection)
        self._spaces = self._points.workspaces()
        """Local: the workspaces that have projects (this process is the only writer, the
        folder being locked), so a workspace with none is answered without embedding. None
        with a server, which other replicas write to."""

    def __enter__(self) -> VectorMemory:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._points.close()

    def _empty(self, workspace: str) -> bool:
        """True when `workspace` is known to have no projects (local mode only)."""
        return self._spaces is not None and workspace not in self._spaces

    # --- writing --------------------------------------------------------------------------------

    def remember_project(self, record: ProjectRecord) -> None:
        """Store (or replace) a project's idea, title and script, embedded by its topic."""
        created = record.created_at or datetime.now(UTC)
        payload = {
            "workspace": record.workspace,
            "user": record.user,
            "project_id": record.project_id,
            "idea": record.idea,
            "topic": record.topic,
            "title": record.title,
            "script": record.script,
            "created_at": created.isoformat(),
            "created_ts": created.timestamp(),
        }
        (vector,) = self._embed([record.topic])
        with self._lock:
            self._points.upsert(_point_id(record), vector, payload)
            if self._spaces is not None:
                self._spaces.add(record.workspace)

    def remember_revision(
        self, workspace: str, project_id: str, title: str, script: str, topic: str | None = None
    ) -> bool:
        """Update a remembered project's title and script; re-embed it when `topic` is given.

        False when the project was never remembered (nothing is written then)."""
        if self._empty(workspace):
            return False
        point_id = point_key(workspace, project_id)
        vector = None if topic is None else self._embed([topic])[0]
        payload: dict[str, Any] = {"title": title, "script": script}
        if topic is not None:
            payload["topic"] = topic
        with self._lock:
            return self._points.update(point_id, payload, vector)

    def get(self, workspace: str, project_id: str) -> dict[str, Any] | None:
        """The remembered payload of one project of `workspace`, or None."""
        with self._lock:
            return self._points.retrieve(point_key(workspace, project_id))

    def forget_workspace(self, workspace: str) -> None:
        with self._lock:
            self._points.delete_workspace(workspace)
            if self._spaces is not None:
                self._spaces.discard(workspace)

    # --- reading --------------------------------------------------------------------------------

    def similar(
        self, workspace: str, text: str, limit: int = 3, exclude: Sequence[str] = ()
    ) -> list[Hit]:
        """The workspace's projects nearest in meaning to `text`, best first."""
        if self._empty(workspace):
            return []
        (vector,) = self._embed([text])
        with self._lock:
            found = self._points.search(workspace, vector, limit, exclude)
        return [_hit(score, payload) for score, payload in found]

    def last_project(self, workspace: str, user: str) -> Hit | None:
        """The most recent project `user` started in `workspace`, if any."""
        if self._empty(workspace):
            return None
        with self._lock:
            found = self._points.latest(workspace, user)
        return _hit(1.0, found) if found is not None else None

    def count(self, workspace: str) -> int:
        if self._empty(workspace):
            return 0
        with self._lock:
            return self._points.count(workspace)


_SHARED: dict[str, VectorMemory] = {}
_SHARED_LOCK = threading.Lock()


def shared_memory(path: str | Path | None = None) -> VectorMemory:
    """The process's one `VectorMemory` for `path` (or QDRANT_URL / the default path)."""
    key = str(path or os.environ.get("QDRANT_URL") or default_path())
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = VectorMemory(path=path)
            atexit.register(_SHARED[key].close)  # release the directory lock while Python can
        return _SHARED[key]


def _points(path: str | Path | None, url: str | None, collection: str) -> Points:
    if url is not None:
        from pipeline.memory.qdrant_points import QdrantPoints  # noqa: PLC0415 (servers only)

        return QdrantPoints(url, collection)
    if path is None:
        migrate_legacy(legacy_path(), default_path(), collection)
    return LocalPoints(path or default_path())


def migrate_legacy(legacy: Path, target: Path, collection: str = COLLECTION) -> int | None:
    """Move the projects qdrant-client's local mode kept in `legacy` into `target`, once: when
    `target` has no store yet and `legacy` has one. Runs in a child process (qdrant-client stays
    out of this one); `legacy` is left as it was (remove it once satisfied). Returns how many
    points were moved, None when there was nothing to do."""
    if (target / FILE).exists() or not (legacy / "collection" / collection).is_dir():
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(target.with_name(f"{target.name}.migrating.lock")):  # one mover at a time
        if (target / FILE).exists():
            return None
        moved = _move(legacy, target, collection)
    log.warning("long-term memory: moved %d projects from %s to %s (%s can be removed)",
                moved, legacy, target, legacy)
    return moved


def _move(legacy: Path, target: Path, collection: str) -> int:
    partial = target.with_name(f"{target.name}.migrating")
    shutil.rmtree(partial, ignore_errors=True)
    command = [sys.executable, "-m", "pipeline.memory.qdrant_points", str(legacy), str(partial),
               collection]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"moving the memory out of {legacy} failed: {done.stderr[-2000:]}")
    target.mkdir(parents=True, exist_ok=True)
    (partial / FILE).replace(target / FILE)
    shutil.rmtree(partial, ignore_errors=True)
    return int(done.stdout.split()[1])


def _point_id(record: ProjectRecord) -> str:
    return point_key(record.workspace, record.project_id)


def point_key(workspace: str, project_id: str) -> str:
    """A project's point id: the same in every store, so a moved folder keeps its ids."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{workspace}\x00{project_id}"))


def _hit(score: float, payload: dict[str, Any] | None) -> Hit:
    data = payload or {}
    created = data.get("created_at")
    return Hit(
        score=float(score),
        project_id=str(data.get("project_id", "")),
        idea=str(data.get("idea", "")),
        user=str(data.get("user", "")),
        title=str(data.get("title", "")),
        created_at=datetime.fromisoformat(created) if isinstance(created, str) else None,
    )
