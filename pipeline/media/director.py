"""The one face the chat and the workers call for pictures: storyboard, change, fetch.

`Director` takes the sources (`pipeline.media.sources.sources_from_env`), the workspace's shot
history and an embedding function, and answers each request with a new `Script` plus plain
sentences for the chat (`Storyboarded`). Scene numbers are 0-based indexes (scene 1 is 0).
`storyboard` keeps every scene's existing shots and fills the scenes that have none, so a core
that clears the shots of the scenes whose words changed gets exactly those re-chosen.
`fetch` brings every shot's file into the media cache (the render reads them from there);
built-in backgrounds are drawn by the renderer and never fetched.

Errors: a scene number that does not exist raises `PermanentError` (one sentence); providers
that are down never raise here, they become notes and the next source answers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import redis

from pipeline.errors import PermanentError, PipelineError
from pipeline.media import sources as registry
from pipeline.media.assets import AssetStore
from pipeline.media.backgrounds import Backgrounds, is_background
from pipeline.media.cache import MediaCache
from pipeline.media.history import ShotHistory
from pipeline.media.model import Candidate, Look, MediaKind, MediaSource, Shot
from pipeline.media.shots import Beat, Chooser, Embed, plan_scene, scene_lines
from pipeline.media.storyboard import display_name, scenes_phrase
from pipeline.memory import embeddings
from pipeline.script import Scene, Script
from pipeline.settings import Settings
from pipeline.text import one_line

log = logging.getLogger(__name__)

FETCH_THREADS = 4
GENERATED = "generated"


@dataclass(frozen=True)
class Storyboarded:
    """A script with its shots chosen, what to tell the user, and whether anything changed."""

    script: Script
    notes: list[str]
    changed: bool


@dataclass(frozen=True)
class Fetched:
    """The files of a script's shots, by `Candidate.key`, and notes on those left out."""

    files: dict[str, Path]
    notes: list[str]


