"""The order a line is read in (`bot.reading.READING_ORDER`), through the real core on real Redis.

Lines that could be read more than one way are typed in every stage of a conversation, with the
rule-based classifier and with the embedding fallback that runs when memory is on (the one the
bug was found with: it reads "in 1 minute" as a length preference). Each case checks what the
user reads and what the bot did: scheduled or not, preference stored or not, which version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from bot import replies
from bot.engine import Engine
from bot.events import ReplyTarget
from bot.intent_model import IntentModel
from bot.intents import Intent, classify
from bot.preferences import PreferenceStore
from bot.project import Project, ProjectStore
from bot.reading import Stage
from bot.schedule_store import ScheduleStore
from pipeline.media.assets import AssetStore
from pipeline.media.director import Director, director_from_env
from pipeline.memory import embeddings
from pipeline.settings import load_settings
from pipeline.writers.offline import OfflineWriter
from policy import parse_policy
from tests.integration.test_engine import (
    RecordingJobs,
    cmd,
    conv,
    make,
    msg,
    press,
    said,
    to_preview,
)
from tests.integration.test_scheduling_chat import tomorrow_at

Classifier = Callable[[str], Intent]
IDEA = "20s on why octopuses have three hearts"


@pytest.fixture(autouse=True)
def _default_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOVACAST_TIMEZONE", raising=False)


@pytest.fixture(scope="module")
def model() -> IntentModel:
    embeddings.load()
    model = IntentModel()
    model.warm()
    return model


@pytest.fixture(params=["rules", "embeddings"])
def classifier(request: pytest.FixtureRequest) -> Classifier:
    if request.param == "rules":
        return classify
    model: IntentModel = request.getfixturevalue("model")
    return model


class Jobs(RecordingJobs):
    """Records prefetches too (drafts have pictures here: the built-in backgrounds)."""

    def __init__(self) -> None:
        super().__init__()
        self.prefetches: list[tuple[str, int]] = []

    def prefetch(self, project_id: str, version: int, target: ReplyTarget) -> list[str]:
        del target
        self.prefetches.append((project_id, version))
        return [f"prefetch:{project_id}:v{version}"]


@pytest.fixture
def jobs() -> Jobs:
    return Jobs()


@pytest.fixture
def engine(
    redis_conn: redis.Redis, jobs: Jobs, classifier: Classifier, data_dir: Path
) -> Engine:
    """The core with pictures and no picture keys: a director over the built-in backgrounds."""
    del data_dir  # the asset store and the media folders live under it for this test
    settings = load_settings()

    def director(workspace: str) -> Director:
        return director_from_env(redis_conn, settings, workspace, environ={})

    return Engine(redis_conn, OfflineWriter(), jobs, parse_policy({}), classifier=classifier,
                  pictures=director, assets=AssetStore(redis_conn, settings.assets_dir))


@pytest.fixture
def store(redis_conn: redis.Redis) -> ProjectStore:
    return ProjectStore(redis_conn)


def at_stage(engine: Engine, store: ProjectStore, stage: Stage) -> Project | None:
    """A conversation in `stage`; its video (20 s) has two versions, v2 the current one."""
    if stage is Stage.NO_PROJECT:
        return None
    project = make(engine, store, IDEA)
    assert said(engine.handle(msg("more formal"))).startswith("v2: ")
    if stage is Stage.DRAFT:
        return store.get(project.id)
    if stage is Stage.RENDERING:
        engine.handle(press("render", project.id))
        return store.get(project.id)
    project = to_preview(engine, store, store.get(project.id))  # type: ignore[arg-type]
    if stage is Stage.APPROVED:
        engine.handle(press("approve", project.id))
    if stage is Stage.AWAITING_TIME:
        assert said(engine.handle(press("schedule", project.id))) == replies.ask_when("UTC")
    return store.get(project.id)


# --- what the bot should do -------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """The reply starts with `reply`; a schedule exists when `at` says when it runs; the length
    preference is `seconds`; the video's current version is `version` (2 when unchanged)."""

    reply: str
    at: Callable[[datetime], datetime] | None = None
    seconds: int | None = None
    version: int = 2


