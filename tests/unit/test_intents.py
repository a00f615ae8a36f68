"""The rule-based intent classifier against a labelled table of what people actually type."""

from __future__ import annotations

import pytest

from bot.intents import (
    LAST_SCENE,
    Intent,
    IntentKind,
    MemoryKind,
    PictureKind,
    PictureRequest,
    assets_argument,
    classify,
    command_intent,
    picture_request,
    scene_number,
    slash_command,
)
from pipeline.media.model import Look

K = IntentKind

EXAMPLES: list[tuple[str, IntentKind, str]] = [
    # make: commands and requests, with the idea extracted
    ("/make why octopuses have three hearts", K.MAKE, "why octopuses have three hearts"),
    ("/make 40s on why octopuses have three hearts, playful", K.MAKE,
     "40s on why octopuses have three hearts, playful"),
    ("/make@novacast_bot black holes", K.MAKE, "black holes"),
    ("/make", K.MAKE, ""),
    ("make a video about octopuses", K.MAKE, "octopuses"),
    ("Make a video about X", K.MAKE, "X"),
    ("Make a 40s video on why octopuses have three hearts, playful", K.MAKE,
     "a 40s video about why octopuses have three hearts, playful"),
    ("create a short about the moon landing", K.MAKE, "the moon landing"),
    ("new video: why cats purr", K.MAKE, "why cats purr"),
    ("video about bees", K.MAKE, "bees"),
    ("I want a video about volcanoes", K.MAKE, "volcanoes"),
    ("I'd like a video about volcanoes", K.MAKE, "volcanoes"),
    ("can you make me a funny clip explaining tides", K.MAKE, "a funny video about tides"),
    ("hey, can you create a short about the moon landing", K.MAKE, "the moon landing"),
    ("please generate a reel on sourdough starters", K.MAKE, "sourdough starters"),
    ("make one about sharks", K.MAKE, "sharks"),
    ("make another video about the Roman roads", K.MAKE, "the Roman roads"),
    ("make a video", K.MAKE, ""),
    # render
    ("render it", K.RENDER, ""),
    ("Render", K.RENDER, ""),
    ("go ahead and render", K.RENDER, ""),
    ("ok render it please", K.RENDER, ""),
    ("let's render", K.RENDER, ""),
    ("Looks good, render it!", K.RENDER, ""),
    ("/render", K.RENDER, ""),
    # approve
    ("approve", K.APPROVE, ""),
    ("looks good, publish", K.APPROVE, ""),
    ("Approve and publish", K.APPROVE, ""),
    ("publish it", K.APPROVE, ""),
    ("yes, publish it now", K.APPROVE, ""),
    ("ship it", K.APPROVE, ""),
    ("LGTM", K.APPROVE, ""),
    ("/approve", K.APPROVE, ""),
    # reject
    ("reject", K.REJECT, ""),
    ("reject it", K.REJECT, ""),
    ("no, don't publish", K.REJECT, ""),
    ("do not publish this", K.REJECT, ""),
    # cancel
    ("cancel", K.CANCEL, ""),
    ("never mind", K.CANCEL, ""),
    ("forget it", K.CANCEL, ""),
    ("stop rendering", K.CANCEL, ""),
    ("scrap the whole thing", K.CANCEL, ""),
    # undo
    ("undo", K.UNDO, ""),
    ("undo that", K.UNDO, ""),
    ("go back", K.UNDO, ""),
    ("revert", K.UNDO, ""),
    ("back to v1", K.UNDO, "1"),
    ("go back to version 2", K.UNDO, "2"),
    ("/undo v3", K.UNDO, "3"),
    # status
    ("what's the status", K.STATUS, ""),
    ("What’s the status?", K.STATUS, ""),
    ("status", K.STATUS, ""),
    ("how's it going", K.STATUS, ""),
    ("is it done yet?", K.STATUS, ""),
    ("where are we", K.STATUS, ""),
    # help
    ("help", K.HELP, ""),
    ("?", K.HELP, ""),
    ("what can you do", K.HELP, ""),
    ("how does this work?", K.HELP, ""),
    ("/start", K.HELP, ""),
    # schedule
    ("schedule it for friday 9am", K.SCHEDULE, "friday 9am"),
    ("schedule", K.SCHEDULE, ""),
    ("Schedule this for tomorrow at 9", K.SCHEDULE, "tomorrow at 9"),
    ("post it tomorrow at 9am", K.SCHEDULE, "tomorrow at 9am"),
    ("publish it on fri 18:00", K.SCHEDULE, "fri 18:00"),
    ("schedule every monday 9:00", K.SCHEDULE, "every monday 9:00"),
    # schedules: listing, cancelling, the time zone they are read in
    ("/schedules", K.SCHEDULES, ""),
    ("show my schedules", K.SCHEDULES, ""),
    ("what's scheduled?", K.SCHEDULES, ""),
    ("what is scheduled for next week", K.SCHEDULES, ""),
    ("cancel schedule a1B2c3D4", K.UNSCHEDULE, "a1B2c3D4"),
    ("unschedule it", K.UNSCHEDULE, ""),
    ("cancel the show", K.UNSCHEDULE, ""),
    ("/unschedule a1B2c3D4", K.UNSCHEDULE, "a1B2c3D4"),
    ("my time zone is Europe/Berlin", K.TIMEZONE, "Europe/Berlin"),
    ("set timezone to new york", K.TIMEZONE, "new york"),
    ("/timezone Asia/Tokyo", K.TIMEZONE, "Asia/Tokyo"),
    ("what's my timezone?", K.TIMEZONE, ""),
    # smalltalk
    ("hi", K.SMALLTALK, ""),
    ("thanks!", K.SMALLTALK, ""),
    ("looks good", K.SMALLTALK, ""),
    ("cool, thank you", K.SMALLTALK, ""),
    ("good morning", K.SMALLTALK, ""),
    # explicit refinements
    ("shorter", K.REFINE, "shorter"),
    ("make it shorter", K.REFINE, "make it shorter"),
    ("add a joke at the end", K.REFINE, "add a joke at the end"),
    ("more formal", K.REFINE, "more formal"),
    ("make the hook punchier", K.REFINE, "make the hook punchier"),
    ("render it but make it shorter first", K.REFINE, "render it but make it shorter first"),
    ("change the title to Heartbeat", K.REFINE, "change the title to Heartbeat"),
    ("make it a video about squid instead", K.REFINE, "make it a video about squid instead"),
    ("/revise", K.REFINE, ""),
    # anything else: the engine treats it as a refinement when there is a draft
    ("the video about bees is too long", K.UNKNOWN, "the video about bees is too long"),
    ("hmm, octopuses are weird", K.UNKNOWN, "hmm, octopuses are weird"),
    ("I don't like it", K.UNKNOWN, "I don't like it"),
    ("", K.UNKNOWN, ""),
    ("/frobnicate now", K.UNKNOWN, "frobnicate"),
]


