"""Narration audio with exact per-sentence timing, and the Voice protocol that makes it."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Cue(BaseModel):
    """One spoken sentence and when it is heard, in seconds from the start of the audio."""

    model_config = ConfigDict(frozen=True)

    start: float = Field(ge=0)
    end: float
    text: str = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> Cue:
        if self.end <= self.start:
            raise ValueError("cue must end after it starts")
        return self


class Narration(BaseModel):
    """A loudness-normalized mono WAV plus one cue per sentence, in speaking order."""

    model_config = ConfigDict(frozen=True)

    audio: Path
    duration: float = Field(gt=0)
    sample_rate: int = Field(gt=0)
    cues: list[Cue] = Field(min_length=1)
    words: list[Cue] = Field(default_factory=list)
    """Per-word timing, when the voice provides it (ElevenLabs timestamps, Piper alignments);
    empty means sentence-level timing only, and captions fall back to whole sentences."""


class Voice(Protocol):
    """A text-to-speech engine: Piper by default; ElevenLabs and others plug in the same way."""

    name: str

    def speak(self, sentences: list[str], out: Path) -> Narration:
        """Synthesize `sentences` in order into the WAV file `out`; return it with exact cues."""
        ...
