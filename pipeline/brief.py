"""What a user asked for, read from one line of plain words: topic, length, tone, frame shape.

`parse_brief("40s on why octopuses have three hearts, playful")` gives the topic "why octopuses
have three hearts", 40 seconds and a playful tone. The reader never raises: whatever it does
not recognise stays in the topic, and an empty topic is the caller's to handle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from pipeline.script import Aspect
from pipeline.text import one_line

MAX_TOPIC_CHARS = 300
MAX_SECONDS = 3600


class Tone(StrEnum):
    """How the narration sounds; the value is the word users type."""

    NEUTRAL = "neutral"
    PLAYFUL = "playful"
    FORMAL = "formal"
    CALM = "calm"
    DRAMATIC = "dramatic"


class Brief(BaseModel):
    """A request read from plain words. `seconds` is what was asked for, not yet clamped."""

    model_config = ConfigDict(frozen=True)

    topic: str = Field(max_length=MAX_TOPIC_CHARS)
    seconds: int | None = Field(default=None, ge=1, le=MAX_SECONDS)
    tone: Tone = Tone.NEUTRAL
    aspect: Aspect | None = None


TONE_WORDS: dict[str, Tone] = {
    **dict.fromkeys(("neutral", "informative", "straightforward", "plain", "normal"), Tone.NEUTRAL),
    **dict.fromkeys(
        (
            "playful",
            "fun",
            "funny",
            "humorous",
            "humourous",
            "lighthearted",
            "light-hearted",
            "light",
            "silly",
            "witty",
            "jokey",
            "cheeky",
            "goofy",
        ),
        Tone.PLAYFUL,
    ),
    **dict.fromkeys(("formal", "serious", "professional", "academic", "scholarly"), Tone.FORMAL),
    **dict.fromkeys(
        ("calm", "relaxed", "relaxing", "soothing", "gentle", "chill", "peaceful", "cozy", "cosy"),
        Tone.CALM,
    ),
    **dict.fromkeys(
        ("dramatic", "epic", "intense", "suspenseful", "thrilling", "cinematic"), Tone.DRAMATIC
    ),
}
ASPECT_WORDS: dict[str, Aspect] = {
    **dict.fromkeys(("vertical", "portrait", "tall"), Aspect.VERTICAL),
    **dict.fromkeys(("landscape", "horizontal", "widescreen", "wide"), Aspect.LANDSCAPE),
    "square": Aspect.SQUARE,
}
_FILLER = frozenset(
    [
        "a",
        "an",
        "the",
        "in",
        "it",
        "and",
        "please",
        "pls",
        "make",
        "keep",
        "very",
        "bit",
        "little",
        "more",
        "quite",
        "super",
        "with",
        "video",
        "clip",
        "short",
        "format",
        "mode",
        "orientation",
        "ratio",
        "aspect",
        "tone",
        "style",
        "voice",
        "vibe",
        "way",
        "manner",
        "mood",
        "feel",
    ]
)
_PREFIX_WORDS = _FILLER | frozenset(
    [
        "create",
        "do",
        "me",
        "us",
        "give",
        "tell",
        "write",
        "script",
        "explainer",
        "reel",
        "tiktok",
        "quick",
        "new",
        "can",
        "you",
        "could",
        "would",
        "i",
        "want",
        "need",
        "like",
        "let's",
        "lets",
        "some",
        "nice",
        "brief",
        "fast",
    ]
)
_CONNECTORS = frozenset(("on", "about", "explaining", "explain", "regarding", "covering", "of"))
_DANGLING = frozenset(("in", "for", "under", "about", "on", "with", "at", "within", "a", "an"))

_TONE_RE = "|".join(sorted(map(re.escape, TONE_WORDS), key=len, reverse=True))
_ASPECT_RE = "|".join(sorted(map(re.escape, ASPECT_WORDS), key=len, reverse=True))
_TONE_PHRASES = (
    re.compile(rf"\b(?:in\s+an?\s+)?({_TONE_RE})\s+(?:tone|style|voice|manner|vibe|mood)\b", re.I),
    re.compile(rf"\b(?:keep|make)\s+it\s+({_TONE_RE})\b", re.I),
    re.compile(rf"\btone\s*[:=]\s*({_TONE_RE})\b", re.I),
)
_ASPECT_PHRASE = re.compile(
    rf"\b(?:in\s+)?({_ASPECT_RE})\s+(?:format|mode|orientation|aspect|ratio|video|clip)\b", re.I
)
_RATIO = re.compile(r"(?<![\d.])(9|16|1)\s*[:x×/]\s*(16|9|1)(?![\d.])", re.I)
_RATIOS = {("9", "16"): Aspect.VERTICAL, ("16", "9"): Aspect.LANDSCAPE, ("1", "1"): Aspect.SQUARE}
_SEPARATORS = re.compile(r"(\s*(?:[,;|()\[\]{}:]|\s[-–—]\s)\s*)")
_COMMAND = re.compile(r"^\s*/[\w-]+(?:@\w+)?\s*")
_EDGE_PUNCTUATION = " \t,;:-–—.!?¡¿\"'“”‘’«»`*_~"


@dataclass(frozen=True)
class Duration:
    """A length found in text: the seconds it means and where it was written."""

    seconds: int
    start: int
    end: int


_UNIT_S = r"(?:seconds?|secs?|s)\b"
_UNIT_M = r"(?:minutes?|mins?)\b"
_DURATION_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(rf"\b(\d{{1,3}})\s*(?:{_UNIT_M}|m)\s*(?:and\s+)?(\d{{1,2}})\s*{_UNIT_S}", re.I),
        "ms",
    ),
    (
        re.compile(
            r"\b(?:a|one)\s+minute\s+and\s+a\s+half\b|\b(?:one\s+and\s+a\s+)?half\s*-?\s*(?:a\s+)?minutes?\b",
            re.I,
        ),
        "words",
    ),
    (re.compile(rf"\b(\d{{1,4}}(?:\.\d+)?)\s*-?\s*(?:{_UNIT_M}|m\b)", re.I), "m"),
    (re.compile(rf"(?<![\w'’.])(\d{{1,4}}(?:\.\d+)?)\s*-?\s*{_UNIT_S}", re.I), "s"),
    (re.compile(r"\b(a|an|one|two|three)\s*-?\s*minutes?\b", re.I), "count"),
)
_COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3}


def find_duration(text: str) -> Duration | None:
    """The first plausible duration in `text` ("40s", "1 min", "1m30s", "half a minute")."""
    found = [d for pattern, kind in _DURATION_PATTERNS for d in _durations(pattern, kind, text)]
    return min(found, key=lambda d: (d.start, -d.end)) if found else None


def _durations(pattern: re.Pattern[str], kind: str, text: str) -> list[Duration]:
    found = []
    for match in pattern.finditer(text):
        seconds = _seconds(match, kind, text)
        if seconds is not None and 1 <= seconds <= MAX_SECONDS:
            found.append(Duration(seconds, match.start(), match.end()))
    return found


def _seconds(match: re.Match[str], kind: str, text: str) -> int | None:
    if kind == "ms":
        return int(match[1]) * 60 + int(match[2])
    if kind == "words":
        return 90 if ("and" in match[0].lower() or "one" in match[0].lower()) else 30
    if kind == "count":
        return _COUNTS[match[1].lower()] * 60
    value = float(match[1])
    bare_m = kind == "m" and match[0].rstrip().lower().endswith("m")
    if bare_m and value > 3:  # "5m" is more likely millions or metres than minutes
        return None
    if kind == "s" and _looks_like_decade(match, text, value):
        return None
    return round(value * (60 if kind == "m" else 1))


def _looks_like_decade(match: re.Match[str], text: str, value: float) -> bool:
    """ "the 80s" and "1990s" are decades, not durations."""
    if not re.search(r"\ds$", match[0].lower()):
        return False
    if value >= 1000:
        return True
    before = text[: match.start()].rstrip().lower()
    return value % 10 == 0 and before.endswith(("the", "early", "late", "mid"))


def parse_brief(text: str) -> Brief:
    """Read a request like "a 1 minute video about black holes, formal, 16:9". Never raises."""
    text = _COMMAND.sub("", one_line(text)[: MAX_TOPIC_CHARS * 8])
    seconds, text = _take_duration(text)
    aspect, text = _take_ratio(text)
    tone, aspect, text = _take_phrases(text, aspect)
    tone, aspect, text = _take_modifier_segments(text, tone, aspect)
    tone, aspect, text = _take_prefix(text, tone, aspect)
    return Brief(topic=_tidy_topic(text), seconds=seconds, tone=tone or Tone.NEUTRAL, aspect=aspect)


def _take_duration(text: str) -> tuple[int | None, str]:
    found = find_duration(text)
    if found is None:
        return None, text
    return found.seconds, f"{text[: found.start]} {text[found.end :]}"


def _take_ratio(text: str) -> tuple[Aspect | None, str]:
    for match in _RATIO.finditer(text):
        aspect = _RATIOS.get((match[1], match[2]))
        if aspect is not None:
            return aspect, f"{text[: match.start()]} {text[match.end() :]}"
    return None, text


def _take_phrases(text: str, aspect: Aspect | None) -> tuple[Tone | None, Aspect | None, str]:
    tone = None
    for pattern in _TONE_PHRASES:
        match = pattern.search(text)
        if match and tone is None:
            tone = TONE_WORDS[match[1].lower()]
            text = f"{text[: match.start()]} {text[match.end() :]}"
    match = _ASPECT_PHRASE.search(text)
    if match:
        aspect = aspect or ASPECT_WORDS[match[1].lower()]
        text = f"{text[: match.start()]} {text[match.end() :]}"
    return tone, aspect, text


def _words(segment: str) -> list[str]:
    return re.findall(r"[\w'’-]+", segment.lower())


def _modifiers(
    words: list[str], allowed: frozenset[str]
) -> tuple[Tone | None, Aspect | None] | None:
    """The tone and aspect `words` name, or None when a word is neither a modifier nor filler."""
    if not all(w in TONE_WORDS or w in ASPECT_WORDS or w in allowed for w in words):
        return None
    tones = [TONE_WORDS[w] for w in words if w in TONE_WORDS]
    aspects = [ASPECT_WORDS[w] for w in words if w in ASPECT_WORDS]
    return (tones[0] if tones else None), (aspects[0] if aspects else None)


def _take_modifier_segments(
    text: str, tone: Tone | None, aspect: Aspect | None
) -> tuple[Tone | None, Aspect | None, str]:
    """Drop comma-separated parts that only say how ("…, playful", "(vertical)")."""
    parts = _SEPARATORS.split(text)
    kept: list[str] = []
    for index in range(0, len(parts), 2):
        if not parts[index].strip():
            continue
        words = _words(parts[index])
        found = _modifiers(words, _FILLER) if words else None
        if found is None or not any(w in TONE_WORDS or w in ASPECT_WORDS for w in words):
            kept.extend([parts[index - 1]] if index and kept else [])
            kept.append(parts[index])
            continue
        tone, aspect = tone or found[0], aspect or found[1]
    return tone, aspect, "".join(kept)


def _take_prefix(
    text: str, tone: Tone | None, aspect: Aspect | None
) -> tuple[Tone | None, Aspect | None, str]:
    """Drop a lead-in such as "a playful video about" or "explain" before the topic."""
    tokens = text.split()
    for index, token in enumerate(tokens):
        word = token.lower().strip(_EDGE_PUNCTUATION)
        if word in _CONNECTORS:
            found = _modifiers([t.lower() for t in tokens[:index]], _PREFIX_WORDS)
            if found is None or index + 1 == len(tokens):
                return tone, aspect, text
            return tone or found[0], aspect or found[1], " ".join(tokens[index + 1 :])
        if word not in _PREFIX_WORDS and word not in TONE_WORDS and word not in ASPECT_WORDS:
            return tone, aspect, text
    return tone, aspect, text


def _tidy_topic(text: str) -> str:
    words = text.strip(_EDGE_PUNCTUATION).split()
    while words and words[-1].lower().strip(_EDGE_PUNCTUATION) in _DANGLING:
        words.pop()
    topic = " ".join(words).strip(_EDGE_PUNCTUATION)
    if len(topic) > MAX_TOPIC_CHARS:
        topic = topic[: MAX_TOPIC_CHARS + 1].rsplit(" ", 1)[0][:MAX_TOPIC_CHARS].rstrip()
    return topic
