"""A burst of drafts: what a draft does not show (remembering the project, queueing its picture
prefetch, its turns in session memory) waits for the burst to end, and nothing reads or renders
around it.

The burst is made deterministic with a writer that holds the first draft until told: while it
is held, a second `/make` is a draft made during another one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bot.actions import ButtonAction, JobsStarted, Say
from bot.engine import Engine
from bot.events import ButtonEvent, CommandEvent, Conversation, MessageEvent, ReplyTarget
from bot.later import Later
from bot.project import Project, ProjectStore
from bot.recall import space
from pipeline.brief import Tone
from pipeline.media.backgrounds import Backgrounds
from pipeline.media.director import Director
from pipeline.memory import embeddings
from pipeline.memory.store import VectorMemory
from pipeline.script import Aspect, Script
from pipeline.writers.offline import OfflineWriter
from policy import load_policy
from tests.integration.test_engine import RecordingJobs


class PrefetchJobs(RecordingJobs):
    """RecordingJobs with the prefetch job; `order` is every call, in the order it came."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[str] = []

    def prefetch(self, project_id: str, version: int, target: ReplyTarget) -> list[str]:
        self.order.append(f"prefetch:{project_id}")
        return [f"nc-{project_id}-v{version}-prefetch"]

    def render(self, project_id: str, version: int, target: ReplyTarget) -> list[str]:
        self.order.append(f"render:{project_id}")
        return super().render(project_id, version, target)


class HeldWriter(OfflineWriter):
    """The offline writer; the first script it writes waits until `release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()
        self._first = True

    def script(
        self, idea: str, seconds: int, aspect: Aspect = Aspect.VERTICAL, *, tone: Tone | None = None
    ) -> Script:
        if self._first:
            self._first = False
            self.entered.set()
            assert self.release.wait(30)
        return super().script(idea, seconds, aspect, tone=tone)


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[VectorMemory]:
    with VectorMemory(path=tmp_path / "qdrant", embedder=embeddings.embed) as opened:
        yield opened


def conv(user: str, workspace: str) -> Conversation:
    return Conversation(adapter="slack", workspace=workspace, channel="C1", user=user)


def test_a_draft_made_during_another_is_remembered_and_prefetched_after_it(
    redis_conn: redis.Redis, memory: VectorMemory
) -> None:
    jobs, writer = PrefetchJobs(), HeldWriter()
    director = Director([Backgrounds()])
    engine = Engine(redis_conn, writer, jobs, load_policy(), memory=memory,
                    pictures=lambda _: director)
    first, second = conv("U1", "T1"), conv("U2", "T2")
    held = threading.Thread(target=engine.handle, args=(
        CommandEvent(conversation=first, name="make", args="why cats purr"),))
    held.start()
    try:
        assert writer.entered.wait(30)
        actions = engine.handle(
            CommandEvent(conversation=second, name="make", args="why octopuses have three hearts"))
        project = ProjectStore(redis_conn).active(second)
        assert project is not None
        (draft,) = [a for a in actions if isinstance(a, Say)]
        assert draft.text.count("Draft v1") == 1, "the draft itself is the same"
        assert not [a for a in actions if isinstance(a, JobsStarted)]
        assert memory.get(space(second), project.id) is None, "not remembered yet"
        assert jobs.order == [], "its prefetch is not queued yet"
        turns = f"novacast:memory:{second.key}"
        assert redis_conn.llen(turns) == 0, "its turns are not written yet"
        assert [t.role for t in engine.memory.recent(second.key)] == ["user", "bot"], (
            "a read of them writes them first"
        )
        # a read of that workspace writes what it has pending first
        hit = engine.recall.last(second) if engine.recall else None
        assert hit is not None
        assert hit.project_id == project.id
        # Render queues the pictures first, then the render (as without a burst)
        engine.handle(ButtonEvent(conversation=second, action=ButtonAction.RENDER.value,
                                  project_id=project.id))
        assert jobs.order == [f"prefetch:{project.id}", f"render:{project.id}"]
    finally:
        writer.release.set()
        held.join(30)
    first_project = ProjectStore(redis_conn).active(first)
    assert first_project is not None
    assert memory.get(space(first), first_project.id) is not None, "drafted alone: at once"
    assert f"prefetch:{first_project.id}" in jobs.order


def test_a_draft_alone_is_remembered_before_it_is_answered(
    redis_conn: redis.Redis, memory: VectorMemory
) -> None:
    jobs = PrefetchJobs()
    director = Director([Backgrounds()])
    engine = Engine(redis_conn, OfflineWriter(), jobs, load_policy(), memory=memory,
                    pictures=lambda _: director)
    who = conv("U1", "T9")
    actions = engine.handle(CommandEvent(conversation=who, name="make", args="why cats purr"))
    project: Project | None = ProjectStore(redis_conn).active(who)
    assert project is not None
    assert memory.get(space(who), project.id) is not None
    assert [a.job_ids for a in actions if isinstance(a, JobsStarted)] == [
        [f"nc-{project.id}-v1-prefetch"]
    ]
    said = engine.handle(MessageEvent(conversation=who, text="make another like the last one"))
    assert any("Same idea as your last video here" in a.text for a in said
               if isinstance(a, Say))


def test_postponed_work_runs_per_key_in_order_and_all_of_it_in_the_end() -> None:
    later, done = Later("test-later"), []
    later.add("a", lambda: done.append("a1"))
    later.add("b", lambda: done.append("b1"))
    later.add("a", lambda: done.append("a2"))
    later.add("b", lambda: 1 / 0)  # a failure is logged, the rest still runs
    later.add("b", lambda: done.append("b3"))
    later.settle("a")
    assert done[:2] == ["a1", "a2"]
    later.settle_all()
    assert later.pending() == 0
    assert sorted(done) == ["a1", "a2", "b1", "b3"]
    assert done.index("b1") < done.index("b3")


def test_postponed_work_is_done_by_itself_once_things_are_quiet() -> None:
    later, done = Later("test-later"), threading.Event()
    later.add("a", done.set)
    assert done.wait(30)
    assert later.pending() == 0
