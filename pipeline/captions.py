"""Captions: sentence cues cut into short on-screen cues, and their SRT, WebVTT and ASS files.

This module owns how captions read and look. `caption_cues` wraps each spoken sentence into
lines of at most `max_chars` display columns and groups them into cues of at most two lines;
a long sentence becomes several consecutive cues whose time is divided by character share.
The writers escape what each format treats specially. `write_ass` also owns the burned-in
style: bold Lato, white with a thick black outline and a slight shadow, centred in the lower
third, sized from the frame so the longest line fits. In the "words" style each caption is
repeated once per spoken word with that word recoloured (`HIGHLIGHT_RGB`), timed from the
narration's word cues; captions inside one sentence change at their first word. Without word
cues, or when they do not match the caption text, it writes the plain sentence style.
"""

from __future__ import annotations

import itertools
import math
import unicodedata
from collections.abc import Iterable, Sequence
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from pipeline.narration import Cue
from pipeline.text import one_line

CAPTION_FONT = "Lato"
"""Family name in font_lato's TTFs; the ASS style asks for it bold (Lato Bold)."""
MAX_LINES = 2
HIGHLIGHT_RGB = (255, 221, 0)
"""The spoken word's colour in the "words" style: a warm yellow that reads on any scene."""
_GLYPH_EM = 0.46
"""Average advance of a Lato Bold character in ems (measured on rendered captions);
used to size the font so a full line fits the frame."""


class CaptionStyle(StrEnum):
    """Burned-in captions: whole sentences, or the same with the spoken word highlighted."""

    SENTENCE = "sentence"
    WORDS = "words"


class Caption(BaseModel):
    """One on-screen caption: at most two short lines, shown from `start` to `end` seconds."""

    model_config = ConfigDict(frozen=True)

    start: float = Field(ge=0)
    end: float
    lines: tuple[str, ...] = Field(min_length=1, max_length=MAX_LINES)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def chars_per_line(width: int, height: int) -> int:
    """How many columns a caption line may hold for a frame shape: ~24 vertical, more wider."""
    if width < height:
        return 24
    return 30 if width == height else 42


def caption_cues(cues: Iterable[Cue], max_chars: int = 24) -> list[Caption]:
    """Split sentence cues into captions of at most two lines of `max_chars` columns."""
    captions: list[Caption] = []
    for cue in cues:
        chunks = split_sentence(cue.text, max_chars)
        captions.extend(_timed(chunks, cue.start, cue.end))
    return captions


def _timed(chunks: list[list[str]], start: float, end: float) -> list[Caption]:
    """Share [start, end] among chunks in proportion to their character counts."""
    weights = [sum(display_width(line) for line in chunk) or 1 for chunk in chunks]
    total, elapsed, captions = sum(weights), 0, []
    for chunk, weight in zip(chunks, weights, strict=True):
        begin = start + (end - start) * elapsed / total
        elapsed += weight
        finish = start + (end - start) * elapsed / total
        captions.append(Caption(start=begin, end=finish, lines=tuple(chunk)))
    return captions


def split_sentence(text: str, max_chars: int) -> list[list[str]]:
    """Cut one sentence into chunks of at most two lines each, as evenly as the words allow."""
    words = _words(one_line(text), max_chars)
    if not words:
        return [["…"]]
    count = math.ceil(len(wrap(words, max_chars)) / MAX_LINES)
    while (groups := _best_groups(words, count, max_chars)) is None:
        count += 1
    return [_balanced_lines(group, max_chars) for group in groups]


def _best_groups(words: list[str], count: int, max_chars: int) -> list[list[str]] | None:
    """Split words into `count` runs that each fit two lines, of even length, preferring to
    end a run at punctuation; None when they cannot fit. Dynamic programming over cut points."""
    target = sum(display_width(word) + 1 for word in words) / count
    row: dict[int, tuple[float, list[int]]] = {0: (0.0, [])}
    for _ in range(count):
        next_row: dict[int, tuple[float, list[int]]] = {}
        for start, (cost, cuts) in row.items():
            for end in _fitting_ends(words, start, max_chars):
                total = cost + _group_cost(words, start, end, target)
                if end not in next_row or total < next_row[end][0]:
                    next_row[end] = (total, [*cuts, end])
        row = next_row
    if len(words) not in row:
        return None
    cuts = [0, *row[len(words)][1]]
    return [words[a:b] for a, b in itertools.pairwise(cuts)]


def _fitting_ends(words: list[str], start: int, max_chars: int) -> list[int]:
    """Every end index such that words[start:end] wraps into at most two lines."""
    ends = []
    for end in range(start + 1, len(words) + 1):
        if len(wrap(words[start:end], max_chars)) > MAX_LINES:
            break
        ends.append(end)
    return ends


