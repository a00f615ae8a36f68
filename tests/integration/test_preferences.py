"""Preferences set by talking: reading the statements, storing them in Redis, applying them."""

from __future__ import annotations

import pytest
import redis

from bot.engine import Engine
from bot.events import CommandEvent, Conversation, MessageEvent
from bot.handlers import Context
from bot.intents import IntentKind, MemoryKind, classify
from bot.preferences import Preferences, PreferenceStore, Verb, apply, read_statement
from bot.project import ProjectStore
from pipeline.brief import Tone, parse_brief
from pipeline.script import Aspect
from pipeline.writers.offline import OfflineWriter
from policy import load_policy
from tests.integration.test_engine import RecordingJobs, said

P = Preferences

STATEMENTS: list[tuple[str, Preferences]] = [
    ("always 45 seconds", P(seconds=45)),
    ("always make it 16:9", P(aspect=Aspect.LANDSCAPE)),
    ("calm voice", P(tone=Tone.CALM)),
    ("I prefer a playful tone", P(tone=Tone.PLAYFUL)),
    ("from now on square videos", P(aspect=Aspect.SQUARE)),
    (
        "From now on, make all my videos 30s, formal and vertical.",
        P(seconds=30, tone=Tone.FORMAL, aspect=Aspect.VERTICAL),
    ),
    ("by default use a deep voice", P(voice="deep")),
    ("I’d prefer landscape videos going forward", P(aspect=Aspect.LANDSCAPE)),
    ("my videos should always be a minute long", P(seconds=60)),
    ("default to 9:16", P(aspect=Aspect.VERTICAL)),
]
NOT_STATEMENTS = [
    "always make a video about cats",
    "make it shorter",
    "make it 30 seconds",
    "more formal",
    "use a calm voice for the hook and make it shorter",
    "I like it",
    "forget it",
    "render it",
]


@pytest.mark.parametrize(("text", "wanted"), STATEMENTS)
def test_statements_are_read(text: str, wanted: Preferences) -> None:
    assert read_statement(text) == read_statement(text, bare=True)
    statement = read_statement(text)
    assert statement is not None
    assert (statement.verb, statement.preferences) == (Verb.SET, wanted)
    assert classify(text).kind is MemoryKind.PREFERENCE


@pytest.mark.parametrize("text", NOT_STATEMENTS)
def test_other_lines_are_not_statements(text: str) -> None:
    assert read_statement(text) is None
    assert classify(text).kind is not MemoryKind.PREFERENCE


def test_forget_and_show() -> None:
    forget = read_statement("forget my preferences")
    assert forget is not None
    assert (forget.verb, forget.fields) == (Verb.FORGET, frozenset())
    tone = read_statement("please reset my tone preference")
    assert tone is not None
    assert (tone.verb, tone.fields) == (Verb.FORGET, frozenset({"tone"}))
    show = read_statement("what are my preferences?")
    assert show is not None
    assert show.verb is Verb.SHOW


def test_words_in_the_idea_win_over_preferences() -> None:
    prefs = P(seconds=45, tone=Tone.PLAYFUL, aspect=Aspect.SQUARE, voice="deep")
    brief, used = apply(parse_brief("20s on tea, formal"), prefs)
    assert (brief.seconds, brief.tone, brief.aspect) == (20, Tone.FORMAL, Aspect.SQUARE)
    assert used == P(aspect=Aspect.SQUARE)
    brief, used = apply(parse_brief("tea"), prefs)
    assert (brief.seconds, brief.tone, brief.aspect) == (45, Tone.PLAYFUL, Aspect.SQUARE)
    assert used.describe() == "45 s, playful tone, square 1:1"
    assert apply(parse_brief("tea"), P()) == (parse_brief("tea"), P())


def conv(user: str = "U1", workspace: str = "T1", adapter: str = "slack") -> Conversation:
    return Conversation(adapter=adapter, workspace=workspace, channel="C1", user=user)


