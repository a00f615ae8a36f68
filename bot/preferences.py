"""Preferences set by talking: "always 45 seconds", "from now on square videos", "calm voice".

A user's preferences (length, tone, frame shape, voice) are kept per adapter, workspace and user
in a Redis hash with no expiry, so they outlive restarts. A new draft takes a preference only
where the idea itself says nothing: "/make 30s on tea" stays 30 s whatever the default is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from redis import Redis

from bot.events import Conversation
from pipeline.brief import ASPECT_WORDS, MAX_SECONDS, TONE_WORDS, Brief, Tone, find_duration
from pipeline.script import Aspect

FIELDS = ("seconds", "tone", "aspect", "voice")


def _vocabulary(text: str) -> frozenset[str]:
    return frozenset(text.split())


VOICE_WORDS = _vocabulary(
    "deep low high female male woman woman's man man's british american australian warm soft "
    "bright energetic young older"
)
_ASPECT_NAMES = {
    Aspect.VERTICAL: "vertical 9:16",
    Aspect.LANDSCAPE: "landscape 16:9",
    Aspect.SQUARE: "square 1:1",
}


class Preferences(BaseModel):
    """What a user wants unless they say otherwise; None means no preference."""

    model_config = ConfigDict(frozen=True)

    seconds: int | None = Field(default=None, ge=1, le=MAX_SECONDS)
    tone: Tone | None = None
    aspect: Aspect | None = None
    voice: str | None = Field(default=None, max_length=40)

    @property
    def empty(self) -> bool:
        return all(getattr(self, name) is None for name in FIELDS)

    def merged(self, newer: Preferences) -> Preferences:
        """These preferences with every field `newer` sets replaced."""
        return self.model_copy(update=newer.model_dump(exclude_none=True))

    def describe(self) -> str:
        """ "45 s, playful tone, square 1:1" — the set fields in plain words."""
        parts = [
            f"{self.seconds} s" if self.seconds else "",
            f"{self.tone.value} tone" if self.tone else "",
            _ASPECT_NAMES[self.aspect] if self.aspect else "",
            f"{self.voice} voice" if self.voice else "",
        ]
        return ", ".join(p for p in parts if p)


class Verb(StrEnum):
    """What a preference statement asks: set some preferences, forget them, or show them."""

    SET = "set"
    FORGET = "forget"
    SHOW = "show"


@dataclass(frozen=True)
class Statement:
    """What a line said about preferences. For FORGET, empty `fields` means all of them."""

    verb: Verb
    preferences: Preferences = field(default_factory=Preferences)
    fields: frozenset[str] = frozenset()


_MARKER = re.compile(
    r"\b(?:always|from\s+now\s+on|by\s+default|default\s+to|defaults?|in\s+(?:the\s+)?future|"
    r"going\s+forward|every\s+time|each\s+time|henceforth|from\s+here\s+on|"
    r"(?:all|future)\s+(?:my\s+)?(?:future\s+)?(?:videos|clips|ones)|my\s+videos|"
    r"i(?:'d|\s+would)?\s+prefer|i\s+(?:really\s+)?like\s+(?:my\s+)?(?:videos|clips|them)|"
    r"i\s+want\s+(?:all\s+)?my\s+(?:videos|clips)|remember\s+(?:that\s+)?i\s+(?:like|prefer|want)|"
    r"[a-z']+[\s-]+(?:sounding\s+)?voice)\b",
    re.IGNORECASE,
)
_FORGET = re.compile(
    r"^(?:please\s+)?(?:forget|reset|clear|drop|delete|remove|wipe)\s+(?:all\s+)?(?:of\s+)?"
    r"(?:my|the)\s+(?:(?P<field>tone|length|duration|aspect|format|shape|voice)\s+)?"
    r"(?:preferences?|defaults?|settings?|prefs)\b",
    re.IGNORECASE,
)
_SHOW = re.compile(
    r"^(?:what\s+are|show(?:\s+me)?|list)\s+my\s+(?:preferences|defaults|settings|prefs)\b",
    re.IGNORECASE,
)
_RATIO = re.compile(r"(?<![\d.])(9|16|1)\s*[:x×/]\s*(16|9|1)(?![\d.])")
_RATIOS = {("9", "16"): Aspect.VERTICAL, ("16", "9"): Aspect.LANDSCAPE, ("1", "1"): Aspect.SQUARE}
_VOICE = re.compile(r"\b([a-z']+)[\s-]+(?:sounding\s+)?(?:voice|narrator|narration)\b")
_TOKEN = re.compile(r"[a-z0-9']+")
_FILLER = _vocabulary(
    "always from now on by default defaults default to in the future going forward every each time "
    "henceforth here all my future videos video clips clip ones one i i'd would prefer really like "
    "want remember that please make it them they be should a an use with and keep ok okay is are "
    "tone voice format aspect ratio orientation shape frame mode style narration narrator long "
    "length seconds second secs sec s minute minutes of for me set do just so sounding"
)
_BARE_FILLER = _vocabulary(
    "a an all my videos video clips please long length seconds second secs s minute minutes "
    "tone voice format aspect ratio orientation narration narrator sounding and with in"
)
"""Without a marker, only these may surround a preference: "square videos", "calm voice"."""
_FIELD_NAMES = {
    "tone": "tone",
    "length": "seconds",
    "duration": "seconds",
    "aspect": "aspect",
    "format": "aspect",
    "shape": "aspect",
    "voice": "voice",
}


def read_statement(text: str, *, bare: bool = False, lenient: bool = False) -> Statement | None:
    """The preference statement in `text`, or None.

    A statement needs a marker ("always", "from now on", "I prefer", ...) unless `bare`; every
    other word must be a preference or filler unless `lenient` (so "always make a video about
    cats" is not one).
    """
    norm = " ".join(text.lower().replace("’", "'").split()).strip(" .!")
    forget = _FORGET.match(norm)
    if forget:
        field = _FIELD_NAMES.get(forget["field"] or "")
        return Statement(Verb.FORGET, fields=frozenset([field] if field else []))
    if _SHOW.match(norm):
        return Statement(Verb.SHOW)
    if not (bare or lenient) and not _MARKER.search(norm):
        return None
    found, rest = _extract(norm)
    marked = bool(_MARKER.search(norm))
    filler = _FILLER if marked else _BARE_FILLER
    if found.empty or not (lenient or all(t in filler for t in _TOKEN.findall(rest))):
        return None
    return Statement(Verb.SET, found)


def _extract(text: str) -> tuple[Preferences, str]:
    """The preferences named in `text`, and what is left once they are cut out."""
    values: dict[str, object] = {}
    duration = find_duration(text)
    if duration is not None:
        values["seconds"] = duration.seconds
        text = f"{text[: duration.start]} {text[duration.end :]}"
    ratio = _RATIO.search(text)
    if ratio and (ratio[1], ratio[2]) in _RATIOS:
        values["aspect"] = _RATIOS[(ratio[1], ratio[2])]
        text = f"{text[: ratio.start()]} {text[ratio.end() :]}"
    text = _take_voice(text, values)
    return Preferences.model_validate(values | _named(text, values)), _drop_words(text)


def _take_voice(text: str, values: dict[str, object]) -> str:
    for match in _VOICE.finditer(text):
        word = match[1]
        if word in VOICE_WORDS:
            values["voice"] = word.removesuffix("'s")
            return f"{text[: match.start()]} {text[match.end() :]}"
    return text


def _named(text: str, values: dict[str, object]) -> dict[str, object]:
    """Tone and aspect named by single words ("playful", "square", "landscape")."""
    found: dict[str, object] = {}
    for token in _TOKEN.findall(text):
        if token in TONE_WORDS and "tone" not in found:
            found["tone"] = TONE_WORDS[token]
        elif token in ASPECT_WORDS and "aspect" not in found and "aspect" not in values:
            found["aspect"] = ASPECT_WORDS[token]
    return found


def _drop_words(text: str) -> str:
    return " ".join(
        t for t in _TOKEN.findall(text) if t not in TONE_WORDS and t not in ASPECT_WORDS
    )


def apply(brief: Brief, preferences: Preferences) -> tuple[Brief, Preferences]:
    """`brief` with its gaps filled from `preferences`, and which preferences were used."""
    used = Preferences(
        seconds=preferences.seconds if brief.seconds is None else None,
        tone=preferences.tone if brief.tone is Tone.NEUTRAL else None,
        aspect=preferences.aspect if brief.aspect is None else None,
    )
    update = {k: v for k, v in used.model_dump().items() if k != "voice" and v is not None}
    return brief.model_copy(update=update), used


class PreferenceStore:
    """Preferences per (adapter, workspace, user): one Redis hash each, no expiry."""

    def __init__(self, redis: Redis, prefix: str = "novacast") -> None:
        self.redis = redis
        self.prefix = prefix

    def _key(self, conversation: Conversation) -> str:
        c = conversation
        return f"{self.prefix}:prefs:{c.adapter}:{c.workspace}:{c.user}"

    def get(self, conversation: Conversation) -> Preferences:
        raw = self.redis.hgetall(self._key(conversation))
        values = {_text(k): _text(v) for k, v in raw.items()}
        return Preferences.model_validate({k: v for k, v in values.items() if k in FIELDS})

    def update(self, conversation: Conversation, newer: Preferences) -> Preferences:
        """Set every field `newer` sets (field by field, so concurrent updates both land)."""
        key = self._key(conversation)
        pipe = self.redis.pipeline(transaction=True)
        for name, value in newer.model_dump(exclude_none=True).items():
            pipe.hset(key, name, str(value))
        pipe.execute()
        return self.get(conversation)

    def forget(self, conversation: Conversation, fields: frozenset[str] = frozenset()) -> None:
        """Drop the named fields, or every preference when `fields` is empty."""
        key = self._key(conversation)
        if fields:
            self.redis.hdel(key, *sorted(fields))
        else:
            self.redis.delete(key)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