def in_(delta: timedelta) -> Callable[[datetime], datetime]:
    return lambda now: now + delta


def tomorrow_9(now: datetime) -> datetime:
    return tomorrow_at(9, "UTC", now)


SCHEDULED = "Scheduled “"
RENDER_FIRST = "Render it first: I schedule a video once you've seen its preview."
SCHEDULE_AFTER_RENDER = "It's still rendering: once the preview is here, press Schedule"
STILL_RENDERING = "It's still rendering — I'll post the preview here."
ALREADY = "Already approved — publishing is under way."
APPROVED_FIXED = "This video is already approved, so it can't change now"
NOT_A_TIME = "I couldn't read “yes” as a time."
NO_SECONDS = "I can count ahead in minutes, hours, days or weeks."
SMALLTALK = "(small talk for the stage)"
ANOTHER = "v3: scene 2 has other background colours"
WRITER_UNSURE = "No change made: I did not understand that."
N, D, R, P, A, W = (Stage.NO_PROJECT, Stage.DRAFT, Stage.RENDERING, Stage.PREVIEW,
                    Stage.APPROVED, Stage.AWAITING_TIME)

EXPECTED: dict[str, dict[Stage, Outcome]] = {
    # A time: schedules where there is a preview to schedule; says why not elsewhere. Never a
    # length preference, never an edit.
    "in 1 minute": {
        N: Outcome(replies.NOTHING_TO_SCHEDULE), D: Outcome(RENDER_FIRST),
        R: Outcome(SCHEDULE_AFTER_RENDER), P: Outcome(SCHEDULED, at=in_(timedelta(minutes=1))),
        A: Outcome(ALREADY), W: Outcome(SCHEDULED, at=in_(timedelta(minutes=1))),
    },
    "in 2 hours": {
        N: Outcome(replies.NOTHING_TO_SCHEDULE), D: Outcome(RENDER_FIRST),
        R: Outcome(SCHEDULE_AFTER_RENDER), P: Outcome(SCHEDULED, at=in_(timedelta(hours=2))),
        A: Outcome(ALREADY), W: Outcome(SCHEDULED, at=in_(timedelta(hours=2))),
    },
    "tomorrow": {
        N: Outcome(replies.NOTHING_TO_SCHEDULE), D: Outcome(RENDER_FIRST),
        R: Outcome(SCHEDULE_AFTER_RENDER), P: Outcome(SCHEDULED, at=tomorrow_9),
        A: Outcome(ALREADY), W: Outcome(SCHEDULED, at=tomorrow_9),
    },
    # A length: a default with no video, an edit of the video, and in answer to "When?" a time
    # the scheduler can't count in (nothing changes; the question stays open).
    "30 seconds": {
        N: Outcome("Got it — from now on: 30 s.", seconds=30), D: Outcome("v3: ", version=3),
        R: Outcome(STILL_RENDERING), P: Outcome("v3: ", version=3),
        A: Outcome(APPROVED_FIXED), W: Outcome(NO_SECONDS),
    },
    # An explicit edit: an edit wherever the video can change, even while a time is awaited.
    "make it 45s": {
        N: Outcome(replies.NO_PROJECT), D: Outcome("v3: ", version=3),
        R: Outcome(STILL_RENDERING), P: Outcome("v3: ", version=3),
        A: Outcome(APPROVED_FIXED), W: Outcome("v3: ", version=3),
    },
    # A recurring time: one video goes out once (shows are made with /make every …).
    "every monday": {
        N: Outcome(replies.NOTHING_TO_SCHEDULE), D: Outcome(RENDER_FIRST),
        R: Outcome(SCHEDULE_AFTER_RENDER), P: Outcome(replies.ONE_VIDEO_ONCE),
        A: Outcome(replies.ONE_VIDEO_ONCE), W: Outcome(replies.ONE_VIDEO_ONCE),
    },
    # A button's word: undo, where the video can change.
    "undo": {
        N: Outcome(replies.NO_PROJECT), D: Outcome("Back to v1.", version=1),
        R: Outcome(STILL_RENDERING), P: Outcome("Back to v1.", version=1),
        A: Outcome(APPROVED_FIXED), W: Outcome("Back to v1.", version=1),
    },
    # The pictures, not the words: a new version wherever the video can change (even while a
    # time is awaited, like any edit); the writer never sees it.
    "another clip for scene 2": {
        N: Outcome(replies.NO_PROJECT), D: Outcome(ANOTHER, version=3),
        R: Outcome(STILL_RENDERING), P: Outcome(ANOTHER, version=3),
        A: Outcome(APPROVED_FIXED), W: Outcome(ANOTHER, version=3),
    },
    # No image generation without an OpenAI key: the draft stays as it is.
    "illustrated look": {
        N: Outcome(replies.NO_PROJECT), D: Outcome(replies.NO_ILLUSTRATIONS),
        R: Outcome(STILL_RENDERING), P: Outcome(replies.NO_ILLUSTRATIONS),
        A: Outcome(APPROVED_FIXED), W: Outcome(replies.NO_ILLUSTRATIONS),
    },
    # Words for a scene are the writer's ("the intro" is in it, but no picture is asked for).
    "use simpler words for the intro": {
        N: Outcome(replies.NO_PROJECT), D: Outcome(WRITER_UNSURE),
        R: Outcome(STILL_RENDERING), P: Outcome(WRITER_UNSURE),
        A: Outcome(APPROVED_FIXED), W: Outcome(WRITER_UNSURE),
    },
    # Not a button: small talk (it never approves), and no answer to "When?".
    "yes": {
        N: Outcome(SMALLTALK), D: Outcome(SMALLTALK), R: Outcome(SMALLTALK),
        P: Outcome(SMALLTALK), A: Outcome(SMALLTALK), W: Outcome(NOT_A_TIME),
    },
}
CASES = [(line, stage) for line, by_stage in EXPECTED.items() for stage in by_stage]


