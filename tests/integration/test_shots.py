"""Planning and ranking shots: beats from the words, queries, orientation, meaning, fall-through.

Stock answers come from the Pexels fake through the real PexelsSource (real httpx); ranking
uses the real embedding model (loaded once for the module).
"""

from __future__ import annotations

import pytest

from pipeline.agent_outputs import SceneCard
from pipeline.agents.visuals import scenes_from_cards
from pipeline.media.backgrounds import Backgrounds, background
from pipeline.media.model import Candidate, MediaKind, Orientation, Shot
from pipeline.media.shots import (
    MAX_BEAT_SECONDS,
    Beat,
    Chooser,
    Embed,
    keywords,
    plan,
    plan_scene,
    scene_lines,
)
from pipeline.media.storyboard import credits, storyboard_lines
from pipeline.memory import embeddings
from pipeline.script import Aspect
from pipeline.writers.offline import OfflineWriter
from tests.fakes.pexels_api import Item, PexelsFake
from tests.media_support import octopus_script


@pytest.fixture(scope="module")
def embed() -> Embed:
    embeddings.load()
    return embeddings.embed


def test_beats_cover_every_line_in_sentence_order_within_two_to_four_seconds() -> None:
    script = OfflineWriter().script("60s on why octopuses have three hearts", 60)
    beats = [beat for scene in plan(script) for beat in scene]
    lines = [beat.line for beat in beats]
    assert lines == sorted(lines)
    assert set(lines) == set(range(len(script.narration)))
    assert [beat.scene for beat in beats] == sorted(beat.scene for beat in beats)
    assert all(beat.seconds <= MAX_BEAT_SECONDS + 1e-6 for beat in beats)
    assert all(beat.line in scene_lines(script, beat.scene) for beat in beats)
    assert beats[0].line == 0  # the hook opens the first scene
    long_line = "word " * 25  # 10 s of speech: split into parts of at most 4 s
    long = script.model_copy(update={"hook": long_line.strip()})
    parts = [b for b in plan_scene(long, 0) if b.line == 0]
    assert len(parts) == 3
    assert {p.text for p in parts} == {long_line.strip()}  # ranked against the whole line
    assert sum(p.seconds for p in parts) == pytest.approx(10.0)


def test_queries_use_the_scene_describers_keywords_else_the_lines_own_words() -> None:
    described = plan(octopus_script())
    assert [b.query for b in described[0]] == [
        "octopus hearts", "octopus reef", "heart beating", "heart beating"]  # a long line: 2
    offline = plan(octopus_script(keywords_on=False))
    assert offline[0][1].query == "octopus glides coral"
    assert offline[1][0].query == "hearts blood feathery"
    assert keywords("Bees dance to tell each other where the flowers are.") == "bees dance flowers"
    assert keywords("What would you have guessed? Tell me in the comments.") == ""
    assert keywords("The Great Barrier Reef is bleaching because the ocean warms.") == (
        "barrier reef bleaching")


@pytest.mark.slow  # the embedding model loads once for the module (~6-17 s)
def test_searches_ask_portrait_first_for_vertical_and_landscape_for_wide(embed: Embed) -> None:
    catalogue = [Item(i, "video", f"#{i:02x}80c0", "octopus heart reef blood gills copper sea "
                      "water beating anatomy blue deep", seconds=6) for i in range(1, 13)]
    with PexelsFake(catalogue) as fake:
        chooser = Chooser([fake.source()], embed, backgrounds=Backgrounds())
        for aspect, expected in ((Aspect.VERTICAL, "portrait"), (Aspect.LANDSCAPE, "landscape")):
            script = octopus_script(aspect)
            beats = [b for scene in plan(script) for b in scene]
            fake.requests.clear()
            chooser.choose(script, beats, set())
            calls = fake.api_calls()
            assert calls
            assert {call.query["orientation"] for call in calls} == {expected}
            assert {call.query["query"] for call in calls} == {b.query for b in beats}


@pytest.mark.slow  # the embedding model loads once for the module (~6-17 s)
def test_ranking_prefers_the_candidate_whose_words_match_the_sentence(embed: Embed) -> None:
    catalogue = [
        Item(1, "video", "#ff0000", "octopus heart pumping blood anatomy", seconds=6),
        Item(2, "video", "#00ff00", "octopus swimming ocean reef fish", seconds=6),
        Item(3, "video", "#0000ff", "octopus kitchen market food cooking", seconds=6),
    ]
    script = octopus_script()
    beats = [
        Beat(0, 1, "Its three hearts pump blood around the body.", 3.0, "octopus"),
        Beat(1, 3, "It swims across the ocean reef among the fish.", 3.0, "octopus"),
        Beat(2, 5, "At the market it is sold to be cooked as food.", 3.0, "octopus"),
    ]
    with PexelsFake(catalogue) as fake:
        for order in (beats, beats[::-1]):  # the best match wins whichever beat asks first
            choice = Chooser([fake.source()], embed, backgrounds=Backgrounds()).choose(
                script, order, set())
            chosen = {shot.line: shot.media.id for shots in choice.shots.values()
                      for shot in shots}
            assert chosen == {1: "1", 3: "2", 5: "3"}


@pytest.mark.slow  # the embedding model loads once for the module (~6-17 s)
def test_no_key_twice_and_used_keys_are_avoided(embed: Embed) -> None:
    catalogue = [Item(i, "video", f"#{i * 16:02x}4080", "octopus heart blood reef gills sea",
                      seconds=6) for i in range(1, 15)]
    script = octopus_script()
    beats = [b for scene in plan(script) for b in scene]
    with PexelsFake(catalogue) as fake:
        chooser = Chooser([fake.source()], embed, backgrounds=Backgrounds())
        first = chooser.choose(script, beats, set())
        keys = [s.media.key for shots in first.shots.values() for s in shots]
        assert len(keys) == len(set(keys)) == len(beats)
        second = chooser.choose(script, beats, set(keys))
        again = [s.media.key for shots in second.shots.values() for s in shots
                 if s.media.kind != MediaKind.BACKGROUND]
        assert again
        assert not set(again) & set(keys)
        assert len(again) == 14 - len(keys)  # the rest are backgrounds: nothing repeats