def test_the_table_is_big_enough_to_mean_something() -> None:
    assert len(EXAMPLES) >= 60
    assert {kind for _, kind, _ in EXAMPLES} == set(IntentKind)


@pytest.mark.parametrize(("text", "kind", "argument"), EXAMPLES)
def test_classify(text: str, kind: IntentKind, argument: str) -> None:
    assert classify(text) == Intent(kind, argument)


def test_command_intent_reads_names_case_insensitively() -> None:
    assert command_intent("MAKE", "  cats ") == Intent(IntentKind.MAKE, "cats")
    assert command_intent("publish") == Intent(IntentKind.APPROVE)
    assert command_intent("undo", "to v2") == Intent(IntentKind.UNDO, "2")
    assert command_intent("nope") == Intent(IntentKind.UNKNOWN, "nope")


def test_slash_command_reads_slash_lines_only() -> None:
    assert slash_command("/make@novacast_bot cats") == Intent(IntentKind.MAKE, "cats")
    assert slash_command("  /Schedule tomorrow 9am") == Intent(IntentKind.SCHEDULE, "tomorrow 9am")
    assert slash_command("/frobnicate now") == Intent(IntentKind.UNKNOWN, "frobnicate")
    assert slash_command("make a video about cats") is None
    assert slash_command("") is None


@pytest.mark.parametrize("text", ["in 1 minute", "in 2 hours", "tomorrow", "every monday"])
def test_a_time_alone_is_never_a_preference(text: str) -> None:
    """The line alone; what it means in a conversation is `bot.reading`'s to decide."""
    assert classify(text).kind is not MemoryKind.PREFERENCE


def test_very_long_and_odd_input_does_not_hang_or_raise() -> None:
    assert classify("render " * 5000).kind is IntentKind.RENDER
    assert classify("\x00\u200b🐙" * 1000).kind is IntentKind.UNKNOWN
    assert classify("make a video about " + "x" * 20_000).kind is IntentKind.MAKE


# --- pictures ---------------------------------------------------------------------------------

