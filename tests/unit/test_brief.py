"""Reading requests in plain words: topic, length, tone and frame shape; never a crash."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.brief import MAX_TOPIC_CHARS, Brief, Tone, find_duration, parse_brief
from pipeline.script import Aspect
from pipeline.text import one_line as clean_text


@pytest.mark.parametrize(
    ("text", "topic", "seconds", "tone", "aspect"),
    [
        (
            "40s on why octopuses have three hearts, playful",
            "why octopuses have three hearts",
            40,
            Tone.PLAYFUL,
            None,
        ),
        (
            "a 1 minute video about black holes, formal, 16:9",
            "black holes",
            60,
            Tone.FORMAL,
            Aspect.LANDSCAPE,
        ),
        ("why cats purr", "why cats purr", None, Tone.NEUTRAL, None),
        (
            "/make why octopuses have three hearts",
            "why octopuses have three hearts",
            None,
            Tone.NEUTRAL,
            None,
        ),
        (
            "90 seconds: how bees make honey (vertical)",
            "how bees make honey",
            90,
            Tone.NEUTRAL,
            Aspect.VERTICAL,
        ),
        (
            "1m30s about the roman empire in a dramatic tone",
            "the roman empire",
            90,
            Tone.DRAMATIC,
            None,
        ),
        ("make a calm square video about sleep", "sleep", None, Tone.CALM, Aspect.SQUARE),
        (
            "explain why the sky is blue, keep it chill",
            "why the sky is blue",
            None,
            Tone.CALM,
            None,
        ),
        ("black holes in 40 sec", "black holes", 40, Tone.NEUTRAL, None),
        ("tides, landscape", "tides", None, Tone.NEUTRAL, Aspect.LANDSCAPE),
        ("a half-minute clip on tides, 1:1", "tides", 30, Tone.NEUTRAL, Aspect.SQUARE),
        (
            "Star Wars: the history, 9x16",
            "Star Wars: the history",
            None,
            Tone.NEUTRAL,
            Aspect.VERTICAL,
        ),
        ("tell me about cats", "cats", None, Tone.NEUTRAL, None),
    ],
)
def test_reads_requests(
    text: str, topic: str, seconds: int | None, tone: Tone, aspect: Aspect | None
) -> None:
    assert parse_brief(text) == Brief(topic=topic, seconds=seconds, tone=tone, aspect=aspect)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("40s", 40),
        ("40 sec", 40),
        ("1 min", 60),
        ("90 seconds", 90),
        ("1m30s", 90),
        ("1 minute 30 seconds", 90),
        ("a 40-second video", 40),
        ("1.5 min", 90),
        ("two minutes", 120),
        ("half a minute", 30),
        ("a minute and a half", 90),
        ("one minute", 60),
    ],
)
def test_durations(text: str, seconds: int) -> None:
    found = find_duration(text)
    assert found is not None
    assert found.seconds == seconds


@pytest.mark.parametrize(
    "text", ["music of the 80s", "the 1980s", "why 5m people moved", "fashion in the late 90s"]
)
def test_decades_and_millions_are_not_durations(text: str) -> None:
    assert parse_brief(text).seconds is None
    assert parse_brief(text).topic == text


def test_topic_words_that_look_like_modifiers_stay_in_the_topic() -> None:
    assert parse_brief("the speed of light").topic == "the speed of light"
    assert parse_brief("why the square root of two is irrational").aspect is None
    assert parse_brief("a calm sea at night").tone is Tone.NEUTRAL


def test_odd_unicode_is_normalised() -> None:
    brief = parse_brief("\u202e４０ｓ on why\u0000 cats\u200b purr\x07, ＰＬＡＹＦＵＬ")
    assert brief == Brief(topic="why cats purr", seconds=40, tone=Tone.PLAYFUL)
    assert parse_brief("🐙🐙, playful").topic == "🐙🐙"
    assert parse_brief("لماذا تخرخر القطط، 30s").seconds == 30


def test_empty_topic_is_left_to_the_caller() -> None:
    assert parse_brief("40s, playful") == Brief(topic="", seconds=40, tone=Tone.PLAYFUL)
    assert parse_brief("").topic == ""


def test_long_text_is_capped() -> None:
    brief = parse_brief("why " + "very " * 5000 + "long")
    assert 0 < len(brief.topic) <= MAX_TOPIC_CHARS


def test_clean_text_keeps_emoji_joiners() -> None:
    family = "👩\u200d👩\u200d👧"
    assert clean_text(f"  a\tb\n{family}\u202e ") == f"a b {family}"


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=400))
def test_never_raises(text: str) -> None:
    brief = parse_brief(text)
    assert len(brief.topic) <= MAX_TOPIC_CHARS
    assert brief.seconds is None or brief.seconds >= 1


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "40s",
                "on",
                "about",
                "why",
                ",",
                "playful",
                "16:9",
                "1 min",
                "square",
                "(",
                ")",
                ":",
                "the",
                "cats",
                "in",
                "a",
                "tone",
                "-",
                "video",
                "1m30s",
                "’",
                "80s",
            ]
        ),
        max_size=20,
    ).map(" ".join)
)
def test_never_raises_on_request_like_text(text: str) -> None:
    parse_brief(text)
