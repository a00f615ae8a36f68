"""The changes a revision can make to a draft, each reporting in plain words what it did.

An `Edit` takes a draft and returns an `Outcome`: the new draft, a one-line note, and whether
anything changed. An edit that cannot be done returns the draft untouched with a note saying
why ("a script needs at least 4 sentences"). Text from the user is cleaned and capped here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from pipeline.brief import Tone
from pipeline.text import one_line
from pipeline.writers.draft import HOOK, MAX_HOOK_CHARS, MAX_TITLE_CHARS, TITLE, Draft, Line
from pipeline.writers.sizing import (
    MAX_SECONDS,
    MIN_SECONDS,
    MIN_SENTENCES,
    clamp_seconds,
    fit,
    seconds_of,
    shrink,
)
from pipeline.writers.templates import JOKE, JOKES
from pipeline.writers.topic import clip

MAX_ADDED_CHARS = 200
MAX_SCRIPT_SENTENCES = 40
_QUOTES = " \"'“”‘’«»„`"
_CONTRACTIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.I), replacement)
    for pattern, replacement in (
        (r"\bcan['’]t\b", "cannot"),
        (r"\bwon['’]t\b", "will not"),
        (r"\b(\w+)n['’]t\b", r"\1 not"),
        (r"\b(let)['’]s\b", r"\1 us"),
        (r"\b(it|that|there|here|what|who|where|how|he|she)['’]s\b", r"\1 is"),
        (r"\b(\w+)['’]re\b", r"\1 are"),
        (r"\b(\w+)['’]ve\b", r"\1 have"),
        (r"\b(\w+)['’]ll\b", r"\1 will"),
        (r"\b(I)['’]m\b", r"\1 am"),
        (r"\b(I|you|we|they|he|she)['’]d\b", r"\1 would"),
    )
)


@dataclass(frozen=True)
class Outcome:
    draft: Draft
    note: str
    changed: bool


Edit = Callable[[Draft], Outcome]


def _span(draft: Draft) -> str:
    return f"~{seconds_of(draft):.0f}s"


def _size(draft: Draft) -> str:
    return f"{len(draft.lines)} sentences ({_span(draft)})"


def _resized(before: Draft, after: Draft, verb: str) -> str:
    times = f"({_span(before)} → {_span(after)})"
    if len(before.lines) == len(after.lines):
        return f"{verb} the sentences {times}"
    return f"{verb} from {len(before.lines)} to {len(after.lines)} sentences {times}"


def shorter(much: bool) -> Edit:
    def edit(draft: Draft) -> Outcome:
        after = shrink(draft, seconds_of(draft) * (0.5 if much else 0.7))
        if after.lines == draft.lines:
            note = f"It is already as short as I can make it: {_size(draft)}"
            return Outcome(draft, note, changed=False)
        after = replace(after, target_seconds=clamp_seconds(seconds_of(after)))
        return Outcome(after, _resized(draft, after, "Cut"), changed=True)

    return edit


def longer(much: bool) -> Edit:
    def edit(draft: Draft) -> Outcome:
        goal = min(MAX_SECONDS, seconds_of(draft) * (2.0 if much else 1.5))
        after = fit(draft, goal)
        if after.lines == draft.lines:
            note = f"It is already as long as I can make it: {_size(draft)}"
            return Outcome(draft, note, changed=False)
        after = replace(after, target_seconds=clamp_seconds(seconds_of(after)))
        return Outcome(after, _resized(draft, after, "Expanded"), changed=True)

    return edit


def resize(seconds: int) -> Edit:
    def edit(draft: Draft) -> Outcome:
        goal = clamp_seconds(seconds)
        after = replace(fit(draft, goal), target_seconds=goal)
        if after == draft:
            return Outcome(draft, f"It is already about {goal}s: {_size(draft)}", changed=False)
        limits = "" if goal == seconds else f" (I can do {MIN_SECONDS}–{MAX_SECONDS} seconds)"
        counts = f"{len(draft.lines)} → {len(after.lines)} sentences"
        note = f"Resized for {goal}s: {counts} ({_span(draft)} → {_span(after)}){limits}"
        return Outcome(after, note, changed=after != draft)

    return edit


def formalize(text: str) -> str:
    """`text` without contractions or exclamation marks."""
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return soften(text)


def soften(text: str) -> str:
    """`text` without exclamation marks."""
    text = re.sub(r"\?+!+|!+\?+", "?", text)
    return re.sub(r"!+", ".", text)


def _restyled(line: Line, tone: Tone) -> Line:
    if line.key is not None:
        return line.retoned(tone)
    if tone is Tone.FORMAL:
        return replace(line, text=formalize(line.text))
    return replace(line, text=soften(line.text)) if tone is Tone.CALM else line


def change_tone(tone: Tone) -> Edit:
    def edit(draft: Draft) -> Outcome:
        lines = tuple(_restyled(line, tone) for line in draft.lines)
        after = replace(
            draft,
            tone=tone,
            lines=lines,
            title=_restyled(draft.title, tone) if draft.title.key else draft.title,
            hook=_restyled(draft.hook, tone),
        )
        notes = [f"Switched to a {tone.value} tone"]
        if tone is Tone.FORMAL:
            after, dropped = _without_jokes(after)
            notes += ["removed contractions and exclamations"] + (
                ["dropped the joke"] if dropped else []
            )
        if tone is Tone.PLAYFUL:
            return _playful(draft, after, notes)
        if after == draft:
            return Outcome(draft, f"It is already {tone.value}", changed=False)
        return Outcome(after, ", ".join(notes), changed=True)

    return edit


def _playful(before: Draft, after: Draft, notes: list[str]) -> Outcome:
    if after == before:
        notes = ["It was already playful"]
    if after == before or not any(line.key == JOKE for line in after.lines):
        joke = add_joke(at_start=False)(after)
        notes.append(joke.note[:1].lower() + joke.note[1:])
        return Outcome(joke.draft, ", ".join(notes), changed=joke.draft != before)
    return Outcome(after, ", ".join(notes), changed=True)


def _without_jokes(draft: Draft) -> tuple[Draft, bool]:
    lines = tuple(line for line in draft.lines if line.key != JOKE)
    if len(lines) == len(draft.lines) or len(lines) < MIN_SENTENCES:
        return draft, False
    return replace(draft, lines=lines), True


def add_joke(*, at_start: bool) -> Edit:
    def edit(draft: Draft) -> Outcome:
        used = {line.variant % len(JOKES) for line in draft.lines if line.key == JOKE}
        first = draft.topic.seed(JOKE)
        fresh = [v for v in range(first, first + len(JOKES)) if v % len(JOKES) not in used]
        if not fresh:
            return Outcome(draft, "I am out of fresh jokes for this one", changed=False)
        return _insert(draft, Line(JOKE, variant=fresh[0] % len(JOKES)), at_start, "a joke")

    return edit


def add_sentence(text: str, *, at_start: bool) -> Edit:
    def edit(draft: Draft) -> Outcome:
        sentence, trimmed = _as_sentence(text)
        if not sentence:
            return Outcome(
                draft, "There was nothing to add: say “add <your sentence>”", changed=False
            )
        outcome = _insert(draft, Line(text=sentence), at_start, f"“{clip(sentence, 60)}”")
        suffix = f" (trimmed to {MAX_ADDED_CHARS} characters)" if trimmed else ""
        return replace(outcome, note=outcome.note + suffix)

    return edit


def _insert(draft: Draft, line: Line, at_start: bool, what: str) -> Outcome:
    if len(draft.lines) >= MAX_SCRIPT_SENTENCES:
        note = f"I cannot add more: a script holds at most {MAX_SCRIPT_SENTENCES} sentences"
        return Outcome(draft, note, changed=False)
    lines = (line, *draft.lines) if at_start else (*draft.lines, line)
    where = "at the start" if at_start else "at the end"
    return Outcome(replace(draft, lines=lines), f"Added {what} {where}", changed=True)


def _as_sentence(text: str) -> tuple[str, bool]:
    """The user's words as one tidy sentence, capped; ("", False) when nothing speakable is left."""
    text = one_line(text).strip(_QUOTES)
    if not re.search(r"\w", text):
        return "", False
    trimmed = len(text) > MAX_ADDED_CHARS
    text = clip(text, MAX_ADDED_CHARS)
    text = text[:1].upper() + text[1:]
    return (text if text[-1] in ".!?…" else text + "."), trimmed