P = PictureKind
PICTURE_LINES: list[tuple[str, PictureRequest]] = [
    ("another clip for scene 2", PictureRequest(P.ANOTHER, 2)),
    ("Different picture for the intro", PictureRequest(P.ANOTHER, 1)),
    ("a new picture for the second scene please", PictureRequest(P.ANOTHER, 2)),
    ("change the picture in scene three", PictureRequest(P.ANOTHER, 3)),
    ("for the ending: another clip", PictureRequest(P.ANOTHER, LAST_SCENE)),
    ("another clip for the last scene", PictureRequest(P.ANOTHER, LAST_SCENE)),
    ("another shot for the outro", PictureRequest(P.ANOTHER, LAST_SCENE)),
    ("different footage for the hook", PictureRequest(P.ANOTHER, 1)),
    ("another clip", PictureRequest(P.ANOTHER)),
    ("use a beach for the intro", PictureRequest(P.SEARCH, 1, query="beach")),
    ("show a lighthouse in scene 3", PictureRequest(P.SEARCH, 3, query="lighthouse")),
    ("use beach footage for the opening scene", PictureRequest(P.SEARCH, 1, query="beach")),
    ("show a clip of a lighthouse in the last scene",
     PictureRequest(P.SEARCH, LAST_SCENE, query="lighthouse")),
    ("for scene 3: a lighthouse at night",
     PictureRequest(P.SEARCH, 3, query="lighthouse at night")),
    ("use this for the intro", PictureRequest(P.UPLOAD, 1)),
    ("use my photo in scene 2", PictureRequest(P.UPLOAD, 2)),
    ("use it for scene 2", PictureRequest(P.UPLOAD, 2)),
    ("use the photo I sent for the ending", PictureRequest(P.UPLOAD, LAST_SCENE)),
    ("put my selfie in the opening", PictureRequest(P.UPLOAD, 1)),
    ("in the intro, use my clip", PictureRequest(P.UPLOAD, 1)),
    ("use #2 for scene three", PictureRequest(P.UPLOAD, 3, upload="2")),
    ("use asset 3 in scene 1", PictureRequest(P.UPLOAD, 1, upload="3")),
    ("use my photo", PictureRequest(P.UPLOAD)),
    ("no stock, just my photos", PictureRequest(P.LOOK, look=Look.OWN)),
    ("only my own clips", PictureRequest(P.LOOK, look=Look.OWN)),
    ("illustrated look", PictureRequest(P.LOOK, look=Look.ILLUSTRATED)),
    ("make it illustrated", PictureRequest(P.LOOK, look=Look.ILLUSTRATED)),
    ("AI generated images please", PictureRequest(P.LOOK, look=Look.ILLUSTRATED)),
    ("plain backgrounds", PictureRequest(P.LOOK, look=Look.PLAIN)),
    ("just the gradients", PictureRequest(P.LOOK, look=Look.PLAIN)),
    ("no pictures at all", PictureRequest(P.LOOK, look=Look.PLAIN)),
    ("back to stock footage", PictureRequest(P.LOOK, look=Look.STOCK)),
    ("my uploads", PictureRequest(P.ASSETS)),
    ("show my photos", PictureRequest(P.ASSETS)),
    ("delete asset 3", PictureRequest(P.ASSETS)),
]


@pytest.mark.parametrize(("text", "request_"), PICTURE_LINES)
def test_picture_lines_are_read_with_their_scene(text: str, request_: PictureRequest) -> None:
    assert picture_request(text) == request_
    argument = assets_argument(text) if request_.kind is P.ASSETS else text
    assert classify(text) == Intent(request_.kind, argument)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("use simpler words for the intro", K.REFINE),  # the words, not the pictures
        ("use simpler words for kids", K.REFINE),
        ("swap the ending for a question", K.REFINE),
        ("the second scene drags", K.REFINE),
        ("drop the last scene", K.REFINE),
        ("can you make me a clip explaining photosynthesis", K.MAKE),
        ("make a video about beaches", K.MAKE),
        ("undo", K.UNDO),
        ("show it", K.UNKNOWN),
    ],
)
def test_lines_about_the_words_are_not_picture_changes(text: str, kind: IntentKind) -> None:
    assert picture_request(text) is None
    assert classify(text).kind is kind


def test_assets_is_a_command_whose_argument_says_what_to_delete() -> None:
    assert classify("/assets") == Intent(P.ASSETS, "")
    assert classify("/assets delete 4") == Intent(P.ASSETS, "delete 4")
    assert classify("delete upload #2") == Intent(P.ASSETS, "delete 2")
    assert classify("remove asset 3fa9c0d1e2b4") == Intent(P.ASSETS, "delete 3fa9c0d1e2b4")


@pytest.mark.parametrize(
    ("place", "number"),
    [("scene 2", 2), ("the intro", 1), ("the hook", 1), ("the opening", 1), ("scene two", 2),
     ("the 3rd scene", 3), ("the ending", LAST_SCENE), ("the outro", LAST_SCENE),
     ("the last scene", LAST_SCENE), ("the final one", LAST_SCENE), ("kids", None),
     ("scene banana", None), ("the beach", None)],
)
def test_scenes_are_numbered_as_people_say_them(place: str, number: int | None) -> None:
    assert scene_number(place) == number
