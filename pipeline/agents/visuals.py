"""What the viewer sees and hears: scene cards per sentence, and the narrator's voice plan.

`scenes_from_cards` turns the describer's per-sentence cards into the `Scene` runs a `Script`
needs (at most six, consecutive, covering every sentence once), darkening colours until white
title text on them is readable (contrast ≥ 4.5, WCAG AA), and keeping each sentence's stock
keyword on its scene (`Scene.keywords`, what the shot chooser searches for).
"""

from __future__ import annotations

from pipeline.agent_outputs import SceneCard, SceneCards
from pipeline.agents.writing import ask, numbered
from pipeline.llm.config import Variant
from pipeline.llm.routing import Router, RouteResult
from pipeline.prompting import PromptRegistry
from pipeline.script import Scene, VoicePlan

MAX_SCENES = 6
MIN_CONTRAST = 4.5
DEFAULT_COLORS = ("#1d2b64", "#5b2a86")


def describe_scenes(
    router: Router,
    registry: PromptRegistry,
    *,
    title: str,
    sentences: list[str],
    tone: str,
    variant: Variant | None = None,
) -> RouteResult[SceneCards]:
    values = {"title": title, "sentences": numbered(sentences), "tone": tone}
    return ask(router, registry, "scene_describer", SceneCards, values, variant=variant)


def plan_voice(
    router: Router,
    registry: PromptRegistry,
    *,
    sentences: list[str],
    tone: str,
    variant: Variant | None = None,
) -> RouteResult[VoicePlan]:
    values = {"sentences": numbered(sentences), "tone": tone}
    return ask(router, registry, "voice_plan", VoicePlan, values, variant=variant)


def scenes_from_cards(sentences: list[str], cards: list[SceneCard]) -> list[Scene]:
    """Runs of consecutive sentences, each titled by the card of its first sentence and
    carrying every sentence's stock keyword ("" where a sentence has no card: the shot
    chooser then takes the sentence's own words)."""
    by_sentence = {card.sentence: card for card in cards}
    runs = _runs(len(sentences), min(MAX_SCENES, len(sentences)))
    return [
        _scene(run, by_sentence.get(run[0]), sentences[run[0]]).model_copy(
            update={"keywords": [_keyword(by_sentence.get(index)) for index in run]})
        for run in runs
    ]


def _keyword(card: SceneCard | None) -> str:
    return " ".join(card.keyword.split()) if card is not None else ""


def _runs(count: int, parts: int) -> list[list[int]]:
    bounds = [round(i * count / parts) for i in range(parts + 1)]
    return [list(range(bounds[i], bounds[i + 1])) for i in range(parts)]


def _scene(run: list[int], card: SceneCard | None, sentence: str) -> Scene:
    if card is None:
        return Scene(title=_card_text(sentence), sentences=run, colors=DEFAULT_COLORS)
    first, second = (readable(color) for color in card.colors)
    return Scene(title=card.title, sentences=run, colors=(first, second))


def _card_text(sentence: str) -> str:
    words = sentence.split()
    text = ""
    for word in words:
        if len(text) + len(word) + 1 > 57:
            return text + "…"
        text = f"{text} {word}".strip()
    return text or "…"


def readable(color: str) -> str:
    """`color`, darkened just enough for white text on it to reach a 4.5 contrast ratio."""
    rgb = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    while _contrast_with_white(rgb) < MIN_CONTRAST:
        rgb = [int(channel * 0.9) for channel in rgb]
    return "#" + "".join(f"{channel:02x}" for channel in rgb)


def _contrast_with_white(rgb: list[int]) -> float:
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(channel) for channel in rgb)
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return 1.05 / (luminance + 0.05)
