"""Caption cutting and the SRT, WebVTT and ASS writers, including hostile and odd text."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from pipeline.captions import (
    MAX_LINES,
    Caption,
    caption_cues,
    caption_font_size,
    chars_per_line,
    display_width,
    split_sentence,
    write_ass,
    write_srt,
    write_vtt,
)
from pipeline.narration import Cue

LONG = ("Two pump blood to the gills, the third one feeds the rest of the body, "
        "and that one stops beating whenever the octopus swims.")
ODD = "{\\b1}Weird \\N stuff 🙂 שלום עולם e\u0301te\u0301 --> <i>x</i> & done"


def _cue(text: str, start: float = 1.0, end: float = 5.0) -> Cue:
    return Cue(start=start, end=end, text=text)


def test_short_sentence_is_one_caption_with_the_cue_timing() -> None:
    [caption] = caption_cues([_cue("Octopuses have three hearts.")])
    assert (caption.start, caption.end) == (1.0, 5.0)
    assert caption.lines == ("Octopuses have", "three hearts.")


def test_long_sentence_becomes_consecutive_captions_that_fill_the_cue() -> None:
    captions = caption_cues([_cue(LONG)], max_chars=24)
    assert len(captions) >= 3
    assert captions[0].start == 1.0
    assert captions[-1].end == pytest.approx(5.0)
    for before, after in itertools.pairwise(captions):
        assert before.end == pytest.approx(after.start)
    assert " ".join(" ".join(c.lines) for c in captions) == LONG


def test_every_line_fits_and_no_caption_has_more_than_two_lines() -> None:
    for width in (24, 30, 42):
        for caption in caption_cues([_cue(LONG), _cue(ODD), _cue("x" * 100)], max_chars=width):
            assert 1 <= len(caption.lines) <= MAX_LINES
            assert all(display_width(line) <= width for line in caption.lines)


def test_time_is_shared_by_character_count() -> None:
    captions = caption_cues([_cue("aaaaaaaa bbbbbbbb cc", 0.0, 3.0)], max_chars=8)
    widths = [sum(len(line) for line in c.lines) for c in captions]
    durations = [c.end - c.start for c in captions]
    assert len(captions) == 2
    assert [d / 3.0 for d in durations] == pytest.approx([w / sum(widths) for w in widths])


def test_breaks_prefer_punctuation() -> None:
    chunks = split_sentence("When an octopus swims, the main heart stops beating.", 24)
    assert chunks[0] == ["When an octopus swims,"]


def test_odd_unicode_is_measured_and_wrapped_without_crashing() -> None:
    assert display_width("e\u0301") == 1
    assert display_width("日本") == 4
    japanese = "日本語のテキストはスペースがありませんのでとても長い文になります。"
    chunks = split_sentence(japanese, 24)
    assert all(display_width(line) <= 24 for chunk in chunks for line in chunk)
    assert "e\u0301" not in "".join(line for c in split_sentence("ééééééééé", 3) for line in c)


def test_srt_format_and_escaping(tmp_path: Path) -> None:
    path = write_srt(caption_cues([_cue("Hello there.", 0.5, 1.25), _cue(ODD, 61, 3725.5)]),
                     tmp_path / "c.srt")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("1\n00:00:00,500 --> 00:00:01,250\nHello there.\n\n2\n00:01:01,000 --> ")
    assert "01:02:05,500" in text
    body = [line for line in text.splitlines() if "-->" in line and "," not in line[:12]]
    assert body == []
    assert "<i>" not in text
    assert "🙂" in text


def test_vtt_format_and_escaping(tmp_path: Path) -> None:
    text = write_vtt(caption_cues([_cue(ODD, 0, 2)]), tmp_path / "c.vtt").read_text("utf-8")
    assert text.startswith("WEBVTT\n\n00:00:00.000 --> ")
    assert "&lt;i&gt;x&lt;/i&gt; &amp;" in text
    assert text.count("-->") == len(caption_cues([_cue(ODD, 0, 2)]))


def test_ass_escapes_overrides_and_line_breaks(tmp_path: Path) -> None:
    caption = Caption(start=0, end=1, lines=("{\\b1}bold? \\N no", "second"))
    text = write_ass([caption], tmp_path / "c.ass", 1080, 1920).read_text("utf-8")
    [dialogue] = [line for line in text.splitlines() if line.startswith("Dialogue:")]
    body = dialogue.split(",", 9)[9]
    assert re.search(r"(?<!\\)\{", body) is None
    assert "\\N" in body
    assert body.count("\\N") == 1
    assert "\\\u2060b1" in body


def test_ass_style_is_large_bold_outlined_lower_third(tmp_path: Path) -> None:
    text = write_ass([], tmp_path / "c.ass", 1080, 1920).read_text("utf-8")
    assert "PlayResX: 1080\nPlayResY: 1920" in text
    fields = next(line for line in text.splitlines() if line.startswith("Style:")).split(",")
    size, bold, outline, shadow, alignment, margin_v = (
        int(fields[2]), fields[7], int(fields[16]), int(fields[17]), fields[18], int(fields[21]))
    assert fields[1] == "Lato"
    assert bold == "-1"
    assert size >= 0.04 * 1920
    assert outline >= 6
    assert 1 <= shadow < outline
    assert alignment == "2"
    assert 0.15 * 1920 <= margin_v <= 0.34 * 1920


def test_font_size_lets_a_full_line_fit() -> None:
    for width, height in ((1080, 1920), (540, 960), (1920, 1080), (1080, 1080)):
        size = caption_font_size(width, height)
        assert chars_per_line(width, height) * size * 0.46 <= 0.9 * width
        assert size <= 0.07 * height