def remove_sentence(which: int | None) -> Edit:
    """Remove sentence `which` (1-based; None is the last one)."""

    def edit(draft: Draft) -> Outcome:
        count = len(draft.lines)
        index = count - 1 if which is None else which - 1
        if not 0 <= index < count:
            return Outcome(
                draft, f"There is no sentence {which}: this script has {count}", changed=False
            )
        if count <= MIN_SENTENCES:
            note = f"I cannot remove a sentence: a script needs at least {MIN_SENTENCES}"
            note += f", and this one has {count}"
            return Outcome(draft, note, changed=False)
        gone = clip(draft.sentences()[index], 50)
        after = replace(draft, lines=draft.lines[:index] + draft.lines[index + 1 :])
        return Outcome(after, f"Removed sentence {index + 1} (“{gone}”)", changed=True)

    return edit


def remove_jokes(draft: Draft) -> Outcome:
    if not any(line.key == JOKE for line in draft.lines):
        return Outcome(draft, "There is no joke to remove", changed=False)
    after, dropped = _without_jokes(draft)
    if not dropped:
        note = f"I cannot remove the joke: a script needs at least {MIN_SENTENCES} sentences"
        return Outcome(draft, note, changed=False)
    return Outcome(after, "Removed the joke", changed=True)


def set_title(text: str) -> Edit:
    return _set_heading(text, TITLE, MAX_TITLE_CHARS)


