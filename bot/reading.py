"""The order in which a line of chat is read: one table of readers, walked top to bottom.

A typed line can mean several things. "in 1 minute" is a time, and also a length; "30 seconds"
is a length, and in answer to "When should it go out?" a time; "undo" is a button's word and
could be an edit. `bot.intents.classify` (or the embedding model that stands in for it) reads a
line alone; this module decides what the line means *here*, from the conversation's `Stage`.

`READING_ORDER` is the whole decision. Each reader gets the `Situation` and the line and returns
an `Intent`, or None to pass the line on; the first intent wins. Buttons pressed on a platform
are not lines and never come here: their action is explicit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from bot.intents import (
    Intent,
    IntentKind,
    Kind,
    MemoryKind,
    PictureKind,
    ReadingKind,
    slash_command,
)
from bot.preferences import read_statement
from bot.project import Project, ProjectState
from bot.schedule_chat import as_answer, looks_like_time

log = logging.getLogger(__name__)


class Stage(StrEnum):
    """Where the conversation is, as far as reading a line goes."""

    NO_PROJECT = "no project"
    DRAFT = "draft"
    RENDERING = "rendering"
    PREVIEW = "preview"
    APPROVED = "approved"
    FINISHED = "finished"
    """The active video was published, rejected or cancelled: nothing in it can change."""
    AWAITING_TIME = "awaiting a time"
    """Schedule was pressed and the bot asked "When should it go out?"; the video is in preview."""


_STAGE_OF = {
    ProjectState.DRAFT: Stage.DRAFT,
    ProjectState.RENDERING: Stage.RENDERING,
    ProjectState.PREVIEW: Stage.PREVIEW,
    ProjectState.APPROVED: Stage.APPROVED,
    ProjectState.PUBLISHED: Stage.FINISHED,
    ProjectState.REJECTED: Stage.FINISHED,
    ProjectState.CANCELLED: Stage.FINISHED,
}


def stage_of(project: Project | None, *, awaiting_time: bool = False) -> Stage:
    """The stage of a conversation whose active video is `project`."""
    if awaiting_time:
        return Stage.AWAITING_TIME
    return Stage.NO_PROJECT if project is None else _STAGE_OF[project.state]


@dataclass(frozen=True)
class Situation:
    """What a reader knows besides the line: the stage, the classifier (rules, or rules with
    the embedding fallback; the engine calls it at most once per line) and whether a text is
    a time the user could schedule at (in their time zone, now)."""

    stage: Stage
    classify: Callable[[str], Intent]
    reads_as_time: Callable[[str], bool]

    @property
    def awaiting_time(self) -> bool:
        return self.stage is Stage.AWAITING_TIME


Reader = Callable[[Situation, str], Intent | None]

BUTTON_WORDS: frozenset[Kind] = frozenset(
    {IntentKind.RENDER, IntentKind.APPROVE, IntentKind.REJECT, IntentKind.CANCEL, IntentKind.UNDO}
)
"""What a button does, typed as a word: "render", "looks good, publish", "undo", "cancel"."""
COMMAND_KINDS: frozenset[Kind] = frozenset(
    {
        IntentKind.MAKE,
        IntentKind.SCHEDULE,
        IntentKind.SCHEDULES,
        IntentKind.UNSCHEDULE,
        IntentKind.TIMEZONE,
        IntentKind.HELP,
        IntentKind.STATUS,
    }
)
"""Lines that read like a command without the slash: "make a video about…", "schedule it…"."""
PICTURE_KINDS: frozenset[Kind] = frozenset(PictureKind)
"""Lines about the pictures: "another clip for scene 2", "illustrated look", "my uploads"."""
UNREADABLE: frozenset[Kind] = frozenset({IntentKind.UNKNOWN, IntentKind.SMALLTALK})
"""What the classifier says of a line it can't place, or that asks for nothing ("yes", "ok")."""


def awaited_time(situation: Situation, line: str) -> Intent | None:
    """While a time is awaited, a line that reads as one is the answer, whatever else it could
    be: "in 1 minute" is not a length here, "2 hours" means in two hours."""
    if not situation.awaiting_time or _slash(line):
        return None
    return Intent(ReadingKind.ANSWER, line) if situation.reads_as_time(as_answer(line)) else None


def button_word(situation: Situation, line: str) -> Intent | None:
    """A button's word typed out ("render", "approve", "undo"): as if the button were pressed."""
    if _slash(line):
        return None
    intent = situation.classify(line)
    return intent if intent.kind in BUTTON_WORDS else None


def picture(situation: Situation, line: str) -> Intent | None:
    """A change of pictures ("another clip for scene 2", "use a beach for the intro", "use my
    photo in scene 2"), a look ("illustrated look", "no stock, just my photos") or the uploads
    ("my uploads", "delete asset 3"). /assets is a command."""
    if _slash(line):
        return None
    intent = situation.classify(line)
    return intent if intent.kind in PICTURE_KINDS else None


