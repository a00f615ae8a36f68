"""What the picture tests share: a written script about octopus hearts whose scenes carry the
scene describer's keywords (as the LLM path writes them)."""

from __future__ import annotations

from pipeline.script import Aspect, Scene, Script


def octopus_script(aspect: Aspect = Aspect.VERTICAL, *, keywords_on: bool = True) -> Script:
    sentences = [
        "An octopus glides slowly across the coral reef at dawn.",
        "Inside its soft body, three separate hearts are beating all the time.",
        "Two of those hearts push blood through the feathery gills.",
        "The third heart sends that blood on to the rest of the body.",
        "Its blood is blue, because it carries oxygen with copper instead of iron.",
        "That copper works best in the cold dark water of the deep sea.",
    ]
    described = [["octopus reef", "heart beating"], ["gills water", "heart anatomy"],
                 ["blue blood copper", "deep sea"]]
    scenes = [Scene(title=f"Part {i + 1}", sentences=[2 * i, 2 * i + 1],
                    keywords=described[i] if keywords_on else [])
              for i in range(3)]
    return Script(idea="why octopuses have three hearts", title="Why Octopuses Have Three Hearts",
                  hook="Why would an octopus need three hearts?", sentences=sentences,
                  scenes=scenes, target_seconds=30, aspect=aspect, writer="test")
