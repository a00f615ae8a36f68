"""A script as the offline writer sees it: template lines it can re-word, and the user's own lines.

`Draft` is what sizing and revision work on; `to_script` renders it and `from_script` reads a
`Script` back by recognising every sentence the templates could have produced. A sentence it
does not recognise is the user's and is kept word for word (tone changes only tidy it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Literal

from pipeline.brief import Tone, parse_brief
from pipeline.script import Aspect, Script
from pipeline.writers.scenes import build_scenes
from pipeline.writers.templates import BEAT_BY_KEY, BEATS, HOOKS, JOKE, JOKES, TITLES
from pipeline.writers.topic import Kind, Topic, clip, read_topic

WRITER_NAME = "offline template writer"
HOOK, TITLE = "hook", "title"
MAX_TITLE_CHARS, MAX_HOOK_CHARS = 100, 300
_EXTENSION = re.compile(r"\[([^\]]*)\]")


@dataclass(frozen=True)
class Line:
    """A template beat (`key`, variant, tone, extended) or the user's own `text` (`key` None)."""

    key: str | None = None
    variant: int = 0
    tone: Tone = Tone.NEUTRAL
    extended: bool = False
    text: str = ""

    @property
    def is_template(self) -> bool:
        return self.key is not None and self.key != JOKE

    def retoned(self, tone: Tone) -> Line:
        return replace(self, tone=tone) if self.key is not None else self


@dataclass(frozen=True)
class Draft:
    idea: str
    topic: Topic
    tone: Tone
    title: Line
    hook: Line
    lines: tuple[Line, ...]
    target_seconds: int
    aspect: Aspect
    music: str | None = None
    captions: Literal["sentence", "words"] = "sentence"

    def sentences(self) -> list[str]:
        return [render(line, self.topic) for line in self.lines]

    def words(self) -> int:
        narration = [render(self.hook, self.topic), *self.sentences()]
        return sum(len(text.split()) for text in narration)


def render(line: Line, topic: Topic) -> str:
    """The words of one line for `topic`."""
    if line.key is None:
        return line.text
    if line.key == JOKE:
        return JOKES[line.variant % len(JOKES)]
    if line.key == HOOK:
        return clip(_fill(HOOKS[line.tone][topic.direct is not None], topic), MAX_HOOK_CHARS)
    if line.key == TITLE:
        shape = 2 if topic.direct else int(topic.kind is Kind.PLAIN)
        return _title(TITLES[line.tone][shape], topic)
    texts = BEAT_BY_KEY[line.key].texts[line.tone]
    template = texts[line.variant % len(texts)]
    template = _EXTENSION.sub(r"\1" if line.extended else "", template)
    return _fill(template, topic)


def _fill(template: str, topic: Topic) -> str:
    text = template.format(about=topic.about, wonder=topic.wonder, direct=topic.direct)
    return re.sub(r"([?!])[.?]", r"\1", text)


def _title(template: str, topic: Topic) -> str:
    room = MAX_TITLE_CHARS - len(template.replace("{label}", ""))
    return template.replace("{label}", clip(topic.label, room))


def to_script(draft: Draft) -> Script:
    """Render the draft; scenes are rebuilt from scratch so they always match the sentences."""
    sentences = draft.sentences()
    return Script(
        idea=draft.idea,
        title=render(draft.title, draft.topic),
        hook=render(draft.hook, draft.topic),
        sentences=sentences,
        scenes=build_scenes(sentences, [line.key for line in draft.lines], draft.topic, draft.tone),
        target_seconds=draft.target_seconds,
        aspect=draft.aspect,
        writer=WRITER_NAME,
        music=draft.music,
        captions=draft.captions,
    )


def topic_of(idea: str) -> Topic:
    return read_topic(parse_brief(idea).topic or idea)


def from_script(script: Script) -> Draft:
    """Read a script back into lines, recognising the ones the templates wrote."""
    topic = topic_of(script.idea)
    known = catalogue(topic)
    lines = tuple(known.get(text, Line(text=text)) for text in script.sentences)
    title = known.get(script.title, Line(text=script.title))
    hook = known.get(script.hook, Line(text=script.hook))
    return Draft(
        idea=script.idea,
        topic=topic,
        tone=_dominant_tone([title, hook, *lines]),
        title=title if title.key == TITLE else Line(text=script.title),
        hook=hook if hook.key == HOOK else Line(text=script.hook),
        lines=lines,
        target_seconds=script.target_seconds,
        aspect=script.aspect,
        music=script.music,
        captions=script.captions,
    )


def _dominant_tone(lines: list[Line]) -> Tone:
    votes = [line.tone for line in lines if line.key not in (None, JOKE)]
    if not votes:
        return Tone.NEUTRAL
    return max(Tone, key=lambda tone: (votes.count(tone), tone is Tone.NEUTRAL))


@lru_cache(maxsize=64)
def catalogue(topic: Topic) -> dict[str, Line]:
    """Every sentence, hook and title the templates can write for `topic`, keyed by its text."""
    lines = [Line(JOKE, variant=index) for index in range(len(JOKES))]
    for tone in Tone:
        lines += [Line(HOOK, tone=tone), Line(TITLE, tone=tone)]
        for beat in BEATS:
            for variant in range(len(beat.texts[tone])):
                lines += [Line(beat.key, variant, tone, extended) for extended in (False, True)]
    known: dict[str, Line] = {}
    for line in lines:
        known.setdefault(render(line, topic), line)
    return known