def test_every_line_is_decided_for_every_stage() -> None:
    assert all(set(by_stage) == set(Stage) - {Stage.FINISHED} for by_stage in EXPECTED.values())


@pytest.mark.parametrize(("line", "stage"), CASES, ids=[f"{s.name}-{li}" for li, s in CASES])
def test_an_ambiguous_line_is_read_for_the_stage_it_is_typed_in(
    engine: Engine, store: ProjectStore, redis_conn: redis.Redis, jobs: RecordingJobs,
    line: str, stage: Stage,
) -> None:
    expected = EXPECTED[line][stage]
    project = at_stage(engine, store, stage)
    publishes = len(jobs.publishes)
    before = datetime.now(UTC)
    text = said(engine.handle(msg(line)))
    after = datetime.now(UTC)

    if expected.reply is SMALLTALK:
        assert text == replies.smalltalk(project)
    else:
        assert text.startswith(expected.reply), text
    assert PreferenceStore(redis_conn).get(conv()).seconds == expected.seconds
    assert len(jobs.publishes) == publishes, "nothing published on the spot"
    if project is None:
        assert store.active(conv()) is None
        assert ScheduleStore(redis_conn).for_workspace("slack", "T1") == []
        return
    now = store.get(project.id)
    assert now is not None
    assert now.current == expected.version
    scheduled = ScheduleStore(redis_conn).for_project(project.id)
    if expected.at is None:
        assert scheduled == []
        return
    (schedule,) = scheduled
    assert schedule.version == 2
    assert schedule.next_at is not None
    assert expected.at(before) - timedelta(seconds=1) <= schedule.next_at
    assert schedule.next_at <= expected.at(after) + timedelta(seconds=1)


# --- the bug, and what must keep working while a time is awaited ------------------------------