class Director:
    """Chooses and changes a script's shots; see the module docstring."""

    def __init__(
        self,
        sources: Sequence[MediaSource],
        *,
        history: ShotHistory | None = None,
        embed: Callable[[Sequence[str]], list[list[float]]] | None = None,
    ) -> None:
        found = [s for s in sources if isinstance(s, Backgrounds)]
        self.backgrounds = found[0] if found else Backgrounds()
        self.sources = [s for s in sources if not isinstance(s, Backgrounds)]
        self.history = history
        self.embed: Embed = embed or embeddings.embed

    def storyboard(self, script: Script, workspace: str) -> Storyboarded:
        """Fill every scene that has no shots (or shots its look does not allow)."""
        todo = [i for i, scene in enumerate(script.scenes) if not self._keeps(script, i, scene)]
        if not todo:
            return Storyboarded(script, [], False)
        kept = _keys(scene for i, scene in enumerate(script.scenes) if i not in todo)
        beats = [beat for index in todo for beat in plan_scene(script, index)]
        return self._fill(script, workspace, beats, kept)

    def another(self, script: Script, workspace: str, scene: int) -> Storyboarded:
        """A different pick for one scene; the others stay as they are."""
        _check(script, scene)
        current = script.scenes[scene].shots
        result = self._fill(script, workspace, plan_scene(script, scene),
                            _keys(script.scenes), plain_for=scene)
        fresh = result.script.scenes[scene].shots
        if current and _all_background(fresh) and not _all_background(current):
            return Storyboarded(script, [
                f"I found no other picture that fits scene {scene + 1}, so it keeps its shot."
            ], False)
        if [s.media.key for s in fresh] == [s.media.key for s in current]:
            return Storyboarded(script, [f"I found no other picture for scene {scene + 1}."],
                                False)
        return result

    def search_for(self, script: Script, workspace: str, scene: int,
                   words: str) -> Storyboarded:
        """Scene `scene` shows what `words` describe ("a beach"), if any source has it."""
        _check(script, scene)
        wanted = one_line(words)[:100].strip() or script.title[:100]
        beats = [replace(beat, text=wanted, query=wanted)
                 for beat in plan_scene(script, scene)]
        others = _keys(s for i, s in enumerate(script.scenes) if i != scene)
        named = script
        if script.look in {Look.OWN, Look.PLAIN}:  # a picture asked for by name: stock may answer
            named = script.model_copy(update={"look": Look.STOCK})
        result = self._fill(named, workspace, beats, others, named=True,
                            reuse=registry.reusable(script.look))
        fresh = result.script.scenes[scene].shots
        if _all_background(fresh) and self._has_stock(named.look):
            return Storyboarded(script, [
                f"I found no pictures of “{wanted}”, so scene {scene + 1} keeps what it had."
            ], False)
        filled = _with_shots(result.script, {scene: _gaps_filled(fresh)})
        if all(registry.rank(shot.media.source, script.look) is not None for shot in fresh):
            filled = filled.model_copy(update={"look": script.look})  # found within the look
        return Storyboarded(filled, result.notes, True)

    def use_asset(self, script: Script, workspace: str, scene: int,
                  asset: Candidate) -> Storyboarded:
        """The user's own photo or clip for the whole of one scene."""
        del workspace  # the asset is already the workspace's
        _check(script, scene)
        beats = plan_scene(script, scene)
        seconds = round(min(60.0, sum(beat.seconds for beat in beats)), 2)
        shot = Shot(media=asset, line=scene_lines(script, scene)[0], seconds=seconds,
                    query=one_line(asset.text)[:100])
        updated = _with_shots(script, {scene: [shot]})
        what = "clip" if asset.kind == MediaKind.VIDEO else "photo"
        return Storyboarded(updated, [f"Scene {scene + 1} now shows your {what}."], True)

    def with_look(self, script: Script, workspace: str, look: Look) -> Storyboarded:
        """Every scene chosen again for another look ("illustrated", "own", "plain")."""
        cleared = script.model_copy(update={
            "look": Look(look),
            "scenes": [scene.model_copy(update={"shots": []}) for scene in script.scenes],
        })
        result = self.storyboard(cleared, workspace)
        notes = result.notes
        if look == Look.ILLUSTRATED and self.source(GENERATED) is None:
            notes = ["Image generation is not set up here, so the scenes use stock pictures "
                     "instead.", *notes]
        return Storyboarded(result.script, notes, True)

    def fetch(self, script: Script, cache: MediaCache) -> Fetched:
        """Every shot's file through the cache; a shot that fails is left out with one note."""
        wanted: dict[str, tuple[Candidate, int]] = {}
        for number, scene in enumerate(script.scenes, start=1):
            for shot in scene.shots:
                if not is_background(shot.media):
                    wanted.setdefault(shot.media.key, (shot.media, number))
        if not wanted:
            return Fetched({}, [])
        with ThreadPoolExecutor(max_workers=min(FETCH_THREADS, len(wanted))) as pool:
            results = list(pool.map(lambda item: self._fetch_one(cache, *item),
                                    wanted.values()))
        files = {key: path for key, path, _ in results if path is not None}
        notes = [note for _, _, note in results if note]
        return Fetched(files, notes)

    def source(self, name: str) -> MediaSource | None:
        return next((s for s in self.sources if s.name == name), None)

    def _fetch_one(self, cache: MediaCache, candidate: Candidate,
                   scene: int) -> tuple[str, Path | None, str]:
        source = self.source(candidate.source)
        if source is None:
            return candidate.key, None, (
                f"{display_name(candidate.source)} is not set up here, so scene {scene} shows "
                "its background instead of that picture.")
        try:
            return candidate.key, cache.fetch(candidate, source), ""
        except PipelineError as error:
            log.warning("could not fetch %s: %s", candidate.key, error)
            return candidate.key, None, (
                f"{_sentence(str(error))} Scene {scene} shows its background there instead.")

    def _fill(self, script: Script, workspace: str, beats: list[Beat], used: set[str],
              *, plain_for: int | None = None, named: bool = False,
              reuse: frozenset[str] | None = None) -> Storyboarded:
        """Choose shots for `beats`, avoiding `used` and the workspace's recent keys; `named`:
        the user said what the pictures should show, so even uploads must match the words;
        `reuse`: the sources whose pictures may repeat (default: as the look says)."""
        if self.history is not None and workspace:
            used = used | self.history.recent(workspace)
        chooser = self._chooser(script.look, named=named, reuse=reuse)
        choice = chooser.choose(script, beats, set(used))
        shots = choice.shots
        if plain_for is not None:
            shots = self._new_backgrounds(script, shots, plain_for)
        updated = _with_shots(script, shots)
        notes = [*choice.notes, *self._look_notes(updated, set(shots) - choice.explained)]
        return Storyboarded(updated, notes, True)

    def _chooser(self, look: Look, *, named: bool = False,
                 reuse: frozenset[str] | None = None) -> Chooser:
        ordered = registry.for_look(look, self.sources)
        return Chooser(ordered, self.embed, backgrounds=self.backgrounds,
                       unranked=registry.unranked(named=named),
                       reusable=registry.reusable(look) if reuse is None else reuse)

    def _new_backgrounds(self, script: Script, shots: dict[int, list[Shot]],
                         scene: int) -> dict[int, list[Shot]]:
        """When a scene asked to change gets the backgrounds it already had, other colours."""
        before = {s.media.key for s in script.scenes[scene].shots}
        fresh = shots.get(scene, [])
        if not fresh or not _all_background(fresh) or not before >= {s.media.key for s in fresh}:
            return shots
        palettes = [c for c in self.backgrounds.palettes(fresh[0].query or script.title)
                    if c.key not in before]
        moved = [shot.model_copy(update={"media": palettes[i % len(palettes)]})
                 for i, shot in enumerate(fresh)] if palettes else fresh
        return {**shots, scene: moved}

    def _keeps(self, script: Script, index: int, scene: Scene) -> bool:
        lines = set(scene_lines(script, index))
        return bool(scene.shots) and all(
            shot.line in lines
            and (is_background(shot.media) or registry.rank(shot.media.source, script.look)
                 is not None)
            for shot in scene.shots)

    def _has_stock(self, look: Look) -> bool:
        """Whether any source for `look` searches by words (stock or generated pictures)."""
        as_is = registry.unranked()
        return any(registry.rank(s.name, look) is not None and s.name not in as_is
                   for s in self.sources)

    def _look_notes(self, script: Script, scenes: set[int]) -> list[str]:
        """What to say about scenes left with only backgrounds, when that was not asked for."""
        if script.look == Look.PLAIN:
            return []
        plain = sorted(i for i in scenes if _all_background(script.scenes[i].shots))
        if not plain:
            return []
        if script.look == Look.OWN:
            return ["You have no photos or clips here yet, so "
                    f"{scenes_phrase(plain)} {_show(plain)} {_backgrounds(plain)}; send some "
                    "into the chat to use them."]
        if not self._has_stock(script.look):
            return ["No stock footage is set up here, so "
                    f"{scenes_phrase(plain)} {_show(plain)} {_backgrounds(plain)}."]
        return [f"Nothing I found fit {scenes_phrase(plain)}, so {_it(plain)} {_show(plain)} "
                f"{_backgrounds(plain)}."]


