"""Cleaning what people type: one place that decides which characters reach scripts and chats."""

from __future__ import annotations

import re
import unicodedata

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
"""Terminal escape sequences (colours, cursor moves, titles): removed whole, not just the ESC."""
_KEEP_FORMAT = {"\u200c", "\u200d"}
"""Zero-width (non-)joiners: emoji sequences and some scripts need them; other format chars go."""
_LINE_BREAKS = re.compile(r"\r\n?|[\u2028\u2029\x85]")
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """NFKC; no escape sequences, control or invisible characters; newlines kept."""
    text = _LINE_BREAKS.sub("\n", unicodedata.normalize("NFKC", _ANSI.sub("", text)))
    text = "".join(_clean_char(c) for c in text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def one_line(text: str) -> str:
    """`clean_text`, with line breaks turned into spaces."""
    return " ".join(clean_text(text).split())


def _clean_char(char: str) -> str:
    if char == "\n":
        return char
    category = unicodedata.category(char)
    if category == "Cc":
        return " " if char == "\t" else ""
    if category in ("Cf", "Cs", "Co", "Cn") and char not in _KEEP_FORMAT:
        return ""
    return char
