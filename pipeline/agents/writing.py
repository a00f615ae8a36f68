"""The writing agents: ideation (angles), outline (beats), script (a sized draft), rewrite.

`ask` is how every agent (here and in `visuals`, `review`) asks: it picks the prompt (pinned by
an experiment variant), renders it, and routes it; the answer comes back validated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel

from pipeline.agent_outputs import (
    MAX_SENTENCES,
    MIN_SENTENCES,
    Angles,
    Outline,
    RewriteDraft,
    ScriptDraft,
)
from pipeline.llm.config import Variant
from pipeline.llm.routing import Router, RouteResult
from pipeline.prompting import PromptError, PromptRegistry
from pipeline.script import WORDS_PER_SECOND

T = TypeVar("T", bound=BaseModel)


def ask(
    router: Router,
    registry: PromptRegistry,
    agent: str,
    output_model: type[T],
    values: Mapping[str, object],
    *,
    variant: Variant | None = None,
) -> RouteResult[T]:
    """Run `agent`'s prompt with `values` through the router; the answer is validated."""
    prompt = registry.get(agent, variant.prompt_version if variant else None)
    if prompt.output_model is not output_model:
        raise PromptError(
            f"{prompt.source}: field output: {agent} must answer {output_model.__name__}"
        )
    return router.run(agent, prompt.render(**values), output_model, variant=variant)


def numbered(sentences: list[str]) -> str:
    """Sentences one per line, prefixed with their index, as agents refer to them."""
    return "\n".join(f"[{index}] {sentence}" for index, sentence in enumerate(sentences))


def word_budget(seconds: int) -> int:
    """Spoken words that fill `seconds` (hook included)."""
    return round(seconds * WORDS_PER_SECOND)


def ideate(
    router: Router,
    registry: PromptRegistry,
    *,
    idea: str,
    tone: str,
    variant: Variant | None = None,
) -> RouteResult[Angles]:
    return ask(router, registry, "ideation", Angles, {"idea": idea, "tone": tone}, variant=variant)


def outline(
    router: Router,
    registry: PromptRegistry,
    *,
    idea: str,
    seconds: int,
    tone: str,
    variant: Variant | None = None,
) -> RouteResult[Outline]:
    values = {"idea": idea, "seconds": seconds, "tone": tone, "beats": beats_for(seconds)}
    return ask(router, registry, "outline", Outline, values, variant=variant)


def beats_for(seconds: int) -> int:
    return max(3, min(6, round(seconds / 10)))


def write_script(
    router: Router,
    registry: PromptRegistry,
    *,
    idea: str,
    seconds: int,
    tone: str,
    variant: Variant | None = None,
) -> RouteResult[ScriptDraft]:
    values = {
        "idea": idea,
        "tone": tone,
        "seconds": seconds,
        "words": word_budget(seconds),
        "min_sentences": MIN_SENTENCES,
        "max_sentences": MAX_SENTENCES,
    }
    return ask(router, registry, "script", ScriptDraft, values, variant=variant)


def rewrite(
    router: Router,
    registry: PromptRegistry,
    *,
    instruction: str,
    title: str,
    hook: str,
    sentences: list[str],
    seconds: int,
    variant: Variant | None = None,
) -> RouteResult[RewriteDraft]:
    values = {
        "instruction": instruction,
        "title": title,
        "hook": hook,
        "sentences": numbered(sentences),
        "seconds": seconds,
        "words": word_budget(seconds),
        "max_sentences": MAX_SENTENCES,
    }
    return ask(router, registry, "rewrite", RewriteDraft, values, variant=variant)