def command(situation: Situation, line: str) -> Intent | None:
    """A /command (an unknown name is said so); a time alone, which asks to schedule at it
    ("tomorrow 9am", "every monday"); or a command-like line ("make a video about tides")."""
    slash = slash_command(line)
    if slash is not None:
        known = slash.kind is not IntentKind.UNKNOWN
        return slash if known else Intent(ReadingKind.UNKNOWN_COMMAND, slash.argument)
    if situation.reads_as_time(line):
        return Intent(IntentKind.SCHEDULE, line)
    intent = situation.classify(line)
    return intent if intent.kind in COMMAND_KINDS else None


def awaited_unreadable(situation: Situation, line: str) -> Intent | None:
    """While a time is awaited, a line that looks like a broken time ("32nd of May", "30
    seconds", which the scheduler can't count in) or reads as nothing else ("banana", "yes")
    is answered as a time: the reply says what is wrong and the question stays open."""
    if not situation.awaiting_time or _slash(line):
        return None
    if looks_like_time(line) or situation.classify(line).kind in UNREADABLE:
        return Intent(ReadingKind.ANSWER, line)
    return None


def preference(situation: Situation, line: str) -> Intent | None:
    """ "always 45 seconds", "forget my preferences"; and, with no video to edit, a bare
    "45 seconds" or "square videos", which can only be meant for the videos to come."""
    intent = situation.classify(line)
    if intent.kind is MemoryKind.PREFERENCE:
        return intent
    bare = situation.stage is Stage.NO_PROJECT and read_statement(line, bare=True) is not None
    return Intent(MemoryKind.PREFERENCE, line) if bare else None


def edit(situation: Situation, line: str) -> Intent | None:
    """With a video in the conversation, a change ("make it 45s", "shorter") or a line the bot
    can't place edits it; the handler says so where the video can no longer change."""
    if situation.stage is Stage.NO_PROJECT:
        return None
    intent = situation.classify(line)
    if intent.kind not in (IntentKind.REFINE, IntentKind.UNKNOWN):
        return None
    return Intent(IntentKind.REFINE, intent.argument or line)


def small_talk(situation: Situation, line: str) -> Intent:
    """Whatever is left: small talk ("thanks!", "yes"), or with no video a line the bot can't
    place, which is answered with how to start one."""
    return situation.classify(line)


READING_ORDER: tuple[Reader, ...] = (
    awaited_time,
    button_word,
    picture,
    command,
    awaited_unreadable,
    preference,
    edit,
    small_talk,
)
"""The order a line is read in; the first reader that recognises it decides.

1. `awaited_time` — the bot asked a question (today only "When should it go out?") and the
   line answers it. First, because an answer is what the user is most likely giving, and a time
   must win over the length or edit it also resembles ("in 1 minute", "2 hours").
2. `button_word` — "render", "approve", "reject", "cancel", "undo" typed out. Before commands
   and edits so that "undo" or "cancel" is never an instruction to the writer; while a time is
   awaited they still work, and the question stays open.
3. `picture` — the pictures, not the words: "another clip for scene 2", "use a beach for
   the intro", "use my photo in scene 2", "illustrated look", "my uploads". Before commands,
   so "another clip for scene 2" is never a new video about "scene 2", and before edits, so
   the writer never rewrites the words for a picture request. After button words: "undo"
   undoes a picture change like any other.
4. `command` — /commands, a time alone (schedule at it: in a draft that says "render it
   first"), and command-like lines (make, schedule, time zone, schedules, help, status).
   Explicit requests go their way even while a time is awaited ("/make every monday 9:00, …").
5. `awaited_unreadable` — while a time is awaited, a broken time or a line that means nothing
   else is still the answer, so the user hears what was wrong with it.
6. `preference` — defaults for the videos to come. After the answer and commands ("in 1
   minute" is never a length once a time is asked for), before edits so that "always 45
   seconds" sets a default rather than changing this draft.
7. `edit` — with a video in the conversation, anything else is an instruction to change it.
8. `small_talk` — what is left; it always answers.

What this gives for lines that read more than one way
(tests/integration/test_reading_order.py has them in every stage):
- a time ("in 1 minute", "in 2 hours", "tomorrow") schedules in a preview and when asked;
  elsewhere the reply says why not (nothing to schedule, render first, already approved). It
  is never a length and never an edit.
- "every monday": one video goes out once; the reply points to shows (/make every monday …).
- "30 seconds": with no video a default length, with one an edit (refused while rendering or
  approved), and in answer to "When?" a time the scheduler can't count in (nothing changes).
- "make it 45s": an edit, also while a time is awaited (the question is dropped once the
  video leaves its preview).
- "undo": the button word, back one version wherever the video can still change.
- "yes": small talk, never an approval; in answer to "When?", not a time.
- "another clip for scene 2", "use a beach for the intro": a picture change wherever the video
  can still change (a new version, undone by "undo"); "use simpler words for the intro" is
  still an edit for the writer.
"""


def read(situation: Situation, line: str) -> Intent:
    """What `line` means in `situation`: the first answer of `READING_ORDER`."""
    for reader in READING_ORDER:
        intent = reader(situation, line)
        if intent is not None:
            log.debug("read by %s as %s (%s)", reader.__name__, intent.kind, situation.stage)
            return intent
    return Intent(IntentKind.UNKNOWN, line)


def _slash(line: str) -> bool:
    return line.lstrip().startswith("/")
