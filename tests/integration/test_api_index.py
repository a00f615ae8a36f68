"""The per-workspace project index behind `GET /api/v1/projects` (bot.project.ProjectStore):
pages newest first by cursor, exact while projects are added, one workspace and one platform
at a time, written by `create` and `save`, backfilled once for projects stored before it,
and the render clock that the usage report reads. Real Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis

from bot.events import Conversation
from bot.project import Project, ProjectState, ProjectStore, index_member
from pipeline.writers.offline import OfflineWriter

SCRIPT = OfflineWriter().script("why octopuses have three hearts", 20)


def _project(workspace: str = "W1", adapter: str = "web", *, seconds: int = 0) -> Project:
    where = Conversation(adapter=adapter, workspace=workspace, channel="api", user="key:k")
    made = Project.start(where, SCRIPT)
    base = datetime(2026, 12, 1, tzinfo=UTC)
    return made.model_copy(update={"created_at": base + timedelta(seconds=seconds)})


@pytest.fixture
def store(redis_conn: redis.Redis) -> ProjectStore:
    return ProjectStore(redis_conn)


def _all(store: ProjectStore, workspace: str = "W1", limit: int = 3) -> list[str]:
    seen, cursor = [], None
    while True:
        page = store.page("web", workspace, limit=limit, cursor=cursor)
        seen += [p.id for p in page.projects]
        cursor = page.next_cursor
        if cursor is None:
            return seen


def test_pages_list_a_workspace_newest_first(store: ProjectStore) -> None:
    made = [store.create(_project(seconds=n)) for n in range(7)]
    store.create(_project("W2", seconds=100))
    store.create(_project("W1", "slack", seconds=100))
    assert _all(store) == [p.id for p in reversed(made)]
    assert store.count("web", "W1") == 7
    assert store.page("web", "nobody").projects == []


def test_a_cursor_stays_exact_while_projects_are_added(store: ProjectStore) -> None:
    for n in range(4):
        store.create(_project(seconds=n))
    first = store.page("web", "W1", limit=2)
    newer = store.create(_project(seconds=50))
    rest = store.page("web", "W1", limit=10, cursor=first.next_cursor)
    listed = [p.id for p in first.projects + rest.projects]
    assert len(listed) == len(set(listed)) == 4
    assert newer.id not in listed


def test_same_second_projects_are_all_listed_once(store: ProjectStore) -> None:
    made = {store.create(_project(seconds=0)).id for _ in range(5)}
    assert sorted(_all(store, limit=2)) == sorted(made)


def test_save_indexes_and_updates_keep_one_entry(store: ProjectStore) -> None:
    saved = store.save(_project())
    store.save(saved.evolve(state=ProjectState.CANCELLED))
    store.update(saved.id, lambda p: p.evolve(last_error="x"))
    assert _all(store) == [saved.id]
    assert store.get(saved.id).last_error == "x"  # type: ignore[union-attr]


def test_a_foreign_cursor_is_refused_and_vanished_projects_are_dropped(
    store: ProjectStore, redis_conn: redis.Redis
) -> None:
    with pytest.raises(ValueError, match="cursor"):
        store.page("web", "W1", cursor="0000:zz")
    kept, gone = store.create(_project(seconds=1)), store.create(_project(seconds=2))
    redis_conn.delete(store._key(gone.id))
    assert _all(store) == [kept.id]
    assert store.count("web", "W1") == 1


def test_backfill_indexes_projects_stored_before_the_index_once(
    store: ProjectStore, redis_conn: redis.Redis
) -> None:
    old = [_project(seconds=n) for n in range(3)]
    for project in old:  # as the store wrote them before the index existed
        redis_conn.set(store._key(project.id), project.model_dump_json())
    assert _all(store) == []
    assert store.backfill_index(batch=2) == 3
    assert _all(store) == [p.id for p in reversed(old)]
    assert store.backfill_index() == 0  # once: marked in Redis
    assert index_member(old[0]).endswith(old[0].id)


def test_the_render_clock_counts_every_render(store: ProjectStore) -> None:
    project = store.create(_project())
    rendering = store.transition(project.id, {ProjectState.DRAFT}, ProjectState.RENDERING)
    assert rendering.rendering_since is not None
    back = store.transition(project.id, {ProjectState.RENDERING}, ProjectState.DRAFT)
    first = back.render_seconds
    assert first > 0
    assert back.rendering_since is None
    store.transition(project.id, {ProjectState.DRAFT}, ProjectState.RENDERING)
    done = store.transition(project.id, {ProjectState.RENDERING}, ProjectState.PREVIEW)
    assert done.render_seconds > first
    approved = store.transition(project.id, {ProjectState.PREVIEW}, ProjectState.APPROVED)
    assert approved.render_seconds == done.render_seconds


def test_a_page_brings_each_project_s_hash_along(
    store: ProjectStore, redis_conn: redis.Redis
) -> None:
    with_usage, without = store.create(_project(seconds=1)), store.create(_project(seconds=2))
    redis_conn.hset(f"usage:{with_usage.id}", mapping={"calls": 3})
    page = store.page("web", "W1", hashes="usage:")
    assert [p.id for p in page.projects] == [without.id, with_usage.id]
    assert page.hashes == [{}, {"calls": "3"}]
    assert store.page("web", "W1").hashes == []
