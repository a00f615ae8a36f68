"""The conversational core: one inbound event in, the outbound actions that answer it out.

Every event goes the same way: dedupe by delivery id, per-user rate limit, text cleaning and
moderation, session memory, then the handler for what the user asked. The engine is synchronous
and keeps no state of its own (everything lives in Redis), so adapters may call it from threads
and several bot processes may share one Redis.

What a line means is decided by one table, `bot.reading.READING_ORDER` (awaited answer, button
word, picture, command, preference, edit, small talk), from the conversation's stage; the engine
only walks it and runs the handler for the intent it gives. Pressed buttons skip the table.

Pictures are optional: with a director per workspace (`pictures`) each draft comes with its
storyboard, and lines about the pictures ("another clip for scene 2", "illustrated look") and
files sent into the chat go to `bot.pictures_chat`; without one, drafts show the backgrounds.

Long-term memory is optional: with a `VectorMemory`, projects are remembered per workspace
("like the last one", a heads-up on topics already made) and unsure lines are classified by
embedding similarity. Without one, intents come from the rules alone. Preferences set by talking
("always 45 seconds") live in Redis and work either way.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from redis import Redis

from bot import replies
from bot.actions import Action, ButtonAction, Say
from bot.availability import store_unavailable
from bot.events import ButtonEvent, CommandEvent, Event, MessageEvent
from bot.handlers import Context, Directors, Handlers
from bot.intent_model import IntentModel
from bot.intents import Intent, IntentKind, Kind, MemoryKind, PictureKind, ReadingKind, classify
from bot.job_queue import JobQueue
from bot.memory import Role, SessionMemory
from bot.moderation import Moderator, rate_limited_reply
from bot.pictures_chat import Pictures
from bot.preferences import PreferenceStore
from bot.project import Project, ProjectStore
from bot.reading import Situation, read, stage_of
from bot.recall import Recall
from bot.schedule_chat import Scheduling, split_show
from pipeline import telemetry
from pipeline.media.assets import AssetStore
from pipeline.script import Writer
from pipeline.text import clean_text
from policy import Policy

if TYPE_CHECKING:
    from pipeline.memory.store import VectorMemory

log = logging.getLogger(__name__)

DEDUPE_SECONDS = 24 * 3600
"""How long a delivery id is remembered (platforms retry within minutes)."""

ProjectHandler = Callable[[Context, Project, str], list[Action]]
FreeHandler = Callable[[Context, str], list[Action]]
Classifier = Callable[[str], Intent]


class Engine:
    """`handle(event)` answers one inbound event; it never raises on bad input."""

    def __init__(
        self,
        redis: Redis,
        writer: Writer,
        jobs: JobQueue,
        policy: Policy,
        prefix: str = "novacast",
        *,
        memory: VectorMemory | None = None,
        classifier: Classifier | None = None,
        pictures: Directors | None = None,
        assets: AssetStore | None = None,
    ) -> None:
        """`memory` turns on long-term memory; `classifier` defaults to the rules, or to the
        rules with the embedding fallback (`bot.intent_model.IntentModel`) when memory is on.
        `pictures` chooses the shots under each draft and changes them when asked (without it
        drafts show the built-in backgrounds); `assets` keeps the files users send."""
        self.redis = redis
        self.prefix = prefix
        self.policy = policy
        self.store = ProjectStore(redis, prefix)
        self.memory = SessionMemory(redis, prefix)
        self.moderator = Moderator(redis, policy, prefix)
        self.preferences = PreferenceStore(redis, prefix)
        self.recall = Recall(memory) if memory is not None else None
        self.classify = classifier or _default_classifier(memory)
        self.handlers = Handlers(
            self.store,
            writer,
            jobs,
            policy,
            self.moderator,
            preferences=self.preferences,
            recall=self.recall,
            pictures=pictures,
            assets=assets,
        )
        self.pictures = Pictures(self.handlers, self.store, policy, pictures, assets)
        self.scheduling = Scheduling(
            redis, self.store, policy, self.moderator, self.handlers.may_approve, prefix=prefix
        )

    def warm(self) -> None:
        """Load the embedding model and intent examples now, not on the first unsure message."""
        warm = getattr(self.classify, "warm", None)
        if callable(warm):
            warm()

    def handle(self, event: Event) -> list[Action]:
        """Answer one event. An unexpected failure is logged and becomes an apology."""
        try:
            return self._handle(event)
        except Exception as error:
            if store_unavailable(error):  # Redis down or refusing writes: say so, one line
                log.warning(
                    "Redis is unavailable (%s): a %s event was answered 'try again'",
                    type(error).__name__,
                    event.kind,
                )
                return Context(event).say(replies.CANNOT_SAVE)
            log.exception(
                "failed to handle a %s event (id %r) from %s",
                event.kind,
                event.event_id,
                event.conversation.adapter,
            )
            return Context(event).say(replies.SORRY + telemetry.reference())

    def _handle(self, event: Event) -> list[Action]:
        if not self._first_delivery(event):
            return []
        rate = self.moderator.hit_event(event.conversation)
        if not rate.allowed:
            return Context(event).say(rate_limited_reply(rate)) if rate.first_refusal else []
        ctx = Context(event)
        text = _text_of(event)
        refusal = self.moderator.check_message(text) if text else None
        turns: list[tuple[Role, str]] = [
            ("user", f"(refused: {refusal.rule})" if refusal else _turn(event, text))
        ]
        try:
            actions = ctx.say(refusal.reason) if refusal else self._dispatch(ctx, text)
            turns += [("bot", action.text) for action in actions if isinstance(action, Say)]
        finally:  # the user's turn and the answer's, in one round trip
            later = self.handlers.bursting()  # in a burst: written once it is over
            self.memory.add_turns(ctx.conversation.key, turns, later=later)
        return actions

    def _first_delivery(self, event: Event) -> bool:
        """False for a redelivery of an event already handled (same platform delivery id)."""
        if not event.event_id:
            return True
        conversation = event.conversation
        key = f"{self.prefix}:seen:{conversation.adapter}:{conversation.workspace}:{event.event_id}"
        return bool(self.redis.set(key, 1, nx=True, ex=DEDUPE_SECONDS))

    def _dispatch(self, ctx: Context, text: str) -> list[Action]:
        event = ctx.event
        if isinstance(event, ButtonEvent):
            return self._button(ctx, event)
        if isinstance(event, MessageEvent) and event.attachments:
            return self._with_files(ctx, event, text)
        line = f"/{event.name} {text}".rstrip() if isinstance(event, CommandEvent) else text
        return self._intent(ctx, read(self._situation(ctx), line))

    def _with_files(self, ctx: Context, event: MessageEvent, text: str) -> list[Action]:
        """Files first (kept, offered or used where the words say); words that ask for
        something else ("make it shorter" with a photo) are then read as usual."""
        actions, used = self.pictures.attachments(ctx, event.attachments, text)
        if used or not text:
            telemetry.count_event(ctx.conversation.adapter, "files")
            return actions
        return actions + self._intent(ctx, read(self._situation(ctx), text))

    def _situation(self, ctx: Context) -> Situation:
        """The context a line is read in: the stage, the classifier (once per line), the clock."""
        awaited = self.scheduling.awaiting(ctx)
        project = awaited or self.store.active(ctx.conversation)
        return Situation(
            stage=stage_of(project, awaiting_time=awaited is not None),
            classify=functools.cache(self.classify),
            reads_as_time=functools.partial(self.scheduling.reads_as_time, ctx),
        )

    def _intent(self, ctx: Context, intent: Intent) -> list[Action]:
        kind = intent.kind
        telemetry.count_event(ctx.conversation.adapter, str(kind))
        free = self._free_handler(kind)
        if free is not None:
            return free(ctx, intent.argument)
        project = self.store.active(ctx.conversation)
        if kind is IntentKind.SMALLTALK:
            return ctx.say(replies.smalltalk(project))
        if project is None:
            return ctx.say(replies.NO_PROJECT)
        return self._project_handler(kind)(ctx, project, intent.argument)

    def _free_handler(self, kind: Kind) -> FreeHandler | None:
        """The handler for an intent that needs no project."""
        h, s = self.handlers, self.scheduling
        table: dict[Kind, FreeHandler] = {
            IntentKind.MAKE: self._make,
            IntentKind.HELP: h.help,
            IntentKind.SCHEDULE: lambda ctx, when: s.schedule(ctx, None, when),
            IntentKind.SCHEDULES: s.list_schedules,
            IntentKind.UNSCHEDULE: self._unschedule,
            IntentKind.TIMEZONE: s.set_timezone,
            MemoryKind.PREFERENCE: h.preference,
            PictureKind.ASSETS: self.pictures.list_assets,
            ReadingKind.ANSWER: s.answer_pending,
            ReadingKind.UNKNOWN_COMMAND: lambda ctx, name: ctx.say(replies.unknown_command(name)),
        }
        return table.get(kind)

    def _make(self, ctx: Context, idea: str) -> list[Action]:
        """A new draft now, or a show: "/make every monday 9:00, a space-news recap"."""
        show = split_show(idea)
        if show is not None and self.scheduling.reads_as_time(ctx, show[0]):
            return self.scheduling.schedule_show(ctx, *show)
        return self.handlers.make(ctx, idea)

    def _unschedule(self, ctx: Context, schedule_id: str) -> list[Action]:
        """ "cancel schedule 3fa9…", or "unschedule it" for the current project's schedule."""
        if schedule_id:
            return self.scheduling.unschedule(ctx, schedule_id)
        project = self.store.active(ctx.conversation)
        pending = self.scheduling.schedules.for_project(project.id) if project else []
        if len(pending) != 1:
            return self.scheduling.list_schedules(ctx)
        return self.scheduling.unschedule(ctx, pending[0].id)

    def _unless_scheduled(self, handler: ProjectHandler) -> ProjectHandler:
        """Reject/cancel of a scheduled video points to Cancel schedule instead of "too late"."""

        def guarded(ctx: Context, project: Project, argument: str) -> list[Action]:
            return self.scheduling.blocks(ctx, project) or handler(ctx, project, argument)

        return guarded

    def _project_handler(self, kind: Kind) -> ProjectHandler:
        h = self.handlers
        table: dict[Kind, ProjectHandler] = {
            IntentKind.RENDER: h.render,
            IntentKind.APPROVE: h.approve,
            IntentKind.REJECT: self._unless_scheduled(h.reject),
            IntentKind.CANCEL: self._unless_scheduled(h.cancel),
            IntentKind.UNDO: h.undo,
            IntentKind.STATUS: h.status,
            **dict.fromkeys(
                (PictureKind.ANOTHER, PictureKind.SEARCH, PictureKind.UPLOAD, PictureKind.LOOK),
                self.pictures.change,
            ),
        }
        return table.get(kind, h.refine)

    def _button(self, ctx: Context, event: ButtonEvent) -> list[Action]:
        try:
            action = ButtonAction(event.action)
        except ValueError:
            return ctx.say(replies.UNKNOWN_BUTTON)
        telemetry.count_event(ctx.conversation.adapter, f"button:{action.value}")
        if action is ButtonAction.UNSCHEDULE:
            return self.scheduling.unschedule(ctx, event.project_id)
        conversation = event.conversation
        project = self.store.get_for(
            conversation.workspace, event.project_id, adapter=conversation.adapter
        )
        if project is None:
            return ctx.say(replies.UNKNOWN_PROJECT)
        return self._button_handler(action)(ctx, project, "")

    def _button_handler(self, action: ButtonAction) -> ProjectHandler:
        h = self.handlers
        table: dict[ButtonAction, ProjectHandler] = {
            ButtonAction.RENDER: h.render,
            ButtonAction.REVISE: h.revise_button,
            ButtonAction.CANCEL: self._unless_scheduled(h.cancel),
            ButtonAction.APPROVE: h.approve,
            ButtonAction.SCHEDULE: lambda ctx, project, _: self.scheduling.schedule(
                ctx, project, ""
            ),
            ButtonAction.REJECT: self._unless_scheduled(h.reject),
            ButtonAction.RETRY: h.retry,
        }
        return table[action]


def _default_classifier(memory: VectorMemory | None) -> Classifier:
    """The rules alone, or with memory on the rules with the embedding fallback (the model
    itself loads on first use or `warm`)."""
    return classify if memory is None else IntentModel()


def _text_of(event: Event) -> str:
    """The cleaned words of an event: a message's text, a command's arguments, "" for a button."""
    if isinstance(event, MessageEvent):
        return clean_text(event.text)
    if isinstance(event, CommandEvent):
        return clean_text(event.args)
    return ""


def _turn(event: Event, text: str) -> str:
    if isinstance(event, CommandEvent):
        return f"/{event.name} {text}".rstrip()
    if isinstance(event, ButtonEvent):
        return f"[pressed {event.action}]"
    if event.attachments:
        names = ", ".join(file.name or "a file" for file in event.attachments)
        return f"{text} [sent {names}]".strip()
    return text
