"""The core's view of background work: a small port the entry point wires to RQ.

Jobs reach follow-on work through the same port (a show that publishes itself once its checks
pass), from the worker runtime the entry point installs, so no job imports the code that
enqueues it.
"""

from __future__ import annotations

from typing import Protocol

from bot.events import ReplyTarget


class JobQueue(Protocol):
    """Enqueues production for a project version; returns the ids of the jobs it (re)uses.

    Implementations are idempotent: the same project version gives the same job ids, and a
    version already rendered or published is not produced again.
    """

    def render(self, project_id: str, version: int, target: ReplyTarget) -> list[str]:
        """Voice → captions → preview cut → full video → checks, reporting to `target`."""
        ...

    def publish(
        self, project_id: str, version: int, approver: str, target: ReplyTarget
    ) -> list[str]:
        """Publish the approved version to the workspace's targets, reporting to `target`."""
        ...

    def prefetch(self, project_id: str, version: int, target: ReplyTarget) -> list[str]:
        """Download the version's shots into the media cache and post its storyboard (a
        contact sheet) to `target`, so Render does not wait on the network. Best effort: the
        core enqueues it once a draft has shots and never waits on it."""
        ...
