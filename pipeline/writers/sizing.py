"""Fitting a draft to a duration: add or drop beats, then lengthen or shorten sentences.

Growing adds the most wanted missing beat (by `Beat.priority`) while that brings the spoken
length closer to the target, up to nine sentences, then switches on sentence extensions, and
only then goes on to twelve sentences. Shrinking drops the least
wanted beats, then switches extensions off. A draft never goes below `MIN_SENTENCES` or, when
growing, above `MAX_SENTENCES`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

from pipeline.brief import Tone
from pipeline.script import WORDS_PER_SECOND
from pipeline.writers.draft import Draft, Line
from pipeline.writers.templates import BEAT_BY_KEY, BEATS, JOKE

MIN_SENTENCES, MAX_SENTENCES = 4, 12
SOFT_MAX_SENTENCES = 9  # beyond this, longer sentences read better than more of them
MIN_SECONDS, MAX_SECONDS = 5, 180
_CORE_BEATS = 4
_JOKE_POSITION = 99


def clamp_seconds(seconds: float) -> int:
    return max(MIN_SECONDS, min(MAX_SECONDS, round(seconds)))


def seconds_of(draft: Draft) -> float:
    return round(draft.words() / WORDS_PER_SECOND, 1)


def core_lines(draft: Draft) -> tuple[Line, ...]:
    """The opening plan: the most wanted beats, plus a closing joke when the tone is playful."""
    beats = sorted(BEATS, key=lambda beat: beat.priority)[:_CORE_BEATS]
    lines = [_beat_line(draft, beat.key) for beat in sorted(beats, key=lambda b: b.position)]
    if draft.tone is Tone.PLAYFUL:
        lines.append(Line(JOKE, variant=draft.topic.seed(JOKE)))
    return tuple(lines)


def _beat_line(draft: Draft, key: str) -> Line:
    return Line(key, variant=draft.topic.seed(key), tone=draft.tone)


def fit(draft: Draft, seconds: float) -> Draft:
    """The draft grown or shrunk so its spoken length lands as near `seconds` as it can."""
    target = seconds * WORDS_PER_SECOND
    if draft.words() < target:
        roomy = _improve(
            _improve(draft, target, _additions_up_to(SOFT_MAX_SENTENCES)), target, _extensions
        )
        return _improve(
            _improve(roomy, target, _additions_up_to(MAX_SENTENCES)), target, _extensions
        )
    return _improve(_improve(draft, target, _removals), target, _contractions)


def shrink(draft: Draft, seconds: float) -> Draft:
    """Like `fit`, but drops at least one sentence when it can ("make it shorter")."""
    fitted = fit(draft, seconds)
    if len(fitted.lines) < len(draft.lines):
        return fitted
    return next(_removals(draft, include_own=True), fitted)


def _improve(draft: Draft, target: float, moves: Callable[[Draft], Iterator[Draft]]) -> Draft:
    """Apply the first move that brings the word count closer to `target`, until none does."""
    while True:
        gap = abs(draft.words() - target)
        better = next((d for d in moves(draft) if abs(d.words() - target) < gap), None)
        if better is None:
            return draft
        draft = better


def _order(line: Line) -> int:
    if line.key == JOKE:
        return _JOKE_POSITION
    return BEAT_BY_KEY[line.key].position if line.key in BEAT_BY_KEY else -1


def _additions_up_to(limit: int) -> Callable[[Draft], Iterator[Draft]]:
    """Drafts with the most wanted missing beat added, while there are fewer than `limit` lines."""

    def additions(draft: Draft) -> Iterator[Draft]:
        present = {line.key for line in draft.lines}
        missing = [
            beat for beat in sorted(BEATS, key=lambda b: b.priority) if beat.key not in present
        ]
        if missing and len(draft.lines) < limit:
            yield replace(draft, lines=_insert(draft.lines, _beat_line(draft, missing[0].key)))

    return additions


def _insert(lines: tuple[Line, ...], new: Line) -> tuple[Line, ...]:
    """Place a beat before the first template line that comes after it in the skeleton."""
    after = [
        i for i, line in enumerate(lines) if line.key is not None and _order(line) > _order(new)
    ]
    index = after[0] if after else len(lines)
    return (*lines[:index], new, *lines[index:])


def _removals(draft: Draft, *, include_own: bool = False) -> Iterator[Draft]:
    """Drafts with one line fewer: least wanted beat first, then jokes, then the user's lines."""
    if len(draft.lines) <= MIN_SENTENCES:
        return
    candidates = sorted(
        (i for i, line in enumerate(draft.lines) if line.is_template),
        key=lambda i: -BEAT_BY_KEY[str(draft.lines[i].key)].priority,
    )
    candidates += [i for i, line in enumerate(draft.lines) if line.key == JOKE][::-1]
    if include_own:
        candidates += [i for i, line in enumerate(draft.lines) if line.key is None][::-1]
    for index in candidates:
        yield replace(draft, lines=draft.lines[:index] + draft.lines[index + 1 :])


def _extensions(draft: Draft) -> Iterator[Draft]:
    yield from _toggled(draft, extended=True)


def _contractions(draft: Draft) -> Iterator[Draft]:
    yield from _toggled(draft, extended=False)


def _toggled(draft: Draft, *, extended: bool) -> Iterator[Draft]:
    """Drafts with one template line's extension switched, most wanted beats first when growing."""
    indices = sorted(
        (i for i, line in enumerate(draft.lines) if line.is_template and line.extended != extended),
        key=lambda i: BEAT_BY_KEY[str(draft.lines[i].key)].priority * (1 if extended else -1),
    )
    for index in indices:
        line = replace(draft.lines[index], extended=extended)
        yield replace(draft, lines=(*draft.lines[:index], line, *draft.lines[index + 1 :]))
