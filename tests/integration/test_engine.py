"""The conversational core end to end: real Redis, the real offline writer, a recording job queue.

Assertions are on what the user would read (the engine's replies) and on the stored project;
the job queue below is a test adapter that records what the engine enqueued.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis

from bot import replies
from bot.actions import (
    Action,
    AskApproval,
    Button,
    ButtonAction,
    JobsStarted,
    Preview,
    Progress,
    Say,
)
from bot.engine import Engine
from bot.events import (
    ButtonEvent,
    CommandEvent,
    Conversation,
    Event,
    MessageEvent,
    ReplyTarget,
    Speaker,
)
from bot.project import Project, ProjectState, ProjectStore
from pipeline.script import Aspect, Revision, Script
from pipeline.writers.offline import OfflineWriter
from policy import Policy, load_policy, parse_policy

S = ProjectState


class RecordingJobs:
    """A JobQueue that records calls and hands out stable ids, like the real one's idempotency."""

    def __init__(self) -> None:
        self.renders: list[tuple[str, int, ReplyTarget]] = []
        self.publishes: list[tuple[str, int, str, ReplyTarget]] = []
        self.down = False
        self._lock = threading.Lock()

    def render(self, project_id: str, version: int, target: ReplyTarget) -> list[str]:
        self._check()
        with self._lock:
            self.renders.append((project_id, version, target))
        return [f"render:{project_id}:v{version}"]

    def publish(
        self, project_id: str, version: int, approver: str, target: ReplyTarget
    ) -> list[str]:
        self._check()
        with self._lock:
            self.publishes.append((project_id, version, approver, target))
        return [f"publish:{project_id}:v{version}"]

    def _check(self) -> None:
        if self.down:
            raise redis.ConnectionError("queue unreachable")


class BrokenWriter(OfflineWriter):
    """The real writer, except that revising hits a bug."""

    def revise(self, script: Script, instruction: str) -> Revision:
        raise RuntimeError("a bug in the writer")


# --- fixtures and helpers --------------------------------------------------------------------


@pytest.fixture
def expect_errors() -> None:
    """Requested by tests that provoke logged errors on purpose."""


@pytest.fixture(autouse=True)
def _no_unexpected_errors(
    caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest
) -> Iterator[None]:
    """Programming errors are logged, not hidden: any ERROR log fails the test unless expected."""
    caplog.set_level(logging.WARNING)
    yield
    if "expect_errors" not in request.fixturenames:
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert not errors, [r.getMessage() for r in errors]


@pytest.fixture
def jobs() -> RecordingJobs:
    return RecordingJobs()


@pytest.fixture
def policy() -> Policy:
    return load_policy()


@pytest.fixture
def engine(redis_conn: redis.Redis, jobs: RecordingJobs, policy: Policy) -> Engine:
    return Engine(redis_conn, OfflineWriter(), jobs, policy)


@pytest.fixture
def store(redis_conn: redis.Redis) -> ProjectStore:
    return ProjectStore(redis_conn)


def conv(user: str = "U1", workspace: str = "T1", adapter: str = "slack") -> Conversation:
    return Conversation(adapter=adapter, workspace=workspace, channel="C1", user=user,
                        user_name=f"{user}-name")


def msg(text: str, c: Conversation | None = None, event_id: str = "") -> MessageEvent:
    return MessageEvent(conversation=c or conv(), text=text, event_id=event_id)


def cmd(name: str, args: str = "", c: Conversation | None = None) -> CommandEvent:
    return CommandEvent(conversation=c or conv(), name=name, args=args)


def press(action: str, project_id: str, c: Conversation | None = None,
          raw: dict[str, Any] | None = None) -> ButtonEvent:
    return ButtonEvent(conversation=c or conv(), action=action, project_id=project_id,
                       raw=raw or {})


def said(actions: list[Action]) -> str:
    """The one message the engine said."""
    (say,) = [a for a in actions if isinstance(a, Say)]
    return say.text


def buttons(actions: list[Action]) -> list[ButtonAction]:
    with_buttons = (a for a in actions if isinstance(a, Say | Preview | AskApproval))
    return [b.action for a in with_buttons for b in a.buttons]


