"""Choosing the shots: what each beat of the narration shows, searched, ranked and placed.

Planning: every scene's narration lines (the hook is line 0, in the first scene) are cut into
beats of 2–4 s of speech (estimated at `WORDS_PER_SECOND`): a long line is split into equal
parts, short neighbours in one scene are joined. Each beat searches with its line's stock
keyword from the scene describer (`Scene.keywords`), or offline with the line's own most
specific words, in the frame's orientation (portrait first for 9:16; words with no portrait
result at all are asked again in landscape), asking for clips at least as long as the beat.

Choosing: sources are asked in the look's order, all pending beats of one source at once on a
thread pool with one deadline. Candidates are ranked by meaning against the beat's words (the
shipped sentence-embedding model over the candidate's tags, title or alt text) plus how well
its shape, length and resolution fit. A key is never used twice in one video, nor one of the
workspace's last videos' keys. A beat nothing fits (no results, a poor match, a source down)
goes to the next source; the built-in backgrounds end every list and never fail. What went
wrong is told in plain sentences for the chat.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from time import monotonic

from pipeline.media.backgrounds import Backgrounds
from pipeline.media.model import (
    Candidate,
    MediaKind,
    MediaQuery,
    MediaSource,
    Orientation,
    Shot,
    SourceUnavailable,
)
from pipeline.media.storyboard import display_name, scenes_phrase, what_it_is
from pipeline.script import WORDS_PER_SECOND, Aspect, Script

log = logging.getLogger(__name__)

Embed = Callable[[Sequence[str]], list[list[float]]]

MIN_BEAT_SECONDS, MAX_BEAT_SECONDS = 2.0, 4.0
MAX_SHOTS_PER_SCENE = 12
SEARCH_SECONDS = 2.0
"""How long one round of searches (one source, every pending beat) may take."""
DOWN_SECONDS = 60.0
"""How long a source that did not answer in time is passed over by this process before it is
asked again, so a hanging provider costs one draft its deadline, not every draft (a source
that fails fast is simply asked again next time)."""
TIMED_OUT = "did not answer in time"
MIN_MEANING = 0.12
"""Cosine similarity below which a stock candidate does not fit its beat at all."""
RESULTS_PER_QUERY = 15
FALLBACK_SHAPES = {Orientation.PORTRAIT: Orientation.LANDSCAPE,
                   Orientation.SQUARE: Orientation.LANDSCAPE}
"""Asked of the same source for words that found nothing at all in the frame's own shape
(a landscape clip cropped to portrait beats a gradient)."""
FULL_SHORT_SIDE = 1080
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
ORIENTATIONS = {Aspect.VERTICAL: Orientation.PORTRAIT, Aspect.LANDSCAPE: Orientation.LANDSCAPE,
                Aspect.SQUARE: Orientation.SQUARE}

_STOP_TEXT = """
a about above actually after again against all almost also although always am among an and
another any anyone anything are aren around as at away back be because been before being below
best better between big both but by can cannot could did didn do does doesn doing don done down
during each either else enough even ever every everyone everything exactly fact far few find
first for found from full get gets getting give given go goes going gone good got great had has
have having he her here hers herself him himself his how however i if in indeed inside instead
into is isn it its itself just keep kind know known last least less let like likely little long
look lot lots made make makes making many may maybe me might more most much must my myself near
need needs never new next no nobody none nor not nothing now of off often oh ok okay old on once
one only or other others our ours out over own part people perhaps pretty probably put quite
rather real really right said same say says see seem seems seen several she should show shows
since so some someone something sometimes soon still stop such sure take takes talk tell than
that the their theirs them then there these they thing things think this those though three
through thus time times to today too took toward truly try turns two under until up upon us use
used uses using usually very want was wasn way ways we well went were what whatever when where
whether which while who whole whom whose why will with within without won wonder wondered would
yes yet you your yours yourself let's here's that's it's there's what's don't can't won't isn't
ever explained explore consider question moment gently breath scrolling real story talk need
"""
_ABSTRACT_TEXT = """
answer answers approach basics beat care careful carefully change check clarity clear clearer
clearly comments conclusion consult context curious describe deserves detail details
difference direct easier easy end enjoy especially essentials exact examine example explain
explainer explanation facts familiar figure fine follow following guess guessed happen happens
hard harder hidden idea impression information interesting jargon joke judge knowledge learn
learning matter matters mind minute mystery myth notice noticed obvious parts pattern patterns
picture piece pieces point precise premise process questions quick quiz reason reasoning recap
reliable research result sense short similar simple simply small source step subject summary
surprising takeaway taking thinking topic trust trusted truth understand understanding
understood unexpected useful value verify viewer worth wrong comment answer looking behind
bigger beneath broader smaller larger whole quickly tiny huge across along beyond towards
onto outside around
"""
STOP_WORDS = frozenset(_STOP_TEXT.split()) | frozenset(_ABSTRACT_TEXT.split())
"""Words that never make a search: function words, and words no camera can film."""


@dataclass(frozen=True)
class Beat:
    """One shot's worth of narration: which scene and line, the words it is ranked against (the
    whole line, or the lines it joins), how long it lasts, and what to search for."""

    scene: int
    line: int
    text: str
    seconds: float
    query: str


def orientation_for(aspect: Aspect) -> Orientation:
    return ORIENTATIONS[Aspect(aspect)]


def keywords(text: str, most: int = 3) -> str:
    """The most specific 1–`most` words of `text` (no stop words), in their order; may be ""."""
    words = [w.strip("'-") for w in _WORD.findall(text)]
    seen: dict[str, tuple[float, int]] = {}
    for position, word in enumerate(words):
        lowered = word.lower()
        if len(lowered) < 3 or "'" in lowered or lowered in STOP_WORDS or lowered in seen:
            continue
        proper = position > 0 and word[:1].isupper()
        verbish = lowered.endswith(("ing", "ly", "ed"))
        seen[lowered] = (len(lowered) + (3 if proper else 0) - (4 if verbish else 0), position)
    best = sorted(seen, key=lambda w: (-seen[w][0], seen[w][1]))[:most]
    return " ".join(sorted(best, key=lambda w: seen[w][1]))


def scene_lines(script: Script, scene: int) -> list[int]:
    """The narration lines a scene covers: the hook (line 0) in the first, then its sentences."""
    lines = [s + 1 for s in script.scenes[scene].sentences]
    return [0, *lines] if scene == 0 else lines


def plan_scene(script: Script, scene: int, words: str | None = None) -> list[Beat]:
    """The scene's beats in screen order; `words` replaces every beat's search ("a beach")."""
    pieces = [piece for line in scene_lines(script, scene)
              for piece in _pieces(script, scene, line, words)]
    pieces = _joined(pieces)
    while len(pieces) > MAX_SHOTS_PER_SCENE:
        pieces = _joined(pieces, limit=max(p.seconds for p in pieces) * 2)
    return pieces


def plan(script: Script) -> list[list[Beat]]:
    return [plan_scene(script, index) for index in range(len(script.scenes))]


def _pieces(script: Script, scene: int, line: int, words: str | None) -> list[Beat]:
    text = script.narration[line]
    query = words or _line_query(script, scene, line)
    spoken = text.split()
    seconds = max(len(spoken) / WORDS_PER_SECOND, 0.5)
    parts = max(1, math.ceil(seconds / MAX_BEAT_SECONDS - 1e-9))
    # every part is ranked against the whole line: half a sentence means less
    return [Beat(scene, line, text, seconds / parts, query) for _ in range(parts)]


def _line_query(script: Script, scene: int, line: int) -> str:
    described = script.scenes[scene].keywords
    sentences = script.scenes[scene].sentences
    if line > 0 and line - 1 in sentences:
        position = sentences.index(line - 1)
        if position < len(described) and described[position].strip():
            return described[position].strip()[:100]
    own = keywords(script.narration[line])
    topic = keywords(script.title, most=2)
    if not own:
        return (topic or script.title)[:100]
    if len(own.split()) == 1 and topic and own not in topic.split():
        return f"{own} {topic}"[:100]
    return own[:100]


def _joined(pieces: list[Beat], limit: float = MAX_BEAT_SECONDS) -> list[Beat]:
    """Neighbours joined while one is shorter than a beat and together they fit `limit`."""
    out: list[Beat] = []
    for piece in pieces:
        last = out[-1] if out else None
        short = last is not None and min(last.seconds, piece.seconds) < MIN_BEAT_SECONDS
        if last is not None and short and last.seconds + piece.seconds <= limit:
            text = last.text if last.line == piece.line else f"{last.text} {piece.text}"
            out[-1] = Beat(last.scene, last.line, text,
                           last.seconds + piece.seconds, last.query)
        else:
            out.append(piece)
    return out


def fit(candidate: Candidate, orientation: Orientation, seconds: float) -> float:
    """0–0.3: how well the candidate's shape, length and resolution suit the beat."""
    if candidate.orientation == orientation:
        shape = 1.0
    elif Orientation.SQUARE in (candidate.orientation, orientation):
        shape = 0.5
    else:
        shape = 0.0
    if candidate.kind == MediaKind.VIDEO:
        length = min(1.0, candidate.duration / seconds) if candidate.duration else 0.7
    else:
        length = 0.8
    short = min(candidate.width, candidate.height)
    sharp = min(1.0, short / FULL_SHORT_SIDE) if short else 0.5
    return 0.15 * shape + 0.1 * length + 0.05 * sharp


