"""Long-term memory end to end: the real MiniLM model, the real local store
(SQLite, pipeline.memory.points), real Redis.

The engine is the real one with the offline writer; only the job queue is the recording test
adapter from test_engine. Each test gets its own store directory under tmp_path.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from bot import replies
from bot.engine import Engine
from bot.events import CommandEvent, Conversation, MessageEvent
from bot.intent_model import IntentModel
from bot.project import Project, ProjectStore
from bot.recall import space
from pipeline.memory import ProjectRecord, embeddings
from pipeline.memory.store import VectorMemory
from pipeline.writers.offline import OfflineWriter
from policy import load_policy
from tests.integration.test_engine import RecordingJobs, said


@pytest.fixture(scope="session")
def intent_model() -> IntentModel:
    """The model loads once per process; the examples are embedded once per session."""
    embeddings.load()
    model = IntentModel()
    model.warm()
    return model


@pytest.fixture
def memory(tmp_path: Path, intent_model: IntentModel) -> Iterator[VectorMemory]:
    with VectorMemory(path=tmp_path / "qdrant") as opened:
        yield opened


def engine_with(
    redis_conn: redis.Redis, memory: VectorMemory | None, model: IntentModel | None = None
) -> Engine:
    return Engine(
        redis_conn,
        OfflineWriter(),
        RecordingJobs(),
        load_policy(),
        memory=memory,
        classifier=model,
    )


@pytest.fixture
def engine(redis_conn: redis.Redis, memory: VectorMemory, intent_model: IntentModel) -> Engine:
    return engine_with(redis_conn, memory, intent_model)


def conv(user: str = "U1", workspace: str = "T1") -> Conversation:
    return Conversation(adapter="slack", workspace=workspace, channel="C1", user=user)


def make(engine: Engine, idea: str, c: Conversation | None = None) -> tuple[str, Project]:
    text = said(engine.handle(CommandEvent(conversation=c or conv(), name="make", args=idea)))
    project = ProjectStore(engine.redis).active(c or conv())
    assert project is not None
    return text, project


def say(engine: Engine, text: str, c: Conversation | None = None) -> str:
    return said(engine.handle(MessageEvent(conversation=c or conv(), text=text)))


def record(workspace: str, project_id: str, idea: str, user: str = "U1") -> ProjectRecord:
    return ProjectRecord(
        workspace=workspace,
        user=user,
        project_id=project_id,
        idea=idea,
        topic=idea,
        title=idea.title(),
        script=f"All about {idea}.",
    )


# --- embeddings and the store ---------------------------------------------------------------


def test_embeddings_are_unit_vectors_from_one_shared_model(intent_model: IntentModel) -> None:
    texts = [f"a video about topic number {n}" for n in range(8)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda t: embeddings.embed([t])[0], texts))
    assert embeddings.is_loaded()
    assert embeddings.load() == embeddings.load(), "loaded once: the load time never changes"
    for vector, again in zip(parallel, embeddings.embed(texts), strict=True):
        assert len(vector) == embeddings.DIMENSIONS == 384
        assert math.isclose(math.fsum(x * x for x in vector), 1.0, rel_tol=1e-4)
        assert vector == again


def test_a_project_is_recalled_after_a_restart(tmp_path: Path, intent_model: IntentModel) -> None:
    path = tmp_path / "qdrant"
    with VectorMemory(path=path) as first:
        first.remember_project(record("slack:T1", "aaaa0001", "why octopuses have three hearts"))
        first.remember_project(record("slack:T1", "aaaa0002", "the history of tea"))
    with VectorMemory(path=path) as again:
        (hit,) = again.similar("slack:T1", "the octopus and its three hearts", limit=1)
        assert (hit.project_id, hit.idea, hit.user) == (
            "aaaa0001",
            "why octopuses have three hearts",
            "U1",
        )
        assert hit.score > 0.7
        last = again.last_project("slack:T1", "U1")
        assert last is not None
        assert last.project_id == "aaaa0002"


def test_one_workspace_never_sees_another(memory: VectorMemory) -> None:
    memory.remember_project(record("slack:T1", "aaaa0001", "why octopuses have three hearts"))
    memory.remember_project(record("slack:T2", "bbbb0001", "volcanoes of iceland", user="U9"))
    assert [h.project_id for h in memory.similar("slack:T2", "octopus hearts", 5)] == ["bbbb0001"]
    assert memory.last_project("slack:T2", "U1") is None
    assert memory.similar("telegram:T1", "octopus hearts") == []
    assert memory.count("slack:T1") == 1


def test_a_revision_updates_the_remembered_script(memory: VectorMemory) -> None:
    memory.remember_project(record("slack:T1", "aaaa0001", "tea"))
    assert memory.remember_revision("slack:T1", "aaaa0001", "Tea, Shorter", "Tea is old.")
    assert not memory.remember_revision("slack:T2", "aaaa0001", "x", "y")
    stored = memory.get("slack:T1", "aaaa0001")
    assert stored is not None
    assert (stored["title"], stored["script"], stored["idea"]) == (
        "Tea, Shorter",
        "Tea is old.",
        "tea",
    )


# --- the engine with memory --------------------------------------------------------------------


def test_a_similar_topic_gets_a_heads_up_and_still_a_draft(engine: Engine) -> None:
    _, first = make(engine, "why octopuses have three hearts")
    text, second = make(engine, "the three hearts of an octopus, playful", conv(user="U2"))
    day = datetime.now(UTC)
    assert text.startswith(
        f"Heads-up: this workspace made a similar video on {day.day} {day:%b %Y}: "
        f"“{first.script.title}”.\n"
    )
    assert "Draft v1" in text
    assert second.id != first.id
    unrelated, _ = make(engine, "how sourdough starters work")
    assert not unrelated.startswith("Heads-up")


def test_no_heads_up_across_workspaces(engine: Engine) -> None:
    make(engine, "why octopuses have three hearts")
    text, _ = make(engine, "why octopuses have three hearts", conv(workspace="T2"))
    assert text.startswith("Draft v1")


def test_like_the_last_one_makes_the_same_idea_again(engine: Engine) -> None:
    _, first = make(engine, "40s on how black holes form, dramatic")
    make(engine, "the history of tea", conv(user="U2"))  # a teammate's project is not "mine"
    text, again = make(engine, "like the last one")
    assert text.startswith(f"Same idea as your last video here, “{first.script.title}”.")
    assert again.id != first.id
    assert again.script.idea == first.script.idea
    assert again.script.target_seconds == 40
    text = say(engine, "another one like the last")
    assert text.startswith("Same idea as your last video here")


def test_like_the_last_one_with_nothing_remembered_asks_for_an_idea(
    engine: Engine, redis_conn: redis.Redis
) -> None:
    assert say(engine, "make another like the last one") == replies.NO_LAST_PROJECT
    without_memory = engine_with(redis_conn, None)
    make(without_memory, "why cats purr", conv(user="U3"))
    assert say(without_memory, "same as last time", conv(user="U3")) == replies.NO_LAST_PROJECT


def test_each_version_is_remembered(engine: Engine, memory: VectorMemory) -> None:
    _, project = make(engine, "60s on why octopuses have three hearts")
    stored = memory.get(space(conv()), project.id)
    assert stored is not None
    assert stored["idea"] == "60s on why octopuses have three hearts"
    assert stored["script"].startswith(project.script.hook)
    assert say(engine, "shorter").startswith("v2: ")
    latest = ProjectStore(engine.redis).get(project.id)
    assert latest is not None
    revised = memory.get(space(conv()), project.id)
    assert revised is not None
    assert revised["script"] == "\n".join(latest.script.narration)
    assert revised["script"] != stored["script"]


def test_unsure_lines_are_read_by_meaning_when_memory_is_on(
    engine: Engine, redis_conn: redis.Redis
) -> None:
    assert say(engine, "I don't know how to use this") == replies.HELP
    rules_only = engine_with(redis_conn, None)
    assert say(rules_only, "I don't know how to use this") == replies.NO_PROJECT


def test_preferences_set_by_talking_apply_and_survive_a_new_engine(
    engine: Engine, redis_conn: redis.Redis, tmp_path: Path, memory: VectorMemory
) -> None:
    assert say(engine, "always 45 seconds").startswith("Got it — from now on: 45 s.")
    say(engine, "always make it 16:9")
    say(engine, "I prefer a playful tone")
    memory.close()
    with VectorMemory(path=tmp_path / "qdrant") as reopened:
        restarted = engine_with(redis_conn, reopened)
        text, project = make(restarted, "why octopuses have three hearts")
        assert "Using your defaults: 45 s, playful tone, landscape 16:9." in text
        script = project.script
        assert (script.target_seconds, script.aspect.value) == (45, "16:9")
        assert script.idea.endswith("playful")
        _, explicit = make(restarted, "20s on the history of tea, formal, vertical")
        assert (explicit.script.target_seconds, explicit.script.aspect.value) == (20, "9:16")
        assert explicit.script.idea.endswith("formal")


def test_a_failing_memory_never_costs_a_draft(
    redis_conn: redis.Redis,
    tmp_path: Path,
    intent_model: IntentModel,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = VectorMemory(path=tmp_path / "closed")
    broken.close()  # a real store that can no longer answer
    engine = engine_with(redis_conn, broken, intent_model)
    text, _ = make(engine, "why octopuses have three hearts")
    assert text.startswith("Draft v1")
    assert say(engine, "like the last one") == replies.NO_LAST_PROJECT
    assert "vector memory" in caplog.text
