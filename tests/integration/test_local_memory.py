"""The local memory (SQLite and numpy) answers as qdrant-client's local mode did, and takes over
its folder.

The same points go into `LocalPoints` and into qdrant-client's own local mode (in memory, the
engine the bot used before); searches, filters and ordering must agree. A folder that
qdrant-client's local mode wrote under the data dir is moved into the new store the first time
the memory opens, by a child process, with real qdrant-client, and is left as it was.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from qdrant_client import QdrantClient, models

from pipeline.memory import embeddings
from pipeline.memory.points import FILE, LocalPoints
from pipeline.memory.records import ProjectRecord
from pipeline.memory.store import (
    COLLECTION,
    VectorMemory,
    default_path,
    legacy_path,
    point_key,
)

WORKSPACES = ("slack:T1", "telegram:42", "discord:7")
USERS = ("ada", "bob", "cy")


def _vector(rng: random.Random) -> list[float]:
    return [rng.gauss(0.0, 1.0) for _ in range(embeddings.DIMENSIONS)]


def _points(count: int) -> list[tuple[str, list[float], dict[str, object]]]:
    rng = random.Random(11)
    found = []
    for n in range(count):
        payload = {"workspace": WORKSPACES[n % 3], "user": USERS[n % 2], "project_id": f"p{n}",
                   "idea": f"idea {n}", "created_ts": float(rng.randrange(1000))}
        found.append((f"00000000-0000-0000-0000-{n:012d}", _vector(rng), payload))
    return found


def _qdrant_with(points: list[tuple[str, list[float], dict[str, object]]]) -> QdrantClient:
    client = QdrantClient(location=":memory:")
    client.create_collection(COLLECTION, vectors_config=models.VectorParams(
        size=embeddings.DIMENSIONS, distance=models.Distance.COSINE))
    client.upsert(COLLECTION, points=[models.PointStruct(id=i, vector=v, payload=p)
                                      for i, v, p in points])
    return client


def _only(workspace: str, user: str | None = None, exclude: tuple[str, ...] = ()) -> models.Filter:
    must: list[models.Condition] = [
        models.FieldCondition(key="workspace", match=models.MatchValue(value=workspace))]
    if user is not None:
        must.append(models.FieldCondition(key="user", match=models.MatchValue(value=user)))
    must_not: list[models.Condition] = [
        models.FieldCondition(key="project_id", match=models.MatchValue(value=p)) for p in exclude]
    return models.Filter(must=must, must_not=must_not or None)


def test_searches_filters_and_order_agree_with_qdrant_local_mode(tmp_path: Path) -> None:
    _upsert_both_and_agree(_points(60), tmp_path / "memory")


def test_points_that_change_workspace_are_searched_in_their_new_one(tmp_path: Path) -> None:
    """A re-upserted point whose payload names another workspace leaves the old one (the last
    row of that workspace's matrix takes its place)."""
    points = _points(60)
    moved = [(i, v, {**p, "workspace": "discord:7", "created_ts": 5000.0 + n})
             for n, (i, v, p) in enumerate(points[:7])]
    _upsert_both_and_agree(points + moved, tmp_path / "memory")
    reopened = LocalPoints(tmp_path / "memory")  # rebuilt from SQLite: the same answers
    try:
        assert {w: reopened.count(w) for w in WORKSPACES} == {
            w: sum(1 for p in {i: p for i, _, p in points + moved}.values()
                   if p["workspace"] == w) for w in WORKSPACES}
    finally:
        reopened.close()


def _upsert_both_and_agree(
    points: list[tuple[str, list[float], dict[str, object]]], folder: Path
) -> None:
    """The points, in order, into qdrant-client's local mode and into `LocalPoints` at `folder`;
    then every search, count and latest must agree."""
    qdrant = _qdrant_with(points)
    local = LocalPoints(folder)
    for point_id, vector, payload in points:
        local.upsert(point_id, vector, payload)
    try:
        _agree(local, qdrant)
    finally:
        local.close()
        qdrant.close()


def _agree(local: LocalPoints, qdrant: QdrantClient) -> None:
    rng = random.Random(5)
    for workspace in WORKSPACES:
        assert local.count(workspace) == qdrant.count(
            COLLECTION, count_filter=_only(workspace)).count
        for exclude in ((), ("p0", "p3", "p4")):
            query = _vector(rng)
            theirs = qdrant.query_points(COLLECTION, query=query, limit=5, with_payload=True,
                                         query_filter=_only(workspace, exclude=exclude)).points
            ours = local.search(workspace, query, 5, exclude)
            assert [p["project_id"] for _, p in ours] == [
                (t.payload or {})["project_id"] for t in theirs]
            for (score, _), their in zip(ours, theirs, strict=True):
                assert math.isclose(score, their.score, abs_tol=1e-5)
        for person in USERS:
            order = models.OrderBy(key="created_ts", direction=models.Direction.DESC)
            theirs_last, _ = qdrant.scroll(COLLECTION, scroll_filter=_only(workspace, person),
                                           limit=1, order_by=order)
            ours_last = local.latest(workspace, person)
            if not theirs_last:
                assert ours_last is None
                continue
            assert ours_last is not None
            assert ours_last["created_ts"] == (theirs_last[0].payload or {})["created_ts"]


def test_the_store_survives_a_reopen_and_one_process_holds_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "memory"
    (point_id, vector, payload), *_ = _points(1)
    first = LocalPoints(folder)
    first.upsert(point_id, vector, payload)
    assert first.update(point_id, {"title": "Tea"}, vector=[1.0] + [0.0] * 383)
    assert not first.update("missing", {"title": "x"})
    with pytest.raises(RuntimeError, match="already accessed by another instance"):
        LocalPoints(folder)
    first.close()
    again = LocalPoints(folder)
    try:
        assert again.retrieve(point_id) == {**payload, "title": "Tea"}
        ((score, _),) = again.search(str(payload["workspace"]), [2.0] + [0.0] * 383, 3)
        assert math.isclose(score, 1.0, abs_tol=1e-6)
        assert again.workspaces() == {payload["workspace"]}
        again.delete_workspace(str(payload["workspace"]))
        assert again.count(str(payload["workspace"])) == 0
    finally:
        again.close()


def _legacy_folder(folder: Path, records: list[ProjectRecord]) -> None:
    """What the bot's memory wrote before: qdrant-client's local mode, the same ids and payloads
    (a `VectorMemory` in memory makes the payloads)."""
    client = QdrantClient(path=str(folder))
    client.create_collection(COLLECTION, vectors_config=models.VectorParams(
        size=embeddings.DIMENSIONS, distance=models.Distance.COSINE))
    with VectorMemory(path=":memory:") as maker:
        for record in records:
            maker.remember_project(record)
            payload = maker.get(record.workspace, record.project_id)
            point = models.PointStruct(id=point_key(record.workspace, record.project_id),
                                       vector=embeddings.embed([record.topic])[0],
                                       payload=payload)
            client.upsert(COLLECTION, points=[point])
    client.close()


def test_an_old_qdrant_folder_is_moved_once_and_left_as_it_was(data_dir: Path) -> None:
    records = [
        ProjectRecord("slack:T1", "ada", "aaaa0001", "why octopuses have three hearts",
                      "octopus hearts", title="Three hearts"),
        ProjectRecord("slack:T1", "ada", "aaaa0002", "the history of tea", "history of tea"),
        ProjectRecord("telegram:9", "bob", "bbbb0001", "how squid swim", "squid swimming"),
    ]
    _legacy_folder(legacy_path(), records)
    before = sorted(p.name for p in legacy_path().rglob("*"))
    with VectorMemory() as memory:
        assert memory.local
        assert memory.count("slack:T1") == 2
        assert memory.count("telegram:9") == 1
        (hit,) = memory.similar("slack:T1", "octopus with three hearts", limit=1)
        assert (hit.project_id, hit.title) == ("aaaa0001", "Three hearts")
        last = memory.last_project("telegram:9", "bob")
        assert last is not None
        assert last.project_id == "bbbb0001"
        assert memory.remember_revision("slack:T1", "aaaa0002", "Tea", "Tea is old.")
        memory.remember_project(ProjectRecord("slack:T1", "cy", "cccc0001", "new", "new one"))
    assert (default_path() / FILE).exists()
    assert sorted(p.name for p in legacy_path().rglob("*")) == before
    with VectorMemory() as reopened:  # moved once: the new project is still there
        assert reopened.count("slack:T1") == 3
        revised = reopened.get("slack:T1", "aaaa0002")
        assert revised is not None
        assert (revised["title"], revised["idea"]) == ("Tea", "the history of tea")