def _group_cost(words: list[str], start: int, end: int, target: float) -> float:
    group = words[start:end]
    width = sum(display_width(word) + 1 for word in group)
    ends_clause = end == len(words) or group[-1][-1] in ",;:.!?…—"
    return (width - target) ** 2 + (0.0 if ends_clause else 40.0)


def _balanced_lines(words: list[str], max_chars: int) -> list[str]:
    """Wrap into as few lines as greedy wrapping needs; for two lines pick the most even break."""
    lines = wrap(words, max_chars)
    if len(lines) != MAX_LINES:
        return lines
    best = lines
    for cut in range(1, len(words)):
        top, bottom = " ".join(words[:cut]), " ".join(words[cut:])
        widest = max(display_width(top), display_width(bottom))
        if widest <= max_chars and widest < max(display_width(line) for line in best):
            best = [top, bottom]
    return best


def wrap(words: list[str], max_chars: int) -> list[str]:
    """Greedy word wrap into lines of at most `max_chars` display columns."""
    lines: list[str] = []
    for word in words:
        if lines and display_width(lines[-1]) + 1 + display_width(word) <= max_chars:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def _words(text: str, max_chars: int) -> list[str]:
    """Words of `text`; any word wider than a line is cut into line-sized pieces."""
    words: list[str] = []
    for word in text.split():
        words.extend(_hard_split(word, max_chars))
    return words


def _hard_split(word: str, max_chars: int) -> list[str]:
    """Cut between characters (never before a combining mark) so each piece fits a line."""
    pieces, current = [], ""
    for char in word:
        joins = unicodedata.combining(char) or char in "\u200d\ufe0f"
        if current and not joins and display_width(current + char) > max_chars:
            pieces.append(current)
            current = ""
        current += char
    return [*pieces, current] if current else pieces


def display_width(text: str) -> int:
    """Columns `text` takes: wide (CJK, emoji) count two, combining marks and joiners none."""
    width = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) in ("Cf", "Mn", "Me"):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def _clock(seconds: float, separator: str) -> str:
    millis = round(max(seconds, 0.0) * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}{separator}{rest % 1000:03d}"


def srt_text(line: str) -> str:
    """SRT has no escapes: defuse the cue arrow and the tag brackets players read as markup."""
    return line.replace("-->", "->").replace("<", "‹").replace(">", "›")


def vtt_text(line: str) -> str:
    """WebVTT escapes &, < and > as entities (which also defuses the cue arrow)."""
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def ass_text(lines: Iterable[str]) -> str:
    """ASS dialogue text: braces escaped, backslashes kept literal, lines joined with \\N."""
    return "\\N".join(_ass_escape(line) for line in lines)


def _ass_escape(text: str) -> str:
    return text.replace("\\", "\\\u2060").replace("{", "\\{").replace("}", "\\}")


def write_srt(captions: Iterable[Caption], path: Path) -> Path:
    """Write SubRip captions (numbered, comma milliseconds) to `path`."""
    blocks = []
    for number, caption in enumerate(captions, 1):
        timing = f"{_clock(caption.start, ',')} --> {_clock(caption.end, ',')}"
        blocks.append("\n".join([str(number), timing, *map(srt_text, caption.lines)]))
    return _write(path, "\n\n".join(blocks) + "\n")


def write_vtt(captions: Iterable[Caption], path: Path) -> Path:
    """Write WebVTT captions to `path`."""
    blocks = ["WEBVTT"]
    for caption in captions:
        timing = f"{_clock(caption.start, '.')} --> {_clock(caption.end, '.')}"
        blocks.append("\n".join([timing, *map(vtt_text, caption.lines)]))
    return _write(path, "\n\n".join(blocks) + "\n")


def caption_font_size(width: int, height: int) -> int:
    """Largest size at which a full line fits 88 % of the width, capped at 7 % of the height."""
    fits = 0.88 * width / (chars_per_line(width, height) * _GLYPH_EM)
    return int(min(fits, 0.07 * height))


def write_ass(
    captions: Iterable[Caption],
    path: Path,
    width: int,
    height: int,
    *,
    style: str = CaptionStyle.SENTENCE,
    words: Sequence[Cue] = (),
) -> Path:
    """Write an ASS script styled for burning in at `width`×`height` to `path`.

    `style="words"` highlights each word while it is spoken, timed by `words` (the narration's
    word cues); with no word cues, or cues that do not match the captions, it is "sentence"."""
    captions = list(captions)
    events = None
    if CaptionStyle(style) is CaptionStyle.WORDS and words:
        events = _word_events(captions, list(words))
    if events is None:
        events = [_dialogue(c.start, c.end, ass_text(c.lines)) for c in captions]
    return _write(path, _ass_header(width, height) + "\n".join(events) + "\n")


