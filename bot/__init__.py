"""The conversational core: platform-free events in, typed actions out.

Adapters hand `Engine.handle` an inbound event (`MessageEvent`, `CommandEvent`, `ButtonEvent`)
and render the actions it returns (`Say`, `Progress`, `Preview`, `JobsStarted`). Projects and
their numbered versions live in Redis (`ProjectStore`); production is reached through the
`JobQueue` port, which the entry point wires to RQ.
"""

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
from bot.events import ButtonEvent, CommandEvent, Conversation, Event, MessageEvent, ReplyTarget
from bot.job_queue import JobQueue
from bot.project import Project, ProjectState, ProjectStore, StateRefusal

__all__ = [
    "Action",
    "AskApproval",
    "Button",
    "ButtonAction",
    "ButtonEvent",
    "CommandEvent",
    "Conversation",
    "Engine",
    "Event",
    "JobQueue",
    "JobsStarted",
    "MessageEvent",
    "Preview",
    "Progress",
    "Project",
    "ProjectState",
    "ProjectStore",
    "ReplyTarget",
    "Say",
    "StateRefusal",
]
