"""The script a writer produces: value objects validated on construction; the Writer protocol."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.media.model import Look, Shot

WORDS_PER_SECOND = 2.5
"""Speaking rate used to size scripts to a target duration (≈150 words per minute)."""
MAX_PAUSES = 12
"""A voice plan's pauses at most (one per sentence an agent may write)."""


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
    """Two hex colours for the built-in background (the gradient shown where no shot is)."""
    keywords: list[str] = Field(default_factory=list, max_length=40)
    """Stock-footage search words for the scene's lines, in order (the scene describer's);
    empty: the shot chooser takes them from the words."""
    shots: list[Shot] = Field(default_factory=list, max_length=20)
    """The pictures under this scene, in screen order; empty: the built-in background."""


class Pause(BaseModel):
    """A longer silence after one sentence (an index into `Script.sentences`)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    after_sentence: int = Field(ge=0)
    seconds: float = Field(gt=0, le=3)


class VoicePlan(BaseModel):
    """How the narrator should sound, as the voice-plan agent directs it: a voice character
    (a preference word such as "warm" or "deep", see pipeline.voice.select), a speed, and
    longer pauses after some sentences. It is advice: the user's own voice preference wins."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    voice: str = Field(min_length=1, max_length=40, description="e.g. warm, bright, deep")
    speed: float = Field(ge=0.5, le=2.0, description="1.0 is normal speed")
    pauses: list[Pause] = Field(default_factory=list, max_length=MAX_PAUSES)

    def fitted(self, sentences: int) -> VoicePlan:
        """This plan for `sentences` sentences: pauses after sentences that do not exist are
        dropped, and each sentence keeps one pause (the longest), in order."""
        longest: dict[int, float] = {}
        for pause in self.pauses:
            if pause.after_sentence < sentences:
                index = pause.after_sentence
                longest[index] = max(pause.seconds, longest.get(index, 0.0))
        pauses = [Pause(after_sentence=i, seconds=s) for i, s in sorted(longest.items())]
        return self.model_copy(update={"pauses": pauses})

    def moved(self, before: list[str], after: list[str]) -> VoicePlan:
        """This plan once the sentences changed from `before` to `after`: each pause stays
        with its sentence's words, and goes when they go."""
        where: dict[str, int] = {}
        for index, text in enumerate(after):
            where.setdefault(text, index)
        pauses = [
            Pause(after_sentence=where[before[pause.after_sentence]], seconds=pause.seconds)
            for pause in self.pauses
            if pause.after_sentence < len(before) and before[pause.after_sentence] in where
        ]
        return self.model_copy(update={"pauses": pauses}).fitted(len(after))


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
    look: Look = Look.STOCK
    """What kind of pictures the user asked for (pipeline.media.model.Look)."""
    voice: VoicePlan | None = None
    """How the narrator should sound (the voice-plan agent's advice); None: the default voice.
    The requester's own voice preference wins over it (pipeline.voice.select)."""

    @field_validator("sentences")
    @classmethod
    def _no_blank_sentences(cls, sentences: list[str]) -> list[str]:
        if any(not s.strip() for s in sentences):
            raise ValueError("sentences must not be blank")
        return sentences

    @model_validator(mode="after")
    def _pauses_follow_sentences(self) -> Script:
        if self.voice is not None and any(
            pause.after_sentence >= len(self.sentences) for pause in self.voice.pauses
        ):
            raise ValueError("the voice plan pauses after a sentence the script does not have")
        return self

    @property
    def narration(self) -> list[str]:
        """What is spoken, in order: the hook first, then every sentence."""
        return [self.hook, *self.sentences]

    @property
    def narration_pauses(self) -> dict[int, float]:
        """The voice plan's pauses as seconds of silence after lines of `narration` (the hook
        is line 0, so sentence i is line i + 1)."""
        if self.voice is None:
            return {}
        return {pause.after_sentence + 1: pause.seconds for pause in self.voice.pauses}

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
