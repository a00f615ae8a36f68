"""Scenes for a list of sentences: 3–6 runs of consecutive sentences, each with a card and colours.

The first card names the topic; the others name the beat their first sentence belongs to, or
quote the first words of a sentence the user wrote. Colours come from the tone's palette family,
starting at a place chosen by the topic, so the same draft always looks the same.
"""

from __future__ import annotations

from pipeline.brief import Tone
from pipeline.script import Scene
from pipeline.writers.templates import BEAT_BY_KEY, JOKE, JOKE_LABEL, PALETTES
from pipeline.writers.topic import Topic, clip

MIN_SCENES, MAX_SCENES = 3, 6
MAX_CARD_CHARS = 40


def scene_sizes(count: int) -> list[int]:
    """How many sentences each scene gets: about two each, 3–6 scenes, never an empty one."""
    scenes = min(count, max(MIN_SCENES, min(MAX_SCENES, round(count / 2))))
    base, extra = divmod(count, scenes)
    return [base + (1 if index < extra else 0) for index in range(scenes)]


def build_scenes(
    sentences: list[str], keys: list[str | None], topic: Topic, tone: Tone
) -> list[Scene]:
    """Group `sentences` in order; `keys` names each sentence's beat (None for the user's own)."""
    family = PALETTES[tone]
    start = topic.seed("palette", tone.value) % len(family)
    scenes, first = [], 0
    for index, size in enumerate(scene_sizes(len(sentences))):
        card = (
            clip(topic.label, MAX_CARD_CHARS)
            if index == 0
            else _card(sentences[first], keys[first])
        )
        colors = family[(start + index) % len(family)]
        scenes.append(Scene(title=card, sentences=list(range(first, first + size)), colors=colors))
        first += size
    return scenes


def _card(sentence: str, key: str | None) -> str:
    if key == JOKE:
        return JOKE_LABEL
    if key is not None and key in BEAT_BY_KEY:
        return BEAT_BY_KEY[key].label
    words = sentence.strip(" .!?…").split()
    return clip(" ".join(words[:6]), MAX_CARD_CHARS) or "…"
