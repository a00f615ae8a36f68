"""Long-term memory of projects: one vector per project in Qdrant, searchable per workspace.

Local mode (files under `$NOVACAST_DATA_DIR/qdrant`) is the default; a Qdrant server is used when
`QDRANT_URL` is set, with `QDRANT_API_KEY` as its api key when it has one. Every read filters on
the workspace, so one workspace never sees another's projects. Local mode on disk locks its
directory: hold ONE `VectorMemory` per path per process (`shared_memory()` hands out that one) and
`close()` it before opening the path again.
"""

from __future__ import annotations

import atexit
import os
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from pipeline.memory.embeddings import DIMENSIONS, Embedder, embed
from pipeline.memory.records import Hit, ProjectRecord

COLLECTION = "novacast_projects"
_ID_NAMESPACE = uuid.UUID("5b0c8f7e-3f4a-4d55-9a57-2f6f1d1c0a11")
_KEYWORDS = ("workspace", "user", "project_id")


def default_path() -> Path:
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
        self._client = _client(path, url)
        self._ensure_collection()
        self._spaces = self._load_spaces() if self.local else None
        """Local mode: the workspaces that have projects (this process is the only writer, the
        directory being locked), so a workspace with none is answered without embedding or
        scanning every point. None with a server, which other replicas write to."""

    def __enter__(self) -> VectorMemory:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def _ensure_collection(self) -> None:
        if self._client.collection_exists(self.collection):
            return
        vectors = models.VectorParams(size=DIMENSIONS, distance=models.Distance.COSINE)
        try:
            self._client.create_collection(self.collection, vectors_config=vectors)
        except UnexpectedResponse as error:
            if error.status_code != 409:  # 409: another replica created it a moment ago
                raise
            return
        if not self.local:  # payload indexes have no effect (and warn) in local mode
            self._create_indexes()

    def _load_spaces(self) -> set[str]:
        spaces: set[str] = set()
        offset: Any = None
        while True:
            points, offset = self._client.scroll(
                self.collection, limit=1000, offset=offset, with_payload=["workspace"],
                with_vectors=False,
            )
            spaces.update(str((p.payload or {}).get("workspace", "")) for p in points)
            if offset is None:
                return spaces

    def _empty(self, workspace: str) -> bool:
        """True when `workspace` is known to have no projects (local mode only)."""
        return self._spaces is not None and workspace not in self._spaces

    def _create_indexes(self) -> None:
        for field in _KEYWORDS:
            self._client.create_payload_index(
                self.collection, field, models.PayloadSchemaType.KEYWORD
            )
        self._client.create_payload_index(
            self.collection, "created_ts", models.PayloadSchemaType.FLOAT
        )

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
        point = models.PointStruct(id=_point_id(record), vector=vector, payload=payload)
        with self._lock:
            self._client.upsert(self.collection, points=[point])
            if self._spaces is not None:
                self._spaces.add(record.workspace)

    def remember_revision(
        self, workspace: str, project_id: str, title: str, script: str, topic: str | None = None
    ) -> bool:
        """Update a remembered project's title and script; re-embed it when `topic` is given.

        False when the project was never remembered (nothing is written then)."""
        if self._empty(workspace):
            return False
        point_id = _point_key(workspace, project_id)
        vectors = [] if topic is None else self._embed([topic])
        payload: dict[str, Any] = {"title": title, "script": script}
        with self._lock:
            if not self._client.retrieve(self.collection, [point_id], with_payload=False):
                return False
            self._client.set_payload(self.collection, payload=payload, points=[point_id])
            if topic is not None:
                self._client.set_payload(self.collection, {"topic": topic}, points=[point_id])
                point = models.PointVectors(id=point_id, vector=vectors[0])
                self._client.update_vectors(self.collection, points=[point])
        return True

    def get(self, workspace: str, project_id: str) -> dict[str, Any] | None:
        """The remembered payload of one project of `workspace`, or None."""
        with self._lock:
            found = self._client.retrieve(self.collection, [_point_key(workspace, project_id)])
        return dict(found[0].payload or {}) if found else None

    def forget_workspace(self, workspace: str) -> None:
        with self._lock:
            self._client.delete(self.collection, models.FilterSelector(filter=_only(workspace)))
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
        query = _only(workspace, exclude=exclude)
        with self._lock:
            found = self._client.query_points(
                self.collection, query=vector, query_filter=query, limit=limit, with_payload=True
            )
        return [_hit(p.score, p.payload) for p in found.points]

    def last_project(self, workspace: str, user: str) -> Hit | None:
        """The most recent project `user` started in `workspace`, if any."""
        if self._empty(workspace):
            return None
        order = models.OrderBy(key="created_ts", direction=models.Direction.DESC)
        with self._lock:
            points, _ = self._client.scroll(
                self.collection, scroll_filter=_only(workspace, user), limit=1, order_by=order
            )
        return _hit(1.0, points[0].payload) if points else None

    def count(self, workspace: str) -> int:
        if self._empty(workspace):
            return 0
        with self._lock:
            return self._client.count(self.collection, count_filter=_only(workspace)).count


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


def _client(path: str | Path | None, url: str | None) -> QdrantClient:
    if url is not None:  # a server: QDRANT_API_KEY is its `api-key` (Qdrant Cloud needs one)
        return QdrantClient(url=url, api_key=os.environ.get("QDRANT_API_KEY") or None)
    location = str(path or default_path())
    if location == ":memory:":
        return QdrantClient(location=":memory:")
    Path(location).mkdir(parents=True, exist_ok=True)
    return QdrantClient(path=location)


def _only(workspace: str, user: str | None = None, exclude: Sequence[str] = ()) -> models.Filter:
    must: list[models.Condition] = [_match("workspace", workspace)]
    if user is not None:
        must.append(_match("user", user))
    must_not: list[models.Condition] = [_match("project_id", p) for p in exclude]
    return models.Filter(must=must, must_not=must_not or None)


def _match(key: str, value: str) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _point_id(record: ProjectRecord) -> str:
    return _point_key(record.workspace, record.project_id)


def _point_key(workspace: str, project_id: str) -> str:
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