def project_keys(redis_conn: redis.Redis) -> list[bytes]:
    return list(redis_conn.scan_iter("novacast:project:*"))


def make(engine: Engine, store: ProjectStore, idea: str = "why octopuses have three hearts",
         c: Conversation | None = None) -> Project:
    engine.handle(cmd("make", idea, c))
    project = store.active(c or conv())
    assert project is not None
    return project


def to_preview(engine: Engine, store: ProjectStore, project: Project) -> Project:
    """Render, then record what the render worker records when the full video passes checks."""
    engine.handle(press("render", project.id, project.conversation))
    return store.transition(
        project.id, {S.RENDERING}, S.PREVIEW,
        rendered_version=project.current, preview_path="/media/p.mp4", video_path="/media/v.mp4",
    )


def reply_for(engine: Engine, event: Event) -> str:
    return said(engine.handle(event))


# --- making a draft --------------------------------------------------------------------------


def test_make_posts_the_draft_with_render_revise_cancel(
    engine: Engine, store: ProjectStore
) -> None:
    actions = engine.handle(cmd("make", "40s on why octopuses have three hearts, playful"))
    project = store.active(conv())
    assert project is not None
    text = said(actions)
    script = project.script
    assert text.startswith(f"Draft v1 · “{script.title}”")
    assert f"Hook: {script.hook}" in text
    assert f"1. {script.sentences[0]}" in text
    assert "Scenes:\n1. " in text
    assert f"aim {script.target_seconds} s" in text
    assert "Written by the offline template writer." in text
    (say,) = actions
    assert isinstance(say, Say)
    assert say.target == ReplyTarget.of(conv())
    assert say.buttons == [Button(action=a, project_id=project.id) for a in
                           (ButtonAction.RENDER, ButtonAction.REVISE, ButtonAction.CANCEL)]
    assert project.state is S.DRAFT
    assert (project.requester, project.workspace, project.current) == ("U1", "T1", 1)
    assert script.target_seconds == 40


def test_plain_words_can_start_a_project(engine: Engine, store: ProjectStore) -> None:
    text = reply_for(engine, msg("make a video about the moon landing"))
    project = store.active(conv())
    assert project is not None
    assert text.startswith("Draft v1")
    assert "moon" in project.script.idea.lower()


def test_the_length_is_kept_inside_the_policy_range(engine: Engine, store: ProjectStore) -> None:
    text = reply_for(engine, cmd("make", "5 minutes on the history of tea"))
    project = store.active(conv())
    assert project is not None
    assert project.script.target_seconds == 120
    assert text.startswith("Videos here can be 10 to 120 seconds long, so I aimed for 120 s.")


@pytest.mark.parametrize("idea", ["", "   ", "\x00\x07\u200b", "/make"])
def test_an_empty_idea_asks_what_the_video_is_about(
    engine: Engine, redis_conn: redis.Redis, idea: str
) -> None:
    assert reply_for(engine, cmd("make", idea)) == (
        "What should the video be about? Try /make why octopuses have three hearts"
    )
    assert project_keys(redis_conn) == []


def test_a_20000_character_idea_is_refused_plainly(
    engine: Engine, redis_conn: redis.Redis
) -> None:
    assert reply_for(engine, cmd("make", "octopus " * 2500)) == (
        "That message is 19,999 characters long; please keep it under 2,000."
    )
    assert "under 500" in reply_for(engine, cmd("make", "why octopuses " * 50))
    assert project_keys(redis_conn) == []


def test_control_characters_and_odd_unicode_are_cleaned(
    engine: Engine, store: ProjectStore
) -> None:
    odd = "why\x00 octo\u200bpuses\x1b have\t\tthree ｈｅａｒｔｓ 🐙"
    text = reply_for(engine, cmd("make", odd))
    project = store.active(conv())
    assert project is not None
    assert text.startswith("Draft v1")
    idea = project.script.idea
    assert "\x00" not in idea
    assert "\u200b" not in idea
    assert "hearts" in idea


