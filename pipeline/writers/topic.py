"""What a video is about, in the grammatical shapes the templates need.

A topic arrives as typed: "why octopuses have three hearts", "how to bake bread", "black holes",
or a direct question, "why is the sky blue". The templates need it after "about", after "Ever
wondered", as a direct question, and title-cased; `read_topic` works those out once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from pipeline.text import one_line

MAX_TOPIC_WORDS_CHARS = 150
_WH = frozenset(("why", "how", "what", "who", "when", "where", "which"))
_AUX = frozenset(
    [
        "is",
        "are",
        "was",
        "were",
        "does",
        "did",
        "can",
        "could",
        "will",
        "would",
        "should",
        "has",
        "have",
        "had",
        "may",
        "might",
        "must",
        "am",
    ]
)
_STATEMENT_VERBS = frozenset(("is", "are", "was", "were", "has", "have", "had", "can", "could"))
_SMALL_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "but",
        "or",
        "nor",
        "for",
        "so",
        "yet",
        "at",
        "by",
        "in",
        "of",
        "off",
        "on",
        "per",
        "to",
        "up",
        "via",
        "vs",
        "with",
        "as",
    ]
)
_LOWER_FIRST = frozenset(("the", "a", "an", *_WH))


class Kind(StrEnum):
    WHY = "why"
    HOW = "how"
    WHAT = "what"
    PLAIN = "plain"


@dataclass(frozen=True)
class Topic:
    """A topic and the phrases made from it; `about` fits "let's talk about ___"."""

    text: str
    kind: Kind
    about: str
    wonder: str
    direct: str | None
    label: str

    def seed(self, *salt: str) -> int:
        """A stable number for deterministic choices (never Python's randomized `hash`)."""
        data = "\x1f".join((self.text.casefold(), *salt)).encode("utf-8", "surrogatepass")
        return int.from_bytes(hashlib.sha256(data).digest()[:8], "big")


def read_topic(text: str) -> Topic:
    """Shape a cleaned topic; a topic that is a plain statement becomes a "why" question."""
    text = clip(one_line(text).strip(" .!?,;:"), MAX_TOPIC_WORDS_CHARS, ellipsis=False)
    words = text.split() or ["this idea"]
    first = words[0].lower()
    if first in _LOWER_FIRST:
        words[0] = first
    if first in _WH:
        return _question(words)
    if any(w.lower() in _STATEMENT_VERBS for w in words[1:4]):
        return _question(["why", *words])
    return _plain(" ".join(words))


def _question(words: list[str]) -> Topic:
    kind = Kind(words[0]) if words[0] in {"why", "how"} else Kind.WHAT
    second = words[1].lower() if len(words) > 1 else ""
    if second == "do":
        words = [words[0], *words[2:]]
    elif second in _AUX:
        direct = " ".join(words)
        return Topic(
            text=direct,
            kind=kind,
            about="this question",
            wonder="about this question",
            direct=_capital(direct) + "?",
            label=title_case(direct) + "?",
        )
    clause = " ".join(words)
    return Topic(
        text=clause,
        kind=kind,
        about=clause,
        wonder=clause,
        direct=None,
        label=title_case(clause),
    )


def _plain(phrase: str) -> Topic:
    return Topic(
        text=phrase,
        kind=Kind.PLAIN,
        about=phrase,
        wonder=f"about {phrase}",
        direct=None,
        label=title_case(phrase),
    )


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def title_case(text: str) -> str:
    """Title Case; words with capitals stay as typed ("NASA", "iPhone"), small words stay low."""
    words = text.split()
    last = len(words) - 1
    return " ".join(_title_word(word, edge=index in {0, last}) for index, word in enumerate(words))


def _title_word(word: str, *, edge: bool) -> str:
    if any(ch.isupper() for ch in word):
        return word
    if word.lower() in _SMALL_WORDS and not edge:
        return word.lower()
    return "-".join(_capital(part) for part in word.split("-"))


def clip(text: str, limit: int, *, ellipsis: bool = True) -> str:
    """`text` cut at a word boundary to at most `limit` characters, marked with "…"."""
    if len(text) <= limit:
        return text
    room = limit - 1 if ellipsis else limit
    cut = text[: room + 1].rsplit(" ", 1)[0] if " " in text[: room + 1] else text[:room]
    cut = cut[:room].rstrip(" ,;:-–—")
    return (cut or text[:room]) + ("…" if ellipsis else "")