def shot_keys(script: Script) -> list[str]:
    """Every key the script's shots use, in screen order, built-in backgrounds left out: what
    `ShotHistory.record` keeps once the video is made."""
    return [shot.media.key for scene in script.scenes for shot in scene.shots
            if shot.media.kind != MediaKind.BACKGROUND]


class Outages:
    """Sources that did not answer lately, by name and address, shared by the process."""

    def __init__(self, seconds: float = DOWN_SECONDS) -> None:
        self.seconds = seconds
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def mark(self, source: MediaSource) -> None:
        with self._lock:
            self._until[_identity(source)] = monotonic() + self.seconds

    def is_down(self, source: MediaSource) -> bool:
        with self._lock:
            until = self._until.get(_identity(source))
            if until is not None and until <= monotonic():
                del self._until[_identity(source)]
                return False
            return until is not None

    def clear(self) -> None:
        with self._lock:
            self._until.clear()


def _identity(source: MediaSource) -> str:
    return f"{source.name}|{getattr(source, 'base_url', '')}"


OUTAGES = Outages()


@dataclass(frozen=True)
class Choice:
    """What the chooser placed: shots per scene index (only the scenes it was asked about)."""

    shots: dict[int, list[Shot]]
    notes: list[str]
    explained: frozenset[int] = frozenset()
    """Scenes a note already speaks of (a source that did not answer)."""