def _dialogue(start: float, end: float, text: str) -> str:
    return f"Dialogue: 0,{_ass_clock(start)},{_ass_clock(end)},Caption,,0,0,0,,{text}"


def _word_events(captions: list[Caption], words: list[Cue]) -> list[str] | None:
    """One event per spoken word of each caption, or None when the words do not match."""
    spoken = _attach_words(captions, words)
    if spoken is None:
        return None
    events: list[str] = []
    for caption, cues in zip(_retimed(captions, spoken), spoken, strict=True):
        events.extend(_highlight_events(caption, cues))
    return events


def _attach_words(captions: list[Caption], words: list[Cue]) -> list[list[Cue]] | None:
    """The word cue of every token of every caption, matching text in order (a word cut into
    pieces by wrapping gives each piece the same cue); None on any mismatch."""
    attached: list[list[Cue]] = []
    index, heard = 0, ""
    for caption in captions:
        cues: list[Cue] = []
        for token in _tokens(caption):
            target = "".join(one_line(words[index].text).split()) if index < len(words) else ""
            heard += token
            if not target.startswith(heard):
                return None
            cues.append(words[index])
            if heard == target:
                index, heard = index + 1, ""
        attached.append(cues)
    return attached if index == len(words) else None


def _tokens(caption: Caption) -> list[str]:
    return [token for line in caption.lines for token in line.split()]


def _retimed(captions: list[Caption], spoken: list[list[Cue]]) -> list[Caption]:
    """Captions that follow each other within a sentence change when the next one's first word
    starts, instead of at the character-share estimate."""
    starts = [c.start for c in captions]
    ends = [c.end for c in captions]
    for index in range(1, len(captions)):
        if abs(ends[index - 1] - starts[index]) < 1e-6 and spoken[index]:
            change = min(max(spoken[index][0].start, starts[index - 1] + 0.05), ends[index] - 0.05)
            ends[index - 1] = starts[index] = change
    return [c.model_copy(update={"start": s, "end": e})
            for c, s, e in zip(captions, starts, ends, strict=True)]


def _highlight_events(caption: Caption, cues: list[Cue]) -> list[str]:
    """The caption shown once per word, from that word's start to the next word's."""
    runs = itertools.groupby(range(len(cues)), key=lambda k: id(cues[k]))
    groups = [list(group) for _, group in runs]
    bounds = [caption.start] + [
        min(max(cues[group[0]].start, caption.start), caption.end) for group in groups[1:]
    ] + [caption.end]
    return [
        _dialogue(bounds[k], bounds[k + 1], _highlighted(caption, set(group)))
        for k, group in enumerate(groups)
        if bounds[k + 1] - bounds[k] >= 0.01
    ]


def _highlighted(caption: Caption, chosen: set[int]) -> str:
    """ASS text of the caption with the tokens numbered in `chosen` recoloured."""
    red, green, blue = HIGHLIGHT_RGB
    colour = f"{{\\1c&H{blue:02X}{green:02X}{red:02X}&}}"
    numbers = itertools.count()
    lines = []
    for line in caption.lines:
        tokens = [
            f"{colour}{_ass_escape(token)}{{\\r}}" if next(numbers) in chosen
            else _ass_escape(token)
            for token in line.split()
        ]
        lines.append(" ".join(tokens))
    return "\\N".join(lines)


def _ass_clock(seconds: float) -> str:
    centis = round(max(seconds, 0.0) * 100)
    hours, rest = divmod(centis, 360_000)
    minutes, rest = divmod(rest, 6000)
    return f"{hours}:{minutes:02d}:{rest // 100:02d}.{rest % 100:02d}"


def _ass_header(width: int, height: int) -> str:
    size = caption_font_size(width, height)
    outline, shadow = max(2, round(size * 0.1)), max(1, round(size * 0.04))
    margin_v, margin_h = round(height * 0.2), round(width * 0.05)
    style = (
        f"Style: Caption,{CAPTION_FONT},{size},&H00FFFFFF,&H00FFFFFF,&H00000000,&H80000000,"
        f"-1,0,0,0,100,100,0,0,1,{outline},{shadow},2,{margin_h},{margin_h},{margin_v},1"
    )
    return (
        "[Script Info]\nScriptType: v4.00+\nWrapStyle: 2\nScaledBorderAndShadow: yes\n"
        f"PlayResX: {width}\nPlayResY: {height}\nYCbCr Matrix: TV.709\n\n"
        "[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, "
        "OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, "
        "Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
        f"{style}\n\n[Events]\n"
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
    )


def _write(path: Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    return path
