"""The offline writer: a deterministic, topic-aware explainer skeleton behind the Writer protocol.

It needs no keys and no network, and it says what it is: every script it writes is signed
"offline template writer", and its sentences frame the topic (what to look at, why it matters,
a question for the viewer) without inventing facts about it. The same idea, length and tone
always give the same script. It directs no voice (`Script.voice` stays None, so the default
voice or the requester's preference speaks); a revision keeps the plan a script came with.
"""

from __future__ import annotations

from dataclasses import replace

from pipeline.brief import Tone, parse_brief
from pipeline.errors import PermanentError
from pipeline.script import Aspect, Revision, Script
from pipeline.text import one_line
from pipeline.writers.draft import HOOK, TITLE, Draft, Line, to_script, topic_of
from pipeline.writers.revise import revise_script
from pipeline.writers.sizing import clamp_seconds, core_lines, fit
from pipeline.writers.topic import clip

MAX_IDEA_CHARS = 2000
_ANGLES = (
    (Tone.NEUTRAL, "A clear explainer: {about}, step by step"),
    (Tone.PLAYFUL, "A playful take on {about}, with a joke to finish"),
    (Tone.CALM, "A calm, slow walk through {about}"),
    (Tone.DRAMATIC, "A dramatic reveal: the story behind {about}"),
    (Tone.FORMAL, "A formal short lecture on {about}"),
)


class OfflineWriter:
    """Writes and revises scripts from templates; see the module docstring."""

    name = "offline"

    def ideate(self, idea: str) -> list[str]:
        """Angles on the idea, best first: one per tone (the asked-for tone leads)."""
        idea = self._idea(idea)
        topic, tone = topic_of(idea), parse_brief(idea).tone
        ordered = sorted(_ANGLES, key=lambda angle: angle[0] is not tone)
        angles = [template.format(about=topic.about) for _, template in ordered]
        return [angle[:1].upper() + angle[1:] for angle in angles]

    def outline(self, idea: str, seconds: int) -> list[str]:
        """The title card of every scene the script for `idea` would have."""
        return [scene.title for scene in self.script(idea, seconds).scenes]

    def script(
        self, idea: str, seconds: int, aspect: Aspect = Aspect.VERTICAL, *, tone: Tone | None = None
    ) -> Script:
        """A draft sized to `seconds`; the tone comes from `tone`, else from the idea's words."""
        idea = self._idea(idea)
        draft = self._draft(idea, clamp_seconds(seconds), aspect, tone or parse_brief(idea).tone)
        return to_script(fit(replace(draft, lines=core_lines(draft)), draft.target_seconds))

    def revise(self, script: Script, instruction: str) -> Revision:
        """Apply a plain-words instruction; `Revision.summary` says what changed or why not."""
        return revise_script(script, instruction)

    @staticmethod
    def _idea(idea: str) -> str:
        cleaned = clip(one_line(idea), MAX_IDEA_CHARS)
        if not parse_brief(cleaned).topic:
            raise PermanentError("Tell me what the video is about, e.g. “40s on why cats purr”.")
        return cleaned

    @staticmethod
    def _draft(idea: str, seconds: int, aspect: Aspect, tone: Tone) -> Draft:
        return Draft(
            idea=idea,
            topic=topic_of(idea),
            tone=tone,
            title=Line(TITLE, tone=tone),
            hook=Line(HOOK, tone=tone),
            lines=(),
            target_seconds=seconds,
            aspect=aspect,
        )
