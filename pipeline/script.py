"""The script a writer produces: value objects validated on construction; the Writer protocol."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

WORDS_PER_SECOND = 2.5
"""Speaking rate used to size scripts to a target duration (≈150 words per minute)."""


class Aspect(StrEnum):
    """Output frame shapes; the value is what users type."""

    VERTICAL = "9:16"
    LANDSCAPE = "16:9"
    SQUARE = "1:1"


class Scene(BaseModel):
    """One visual beat: a title card over a background, covering a run of sentences."""

    model_config = ConfigDict(frozen=True)

    title: str = Field(min_length=1, max_length=60)
    sentences: list[int] = Field(min_length=1, description="indices into Script.sentences")
    colors: tuple[str, str] = ("#1d2b64", "#f8cdda")
    """Two hex colours for the animated gradient background."""


class Script(BaseModel):
    """A complete draft: what the narrator says and what the viewer sees."""

    model_config = ConfigDict(frozen=True)

    idea: str = Field(min_length=1, max_length=2000)
    title: str = Field(min_length=1, max_length=100)
    hook: str = Field(min_length=1, max_length=300)
    sentences: list[str] = Field(min_length=1, max_length=40)
    scenes: list[Scene] = Field(min_length=1)
    target_seconds: int = Field(ge=5, le=180)
    aspect: Aspect = Aspect.VERTICAL
    writer: str = Field(min_length=1, description="who wrote it, e.g. 'offline template writer'")
    music: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]{0,31}$")
    """A bundled background-music bed by name (see pipeline.music), ducked under the voice."""
    captions: Literal["sentence", "words"] = "sentence"
    """Burned-in caption style: whole lines, or lines with the spoken word highlighted."""
    review: list[str] = Field(default_factory=list, max_length=20)
    """What a reviewer (the QC agent) asks a person to check before publishing."""

    @field_validator("sentences")
    @classmethod
    def _no_blank_sentences(cls, sentences: list[str]) -> list[str]:
        if any(not s.strip() for s in sentences):
            raise ValueError("sentences must not be blank")
        return sentences

    @property
    def narration(self) -> list[str]:
        """What is spoken, in order: the hook first, then every sentence."""
        return [self.hook, *self.sentences]

    @property
    def word_count(self) -> int:
        return sum(len(s.split()) for s in self.narration)

    @property
    def estimated_seconds(self) -> float:
        return round(self.word_count / WORDS_PER_SECOND, 1)


class Revision(BaseModel):
    """The result of asking a writer to change a script."""

    model_config = ConfigDict(frozen=True)

    script: Script
    summary: str = Field(
        min_length=1, description="one line saying what changed, or what could not be done"
    )
    changed: bool


class Writer(Protocol):
    """Anything that writes scripts: the offline template writer now, LLM-backed agents later."""

    name: str

    def ideate(self, idea: str) -> list[str]:
        """A few angles on the idea, best first."""
        ...

    def outline(self, idea: str, seconds: int) -> list[str]:
        """Beat titles, one per scene."""
        ...

    def script(self, idea: str, seconds: int, aspect: Aspect = Aspect.VERTICAL) -> Script:
        """A full draft sized to `seconds`."""
        ...

    def revise(self, script: Script, instruction: str) -> Revision:
        """Apply a plain-words instruction ("shorter", "add a joke at the end")."""
        ...


@runtime_checkable
class ProjectWriter(Writer, Protocol):
    """A writer that keeps per-project state: sticky A/B variants and token accounting."""

    def bound(self, project_key: str, workspace: str = "") -> Writer:
        """This writer, with experiment choices and usage kept under `project_key`, and the
        prompt versions `workspace` pins."""
        ...

    @property
    def variants(self) -> Mapping[str, str]:
        """Experiment name -> the variant chosen, for the bound project."""
        ...


def for_project(writer: Writer, project_key: str, workspace: str = "") -> Writer:
    """`writer` bound to a project when it keeps per-project state; else `writer` itself."""
    if isinstance(writer, ProjectWriter):
        return writer.bound(project_key, workspace)
    return writer


def variants_of(writer: Writer) -> dict[str, str]:
    return dict(writer.variants) if isinstance(writer, ProjectWriter) else {}
