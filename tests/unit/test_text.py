"""One cleaning rule for everything people type."""

from __future__ import annotations

import pytest

from pipeline.text import clean_text, one_line

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("why cats purr\x07\x1b[31m red\x1b[0m", "why cats purr red"),
        ("title\x1b]0;pwned\x07 here", "title here"),
        ("a\u202eb\u200bc", "abc"),
        ("ﬁne  \t spaces", "fine spaces"),
        ("line one\r\nline two\n\n\n\nend", "line one\nline two\n\nend"),
        (FAMILY + " family", FAMILY + " family"),
        ("\x00\x01\x02", ""),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_one_line_joins_lines() -> None:
    assert one_line(" first\nsecond \u2028third ") == "first second third"
