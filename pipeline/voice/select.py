"""Which voice speaks: a `VoiceChoice` (engine, voice, preference, speed) becomes a `Voice`.

This module owns the choice between engines and the named preferences. ElevenLabs speaks when
`ELEVENLABS_API_KEY` is set and the choice asks for it: by naming the engine, or by naming a
voice or a preference ("a calm voice") without naming Piper. Everything else, and every choice
when there is no key, is the offline Piper voice. `voices.yaml` beside this module maps each
preference word (and its aliases: "warm" reads as "calm") to an ElevenLabs voice and speed and
to a Piper speed (its length_scale is the inverse), and ElevenLabs voice names to ids.
`ELEVENLABS_BASE_URL` is passed to the SDK, which does not read it itself.

A script may carry a voice plan (`Script.voice`, the voice-plan agent's advice). `choice_for`
ranks who decides: the requester's voice preference ("calm") decides voice and pace; without
one the plan does (its voice word read like a preference, or an ElevenLabs voice name from the
table, and its speed); without a plan, the default voice. A plan voice nobody knows is logged
and the default voice speaks at the plan's speed. `voice_for_script` is that choice as a
`Voice`, with the plan's pauses: the one place a render asks which voice speaks a script.
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
from pipeline.script import Script, VoicePlan
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


def choice_for(plan: VoicePlan | None, preference: str | None = None) -> VoiceChoice:
    """Who picks the voice: a known `preference` word, else the voice `plan`, else nobody."""
    if preference and preference_in(preference) is not None:
        return VoiceChoice(preference=preference)
    if preference:
        log.info("the voice preference %r names no known voice; it is ignored", preference)
    if plan is None:
        return VoiceChoice()
    if preference_in(plan.voice) is not None:
        return VoiceChoice(preference=plan.voice, speed=plan.speed)
    name = _voice_name(voice_table(), plan.voice)
    if name is not None:
        return VoiceChoice(voice=name, speed=plan.speed)
    log.warning("the voice plan asks for an unknown voice %r; using the default voice", plan.voice)
    return VoiceChoice(speed=plan.speed)


def voice_for_script(
    script: Script, preference: str | None = None, env: Mapping[str, str] | None = None
) -> Voice:
    """The voice that speaks `script` for a requester who prefers `preference` (see
    `choice_for`), with the pauses the script's voice plan asks for."""
    return voice_for(choice_for(script.voice, preference), env, pauses=script.narration_pauses)


def voice_for(
    choice: VoiceChoice | None,
    env: Mapping[str, str] | None = None,
    *,
    pauses: Mapping[int, float] | None = None,
) -> Voice:
    """The voice for `choice` (None: the default), given the environment (os.environ);
    `pauses` (line index -> seconds) lengthens the silence after those lines."""
    choice = choice or VoiceChoice()
    env = os.environ if env is None else env
    key = env.get("ELEVENLABS_API_KEY", "").strip()
    if _wants_elevenlabs(choice) and key:
        return _elevenlabs(choice, key, env.get("ELEVENLABS_BASE_URL") or None, pauses)
    if choice.engine is Engine.ELEVENLABS:
        log.info("ElevenLabs was asked for but ELEVENLABS_API_KEY is not set; using Piper")
    return _piper(choice, pauses)


def _wants_elevenlabs(choice: VoiceChoice) -> bool:
    if choice.engine is not None:
        return choice.engine is Engine.ELEVENLABS
    return choice.voice is not None or preference_in(choice.preference) is not None


def _elevenlabs(
    choice: VoiceChoice, key: str, base_url: str | None, pauses: Mapping[int, float] | None
) -> ElevenLabsTTS:
    table = voice_table()
    preference = preference_in(choice.preference)
    pick = table.preferences[preference].elevenlabs if preference else _Pick()
    name = choice.voice or pick.voice or table.elevenlabs.default_voice
    voice_id = _voice_id(table, name)
    speed = min(max(choice.speed or pick.speed, SPEED_RANGE[0]), SPEED_RANGE[1])
    return ElevenLabsTTS(key, voice_id, base_url=base_url, model_id=table.elevenlabs.model_id,
                         speed=speed, pauses=pauses)


def _voice_id(table: VoiceTable, name: str) -> str:
    """A voice name from the table (any case) as its id; anything else is taken as an id."""
    by_name = {known.lower(): voice_id for known, voice_id in table.elevenlabs.voices.items()}
    return by_name.get(name.strip().lower(), name.strip())


def _voice_name(table: VoiceTable, text: str) -> str | None:
    """The table's ElevenLabs voice named by `text` (any case), or None."""
    by_name = {known.lower(): known for known in table.elevenlabs.voices}
    return by_name.get(text.strip().lower())


def _piper(choice: VoiceChoice, pauses: Mapping[int, float] | None) -> PiperTTS:
    preference = preference_in(choice.preference)
    pick = voice_table().preferences[preference].piper if preference else _Pick()
    speed = choice.speed or pick.speed
    return PiperTTS(length_scale=round(min(max(1.0 / speed, 0.5), 2.0), 3), pauses=pauses)