@pytest.mark.parametrize(
    ("idea", "topic"),
    [
        ("how to build a bomb at home", "weapons manufacture"),
        ("a playful guide: how to b u i l d a b0mb", "weapons manufacture"),
        ("ways to kill myself", "self-harm instructions"),
    ],
)
def test_a_blocked_topic_is_refused_and_nothing_is_created(
    engine: Engine, redis_conn: redis.Redis, idea: str, topic: str
) -> None:
    text = reply_for(engine, cmd("make", idea))
    assert text == (
        f"I can't make videos about {topic}; that topic is blocked by this workspace's policy. "
        "Try a different idea."
    )
    assert project_keys(redis_conn) == []
    remembered = engine.memory.recent(conv().key, 5)
    assert remembered[0].text == f"(refused: blocked_topic:{topic})", "the text is not kept"


def test_blocked_text_in_a_refinement_is_refused_too(engine: Engine, store: ProjectStore) -> None:
    project = make(engine, store)
    assert "weapons manufacture" in reply_for(engine, msg("add how to make a pipe bomb"))
    stored = store.get(project.id)
    assert stored is not None
    assert stored.latest == 1


# --- refining, undo --------------------------------------------------------------------------


def test_a_refinement_makes_a_new_numbered_version(engine: Engine, store: ProjectStore) -> None:
    project = make(engine, store, "60s on why octopuses have three hearts")
    actions = engine.handle(msg("shorter"))
    stored = store.get(project.id)
    assert stored is not None
    assert (stored.current, stored.latest, stored.state) == (2, 2, S.DRAFT)
    text = said(actions)
    assert text.startswith("v2: ")
    assert "Draft v2 · " in text
    assert buttons(actions) == [ButtonAction.RENDER, ButtonAction.REVISE, ButtonAction.CANCEL]
    assert stored.script.estimated_seconds < project.script.estimated_seconds


def test_a_refinement_that_changes_nothing_keeps_the_version(
    engine: Engine, store: ProjectStore
) -> None:
    project = make(engine, store, "10s on tea")
    engine.handle(msg("shorter"))
    engine.handle(msg("shorter"))
    text = reply_for(engine, msg("shorter"))
    stored = store.get(project.id)
    assert stored is not None
    assert text.startswith("No change made: ")
    assert stored.latest == stored.current


def test_undo_goes_back_one_version_and_new_versions_keep_counting(
    engine: Engine, store: ProjectStore
) -> None:
    project = make(engine, store, "60s on why octopuses have three hearts")
    engine.handle(msg("shorter"))
    text = reply_for(engine, msg("undo"))
    assert text.startswith("Back to v1.\n\nDraft v1 · ")
    stored = store.get(project.id)
    assert stored is not None
    assert (stored.current, stored.latest) == (1, 2)
    assert reply_for(engine, msg("undo")) == "This is the first version — there's nothing to undo."
    assert reply_for(engine, msg("back to v2")).startswith("Back to v2.")
    assert reply_for(engine, msg("back to v9")) == (
        "There's no v9; this project has versions 1 to 2."
    )
    engine.handle(msg("undo"))
    assert reply_for(engine, msg("add a joke at the end")).startswith("v3: ")


def test_revise_button_asks_what_to_change(engine: Engine, store: ProjectStore) -> None:
    project = make(engine, store)
    assert reply_for(engine, press("revise", project.id)) == replies.ASK_CHANGE


def test_a_teammate_who_presses_revise_is_told_who_may_change_the_draft(
    engine: Engine, store: ProjectStore
) -> None:
    """Who may change a draft is policy (`editors`); tests/integration/test_draft_editors.py
    has the rest."""
    project = make(engine, store, "60s on why octopuses have three hearts")
    teammate = conv(user="U2")
    assert reply_for(engine, press("revise", project.id, teammate)).startswith(
        "Only the person who asked for it or workspace admins may change this draft"
    )
    assert reply_for(engine, msg("shorter", teammate)) == replies.NO_PROJECT
    stored = store.get(project.id)
    assert stored is not None
    assert (stored.latest, stored.requester) == (1, "U1")