@dataclass
class _Pass:
    """One `choose` call's working state: what is placed, what is left, what went wrong."""

    script: Script
    beats: Sequence[Beat]
    used: set[str]
    orientation: Orientation
    pending: list[int]
    picked: dict[int, tuple[Candidate, str]] = field(default_factory=dict)
    failures: list[tuple[str, list[int]]] = field(default_factory=list)

    def scenes(self, indexes: Iterable[int]) -> list[int]:
        return sorted({self.beats[i].scene for i in indexes})


@dataclass
class _Round:
    """What one source said: results per query, or why it could not answer."""

    results: dict[str, list[Candidate]] = field(default_factory=dict)
    down: str | None = None


class Chooser:
    """Fills beats from sources in order, ranked by meaning and fit (see the module docstring).

    `unranked` names sources whose pictures are taken as fitting whatever their text says (the
    user's uploads, images generated for the words); `reusable` names those whose pictures may
    repeat in a video when there are fewer of them than beats."""

    def __init__(
        self,
        sources: Sequence[MediaSource],
        embed: Embed,
        *,
        backgrounds: Backgrounds,
        unranked: Iterable[str] = (),
        reusable: Iterable[str] = (),
        search_seconds: float = SEARCH_SECONDS,
        min_meaning: float = MIN_MEANING,
    ) -> None:
        self.sources = [s for s in sources if s.name != backgrounds.name]
        self.embed = embed
        self.backgrounds = backgrounds
        self.unranked = frozenset(unranked)
        self.reusable = frozenset(reusable)
        self.search_seconds = search_seconds
        self.min_meaning = min_meaning

    def choose(self, script: Script, beats: Sequence[Beat], used: set[str]) -> Choice:
        """Shots for `beats` (sentence order), avoiding and then extending `used`."""
        run = _Pass(script, beats, used, orientation_for(script.aspect),
                    pending=list(range(len(beats))))
        for source in self.sources:
            if run.pending:
                self._ask(source, run)
        for scene in dict.fromkeys(beats[i].scene for i in run.pending):
            at = [i for i in run.pending if beats[i].scene == scene]
            chosen = self.backgrounds.pick(" ".join(beats[i].text for i in at),
                                           script.scenes[scene].colors)
            run.picked.update({i: (chosen, beats[i].query) for i in at})
        explained = frozenset(scene for _, scenes in run.failures for scene in scenes)
        return Choice(_shots(beats, run.picked), _notes(run.failures, beats, run.picked),
                      explained)

    def _ask(self, source: MediaSource, run: _Pass) -> None:
        """One source's turn: the pending beats in the frame's shape, then the words that found
        nothing at all in the fallback shape."""
        if OUTAGES.is_down(source):
            run.failures.append((source.name, run.scenes(run.pending)))
            return
        asked = list(run.pending)
        for shape in (run.orientation, FALLBACK_SHAPES.get(run.orientation)):
            if shape is None or not asked:
                return
            found = self._search(source, [run.beats[i] for i in asked], shape)
            if found.down is not None:
                if found.down == TIMED_OUT:
                    OUTAGES.mark(source)
                run.failures.append((source.name, run.scenes(asked)))
                return
            unanswered = {i for i in asked if not found.results.get(run.beats[i].query)}
            self._place(source.name, found.results, run)
            asked = [i for i in run.pending if i in unanswered]

    def _search(self, source: MediaSource, beats: list[Beat], orientation: Orientation) -> _Round:
        queries: dict[str, float] = {}
        for beat in beats:
            queries[beat.query] = min(queries.get(beat.query, beat.seconds), beat.seconds)
        found = _Round()
        # a source that answers from this machine (the workspace's uploads) needs no thread
        # per search and no deadline: it is asked in this thread
        local = getattr(source, "in_process", False)
        pool = None if local else ThreadPoolExecutor(max_workers=min(8, len(queries)),
                                                     thread_name_prefix="search")
        try:
            futures = {
                text: _ask_in(pool, source, MediaQuery(
                    text=text, orientation=orientation, min_seconds=round(seconds, 2),
                    limit=RESULTS_PER_QUERY))
                for text, seconds in queries.items()
            }
            deadline = monotonic() + self.search_seconds
            for text, future in futures.items():
                found.down = found.down or _collect(source.name, text, future, deadline, found)
        finally:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        return found

    def _place(self, name: str, results: Mapping[str, list[Candidate]], run: _Pass) -> None:
        """Give each pending beat its best fresh candidate from `results`; the rest stay."""
        beats = run.beats
        offered = list({c.key: c for i in run.pending
                        for c in results.get(beats[i].query, [])}.values())
        if not offered:
            return
        beat_vectors, meaning = self._vectors(name, [beats[i] for i in run.pending], offered)
        still: list[int] = []
        for index in run.pending:
            beat = beats[index]
            choice = self._best(name, beat, results.get(beat.query, []),
                                beat_vectors.get(beat.text, []), vectors=meaning, run=run)
            if choice is None:
                still.append(index)
                continue
            run.used.add(choice.key)
            run.picked[index] = (choice, beat.query)
        run.pending = still

    def _vectors(self, name: str, beats: list[Beat], offered: list[Candidate]) -> tuple[
            dict[str, list[float]], dict[str, list[float]]]:
        """Embeddings of the beats' words and the candidates' texts (one batch); none for a
        source whose pictures are not ranked by meaning."""
        if name in self.unranked:
            return {}, {}
        texts = list(dict.fromkeys(beat.text for beat in beats))
        described = [c for c in offered if c.text]
        vectors = self.embed([*texts, *(c.text for c in described)])
        return (dict(zip(texts, vectors[: len(texts)], strict=True)),
                {c.key: v for c, v in zip(described, vectors[len(texts):], strict=True)})

    def _best(
        self,
        name: str,
        beat: Beat,
        candidates: list[Candidate],
        target: list[float],
        *,
        vectors: Mapping[str, list[float]],
        run: _Pass,
    ) -> Candidate | None:
        as_is = name in self.unranked  # taken as it is, whatever its words say
        scored: list[tuple[float, bool, Candidate]] = []
        for candidate in candidates:
            vector = vectors.get(candidate.key)
            sense = _dot(target, vector) if vector and target else self.min_meaning
            if not as_is and sense < self.min_meaning:
                continue
            score = sense + fit(candidate, run.orientation, beat.seconds)
            scored.append((score, candidate.key in run.used, candidate))
        fresh = [entry for entry in scored if not entry[1]]
        pool = fresh or (scored if name in self.reusable else [])
        if not pool:
            return None
        return max(pool, key=lambda entry: entry[0])[2]


