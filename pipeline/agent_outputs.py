"""What each agent must answer: pydantic models the router validates every answer against.

Prompt files name their output by class name (`output: ScriptDraft`); `OUTPUT_MODELS` is the
lookup the prompt registry validates against. `VoicePlan` lives with the `Script` it travels on
(pipeline.script) and is imported from there.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from pipeline.script import VoicePlan

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=400)]
Card = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
Color = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]
MIN_SENTENCES = 4
MAX_SENTENCES = 12


class _Output(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Angles(_Output):
    angles: list[Line] = Field(min_length=1, max_length=6, description="best first")


class Outline(_Output):
    beats: list[Card] = Field(min_length=2, max_length=MAX_SENTENCES, description="one per scene")


class ScriptDraft(_Output):
    title: str = Field(min_length=1, max_length=100)
    hook: Line
    sentences: list[Line] = Field(min_length=MIN_SENTENCES, max_length=MAX_SENTENCES)


class RewriteDraft(_Output):
    title: str = Field(min_length=1, max_length=100)
    hook: Line
    sentences: list[Line] = Field(min_length=1, max_length=MAX_SENTENCES)
    summary: str = Field(min_length=1, max_length=200, description="one line: what changed")
    changed: bool


class SceneCard(_Output):
    sentence: int = Field(ge=0, description="index of the sentence this card belongs to")
    title: Card = Field(description="title-card text, at most 60 characters")
    colors: list[Color] = Field(min_length=2, max_length=2, description="two hex colours")
    keyword: str = Field(min_length=1, max_length=40, description="stock-footage search word")


class SceneCards(_Output):
    cards: list[SceneCard] = Field(min_length=1, max_length=MAX_SENTENCES)


class Claim(_Output):
    sentence: int = Field(ge=0)
    claim: Line
    reason: Line


class ReviewNotes(_Output):
    uncertain_claims: list[Claim] = Field(default_factory=list, max_length=MAX_SENTENCES)
    notes: list[Line] = Field(default_factory=list, max_length=6)


OUTPUT_MODELS: dict[str, type[BaseModel]] = {
    model.__name__: model
    for model in (
        Angles,
        Outline,
        ScriptDraft,
        RewriteDraft,
        SceneCards,
        VoicePlan,
        ReviewNotes,
    )
}
