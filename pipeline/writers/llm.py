"""The LLM writer: the Writer protocol through the agents, with the offline writer as fallback.

`script` runs script → scene_describer → voice_plan → qc_review (four calls); `revise` runs
rewrite → scene_describer → voice_plan → qc_review, skipping voice_plan when the spoken words
did not change (the earlier plan stays, so the narration can be reused). The describer, the
voice plan and the model half of the review are optional (their failure leaves plain cards,
the earlier plan or none, and no flagged claims); the policy half of the review always runs
locally and a violation raises `PolicyRefusal` (a `PermanentError`). When no model can write
the text itself the `fallback` writer does, and the script's `writer` field says so.

`bound(project_key)` gives a copy whose experiment variants are sticky for that project and
whose token use goes to the `UsageLedger` under that key.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from pipeline.agents import (
    QCReport,
    RewriteDraft,
    SceneCard,
    ScriptDraft,
    VoicePlan,
    check_policy,
    describe_scenes,
    ideate,
    outline,
    plan_voice,
    qc_review,
    rewrite,
    scenes_from_cards,
    write_script,
)
from pipeline.brief import parse_brief
from pipeline.errors import PermanentError
from pipeline.llm.base import Completion, ProviderError
from pipeline.llm.config import Variant
from pipeline.llm.routing import RouteFailed, Router, RouteResult
from pipeline.llm.usage import UsageLedger
from pipeline.prompting import PromptRegistry
from pipeline.script import Aspect, Revision, Script, Writer
from pipeline.text import one_line
from pipeline.writers.sizing import clamp_seconds
from pipeline.writers.topic import clip
from policy import Policy, load_policy

T = TypeVar("T", bound=BaseModel)
MAX_IDEA_CHARS = 2000
FALLBACK_NOTE = "fallback: no language model answered"


class LLMWriter:
    """Writes and revises scripts with language models; see the module docstring."""

    name = "llm"

    def __init__(
        self,
        router: Router,
        registry: PromptRegistry,
        *,
        fallback: Writer,
        usage: UsageLedger | None = None,
        policy: Policy | None = None,
    ) -> None:
        self.router = router
        self.registry = registry
        self.fallback = fallback
        self.usage = usage
        self.policy = load_policy() if policy is None else policy
        self.project_key: str | None = None
        self._variants: dict[str, str] = {}

    def bound(self, project_key: str, workspace: str = "") -> LLMWriter:
        """A copy sticky to `project_key` for experiments, recording usage under it, with the
        prompt versions `workspace` (`<adapter>:<id>`) pins in models.yaml."""
        bound = copy.copy(self)
        bound.project_key = project_key
        bound._variants = {}
        pins = self.router.config.prompt_pins.get(workspace)
        if pins:
            bound.registry = self.registry.pinned(pins)
        return bound

    @property
    def variants(self) -> Mapping[str, str]:
        """Experiment name -> the variant this writer used, for the ones run so far."""
        return dict(self._variants)

    def ideate(self, idea: str) -> list[str]:
        idea = _clean_idea(idea)
        try:
            result = self._run("ideation", ideate, idea=idea, tone=parse_brief(idea).tone.value)
        except ProviderError:
            return self.fallback.ideate(idea)
        return list(result.value.angles)

    def outline(self, idea: str, seconds: int) -> list[str]:
        idea, seconds = _clean_idea(idea), clamp_seconds(seconds)
        tone = parse_brief(idea).tone.value
        try:
            result = self._run("outline", outline, idea=idea, seconds=seconds, tone=tone)
        except ProviderError:
            return self.fallback.outline(idea, seconds)
        return list(result.value.beats)

    def script(self, idea: str, seconds: int, aspect: Aspect = Aspect.VERTICAL) -> Script:
        idea, seconds = _clean_idea(idea), clamp_seconds(seconds)
        tone = parse_brief(idea).tone.value
        try:
            draft = self._run("script", write_script, idea=idea, seconds=seconds, tone=tone)
        except ProviderError:
            return _signed_fallback(self.fallback.script(idea, seconds, aspect))
        return self._finish(
            draft.value, draft.completion, idea=idea, target_seconds=seconds, aspect=aspect
        )

    def revise(self, script: Script, instruction: str) -> Revision:
        instruction = clip(one_line(instruction), MAX_IDEA_CHARS)
        try:
            result = self._run(
                "rewrite", rewrite, instruction=instruction, title=script.title,
                hook=script.hook, sentences=list(script.sentences), seconds=script.target_seconds,
            )  # fmt: skip
        except ProviderError:
            revision = self.fallback.revise(script, instruction)
            return revision.model_copy(update={"summary": f"{revision.summary} ({FALLBACK_NOTE})"})
        frame = script.model_dump(include={"idea", "target_seconds", "aspect", "music", "captions"})
        revised = self._finish(result.value, result.completion, before=script, **frame)
        return Revision(script=revised, summary=result.value.summary, changed=result.value.changed)

    def _finish(
        self,
        text: ScriptDraft | RewriteDraft,
        completion: Completion,
        *,
        before: Script | None = None,
        **frame: Any,
    ) -> Script:
        """Policy (raises), scene cards, the voice plan, the model's review; then the Script in
        `frame` (idea, target_seconds, aspect, music, captions). `before` is the version being
        revised, if any."""
        title, hook, sentences = text.title, text.hook, list(text.sentences)
        check_policy(self.policy, title, hook, *sentences)
        tone = parse_brief(frame["idea"]).tone.value
        cards = self._cards(title, sentences, tone)
        voice = self._voice_plan([hook, *sentences], tone, before)
        report = self.review(title, hook, sentences, frame["target_seconds"])
        return Script(
            review=review_notes(report, frame["target_seconds"]),
            title=title,
            hook=hook,
            sentences=sentences,
            scenes=scenes_from_cards(sentences, cards),
            writer=f"{completion.model} via {completion.provider}",
            voice=voice,
            **frame,
        )

    def _voice_plan(
        self, narration: list[str], tone: str, before: Script | None
    ) -> VoicePlan | None:
        """`before`'s plan when the spoken words are the same; else the agent's, fitted to the
        sentences; when no model answers, `before`'s plan with its pauses moved along."""
        sentences = narration[1:]
        earlier = before.voice if before is not None else None
        if before is not None and earlier is not None and before.narration == narration:
            return earlier
        try:
            plan = self._run("voice_plan", plan_voice, sentences=sentences, tone=tone).value
        except ProviderError:
            if before is None or earlier is None:
                return None
            return earlier.moved(before.sentences, sentences)
        return plan.fitted(len(sentences))

    def review(self, title: str, hook: str, sentences: list[str], seconds: int) -> QCReport | None:
        """The QC report, or None when no model could review (the policy check still ran)."""
        try:
            return self._run(
                "qc_review", qc_review, policy=self.policy, title=title, hook=hook,
                sentences=sentences, seconds=seconds,
            ).value  # fmt: skip
        except ProviderError:
            return None

    def _cards(self, title: str, sentences: list[str], tone: str) -> list[SceneCard]:
        try:
            result = self._run(
                "scene_describer", describe_scenes, title=title, sentences=sentences, tone=tone
            )
        except ProviderError:
            return []
        return list(result.value.cards)

    def _run(
        self, agent: str, step: Callable[..., RouteResult[T]], **values: object
    ) -> RouteResult[T]:
        variant = self._variant(agent)
        try:
            result = step(self.router, self.registry, variant=variant, **values)
        except RouteFailed as error:
            self._record(error.completions)
            raise
        self._record(result.completions)
        if result.experiment and result.variant:
            self._variants[result.experiment] = result.variant.name
        return result

    def _variant(self, agent: str) -> Variant | None:
        if self.project_key is None:
            return None
        return self.router.variant_for(agent, self.project_key)

    def _record(self, completions: list[Completion]) -> None:
        if self.usage is not None and self.project_key is not None:
            for completion in completions:
                self.usage.add(self.project_key, completion)


def _clean_idea(idea: str) -> str:
    cleaned = clip(one_line(idea), MAX_IDEA_CHARS)
    if not parse_brief(cleaned).topic:
        raise PermanentError("Tell me what the video is about, e.g. “40s on why cats purr”.")
    return cleaned


def _signed_fallback(script: Script) -> Script:
    return script.model_copy(update={"writer": f"{script.writer} ({FALLBACK_NOTE})"})


def review_notes(report: QCReport | None, seconds: int) -> list[str]:
    """The QC report as lines a person reads before approving."""
    if report is None:
        return []
    notes = [
        f"Sentence {claim.sentence + 1}: “{claim.claim}” — {claim.reason}"
        for claim in report.uncertain_claims
    ]
    if not report.length_ok:
        notes.append(
            f"Length: {report.words} words, where {seconds} s wants about {report.word_budget}"
        )
    return (notes + list(report.notes))[:20]