def director_from_env(
    connection: redis.Redis | None,
    settings: Settings,
    workspace: str,
    *,
    environ: Mapping[str, str] | None = None,
    embed: Embed | None = None,
) -> Director:
    """A `Director` for one workspace ("<adapter>:<workspace id>"): the sources the environment
    has keys for, the workspace's uploads and history when Redis is there, the backgrounds."""
    assets = AssetStore(connection, settings.assets_dir) if connection is not None else None
    history = ShotHistory(connection) if connection is not None else None
    found = registry.sources_from_env(os.environ if environ is None else environ,
                                      assets=assets, workspace=workspace)
    return Director(found, history=history, embed=embed)


def _check(script: Script, scene: int) -> None:
    if not 0 <= scene < len(script.scenes):
        count = len(script.scenes)
        raise PermanentError(
            f"This draft has {count} scene{'s' if count != 1 else ''}, so there is no scene "
            f"{scene + 1}.")


def _keys(scenes: Iterable[Scene]) -> set[str]:
    return {shot.media.key for scene in scenes for shot in scene.shots
            if not is_background(shot.media)}


def _with_shots(script: Script, shots: Mapping[int, list[Shot]]) -> Script:
    scenes = [scene.model_copy(update={"shots": shots[i]}) if i in shots else scene
              for i, scene in enumerate(script.scenes)]
    return script.model_copy(update={"scenes": scenes})


def _gaps_filled(shots: Sequence[Shot]) -> list[Shot]:
    """The scene's found pictures stretched over the beats nothing was found for (the user
    asked for these pictures here), neighbours showing the same picture joined."""
    found = [shot for shot in shots if not is_background(shot.media)]
    if not found:
        return list(shots)
    out: list[Shot] = []
    for shot in shots:
        own = not is_background(shot.media)
        media = shot.media if own else (out[-1].media if out else found[0].media)
        if out and out[-1].media.key == media.key:
            last = out[-1]
            out[-1] = last.model_copy(
                update={"seconds": round(min(60.0, last.seconds + shot.seconds), 2)})
            continue
        origin = shot if own else found[0]
        out.append(origin.model_copy(update={"line": shot.line, "seconds": shot.seconds}))
    return out


def _all_background(shots: Sequence[Shot]) -> bool:
    return all(is_background(shot.media) for shot in shots)


def _show(scenes: Sequence[int]) -> str:
    return "show" if len(scenes) > 1 else "shows"


def _backgrounds(scenes: Sequence[int]) -> str:
    return "coloured backgrounds" if len(scenes) > 1 else "a coloured background"


def _it(scenes: Sequence[int]) -> str:
    return "they" if len(scenes) > 1 else "it"


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."
