"""What the core remembers across projects: the vector memory seen through conversations.

Each workspace's projects are remembered by topic (scoped by adapter and workspace, so one
workspace never sees another's). Memory is a convenience: when the store fails, the failure is
logged and the conversation carries on as if nothing was remembered.

Remembering a new project can wait: under a burst of `/make` the drafts go out first and the
projects are written once the burst is over (`created(..., later=True)`; see `bot.later`).
Nothing reads around a pending write (but the heads-up, see `similar`): reading a user's last
project and updating one first write what that workspace has pending, in order.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.events import Conversation
from bot.later import Later
from bot.project import Project
from pipeline.memory import Hit, ProjectRecord

if TYPE_CHECKING:
    from pipeline.memory.store import VectorMemory

log = logging.getLogger(__name__)

SIMILAR_THRESHOLD = 0.6
"""Cosine similarity of two topics above which a new idea counts as already made here.
Tuned on MiniLM: paraphrases of one topic score 0.65–0.85, different topics under 0.35."""


def space(conversation: Conversation) -> str:
    """The memory's workspace key: the platform and its workspace id."""
    return f"{conversation.adapter}:{conversation.workspace}"


class Recall:
    """Remember projects, find the user's last one, and earlier ones on the same topic."""

    def __init__(self, memory: VectorMemory, threshold: float = SIMILAR_THRESHOLD) -> None:
        self.memory = memory
        self.threshold = threshold
        self._later = Later("recall-later")

    def last(self, conversation: Conversation) -> Hit | None:
        workspace = space(conversation)
        self._later.settle(workspace)
        try:
            return self.memory.last_project(workspace, conversation.user)
        except Exception:
            log.warning("vector memory: could not read the last project", exc_info=True)
            return None

    def similar(self, conversation: Conversation, topic: str) -> Hit | None:
        """The closest earlier project of this workspace, if it is close enough to mention.
        The heads-up does not wait for projects still to be written: in a burst of drafts in
        one workspace it may miss one made in the same second (drafts made at the same moment
        never knew of each other anyway)."""
        workspace = space(conversation)
        try:
            hits = self.memory.similar(workspace, topic, limit=1)
        except Exception:
            log.warning("vector memory: could not search similar projects", exc_info=True)
            return None
        return hits[0] if hits and hits[0].score >= self.threshold else None

    def created(self, project: Project, idea: str, topic: str, *, later: bool = False) -> None:
        """Remember a new project: now, or with `later` once the current burst is over."""
        record = ProjectRecord(
            workspace=space(project.conversation),
            user=project.requester,
            project_id=project.id,
            idea=idea,
            topic=topic,
            title=project.script.title,
            script="\n".join(project.script.narration),
            created_at=project.created_at,
        )
        if later:
            self._later.add(record.workspace, lambda: self._remember(record))
        else:  # a new project: nothing pending can be about it
            self._remember(record)

    def _remember(self, record: ProjectRecord) -> None:
        try:
            self.memory.remember_project(record)
        except Exception:
            log.warning("vector memory: could not remember project %s", record.project_id,
                        exc_info=True)

    def revised(self, project: Project) -> None:
        script = project.script
        moved = script.idea != project.versions[0].idea  # "make it about squid instead"
        workspace = space(project.conversation)
        self._later.settle(workspace)
        try:
            self.memory.remember_revision(
                workspace,
                project.id,
                title=script.title,
                script="\n".join(script.narration),
                topic=script.idea if moved else None,
            )
        except Exception:
            log.warning("vector memory: could not update project %s", project.id, exc_info=True)

    def settle(self) -> None:
        """Write everything postponed, now."""
        self._later.settle_all()