def test_schedule_then_in_1_minute_schedules_and_stores_no_preference(
    engine: Engine, store: ProjectStore, redis_conn: redis.Redis
) -> None:
    """The issue's case: press Schedule, answer "in 1 minute"."""
    project = to_preview(engine, store, make(engine, store))
    assert said(engine.handle(press("schedule", project.id))).startswith("When should it go out?")
    before = datetime.now(UTC)
    text = said(engine.handle(msg("in 1 minute")))
    after = datetime.now(UTC)
    assert text.startswith(f"Scheduled “{project.script.title}” (v1) for ")
    assert not text.startswith("Got it")
    (schedule,) = ScheduleStore(redis_conn).for_project(project.id)
    assert schedule.next_at is not None
    assert before + timedelta(seconds=59) <= schedule.next_at <= after + timedelta(seconds=61)
    assert PreferenceStore(redis_conn).get(conv()).empty, "no preference was stored"
    assert redis_conn.hgetall("novacast:prefs:slack:T1:U1") == {}


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        ("32nd of May", "May has no 32nd"),
        ("in 30 seconds", NO_SECONDS),
        ("banana", "I couldn't read “banana” as a time."),
        ("2 hours", SCHEDULED),
        ("fri 18:00", SCHEDULED),
    ],
)
def test_while_a_time_is_awaited_times_and_broken_times_are_answered_as_times(
    engine: Engine, store: ProjectStore, redis_conn: redis.Redis, line: str, reply: str
) -> None:
    project = at_stage(engine, store, Stage.AWAITING_TIME)
    assert project is not None
    assert said(engine.handle(msg(line))).startswith(reply)
    scheduled = ScheduleStore(redis_conn).for_project(project.id)
    assert len(scheduled) == (1 if reply is SCHEDULED else 0)
    assert PreferenceStore(redis_conn).get(conv()).empty


def test_while_a_time_is_awaited_commands_and_preferences_still_work(
    engine: Engine, store: ProjectStore, redis_conn: redis.Redis
) -> None:
    project = at_stage(engine, store, Stage.AWAITING_TIME)
    assert project is not None
    saved = said(engine.handle(msg("always 45 seconds")))
    assert saved.startswith("Got it — from now on: 45 s.")
    assert PreferenceStore(redis_conn).get(conv()).seconds == 45
    show = said(engine.handle(cmd("make", "every monday 9:00, a space-news recap")))
    assert show.startswith("Show set up: every Monday at 09:00 (UTC)")
    assert said(engine.handle(msg("/frobnicate now"))) == replies.unknown_command("frobnicate")
    assert said(engine.handle(cmd("frobnicate"))) == replies.unknown_command("frobnicate")
    assert ScheduleStore(redis_conn).for_project(project.id) == [], "the question is still open"
    assert said(engine.handle(msg("tomorrow"))).startswith(SCHEDULED)
    assert len(ScheduleStore(redis_conn).for_project(project.id)) == 1


def test_a_new_video_about_a_day_is_not_an_answer(
    engine: Engine, store: ProjectStore, redis_conn: redis.Redis
) -> None:
    project = at_stage(engine, store, Stage.AWAITING_TIME)
    assert project is not None
    text = said(engine.handle(msg("make a video about sunday brunch")))
    assert text.startswith("Draft v1")
    assert ScheduleStore(redis_conn).for_project(project.id) == []


def test_each_version_with_pictures_is_prefetched_and_undo_needs_no_new_fetch(
    engine: Engine, store: ProjectStore, jobs: Jobs
) -> None:
    project = at_stage(engine, store, Stage.DRAFT)
    assert project is not None
    assert jobs.prefetches == [(project.id, 1), (project.id, 2)]
    assert said(engine.handle(msg("another clip for scene 2"))).startswith(ANOTHER)
    assert said(engine.handle(msg("undo"))).startswith("Back to v2.")
    assert jobs.prefetches == [(project.id, 1), (project.id, 2), (project.id, 3)]
