"""The agents that write a video with a language model, one small function each.

Each takes the `Router` and the `PromptRegistry` (plus an optional experiment `Variant`), and
returns a `RouteResult` whose `value` is the validated pydantic output.
"""

from pipeline.agent_outputs import (
    OUTPUT_MODELS,
    Angles,
    Outline,
    ReviewNotes,
    RewriteDraft,
    SceneCard,
    SceneCards,
    ScriptDraft,
)
from pipeline.agents.review import PolicyRefusal, QCReport, check_policy, qc_review
from pipeline.agents.visuals import describe_scenes, plan_voice, scenes_from_cards
from pipeline.agents.writing import ideate, outline, rewrite, word_budget, write_script
from pipeline.script import VoicePlan

__all__ = [
    "OUTPUT_MODELS",
    "Angles",
    "Outline",
    "PolicyRefusal",
    "QCReport",
    "ReviewNotes",
    "RewriteDraft",
    "SceneCard",
    "SceneCards",
    "ScriptDraft",
    "VoicePlan",
    "check_policy",
    "describe_scenes",
    "ideate",
    "outline",
    "plan_voice",
    "qc_review",
    "rewrite",
    "scenes_from_cards",
    "word_budget",
    "write_script",
]