def set_hook(text: str) -> Edit:
    return _set_heading(text, HOOK, MAX_HOOK_CHARS)


def _set_heading(text: str, which: str, limit: int) -> Edit:
    def edit(draft: Draft) -> Outcome:
        cleaned = one_line(text).strip(_QUOTES)
        if not re.search(r"\w", cleaned):
            return Outcome(
                draft, f"The new {which} was empty, so I kept the old one", changed=False
            )
        value = clip(cleaned, limit)
        suffix = f" (trimmed to {limit} characters)" if value != cleaned else ""
        line = Line(text=value)
        after = replace(draft, title=line) if which == TITLE else replace(draft, hook=line)
        return Outcome(after, f"Changed the {which} to “{value}”{suffix}", changed=after != draft)

    return edit


def set_music(name: str | None) -> Edit:
    """Put a bundled music bed under the voice, or take it away."""

    def edit(draft: Draft) -> Outcome:
        if draft.music == name:
            note = "It already has background music" if name else "There is no music to remove"
            return Outcome(draft, note, changed=False)
        note = (
            "Added a soft background music bed, ducked under the voice"
            if name
            else "Removed the background music"
        )
        return Outcome(replace(draft, music=name), note, changed=True)

    return edit


def set_captions(style: Literal["sentence", "words"]) -> Edit:
    """Highlight each word as it is spoken, or show plain caption lines."""

    def edit(draft: Draft) -> Outcome:
        if draft.captions == style:
            return Outcome(draft, f"The captions are already {_CAPTION_NAMES[style]}", False)
        note = f"Captions will be {_CAPTION_NAMES[style]}"
        return Outcome(replace(draft, captions=style), note, changed=True)

    return edit


_CAPTION_NAMES = {"sentence": "plain lines", "words": "word-by-word highlighted"}