@pytest.mark.slow  # the embedding model loads once for the module (~6-17 s)
def test_a_poor_match_falls_through_to_the_background(embed: Embed) -> None:
    catalogue = [Item(1, "video", "#ff0000", "octopus heart blood", seconds=6)]
    script = octopus_script()
    beat = Beat(0, 1, "Its three hearts pump blood.", 3.0, "octopus")
    with PexelsFake(catalogue) as fake:
        strict = Chooser([fake.source()], embed, backgrounds=Backgrounds(), min_meaning=0.99)
        shot = strict.choose(script, [beat], set()).shots[0][0]
        assert shot.media.kind == MediaKind.BACKGROUND
        lenient = Chooser([fake.source()], embed, backgrounds=Backgrounds())
        assert lenient.choose(script, [beat], set()).shots[0][0].media.key == "pexels:1"


@pytest.mark.slow  # the embedding model loads once for the module (~6-17 s)
def test_shots_are_shaped_for_the_frame(embed: Embed) -> None:
    catalogue = [
        Item(1, "video", "#ff0000", "octopus heart", width=640, height=360, seconds=6),
        Item(2, "video", "#00ff00", "octopus heart", width=360, height=640, seconds=6),
    ]
    script = octopus_script()
    beat = Beat(0, 1, "An octopus heart.", 3.0, "octopus heart")
    with PexelsFake(catalogue) as fake:
        shot = Chooser([fake.source()], embed, backgrounds=Backgrounds()).choose(
            script, [beat], set()).shots[0][0]
    assert shot.media.orientation == Orientation.PORTRAIT
    assert shot.seconds == 3.0
    assert shot.query == "octopus heart"


def test_the_scene_describers_keywords_travel_on_the_scenes() -> None:
    sentences = [f"Sentence number {i} about the sea." for i in range(4)]
    cards = [SceneCard(sentence=i, title=f"Card {i}", colors=["#102030", "#203040"],
                       keyword=f"  sea   view {i} ") for i in (0, 1, 3)]
    scenes = scenes_from_cards(sentences, cards)
    assert [scene.keywords for scene in scenes] == [
        ["sea view 0"], ["sea view 1"], [""], ["sea view 3"]]
    script = octopus_script().model_copy(update={"sentences": sentences, "scenes": scenes})
    queries = [beat.query for scene in plan(script) for beat in scene]
    assert queries[1:] == ["sea view 0", "sea view 1", "sentence number sea", "sea view 3"]


@pytest.mark.slow  # the embedding model loads once for the module (~6-17 s)
def test_words_without_a_portrait_clip_are_asked_again_in_landscape(embed: Embed) -> None:
    catalogue = [Item(1, "video", "#ff0000", "octopus heart", width=640, height=360, seconds=6),
                 Item(2, "video", "#00ff00", "octopus reef", width=360, height=640, seconds=6)]
    script = octopus_script()
    beats = [Beat(0, 1, "An octopus heart.", 3.0, "heart"),
             Beat(0, 2, "An octopus on the reef.", 3.0, "reef")]
    with PexelsFake(catalogue) as fake:
        choice = Chooser([fake.source()], embed, backgrounds=Backgrounds()).choose(
            script, beats, set())
        asked = [(c.query["query"], c.query["orientation"]) for c in fake.api_calls()]
    assert [s.media.key for s in choice.shots[0]] == ["pexels:1", "pexels:2"]
    assert ("heart", "landscape") in asked
    assert ("reef", "landscape") not in asked  # found in portrait: asked once


def test_storyboard_lines_and_credits_say_where_each_picture_comes_from() -> None:
    script = octopus_script()
    stock = Candidate(source="pexels", id="7", kind=MediaKind.VIDEO, width=1080, height=1920,
                      duration=8, text="octopus swimming reef", credit="Video by Ana on Pexels")
    again = stock.model_copy(update={"id": "8"})
    photo = Candidate(source="upload", id="ab12", kind=MediaKind.PHOTO, width=800, height=600,
                      text="beach", licence="your own")
    drawn = Candidate(source="generated", id="c0ffee", kind=MediaKind.PHOTO, width=1024,
                      height=1536, text="An illustration: blue blood",
                      credit="Image generated with gpt-image-1")
    shots = [[Shot(media=stock, line=0, seconds=3), Shot(media=again, line=1, seconds=3)],
             [Shot(media=photo, line=3, seconds=6)],
             [Shot(media=drawn, line=5, seconds=3), Shot(media=background(("#102030", "#203040")),
                                                        line=6, seconds=3)]]
    script = script.model_copy(update={"scenes": [
        scene.model_copy(update={"shots": shots[i]}) for i, scene in enumerate(script.scenes)]})
    assert storyboard_lines(script) == [
        "Scene 1 · Pexels video · octopus swimming reef · Video by Ana on Pexels",
        "Scene 1 · Pexels video · octopus swimming reef · Video by Ana on Pexels",
        "Scene 2 · your photo · beach",
        "Scene 3 · generated image · An illustration: blue blood · Image generated with "
        "gpt-image-1",
        "Scene 3 · coloured background",
    ]
    assert credits(script) == ["Video by Ana on Pexels", "Image generated with gpt-image-1"]
