"""The `Points` port on Qdrant through qdrant-client: a server (QDRANT_URL), and reading the
folders qdrant-client's local mode wrote before `LocalPoints` replaced it (`export_legacy`).

Only a process that uses a server, or moves an old folder over once, imports qdrant-client.
Every read filters on the workspace, so one workspace never sees another's projects.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from pipeline.memory.embeddings import DIMENSIONS
from pipeline.memory.points import LocalPoints

_KEYWORDS = ("workspace", "user", "project_id")


class QdrantPoints:
    """One collection on a Qdrant server (`QDRANT_API_KEY` is its `api-key` when set)."""

    def __init__(self, url: str, collection: str) -> None:
        self.collection = collection
        self._client = QdrantClient(url=url, api_key=os.environ.get("QDRANT_API_KEY") or None)
        self._ensure_collection()

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
        for field in _KEYWORDS:
            self._client.create_payload_index(
                self.collection, field, models.PayloadSchemaType.KEYWORD
            )
        self._client.create_payload_index(
            self.collection, "created_ts", models.PayloadSchemaType.FLOAT
        )

    def upsert(self, point_id: str, vector: Sequence[float], payload: dict[str, Any]) -> None:
        point = models.PointStruct(id=point_id, vector=list(vector), payload=payload)
        self._client.upsert(self.collection, points=[point])

    def update(
        self, point_id: str, payload: dict[str, Any], vector: Sequence[float] | None = None
    ) -> bool:
        if not self._client.retrieve(self.collection, [point_id], with_payload=False):
            return False
        self._client.set_payload(self.collection, payload=payload, points=[point_id])
        if vector is not None:
            point = models.PointVectors(id=point_id, vector=list(vector))
            self._client.update_vectors(self.collection, points=[point])
        return True

    def retrieve(self, point_id: str) -> dict[str, Any] | None:
        found = self._client.retrieve(self.collection, [point_id])
        return dict(found[0].payload or {}) if found else None

    def search(
        self, workspace: str, vector: Sequence[float], limit: int, exclude: Sequence[str] = ()
    ) -> list[tuple[float, dict[str, Any]]]:
        found = self._client.query_points(
            self.collection, query=list(vector), query_filter=_only(workspace, exclude=exclude),
            limit=limit, with_payload=True,
        )
        return [(p.score, dict(p.payload or {})) for p in found.points]

    def latest(self, workspace: str, user: str) -> dict[str, Any] | None:
        order = models.OrderBy(key="created_ts", direction=models.Direction.DESC)
        points, _ = self._client.scroll(
            self.collection, scroll_filter=_only(workspace, user), limit=1, order_by=order
        )
        return dict(points[0].payload or {}) if points else None

    def count(self, workspace: str) -> int:
        return self._client.count(self.collection, count_filter=_only(workspace)).count

    def delete_workspace(self, workspace: str) -> None:
        self._client.delete(self.collection, models.FilterSelector(filter=_only(workspace)))

    def workspaces(self) -> set[str] | None:
        return None  # other replicas write to the server

    def close(self) -> None:
        self._client.close()


def _only(workspace: str, user: str | None = None, exclude: Sequence[str] = ()) -> models.Filter:
    must: list[models.Condition] = [_match("workspace", workspace)]
    if user is not None:
        must.append(_match("user", user))
    must_not: list[models.Condition] = [_match("project_id", p) for p in exclude]
    return models.Filter(must=must, must_not=must_not or None)


def _match(key: str, value: str) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


Point = tuple[str, list[float], dict[str, Any]]


def legacy_points(folder: Path, collection: str) -> Iterator[Point]:
    """Every point of `collection` in a folder qdrant-client's local mode wrote."""
    client = QdrantClient(path=str(folder))
    try:
        if not client.collection_exists(collection):
            return
        offset: Any = None
        while True:
            points, offset = client.scroll(
                collection, limit=256, offset=offset, with_payload=True, with_vectors=True
            )
            for point in points:
                vector = point.vector
                if isinstance(vector, list) and all(isinstance(x, float) for x in vector):
                    yield str(point.id), [float(x) for x in vector], dict(point.payload or {})  # type: ignore[arg-type]
            if offset is None:
                return
    finally:
        client.close()


def export_legacy(legacy: Path, target: Path, collection: str) -> int:
    """Copy the points of an old qdrant-client local folder into a `LocalPoints` folder;
    returns how many. Run in a child process (`main`), so the caller never imports
    qdrant-client."""
    store = LocalPoints(target)
    try:
        moved = 0
        for point_id, vector, payload in legacy_points(legacy, collection):
            store.upsert(point_id, vector, payload)
            moved += 1
        return moved
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Move a qdrant-client local folder's points.")
    parser.add_argument("legacy", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("collection")
    args = parser.parse_args(argv)
    moved = export_legacy(args.legacy, args.target, args.collection)
    print(f"moved {moved} points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
