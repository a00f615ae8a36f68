"""The one registry of picture sources: each is named here once, with how it is built and
where it stands for each look.

`REGISTRY` lists every source by name with its factory (`from_env`: the environment and the
workspace's context in, a source or None out — None when its key is not set) and its rank for
each `Look` it serves (lower is asked first). `sources_from_env` builds what the environment
allows; `for_look` orders them for a look. The built-in backgrounds serve every look and are
always last: a missing key or a dead provider leaves a source out, never the pictures.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from pipeline.media.assets import AssetStore
from pipeline.media.backgrounds import NAME as BACKGROUND
from pipeline.media.backgrounds import Backgrounds
from pipeline.media.model import Look, MediaSource
from pipeline.media.pexels import PexelsSource
from pipeline.media.pixabay import PixabaySource
from pipeline.media.uploads import UploadSource


@dataclass(frozen=True)
class SourceContext:
    """What a factory may need besides the environment."""

    assets: AssetStore | None
    workspace: str


Factory = Callable[[Mapping[str, str], SourceContext], MediaSource | None]


@dataclass(frozen=True)
class SourceEntry:
    """One source: its name, how to build it, its rank per look, and how the chooser treats it.

    `ranked`: its pictures must match the line's meaning (stock); False for pictures taken as
    they are (the user's own, images generated for the words). `reusable_in`: the looks in which
    a picture may repeat in one video when there are fewer pictures than shots (the user's own,
    when they asked for nothing else)."""

    name: str
    factory: Factory
    looks: Mapping[Look, int]
    ranked: bool = True
    reusable_in: frozenset[Look] = frozenset()
    drawn: bool = False
    """Its pictures are made for the words asked, so they fit them even when the user names
    what they want (uploads are then ranked by their names like stock)."""
    after_stock_in: frozenset[Look] = frozenset()
    """Looks in which it is only a fallback behind a stock source: left out when none is set
    up (generated images cost money; a STOCK draft without stock keys shows backgrounds)."""


def _pexels(environ: Mapping[str, str], context: SourceContext) -> MediaSource | None:
    del context
    return PexelsSource.from_env(environ)


def _pixabay(environ: Mapping[str, str], context: SourceContext) -> MediaSource | None:
    del context
    return PixabaySource.from_env(environ)


def _generated(environ: Mapping[str, str], context: SourceContext) -> MediaSource | None:
    """Images drawn by the OpenAI Images API; its SDK is imported only when the key is set."""
    del context
    if not environ.get("OPENAI_API_KEY", "").strip():
        return None
    module = importlib.import_module("pipeline.media.generated")
    return cast("MediaSource | None", module.GeneratedImages.from_env(environ))


def _uploads(environ: Mapping[str, str], context: SourceContext) -> MediaSource | None:
    del environ
    if context.assets is None or not context.workspace:
        return None
    return UploadSource(context.assets, context.workspace)


def _backgrounds(environ: Mapping[str, str], context: SourceContext) -> MediaSource | None:
    del environ, context
    return Backgrounds()


REGISTRY: tuple[SourceEntry, ...] = (
    SourceEntry("pexels", _pexels, {Look.STOCK: 10, Look.ILLUSTRATED: 20}),
    SourceEntry("pixabay", _pixabay, {Look.STOCK: 11, Look.ILLUSTRATED: 21}),
    SourceEntry("generated", _generated, {Look.ILLUSTRATED: 1, Look.STOCK: 30}, ranked=False,
                reusable_in=frozenset({Look.ILLUSTRATED, Look.STOCK}),  # one image per words
                drawn=True,
                after_stock_in=frozenset({Look.STOCK})),
    SourceEntry("upload", _uploads, {Look.OWN: 1, Look.STOCK: 40, Look.ILLUSTRATED: 40},
                ranked=False, reusable_in=frozenset({Look.OWN})),
    SourceEntry(BACKGROUND, _backgrounds,
                {Look.STOCK: 99, Look.ILLUSTRATED: 99, Look.OWN: 99, Look.PLAIN: 99},
                ranked=False),
)
_BY_NAME = {entry.name: entry for entry in REGISTRY}
_UNKNOWN_LOOKS = {Look.STOCK: 20, Look.ILLUSTRATED: 20}
"""Where a source the registry does not name (a test's, a plug-in's) stands."""


def sources_from_env(
    environ: Mapping[str, str], *, assets: AssetStore | None, workspace: str
) -> list[MediaSource]:
    """Every source the environment allows, in registry order; the backgrounds always last."""
    context = SourceContext(assets=assets, workspace=workspace)
    built = [entry.factory(environ, context) for entry in REGISTRY if entry.name != BACKGROUND]
    return [*(source for source in built if source is not None), Backgrounds()]


def ranks_by_meaning(environ: Mapping[str, str]) -> bool:
    """Whether a source whose answers are ranked with the embedding model (a stock provider)
    is set up: then a bot loads the model at start, not on its first draft."""
    context = SourceContext(assets=None, workspace="")
    return any(entry.ranked and entry.name != BACKGROUND and entry.factory(environ, context)
               for entry in REGISTRY)


def for_look(look: Look, sources: Sequence[MediaSource]) -> list[MediaSource]:
    """The sources that serve `look`, best first (the backgrounds, if given, last)."""
    ranked: list[tuple[int, int, MediaSource]] = []
    for position, source in enumerate(sources):
        order = rank(source.name, look)
        if order is not None:
            ranked.append((order, position, source))
    ordered = [source for _, _, source in sorted(ranked, key=lambda r: (r[0], r[1]))]
    return [source for index, source in enumerate(ordered)
            if not _needs_stock(source.name, look)
            or any(_by_words(s.name) for s in ordered[:index])]


def _needs_stock(name: str, look: Look) -> bool:
    entry = _BY_NAME.get(name)
    return entry is not None and Look(look) in entry.after_stock_in


def _by_words(name: str) -> bool:
    """Whether `name` is a stock source: it searches by words and is ranked by meaning."""
    entry = _BY_NAME.get(name)
    return entry is None or entry.ranked


def rank(name: str, look: Look) -> int | None:
    """Where `name` stands for `look` (lower first); None when it does not serve it."""
    entry = _BY_NAME.get(name)
    looks = entry.looks if entry is not None else _UNKNOWN_LOOKS
    return looks.get(Look(look))


def unranked(*, named: bool = False) -> frozenset[str]:
    """Sources whose pictures are taken as they are; when the user `named` what they want,
    only those drawn for the words."""
    return frozenset(entry.name for entry in REGISTRY
                     if not entry.ranked and (entry.drawn or not named))


def reusable(look: Look) -> frozenset[str]:
    return frozenset(entry.name for entry in REGISTRY if Look(look) in entry.reusable_in)