def test_the_store_merges_forgets_and_keeps_people_apart(redis_conn: redis.Redis) -> None:
    store = PreferenceStore(redis_conn)
    store.update(conv(), P(seconds=45))
    assert store.update(conv(), P(tone=Tone.CALM)) == P(seconds=45, tone=Tone.CALM)
    assert store.get(conv(user="U2")) == P()
    assert store.get(conv(workspace="T2")) == P()
    assert store.get(conv(adapter="discord")) == P()
    store.forget(conv(), frozenset({"tone"}))
    assert store.get(conv()) == P(seconds=45)
    store.forget(conv())
    assert store.get(conv()) == P()
    assert redis_conn.ttl("novacast:prefs:slack:T1:U1") == -2


@pytest.fixture
def engine(redis_conn: redis.Redis) -> Engine:
    """Preferences need no vector memory: the engine without it."""
    return Engine(redis_conn, OfflineWriter(), RecordingJobs(), load_policy())


def say(engine: Engine, text: str, c: Conversation | None = None) -> str:
    return said(engine.handle(MessageEvent(conversation=c or conv(), text=text)))


def test_talking_sets_shows_and_forgets(engine: Engine, redis_conn: redis.Redis) -> None:
    assert say(engine, "always 45 seconds") == (
        "Got it — from now on: 45 s.\nYour defaults: 45 s. Words in an idea still win. "
        "Say “forget my preferences” to drop them."
    )
    assert "Your next render uses it" in say(engine, "deep voice from now on")
    assert say(engine, "show my preferences") == (
        "Your defaults: 45 s, deep voice. Say “forget my preferences” to drop them."
    )
    assert redis_conn.ttl("novacast:prefs:slack:T1:U1") == -1, "kept with no expiry"
    assert say(engine, "forget my voice preference") == (
        "Done — I've forgotten your voice preference. Still set: 45 s."
    )
    assert say(engine, "forget my preferences").startswith("Done — I've forgotten your preferences")
    assert say(engine, "what are my preferences").startswith("You have no defaults set.")


def test_a_bare_preference_counts_only_without_a_draft(engine: Engine) -> None:
    assert say(engine, "square videos").startswith("Got it — from now on: square 1:1.")
    engine.handle(CommandEvent(conversation=conv(), name="make", args="60s on tea"))
    project = ProjectStore(engine.redis).active(conv())
    assert project is not None
    assert project.script.aspect is Aspect.SQUARE
    assert say(engine, "45 seconds").startswith("v2: ")  # with a draft, it's a change to it


def test_the_next_make_uses_the_preferences(engine: Engine) -> None:
    say(engine, "from now on make all my videos 30s, calm and landscape")
    text = said(engine.handle(CommandEvent(conversation=conv(), name="make", args="tea")))
    assert text.startswith("Using your defaults: 30 s, calm tone, landscape 16:9.\n\nDraft v1")
    project = ProjectStore(engine.redis).active(conv())
    assert project is not None
    assert (project.script.target_seconds, project.script.aspect) == (30, Aspect.LANDSCAPE)
    other = conv(user="U2")
    engine.handle(CommandEvent(conversation=other, name="make", args="tea"))
    theirs = ProjectStore(engine.redis).active(other)
    assert theirs is not None
    assert theirs.script.aspect is Aspect.VERTICAL


def test_a_preference_classified_by_meaning_that_names_nothing_asks_again(engine: Engine) -> None:
    assert engine.handlers.preference(_ctx(), "from now on do it the usual way") == (
        engine.handlers.preference(_ctx(), "from now on")
    )
    assert "Which default should I keep?" in said(engine.handlers.preference(_ctx(), "hmm"))


def _ctx() -> Context:
    return Context(MessageEvent(conversation=conv(), text="x"))


def test_rules_keep_their_old_readings() -> None:
    assert classify("forget it").kind is IntentKind.CANCEL
    assert classify("make it shorter").kind is IntentKind.REFINE