def test_revising_a_preview_goes_back_to_draft(engine: Engine, store: ProjectStore) -> None:
    project = to_preview(engine, store, make(engine, store, "60s on black holes"))
    assert reply_for(engine, msg("make it shorter")).startswith("v2: ")
    stored = store.get(project.id)
    assert stored is not None
    assert (stored.state, stored.current, stored.rendered_version) == (S.DRAFT, 2, 1)
    assert reply_for(engine, press("approve", project.id)) == (
        "Nothing to approve yet — press Render first."
    )


# --- render ----------------------------------------------------------------------------------


def test_render_enqueues_and_reports_progress(
    engine: Engine, store: ProjectStore, jobs: RecordingJobs
) -> None:
    project = make(engine, store)
    actions = engine.handle(press("render", project.id))
    target = ReplyTarget.of(conv())
    assert actions == [
        Progress(target=target, key=f"{project.id}:v1", stage="queued", percent=0),
        JobsStarted(target=target, job_ids=[f"render:{project.id}:v1"]),
    ]
    assert jobs.renders == [(project.id, 1, target)]
    stored = store.get(project.id)
    assert stored is not None
    assert stored.state is S.RENDERING


def test_render_by_plain_words(engine: Engine, store: ProjectStore, jobs: RecordingJobs) -> None:
    project = make(engine, store)
    actions = engine.handle(msg("go ahead and render"))
    assert any(isinstance(a, Progress) for a in actions)
    assert [r[0] for r in jobs.renders] == [project.id]


def test_while_rendering_nothing_else_fits(
    engine: Engine, store: ProjectStore, jobs: RecordingJobs
) -> None:
    project = make(engine, store)
    engine.handle(press("render", project.id))
    still = "It's still rendering — I'll post the preview here."
    assert reply_for(engine, press("render", project.id)) == still
    assert reply_for(engine, press("approve", project.id)) == still
    assert reply_for(engine, msg("shorter")).startswith(still)
    assert reply_for(engine, msg("undo")).startswith(still)
    assert len(jobs.renders) == 1


def test_render_of_an_already_rendered_version_reposts_the_preview(
    engine: Engine, store: ProjectStore, jobs: RecordingJobs
) -> None:
    project = to_preview(engine, store, make(engine, store))
    actions = engine.handle(press("render", project.id))
    target = ReplyTarget.of(conv())
    assert actions == [
        Preview(target=target, path="/media/v.mp4",
                caption="v1 is already rendered — here it is again."),
        AskApproval(target=target, project_id=project.id, text=replies.ASK_APPROVAL,
                    buttons=[Button(action=a, project_id=project.id) for a in (
                        ButtonAction.APPROVE, ButtonAction.SCHEDULE, ButtonAction.REVISE,
                        ButtonAction.REJECT)]),
    ]
    assert len(jobs.renders) == 1


def test_undo_back_to_the_rendered_version_needs_no_new_render(
    engine: Engine, store: ProjectStore, jobs: RecordingJobs
) -> None:
    project = to_preview(engine, store, make(engine, store, "60s on black holes"))
    engine.handle(msg("shorter"))
    engine.handle(msg("undo"))
    actions = engine.handle(msg("render it"))
    assert [type(a) for a in actions] == [Preview, AskApproval]
    stored = store.get(project.id)
    assert stored is not None
    assert stored.state is S.PREVIEW
    assert len(jobs.renders) == 1


def test_a_failed_render_leaves_an_editable_draft(engine: Engine, store: ProjectStore) -> None:
    project = make(engine, store)
    engine.handle(press("render", project.id))
    store.transition(project.id, {S.RENDERING}, S.DRAFT, last_error="ffmpeg crashed")
    assert "Last problem: ffmpeg crashed" in reply_for(engine, msg("status"))
    assert any(isinstance(a, Progress) for a in engine.handle(press("render", project.id)))


@pytest.mark.usefixtures("expect_errors")
def test_an_unreachable_queue_rolls_back_and_says_so(
    engine: Engine, store: ProjectStore, jobs: RecordingJobs
) -> None:
    project = make(engine, store)
    jobs.down = True
    assert reply_for(engine, press("render", project.id)) == replies.RENDER_FAILED_TO_START
    stored = store.get(project.id)
    assert stored is not None
    assert stored.state is S.DRAFT
    assert stored.last_error


