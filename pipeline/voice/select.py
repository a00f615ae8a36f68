"""Which voice speaks: a `VoiceChoice` (engine, voice, preference, speed) becomes a `Voice`.

This module owns the choice between engines and the named preferences. ElevenLabs speaks when
`ELEVENLABS_API_KEY` is set and the choice asks for it: by naming the engine, or by naming a
voice or a preference ("a calm voice") without naming Piper. Everything else, and every choice
when there is no key, is the offline Piper voice. `voices.yaml` beside this module maps each
preference word (and its aliases: "warm" reads as "calm") to an ElevenLabs voice and speed and
to a Piper speed (its length_scale is the inverse), and ElevenLabs voice names to ids.
`ELEVENLABS_BASE_URL` is passed to the SDK, which does not read it itself.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipeline.narration import Voice
from pipeline.voice.elevenlabs_tts import SPEED_RANGE, ElevenLabsTTS
from pipeline.voice.piper_tts import PiperTTS

log = logging.getLogger(__name__)

VOICES_FILE = Path(__file__).with_name("voices.yaml")


class Engine(StrEnum):
    PIPER = "piper"
    ELEVENLABS = "elevenlabs"


class VoiceChoice(BaseModel):
    """What a user asked for; every field optional. `voice` is an ElevenLabs name or id."""

    model_config = ConfigDict(frozen=True)

    engine: Engine | None = None
    voice: str | None = Field(default=None, min_length=1, max_length=80)
    preference: str | None = Field(default=None, max_length=200)
    """Free words ("a calm voice"); the first known preference word in them counts."""
    speed: float | None = Field(default=None, ge=0.5, le=2.0)


class _Pick(BaseModel):
    voice: str | None = None
    speed: float = Field(default=1.0, ge=0.5, le=2.0)


class _Preference(BaseModel):
    elevenlabs: _Pick
    piper: _Pick


class _ElevenLabsTable(BaseModel):
    model_id: str
    default_voice: str
    voices: dict[str, str]


class VoiceTable(BaseModel):
    """The contents of `voices.yaml`."""

    elevenlabs: _ElevenLabsTable
    preferences: dict[str, _Preference]
    aliases: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known(self) -> VoiceTable:
        voices = set(self.elevenlabs.voices)
        for name, preference in self.preferences.items():
            if preference.elevenlabs.voice not in voices | {None}:
                raise ValueError(f"preference {name} names an unknown ElevenLabs voice")
        if not set(self.aliases.values()) <= set(self.preferences):
            raise ValueError("an alias points at no preference")
        return self


@functools.cache
def voice_table(path: Path = VOICES_FILE) -> VoiceTable:
    """The voice table, read and validated once per process."""
    with path.open(encoding="utf-8") as file:
        return VoiceTable.model_validate(yaml.safe_load(file))


def preference_in(text: str | None) -> str | None:
    """The first preference word ("calm", "energetic", …, or an alias: "warm") in `text`."""
    table = voice_table()
    words: list[str] = re.findall(r"[a-z]+", (text or "").lower())
    for word in words:
        if word in table.preferences:
            return word
        if word in table.aliases:
            return table.aliases[word]
    return None


def voice_for(choice: VoiceChoice | None, env: Mapping[str, str] | None = None) -> Voice:
    """The voice for `choice` (None: the default), given the environment (os.environ)."""
    choice = choice or VoiceChoice()
    env = os.environ if env is None else env
    key = env.get("ELEVENLABS_API_KEY", "").strip()
    if _wants_elevenlabs(choice) and key:
        return _elevenlabs(choice, key, env.get("ELEVENLABS_BASE_URL") or None)
    if choice.engine is Engine.ELEVENLABS:
        log.info("ElevenLabs was asked for but ELEVENLABS_API_KEY is not set; using Piper")
    return _piper(choice)


def _wants_elevenlabs(choice: VoiceChoice) -> bool:
    if choice.engine is not None:
        return choice.engine is Engine.ELEVENLABS
    return choice.voice is not None or preference_in(choice.preference) is not None


def _elevenlabs(choice: VoiceChoice, key: str, base_url: str | None) -> ElevenLabsTTS:
    table = voice_table()
    preference = preference_in(choice.preference)
    pick = table.preferences[preference].elevenlabs if preference else _Pick()
    name = choice.voice or pick.voice or table.elevenlabs.default_voice
    voice_id = _voice_id(table, name)
    speed = min(max(choice.speed or pick.speed, SPEED_RANGE[0]), SPEED_RANGE[1])
    return ElevenLabsTTS(key, voice_id, base_url=base_url, model_id=table.elevenlabs.model_id,
                         speed=speed)


def _voice_id(table: VoiceTable, name: str) -> str:
    """A voice name from the table (any case) as its id; anything else is taken as an id."""
    by_name = {known.lower(): voice_id for known, voice_id in table.elevenlabs.voices.items()}
    return by_name.get(name.strip().lower(), name.strip())


def _piper(choice: VoiceChoice) -> PiperTTS:
    preference = preference_in(choice.preference)
    pick = voice_table().preferences[preference].piper if preference else _Pick()
    speed = choice.speed or pick.speed
    return PiperTTS(length_scale=round(min(max(1.0 / speed, 0.5), 2.0), 3))
