"""Who may change a draft is policy (`editors`): the requester, listed editors (and listed
approvers), workspace admins, and the console by default. Every editing action — Render (button
or words), Revise, a refining reply, Undo, a picture change, an upload used in a scene — refuses
anyone else with one sentence only they see, and leaves the draft as it was.

Real Redis, the real offline writer, the built-in backgrounds and the real asset store; the job
queue records what would be rendered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

from bot.actions import Action, Say
from bot.engine import Engine
from bot.events import Attachment, ButtonEvent, CommandEvent, Conversation, MessageEvent, Speaker
from bot.project import Project, ProjectState, ProjectStore
from pipeline.ffmpeg import run_ffmpeg
from pipeline.media.assets import AssetStore
from pipeline.media.director import Director, director_from_env
from pipeline.settings import load_settings
from pipeline.writers.offline import OfflineWriter
from policy import Policy, load_policy, parse_policy
from tests.integration.test_engine import RecordingJobs

ALICE, BOB, EDITOR, APPROVER = "U0ALICE", "U0BOB", "U0EDITOR", "U0APPROVER"
IDEA = "60s on why octopuses have three hearts"
REFUSED = (
    "Only the person who asked for it or workspace admins may change this draft (editing "
    "policy). The draft stays as it is; start your own with /make."
)


def conv(user: str = ALICE, adapter: str = "slack") -> Conversation:
    return Conversation(adapter=adapter, workspace="T1", channel="C1", user=user,
                        user_name=user.lower())


def speaker(c: Conversation, **roles: Any) -> Speaker:
    return Speaker.of(c, **roles)


def msg(text: str, c: Conversation, **roles: Any) -> MessageEvent:
    return MessageEvent(conversation=c, text=text, speaker=speaker(c, **roles))


def press(action: str, project: Project, c: Conversation, **roles: Any) -> ButtonEvent:
    return ButtonEvent(conversation=c, action=action, project_id=project.id,
                       speaker=speaker(c, **roles))


def only(actions: list[Action]) -> Say:
    (say,) = [a for a in actions if isinstance(a, Say)]
    return say


@pytest.fixture
def jobs() -> RecordingJobs:
    return RecordingJobs()


@pytest.fixture
def store(redis_conn: redis.Redis) -> ProjectStore:
    return ProjectStore(redis_conn)


def engine_for(redis_conn: redis.Redis, jobs: RecordingJobs, policy: Policy) -> Engine:
    settings = load_settings()

    def director(workspace: str) -> Director:
        return director_from_env(redis_conn, settings, workspace, environ={})

    assets = AssetStore(redis_conn, settings.assets_dir)
    return Engine(redis_conn, OfflineWriter(), jobs, policy, pictures=director, assets=assets)


@pytest.fixture
def engine(redis_conn: redis.Redis, jobs: RecordingJobs, data_dir: Path) -> Engine:
    del data_dir  # the uploads and the media cache go under this test's data dir
    return engine_for(redis_conn, jobs, load_policy())


def draft_of(engine: Engine, store: ProjectStore, c: Conversation | None = None) -> Project:
    c = c or conv()
    engine.handle(CommandEvent(conversation=c, name="make", args=IDEA))
    project = store.active(c)
    assert project is not None
    return project


def unchanged(store: ProjectStore, project: Project) -> None:
    stored = store.get(project.id)
    assert stored is not None
    assert (stored.state, stored.latest, stored.current) == (
        project.state, project.latest, project.current)


def png(folder: Path) -> Attachment:
    path = folder / "bobs-photo.png"
    run_ffmpeg(["-f", "lavfi", "-i", "color=c=0x00ff00:s=320x568", "-frames:v", "1",
                "-update", "1", "-y", str(path)], duration=0.04)
    return Attachment(path=str(path), name=path.name, mime="image/png",
                      size_bytes=path.stat().st_size)


# --- someone else is refused, every way of changing the draft ---------------------------------


def test_render_revise_and_their_words_are_refused_to_someone_else(
    engine: Engine, store: ProjectStore, jobs: RecordingJobs
) -> None:
    project = draft_of(engine, store)
    bob = conv(BOB)
    for event in (press("render", project, bob), press("revise", project, bob)):
        refusal = only(engine.handle(event))
        assert (refusal.text, refusal.ephemeral) == (REFUSED, True)
    assert jobs.renders == []
    assert store.active(bob) is None, "a refused Revise does not aim Bob's words at the draft"
    unchanged(store, project)


def test_replies_undo_and_pictures_are_refused_when_the_draft_is_someone_elses(
    engine: Engine, store: ProjectStore, jobs: RecordingJobs
) -> None:
    """Bob's conversation points at Alice's draft (as an older version's Revise left it)."""
    project = draft_of(engine, store)
    assert only(engine.handle(msg("make it shorter", conv()))).text.startswith("v2: ")
    project = store.get(project.id) or project
    bob = conv(BOB)
    store.set_active(bob, project.id)
    for line in ("make it shorter", "add a joke at the end", "undo", "go back to v1",
                 "another clip for scene 2", "use a beach for the intro", "illustrated look",
                 "render it"):
        refusal = only(engine.handle(msg(line, bob)))
        assert (refusal.text, refusal.ephemeral) == (REFUSED, True), line
    assert jobs.renders == []
    unchanged(store, project)


def test_an_upload_for_someone_elses_draft_is_kept_but_not_used(
    engine: Engine, store: ProjectStore, tmp_path: Path
) -> None:
    project = draft_of(engine, store)
    bob = conv(BOB)
    store.set_active(bob, project.id)
    event = MessageEvent(conversation=bob, text="use this for scene 2",
                         attachments=[png(tmp_path)], speaker=speaker(bob))
    refusal = only(engine.handle(event))
    assert refusal.ephemeral
    assert refusal.text.startswith(REFUSED)
    assert "kept" in refusal.text.lower() or "saved" in refusal.text.lower()
    unchanged(store, project)


# --- who may -------------------------------------------------------------------------------------


def test_the_requester_renders_and_revises(
    engine: Engine, store: ProjectStore, jobs: RecordingJobs
) -> None:
    project = draft_of(engine, store)
    assert only(engine.handle(msg("make it shorter", conv()))).text.startswith("v2: ")
    assert only(engine.handle(msg("undo", conv()))).text.startswith("Back to v1")
    engine.handle(press("render", project, conv()))
    assert [r[0] for r in jobs.renders] == [project.id]


def test_a_workspace_admin_may_change_anyones_draft(
    engine: Engine, store: ProjectStore, jobs: RecordingJobs
) -> None:
    project = draft_of(engine, store)
    carol = conv("U0CAROL")
    assert only(engine.handle(press("revise", project, carol, is_admin=True))).ephemeral is False
    assert only(engine.handle(msg("make it shorter", carol, is_admin=True))).text.startswith("v2")
    engine.handle(press("render", project, carol, is_admin=True))
    assert [r[0] for r in jobs.renders] == [project.id]


def test_listed_editors_and_approvers_may_and_the_console_always_may(
    redis_conn: redis.Redis, store: ProjectStore, jobs: RecordingJobs, data_dir: Path
) -> None:
    del data_dir
    policy = parse_policy({
        "editors": {"workspaces": {"slack": {"T1": {"users": [EDITOR], "groups": ["S0CUTS"]}}}},
        "approvers": {"workspaces": {"slack": {"T1": {"users": [APPROVER]}}}},
    })
    engine = engine_for(redis_conn, jobs, policy)
    project = draft_of(engine, store)
    for who, roles in ((EDITOR, {}), (APPROVER, {}), ("U0GROUPIE", {"groups": ["S0CUTS"]})):
        reply = only(engine.handle(press("revise", project, conv(who), **roles)))
        assert not reply.ephemeral, who
    refusal = only(engine.handle(press("revise", project, conv(BOB))))
    assert refusal.text.startswith(
        "Only the person who asked for it, the editors listed in the policy or workspace admins "
        "may change this draft"
    )
    console = Conversation(adapter="console", workspace="T1", channel="C1", user="someone")
    console_draft = draft_of(engine, store, Conversation(adapter="console", workspace="T1",
                                                        channel="C1", user="me"))
    engine.handle(ButtonEvent(conversation=console, action="render",
                              project_id=console_draft.id))
    assert [r[0] for r in jobs.renders] == [console_draft.id]


def test_approvers_may_be_left_out_and_the_requester_too(
    redis_conn: redis.Redis, store: ProjectStore, jobs: RecordingJobs, data_dir: Path
) -> None:
    del data_dir
    policy = parse_policy({
        "editors": {"approvers_may_edit": False, "requester_may_edit": False,
                    "workspaces": {"slack": {"T1": {"users": [EDITOR]}}}},
        "approvers": {"workspaces": {"slack": {"T1": {"users": [APPROVER]}}}},
    })
    engine = engine_for(redis_conn, jobs, policy)
    project = draft_of(engine, store)
    for who in (ALICE, APPROVER):
        refusal = only(engine.handle(press("render", project, conv(who))))
        assert refusal.text.startswith(
            "Only the editors listed in the policy or workspace admins may change this draft"
        ), who
    assert jobs.renders == []
    engine.handle(press("render", project, conv(EDITOR)))
    assert [r[0] for r in jobs.renders] == [project.id]
    assert store.get(project.id).state is ProjectState.RENDERING  # type: ignore[union-attr]