def test_renders_per_hour_are_limited(
    redis_conn: redis.Redis, store: ProjectStore, jobs: RecordingJobs
) -> None:
    engine = Engine(redis_conn, OfflineWriter(), jobs,
                    parse_policy({"rate_limit": {"renders_per_hour": 1}}))
    first = make(engine, store)
    engine.handle(press("render", first.id))
    second = make(engine, store, "why cats purr")
    text = reply_for(engine, press("render", second.id))
    assert text.startswith("You've started 1 renders this hour")
    stored = store.get(second.id)
    assert stored is not None
    assert stored.state is S.DRAFT
    assert len(jobs.renders) == 1


# --- approve, reject, cancel -----------------------------------------------------------------


def test_nothing_to_approve_before_render(engine: Engine, store: ProjectStore) -> None:
    project = make(engine, store)
    assert reply_for(engine, press("approve", project.id)) == (
        "Nothing to approve yet — press Render first."
    )
    assert reply_for(engine, msg("looks good, publish")) == (
        "Nothing to approve yet — press Render first."
    )


def test_approve_publishes_once_and_a_second_click_does_not(
    engine: Engine, store: ProjectStore, jobs: RecordingJobs
) -> None:
    project = to_preview(engine, store, make(engine, store))
    actions = engine.handle(press("approve", project.id))
    assert said(actions) == "Approved by U1-name. Publishing v1 to folder…"
    assert JobsStarted(target=ReplyTarget.of(conv()),
                       job_ids=[f"publish:{project.id}:v1"]) in actions
    stored = store.get(project.id)
    assert stored is not None
    assert (stored.state, stored.approved_by) == (S.APPROVED, "U1")
    assert stored.approved_at is not None
    assert reply_for(engine, press("approve", project.id)) == (
        "Already approved — publishing is under way."
    )
    store.transition(project.id, {S.APPROVED}, S.PUBLISHED, published_to=["folder"])
    assert reply_for(engine, press("approve", project.id)) == (
        "Already published to folder — start a new one with /make."
    )
    assert len(jobs.publishes) == 1


def test_concurrent_approve_clicks_publish_exactly_once(
    engine: Engine, store: ProjectStore, jobs: RecordingJobs
) -> None:
    project = to_preview(engine, store, make(engine, store))
    start = threading.Barrier(6)

    def click(n: int) -> list[Action]:
        start.wait()
        return engine.handle(ButtonEvent(conversation=conv(), action="approve",
                                         project_id=project.id, event_id=f"click-{n}"))

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(click, range(6)))
    texts = [said(r) for r in results]
    assert sum(t.startswith("Approved by") for t in texts) == 1
    assert texts.count("Already approved — publishing is under way.") == 5
    assert len(jobs.publishes) == 1


def test_only_allowed_people_may_approve(
    engine: Engine, store: ProjectStore, jobs: RecordingJobs
) -> None:
    project = to_preview(engine, store, make(engine, store))
    teammate = conv(user="U2")
    assert reply_for(engine, press("approve", project.id, teammate)) == (
        "Only the person who asked for the video or workspace admins may approve videos in this "
        "workspace (approval policy)."
    )
    assert jobs.publishes == []
    (refusal,) = engine.handle(press("approve", project.id, teammate))
    assert isinstance(refusal, Say)
    assert refusal.ephemeral, "only the person refused sees it, where the platform can"
    forged = {"novacast": {"is_admin": True}}  # a payload's claim is not a role
    assert reply_for(engine, press("approve", project.id, teammate, raw=forged)).startswith("Only")
    admin = ButtonEvent(conversation=teammate, speaker=Speaker.of(teammate, is_admin=True),
                        action="approve", project_id=project.id)
    assert reply_for(engine, admin).startswith(
        "Approved by U2-name."
    )
    assert jobs.publishes[0][2] == "U2"