def _ask_in(pool: ThreadPoolExecutor | None, source: MediaSource,
            query: MediaQuery) -> Future[list[Candidate]]:
    """`source.search(query)` on `pool`, or answered now in this thread without one."""
    if pool is not None:
        return pool.submit(source.search, query)
    future: Future[list[Candidate]] = Future()
    try:
        future.set_result(source.search(query))
    except Exception as error:  # reported by _collect, as from a thread
        future.set_exception(error)
    return future


def _collect(name: str, text: str, future: Future[list[Candidate]], deadline: float,
             found: _Round) -> str | None:
    """Store one query's answer in `found`; return why the source is down, if it is."""
    try:
        found.results[text] = list(future.result(timeout=max(0.0, deadline - monotonic())))
    except FutureTimeout:
        log.warning("media source %s did not answer in time", name)
        return TIMED_OUT
    except SourceUnavailable as error:
        log.warning("media source %s is unavailable: %s", name, error)
        return str(error)
    except Exception:  # a source's own bug must not stop the storyboard
        log.exception("media source %s failed on a search", name)
        return "failed"
    return None


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _shots(beats: Sequence[Beat], picked: Mapping[int, tuple[Candidate, str]]) -> dict[
        int, list[Shot]]:
    """Shots per scene in beat order; neighbours showing the same picture become one shot."""
    shots: dict[int, list[Shot]] = {}
    for index, beat in enumerate(beats):
        candidate, query = picked[index]
        scene = shots.setdefault(beat.scene, [])
        if scene and scene[-1].media.key == candidate.key:
            last = scene[-1]
            seconds = round(min(60.0, last.seconds + beat.seconds), 2)
            scene[-1] = last.model_copy(update={"seconds": seconds})
            continue
        scene.append(Shot(media=candidate, line=beat.line,
                          seconds=round(min(60.0, beat.seconds), 2), query=query[:100]))
    return shots


def _notes(failures: list[tuple[str, list[int]]], beats: Sequence[Beat],
           picked: Mapping[int, tuple[Candidate, str]]) -> list[str]:
    """One sentence per source that did not answer, saying what the scenes show instead."""
    notes: list[str] = []
    for name, scenes in failures:
        instead: dict[str, list[int]] = {}
        for scene in scenes:
            first = next(picked[i][0] for i, b in enumerate(beats) if b.scene == scene)
            instead.setdefault(what_it_is(first), []).append(scene)
        parts = [f"{scenes_phrase(group)} {'use' if len(group) > 1 else 'uses'} {what}"
                 for what, group in instead.items()]
        notes.append(f"{display_name(name)} didn't answer, so {' and '.join(parts)}.")
    return notes
