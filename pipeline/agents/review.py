"""Quality control of a finished draft: policy (always, locally), length, uncertain claims.

The policy check runs `policy.content_rule` on the final text before anything else, so a model
talked into writing something blocked ("ignore previous instructions and …") is refused with a
`PermanentError` carrying the policy's plain reason. The model then flags claims it is unsure
of; the word count is compared with the budget for the target length.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from pipeline.agent_outputs import Claim, ReviewNotes
from pipeline.agents.writing import ask, numbered, word_budget
from pipeline.errors import PermanentError
from pipeline.llm.config import Variant
from pipeline.llm.routing import Router, RouteResult
from pipeline.prompting import PromptRegistry
from pipeline.text import one_line
from policy import Policy, content_rule

LENGTH_TOLERANCE = 0.35
"""How far (as a fraction of the budget) the word count may stray before it is flagged."""


class PolicyRefusal(PermanentError):
    """The draft breaks the workspace policy; the message is the policy's reason."""


class QCReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    uncertain_claims: list[Claim] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    words: int = Field(ge=0)
    word_budget: int = Field(ge=0)

    @property
    def length_ok(self) -> bool:
        return abs(self.words - self.word_budget) <= self.word_budget * LENGTH_TOLERANCE


def check_policy(policy: Policy, *texts: str) -> None:
    """Raise `PolicyRefusal` when any of `texts` breaks the policy's content rule."""
    refusal = content_rule(policy)(one_line(" ".join(texts)))
    if refusal is not None:
        raise PolicyRefusal(refusal.reason)


def qc_review(
    router: Router,
    registry: PromptRegistry,
    *,
    policy: Policy,
    title: str,
    hook: str,
    sentences: list[str],
    seconds: int,
    variant: Variant | None = None,
) -> RouteResult[QCReport]:
    """Policy first (raises), then the model's review; returns the combined report."""
    check_policy(policy, title, hook, *sentences)
    words = sum(len(text.split()) for text in (hook, *sentences))
    values = {
        "title": title,
        "hook": hook,
        "sentences": numbered(sentences),
        "seconds": seconds,
        "words": words,
        "budget": word_budget(seconds),
    }
    route = ask(router, registry, "qc_review", ReviewNotes, values, variant=variant)
    report = report_of(route.value, words, word_budget(seconds))
    return RouteResult(report, route.completion, route.attempts, route.variant, route.experiment)


def report_of(notes: ReviewNotes, words: int, budget: int) -> QCReport:
    return QCReport(
        uncertain_claims=notes.uncertain_claims, notes=notes.notes, words=words, word_budget=budget
    )