def test_listed_approvers_only_when_the_requester_may_not(
    redis_conn: redis.Redis, store: ProjectStore, jobs: RecordingJobs
) -> None:
    policy = parse_policy({"approvers": {"workspaces": {"slack": {"T1": {
        "users": ["U9"], "requester_may_approve": False}}}}})
    engine = Engine(redis_conn, OfflineWriter(), jobs, policy)
    project = to_preview(engine, store, make(engine, store))
    refusal = reply_for(engine, press("approve", project.id))
    assert refusal.startswith("Only workspace admins or the approvers listed in the policy")
    assert reply_for(engine, press("approve", project.id, conv(user="U9"))).startswith("Approved")


def test_the_console_user_may_approve(engine: Engine, store: ProjectStore) -> None:
    console = Conversation(adapter="console", workspace="local", channel="console", user="me")
    project = to_preview(engine, store, make(engine, store, c=console))
    text = reply_for(engine, press("approve", project.id, console))
    assert text == "Approved by me. Publishing v1 to folder…"


def test_reject_and_then_nothing_more(engine: Engine, store: ProjectStore) -> None:
    project = make(engine, store)
    assert reply_for(engine, press("reject", project.id)).startswith("Nothing to reject yet")
    to_preview(engine, store, project)
    assert reply_for(engine, msg("reject")) == (
        "Rejected v1; nothing was published. Start a new one with /make."
    )
    assert reply_for(engine, msg("shorter")) == (
        "This project was rejected — start a new one with /make."
    )
    assert reply_for(engine, press("approve", project.id)) == (
        "This project was rejected — start a new one with /make."
    )


def test_cancel_and_then_nothing_more(
    engine: Engine, store: ProjectStore, jobs: RecordingJobs
) -> None:
    project = make(engine, store)
    assert reply_for(engine, press("cancel", project.id)).startswith("Cancelled “")
    cancelled = "This project was cancelled — start a new one with /make."
    assert reply_for(engine, press("render", project.id)) == cancelled
    assert reply_for(engine, press("approve", project.id)) == cancelled
    assert reply_for(engine, msg("add a joke")) == cancelled
    assert reply_for(engine, press("cancel", project.id)) == cancelled
    assert jobs.renders == []


def test_a_teammate_cannot_cancel_someone_elses_draft(engine: Engine, store: ProjectStore) -> None:
    project = make(engine, store)
    assert reply_for(engine, press("cancel", project.id, conv(user="U2"))).startswith("Only ")
    stored = store.get(project.id)
    assert stored is not None
    assert stored.state is S.DRAFT


# --- buttons, isolation, delivery ------------------------------------------------------------


def test_a_button_from_another_workspace_is_refused(
    engine: Engine, store: ProjectStore, jobs: RecordingJobs
) -> None:
    project = to_preview(engine, store, make(engine, store))
    outsider = conv(user="U1", workspace="T2")
    for action in ("approve", "render", "cancel", "reject", "revise"):
        assert reply_for(engine, press(action, project.id, outsider)) == replies.UNKNOWN_PROJECT
    other_platform = conv(adapter="discord")
    assert reply_for(engine, press("approve", project.id, other_platform)) == (
        replies.UNKNOWN_PROJECT
    )
    stored = store.get(project.id)
    assert stored is not None
    assert stored.state is S.PREVIEW
    assert jobs.publishes == []


def test_unknown_projects_and_buttons_are_refused(engine: Engine) -> None:
    assert reply_for(engine, press("approve", "deadbeef")) == replies.UNKNOWN_PROJECT
    assert reply_for(engine, press("approve", "")) == replies.UNKNOWN_PROJECT
    assert reply_for(engine, press("explode", "deadbeef")) == replies.UNKNOWN_BUTTON


def test_a_redelivered_event_is_handled_once(
    engine: Engine, redis_conn: redis.Redis
) -> None:
    event = msg("make a video about volcanoes", event_id="Ev123")
    assert said(engine.handle(event)).startswith("Draft v1")
    assert engine.handle(event) == []
    assert len(project_keys(redis_conn)) == 1
    other_workspace = msg("make a video about volcanoes", conv(workspace="T2"), event_id="Ev123")
    assert said(engine.handle(other_workspace)).startswith("Draft v1")


