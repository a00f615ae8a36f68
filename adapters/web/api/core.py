"""How the API changes things: as core events, like a chat message or a button press would.

Every action that changes a project or a schedule is an event built for the principal (the
core's conversation and typed speaker, `adapters.web.access`) and handed to `deps.dispatch`;
the API then reads the result back from the stores. The core answers in chat words; when the
change did not happen, those words are the API's refusal: a reply only the actor sees (the
core's `tell`: "only approvers may...") is a 403, anything else a 409 (the state does not allow
it, the time could not be read...), and a change past the policy's rate limit (per key or
session, as per chat user) a 429 with Retry-After.

Each project gets its own API conversation (channel `api`, thread = the project id), so
"revise this" and "schedule this" name that project as the conversation's active one, and two
calls on two projects never meet in one conversation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from adapters.web.access import Principal
from adapters.web.api.table import STORE_DOWN, ApiError, Call
from bot import replies
from bot.actions import Action, ButtonAction, Say
from bot.events import ButtonEvent, CommandEvent, Conversation, Event
from bot.moderation import Moderator, user_key
from bot.project import ProjectStore
from bot.when import WhenError, parse_when

CHANNEL = "api"
_SHOW_START = re.compile(
    r"^(?P<when>(?:every|each|daily|weekdays|weekends|weekly|monthly|hourly)\b.*?)"
    r"(?:\s*[,;]\s*|:\s+|\s+[-–—]\s+)(?P<idea>\S.*)$",
    re.IGNORECASE | re.DOTALL,
)
"""The chat's reading of "every monday 9:00, a space-news recap" as a show
(`bot.schedule_chat.split_show`, which adapters cannot import: that module imports the core's
handlers). Kept equal to it; test_api_endpoints checks both agree."""


def reads_as_show(text: str) -> bool:
    """True when the core would take `text` (a /make idea, a /schedule time) for a show: a
    recurring time it can read, then the idea. The API makes shows only at POST /schedules,
    where the `schedule` right is checked."""
    match = _SHOW_START.match(text.strip())
    if match is None:
        return False
    try:
        parse_when(match["when"].strip(), "UTC", datetime.now(UTC))
    except WhenError:
        return False
    return True


def conversation(principal: Principal, project_id: str = "") -> Conversation:
    return principal.conversation(CHANNEL, thread=project_id)


def command(principal: Principal, name: str, args: str, project_id: str = "") -> CommandEvent:
    where = conversation(principal, project_id)
    return CommandEvent(conversation=where, speaker=principal.speaker(where), name=name, args=args)


def button(
    principal: Principal, action: ButtonAction, project_id: str, thread: str | None = None
) -> ButtonEvent:
    """A press of `action` on `project_id` (a schedule id for Cancel schedule), in the
    project's own conversation unless `thread` names another."""
    where = conversation(principal, project_id if thread is None else thread)
    return ButtonEvent(
        conversation=where,
        speaker=principal.speaker(where),
        action=action.value,
        project_id=project_id,
    )


@dataclass(frozen=True)
class Answer:
    """What the core said to one event."""

    event: Event
    actions: list[Action]

    @property
    def says(self) -> list[Say]:
        return [action for action in self.actions if isinstance(action, Say)]

    def started(self, *kinds: type[Action]) -> bool:
        """True when the answer holds an action of one of `kinds` (jobs queued, a preview)."""
        return any(isinstance(action, kinds) for action in self.actions)

    def button_ids(self, action: ButtonAction) -> list[str]:
        """The ids the core's `action` buttons carry (a new draft's, a new schedule's)."""
        return [b.project_id for s in self.says for b in s.buttons if b.action is action]

    def refusal(self, call: Call) -> ApiError:
        """The answer as an API refusal: 429 past the policy's rate limit (the core says so
        once, then nothing), 403 for a word to the actor alone, else 409 in the core's words."""
        if any(s.text == replies.CANNOT_SAVE for s in self.says):
            return ApiError(503, STORE_DOWN, retry_after=5)
        waiting = over_rate_limit(call, self.event)
        if waiting is not None:
            return ApiError(429, RATE_LIMITED.format(seconds=waiting), retry_after=waiting)
        text = " ".join(s.text for s in self.says).strip() or "The core did not do that."
        return ApiError(403 if any(s.ephemeral for s in self.says) else 409, text)


RATE_LIMITED = (
    "Too many changes from this key or session: try again in {seconds} s "
    "(policy.yaml rate_limit, the same as in the chat)."
)


async def ask(call: Call, event: Event) -> Answer:
    return Answer(event, await call.deps.dispatch(event))


def over_rate_limit(call: Call, event: Event) -> int | None:
    """Seconds to wait when this event's user is past an event or render limit, else None
    (read from the moderator's own counters, without counting a hit)."""
    moderator = Moderator(call.deps.connection, call.deps.policy)
    who = user_key(event.conversation)
    rendering = isinstance(event, ButtonEvent) and event.action == ButtonAction.RENDER.value
    for limiter in (moderator.events, *([moderator.renders] if rendering else [])):
        if (seconds := limiter.waiting(who)) is not None:
            return seconds
    return None


def activate(store: ProjectStore, principal: Principal, project_id: str) -> None:
    """Make `project_id` the active project of its own API conversation."""
    store.set_active(conversation(principal, project_id), project_id)
