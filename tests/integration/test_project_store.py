"""Projects in a real Redis: validation, workspace isolation, atomic updates and transitions."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from pydantic import ValidationError

from bot.events import Conversation
from bot.project import Project, ProjectNotFound, ProjectState, ProjectStore, StateRefusal
from pipeline.script import Scene, Script

S = ProjectState


def _script(title: str = "Three Hearts") -> Script:
    return Script(
        idea="why octopuses have three hearts",
        title=title,
        hook="Octopuses run on three hearts.",
        sentences=["Two pump blood through the gills.", "One pumps it round the body."],
        scenes=[Scene(title="Gills", sentences=[0]), Scene(title="Body", sentences=[1])],
        target_seconds=30,
        writer="test writer",
    )


def _conversation(workspace: str = "T1", user: str = "U1", adapter: str = "slack") -> Conversation:
    return Conversation(adapter=adapter, workspace=workspace, channel="C1", user=user)


@pytest.fixture
def store(redis_conn: redis.Redis) -> ProjectStore:
    return ProjectStore(redis_conn)


@pytest.fixture
def project(store: ProjectStore) -> Project:
    return store.create(Project.start(_conversation(), _script()))


def test_a_new_project_is_a_v1_draft_owned_by_its_requester(project: Project) -> None:
    assert project.state is S.DRAFT
    assert (project.current, project.latest) == (1, 1)
    assert project.requester == "U1"
    assert project.workspace == "T1"
    assert project.script.title == "Three Hearts"
    assert len(project.id) == 8
    assert int(project.id, 16) >= 0


def test_round_trip_keeps_every_field(store: ProjectStore, project: Project) -> None:
    assert store.get(project.id) == project
    assert store.get("deadbeef") is None


def test_create_refuses_to_overwrite(store: ProjectStore, project: Project) -> None:
    with pytest.raises(ValueError, match="already exists"):
        store.create(project)


def test_projects_validate_on_construction() -> None:
    with pytest.raises(ValidationError, match="current version 2 does not exist"):
        Project(conversation=_conversation(), workspace="T1", requester="U1",
                versions=[_script()], current=2)
    with pytest.raises(ValidationError, match="workspace"):
        Project(conversation=_conversation(), workspace="T2", requester="U1", versions=[_script()])
    with pytest.raises(ValidationError):
        Project(conversation=_conversation(), workspace="T1", requester="U1", versions=[])


def test_get_for_isolates_workspaces_and_adapters(store: ProjectStore, project: Project) -> None:
    assert store.get_for("T1", project.id) == project
    assert store.get_for("T1", project.id, adapter="slack") == project
    assert store.get_for("T2", project.id) is None
    assert store.get_for("T1", project.id, adapter="discord") is None
    assert store.get_for("T1", "nope") is None
    assert store.get_for("T1", "../../etc") is None


def test_versions_append_and_never_renumber(project: Project) -> None:
    v2 = project.with_version(_script("Second"))
    assert (v2.current, v2.latest, v2.script.title) == (2, 2, "Second")
    back = v2.evolve(current=1)
    v3 = back.with_version(_script("Third"))
    assert (v3.current, v3.latest) == (3, 3)
    assert [s.title for s in v3.versions] == ["Three Hearts", "Second", "Third"]


def test_transition_moves_only_from_allowed_states(store: ProjectStore, project: Project) -> None:
    rendering = store.transition(project.id, {S.DRAFT}, S.RENDERING)
    assert rendering.state is S.RENDERING
    assert rendering.updated_at >= project.updated_at
    with pytest.raises(StateRefusal) as refused:
        store.transition(project.id, {S.PREVIEW}, S.APPROVED)
    assert refused.value.project.state is S.RENDERING
    assert str(refused.value) == f"Project {project.id} is rendering, so it can't become approved."
    stored = store.get(project.id)
    assert stored is not None
    assert stored.state is S.RENDERING


def test_transition_applies_changes_with_validation(store: ProjectStore, project: Project) -> None:
    store.transition(project.id, {S.DRAFT}, S.RENDERING)
    preview = store.transition(
        project.id, {S.RENDERING}, S.PREVIEW,
        rendered_version=1, preview_path="/tmp/p.mp4", video_path="/tmp/v.mp4",
    )
    assert preview.current_is_rendered
    assert store.get(project.id) == preview
    with pytest.raises(ValidationError):
        store.transition(project.id, {S.PREVIEW}, S.DRAFT, rendered_version=7)
    stored = store.get(project.id)
    assert stored is not None
    assert stored.state is S.PREVIEW, "a rejected change writes nothing"


def test_update_and_transition_on_a_missing_project(store: ProjectStore) -> None:
    with pytest.raises(ProjectNotFound):
        store.update("abcdef12", lambda p: p)
    with pytest.raises(ProjectNotFound):
        store.transition("abcdef12", {S.DRAFT}, S.RENDERING)


def test_update_must_not_change_the_id(store: ProjectStore, project: Project) -> None:
    with pytest.raises(ValueError, match="must not change"):
        store.update(project.id, lambda p: p.evolve(id="0000aaaa"))


def test_concurrent_approvals_produce_exactly_one_transition(
    store: ProjectStore, project: Project
) -> None:
    store.save(project.evolve(state=S.PREVIEW, rendered_version=1, video_path="/tmp/v.mp4"))
    start = threading.Barrier(8)

    def approve(user: int) -> str:
        start.wait()
        try:
            store.transition(project.id, {S.PREVIEW}, S.APPROVED, approved_by=f"U{user}")
        except StateRefusal:
            return "refused"
        return "approved"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(approve, range(8)))
    assert outcomes.count("approved") == 1
    assert outcomes.count("refused") == 7
    stored = store.get(project.id)
    assert stored is not None
    assert stored.state is S.APPROVED
    assert stored.approved_by is not None


def test_concurrent_updates_lose_nothing(store: ProjectStore, project: Project) -> None:
    def add_version(n: int) -> None:
        store.update(project.id, lambda p: p.with_version(_script(f"Version {n}")))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(add_version, range(10)))
    stored = store.get(project.id)
    assert stored is not None
    assert stored.latest == 11
    assert {s.title for s in stored.versions[1:]} == {f"Version {n}" for n in range(10)}


def test_active_project_per_conversation(store: ProjectStore, project: Project) -> None:
    conversation = _conversation()
    assert store.active(conversation) is None
    store.set_active(conversation, project.id)
    assert store.active(conversation) == project
    assert store.active(_conversation(user="U2")) is None, "each user has their own thread"
    store.redis.delete(f"novacast:project:{project.id}")
    assert store.active(conversation) is None, "an expired project is no longer active"


def test_prefix_separates_stores(redis_conn: redis.Redis, project: Project) -> None:
    assert ProjectStore(redis_conn, prefix="other").get(project.id) is None