def test_events_without_an_id_are_never_deduped(engine: Engine, redis_conn: redis.Redis) -> None:
    engine.handle(msg("make a video about volcanoes"))
    engine.handle(msg("make a video about volcanoes"))
    assert len(project_keys(redis_conn)) == 2


def test_rate_limit_replies_once_then_stays_quiet(
    redis_conn: redis.Redis, jobs: RecordingJobs
) -> None:
    engine = Engine(redis_conn, OfflineWriter(), jobs,
                    parse_policy({"rate_limit": {"events": 3, "window_seconds": 60}}))
    for _ in range(3):
        assert engine.handle(msg("help"))
    text = reply_for(engine, msg("help"))
    assert text.startswith("You're sending messages faster than I can keep up. Please wait ")
    assert engine.handle(msg("help")) == []
    assert engine.handle(msg("help", conv(user="U2"))), "other users are not affected"


# --- talking ---------------------------------------------------------------------------------


def test_status_help_schedule_and_smalltalk(engine: Engine, store: ProjectStore) -> None:
    assert reply_for(engine, msg("status")) == replies.NO_PROJECT
    assert reply_for(engine, msg("hi")).startswith("Hi! I make short narrated videos.")
    project = make(engine, store)
    status = reply_for(engine, msg("what's the status"))
    assert f"(project {project.id})" in status
    assert "Showing v1 of 1. It's a draft — press Render when it looks right." in status
    assert reply_for(engine, cmd("help")) == replies.HELP
    assert reply_for(engine, msg("schedule it for friday 9am")).startswith("Render it first")
    assert reply_for(engine, press("schedule", project.id)).startswith("Render it first")
    assert reply_for(engine, msg("thanks!")).startswith("Glad to help!")


def test_without_a_project_a_refinement_points_to_make(engine: Engine) -> None:
    assert reply_for(engine, msg("make it shorter")) == replies.NO_PROJECT
    assert reply_for(engine, msg("render it")) == replies.NO_PROJECT
    assert reply_for(engine, cmd("frobnicate")) == (
        "I don't know /frobnicate. Type /help to see what I can do."
    )


def test_anything_else_in_a_conversation_with_a_draft_is_a_refinement(
    engine: Engine, store: ProjectStore
) -> None:
    project = make(engine, store)
    text = reply_for(engine, msg("hmm, can the ending be about their blue blood"))
    assert text.startswith(("v2: ", "No change made: "))
    assert store.get(project.id) is not None


def test_memory_records_both_sides(engine: Engine, store: ProjectStore) -> None:
    make(engine, store)
    engine.handle(msg("status"))
    turns = engine.memory.recent(conv().key, 10)
    assert [t.role for t in turns] == ["user", "bot", "user", "bot"]
    assert turns[0].text == "/make why octopuses have three hearts"
    assert turns[2].text == "status"


@pytest.mark.usefixtures("expect_errors")
def test_an_unexpected_failure_becomes_an_apology_and_the_draft_is_safe(
    redis_conn: redis.Redis, store: ProjectStore, jobs: RecordingJobs,
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = Engine(redis_conn, BrokenWriter(), jobs, load_policy())
    project = make(engine, store)
    assert reply_for(engine, msg("shorter")) == (
        "Something went wrong on my side; your draft is safe. Please try again in a moment."
    )
    assert store.get(project.id) == project
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.exc_info is not None
    assert "shorter" not in record.getMessage(), "user text is not logged"


def test_the_writer_gets_the_aspect_and_tone(engine: Engine, store: ProjectStore) -> None:
    make(engine, store, "30s on coral reefs, formal, 16:9")
    project = store.active(conv())
    assert project is not None
    assert project.script.aspect is Aspect.LANDSCAPE


def test_the_console_operator_is_not_rate_limited(
    redis_conn: redis.Redis, jobs: RecordingJobs
) -> None:
    engine = Engine(redis_conn, OfflineWriter(), jobs,
                    parse_policy({"rate_limit": {"events": 2, "window_seconds": 60}}))
    console = conv(adapter="console")
    replies_seen = [reply_for(engine, msg("help", console)) for _ in range(5)]
    assert replies_seen == [replies.HELP] * 5
